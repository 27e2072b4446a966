"""Log records a test reads back: what a logger really emitted, formatted as a log file
would show it (tracebacks included)."""

from __future__ import annotations

import logging


class LogRecords(logging.Handler):
    """Keeps every record it is handed; add it to a logger beside the real handlers."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        return "\n".join(
            self.format(r)
            + ("\n" + logging.Formatter().formatException(r.exc_info) if r.exc_info else "")
            for r in self.records
        )
