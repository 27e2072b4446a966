"""Re-hash the whole report store against the database: ``compliance reports check``.

``/verify`` answers for one PDF someone holds; this answers for everything we hold. A
report whose file is gone or no longer hashes to the recorded SHA-256 is damage to
explain to a court, so it is named by report id. Complete files no report names (a
crash between storing and recording leaves one) and temporaries are listed, not
errors: neither was ever disclosed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from compliance.core import db
from compliance.reporting import store
from compliance.tables import Report


@dataclass
class StoreCheck:
    reports: int = 0
    intact: int = 0
    missing: list[tuple[int, str]] = field(default_factory=list)  # (report id, path)
    changed: list[tuple[int, str]] = field(default_factory=list)
    unreferenced: list[str] = field(default_factory=list)
    temporaries: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.changed


def _examine(reports: store.ReportStore, rel: str, digest: str) -> str:
    """ "intact", "missing" or "changed"; runs in a thread (file reads)."""
    try:
        actual = reports.hash_of(rel)
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "changed"  # unreadable is as bad as altered: it cannot be shown intact
    if actual != digest or rel != store.relative_path(digest):
        return "changed"
    return "intact"


async def check(
    reports: store.ReportStore, progress: Callable[[int, int], None] | None = None
) -> StoreCheck:
    """Every report row against its file, then the files no row names. ``reports``: the
    store (``store.of(settings)``)."""
    async with db.reading():
        rows = await db.rows(
            Report.select(Report.id, Report.stored_path, Report.sha256).order_by(Report.id)
        )
    result = StoreCheck(reports=len(rows))
    named = set()
    for done, (report_id, rel, digest) in enumerate(rows, start=1):
        named.add(rel)
        state = await asyncio.to_thread(_examine, reports, rel, digest)
        if state == "intact":
            result.intact += 1
        elif state == "missing":
            result.missing.append((report_id, rel))
        else:
            result.changed.append((report_id, rel))
        if progress is not None:
            progress(done, len(rows))
    kept = await asyncio.to_thread(lambda: list(reports.names()))
    result.unreferenced = [rel for rel in kept if rel not in named]
    result.temporaries = await asyncio.to_thread(reports.temporaries)
    return result
