"""The one function that records a disclosure (42 CFR Part 2: an accounting of the past
3 years can be produced for the client). Called inside the disclosing transaction."""

from __future__ import annotations

from datetime import UTC, datetime

from compliance.tables import Disclosure


async def disclosed(
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
) -> None:
    """``description`` says what was disclosed in words for the accounting (report ids,
    "status page"), never a token and never the health information itself."""
    await Disclosure.insert(
        Disclosure(
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
    )
