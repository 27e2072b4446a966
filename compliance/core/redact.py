"""Tokens never reach logs: every log record, from any logger (uvicorn's access and
error logs, Litestar's, ours), has link paths redacted as it is made: an officer's
secure link, and a new staff member's set-password link.

uvicorn logs the raw request path, and the server routes the decoded one, so
``/l/%41x...``, ``/l%2F...`` or ``/%6C/...`` open the same link as ``/l/Ax...``. A
pattern over the raw text stopped at the first ``%``; here the text is decoded first
and, when the decoded text holds a link path, the decoded text is what gets logged,
with the token replaced. The prefix is matched in any case: ``/L/TOKEN`` is a 404,
but still the token.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

LINK_PATH = re.compile(r"/(l|set-password)/[^/?#\s\"'<>]+", re.IGNORECASE)
MAX_DECODINGS = 3  # %2541 is "%41" once decoded: a proxy may have encoded twice


def _decoded(text: str) -> str:
    for _ in range(MAX_DECODINGS):
        if "%" not in text:
            break
        once = unquote(text)
        if once == text:
            break
        text = once
    return text


def redact(text: str, placeholder: str = "[redacted]") -> str:
    """``text`` with the token of every link path replaced by ``placeholder``."""
    if "/" not in text:
        return text
    replacement = rf"/\1/{placeholder}"
    decoded = _decoded(text)
    if decoded != text and LINK_PATH.search(decoded):
        return LINK_PATH.sub(replacement, decoded)
    return LINK_PATH.sub(replacement, text)


def _scrubbed(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


def scrub(record: logging.LogRecord) -> None:
    """Redact a record's message, its arguments and its traceback text in place. The
    traceback is formatted now (formatters use ``exc_text`` when it is set), since an
    exception's message can quote the path."""
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_scrubbed(a) for a in record.args)
    elif isinstance(record.args, Mapping):
        record.args = {k: _scrubbed(v) for k, v in record.args.items()}
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))


class RedactLinks(logging.Filter):
    """The same scrubbing as a filter, for a handler that wants it explicitly."""

    def filter(self, record: logging.LogRecord) -> bool:
        scrub(record)
        return True


_INSTALLED = "_compliance_redacts_links"


def install() -> None:
    """Every record made in this process from now on is scrubbed at creation, so no
    logger, handler or child logger can miss it (a filter on a logger sees only the
    records logged on that very logger, not its children's)."""
    base: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()
    if getattr(base, _INSTALLED, False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        scrub(record)
        return record

    setattr(factory, _INSTALLED, True)
    logging.setLogRecordFactory(factory)
