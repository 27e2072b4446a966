"""What every download shares: its file name in ``Content-Disposition`` (RFC 6266) and,
for CSV, cells a spreadsheet cannot run.

File names carry a client's own id, typed by staff or sent by a lab, so any character
can be in them. A name quoted by hand broke on ``"``; a name with CR LF could split
the header. Here the name gets an ASCII fallback that cannot end its quoted string and
the exact name, UTF-8 and percent-encoded, in ``filename*`` (RFC 6266 section 4.3 and
RFC 8187), which every current browser prefers.

A CSV cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read
by Excel and LibreOffice as a formula: a recipient named ``=HYPERLINK(...)`` became a
link on the staff member's screen. Such cells get a leading ``'`` (OWASP's advice), so
the spreadsheet shows the text as it was typed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _printable(name: str) -> str:
    """The name without control characters (no file name needs them; CR LF would end
    the header)."""
    return "".join(c for c in name if c >= " " and c != "\x7f")


def _ascii_fallback(name: str) -> str:
    """For the rare client that ignores ``filename*``: printable ASCII with nothing that
    ends or escapes the quoted string."""
    out = [c if " " <= c < "\x7f" and c not in '"\\%' else "_" for c in name]
    return "".join(out) or "download"


def attachment(name: str) -> str:
    """The ``Content-Disposition`` value for downloading ``name``: the one encoder every
    download uses (a test walks the code for any other)."""
    clean = _printable(name) or "download"
    encoded = quote(clean, safe="")
    return f"attachment; filename=\"{_ascii_fallback(clean)}\"; filename*=UTF-8''{encoded}"


def safe_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text: a leading ``'`` before a formula start."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A CSV document whose every cell is safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()
