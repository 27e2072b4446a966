"""Tokens never reach logs: the access log's request line has the link path redacted
(an officer's secure link, and a new staff member's set-password link)."""

from __future__ import annotations

import logging
import re

LINK_PATH = re.compile(r"/(l|set-password)/[A-Za-z0-9_\-]+")


def redact(text: str) -> str:
    return LINK_PATH.sub(r"/\1/[redacted]", text)


class RedactLinks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install() -> None:
    for name in ("uvicorn.access", "uvicorn.error", "litestar", ""):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactLinks) for f in logger.filters):
            logger.addFilter(RedactLinks())
