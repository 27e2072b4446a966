"""The one function that records a disclosure (42 CFR Part 2: an accounting of the past
3 years can be produced for the client). Called inside the disclosing transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from compliance.core import db
from compliance.tables import Disclosure


async def disclosed(**fields: Any) -> None:
    """Record one disclosure, inside the disclosing transaction; ``fields`` are
    ``disclosure_insert``'s."""
    sql, args = disclosure_insert(**fields)
    await db.current_engine().run_compiled(sql, args)  # type: ignore[attr-defined]


def disclosure_insert(
    *,
    participant: int,
    kind: str,
    description: str,
    recipient: int | None,
    consent: int | None,
    purpose: str = "",
    report: int | None = None,
    link: int | None = None,
    origin: str = "",
) -> tuple[str, list[Any]]:
    """The insert ``disclosed`` runs, bound, for ``db.write_together`` with the writes
    that go with it (the link's use count). ``description`` says what was disclosed in
    words for the accounting (report ids, "status page"), never a token and never the
    health information itself."""
    return _INSERT.bind(
        participant=participant,
        recipient=recipient,
        consent=consent,
        report=report,
        link=link,
        kind=kind,
        description=description,
        purpose=purpose,
        occurred_at=datetime.now(UTC),
        origin=origin[:100],
    )


_COLUMNS = (
    "participant",
    "recipient",
    "consent",
    "report",
    "link",
    "kind",
    "description",
    "purpose",
    "occurred_at",
    "origin",
)
# Every column a value of its own: a default computed while building would be frozen.
_INSERT = db.Prepared(lambda: Disclosure.insert(Disclosure(**{c: db.Param(c) for c in _COLUMNS})))
