"""CSV documents whose cells a spreadsheet cannot run.

A CSV cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read
by Excel and LibreOffice as a formula: a recipient named ``=HYPERLINK(...)`` became a
link on the staff member's screen. Such cells get a leading ``'`` (OWASP's advice), so
the spreadsheet shows the text as it was typed. Here, below the web layer, so any
service that writes a CSV (the accounting of disclosures) writes it this way.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


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
