"""Public verification: is this PDF ours, and is it still the current version?

Identity is the SHA-256 of the exact bytes we stored: one changed byte and the answer
is "not ours". The answer names the report (id, kind, period, program, signing date)
and nothing else about the client.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from compliance.reporting import store
from compliance.tables import Participant, Report
from compliance.vocabulary import ReportStatus

AUTHENTIC_CURRENT = "authentic_current"
AUTHENTIC_SUPERSEDED = "authentic_superseded"
REVOKED = "revoked"
NOT_OURS = "not_ours"

VERDICTS = {
    AUTHENTIC_CURRENT: "Authentic and current",
    AUTHENTIC_SUPERSEDED: "Authentic but superseded by a newer version",
    REVOKED: "Revoked by the program: do not rely on it",
    NOT_OURS: "Not issued by this service, or changed since it was signed",
}
KIND_WORDS = {
    "court_progress": "Court progress report",
    "eap_status": "EAP status report",
    "discharge_letter": "Discharge / completion letter",
}


@dataclass
class Verdict:
    status: str
    verdict: str
    report_id: str | None = None
    kind: str | None = None
    kind_label: str | None = None
    version: int | None = None
    period_start: date | None = None
    period_end: date | None = None
    program: str | None = None
    program_time_zone: str | None = None  # the signing and other moments read in it
    signed_at: datetime | None = None
    superseded_at: datetime | None = None
    revoked_at: datetime | None = None
    current_report_id: str | None = None  # the version that replaced it, if any


NOT_FOUND = Verdict(NOT_OURS, VERDICTS[NOT_OURS])


async def _verdict(row: dict[str, Any]) -> Verdict:
    status = {
        ReportStatus.current.value: AUTHENTIC_CURRENT,
        ReportStatus.superseded.value: AUTHENTIC_SUPERSEDED,
        ReportStatus.revoked.value: REVOKED,
    }[row["status"]]
    program = (
        await Participant.select(Participant.program.name, Participant.program.time_zone)
        .where(Participant.id == row["participant"])
        .first()
    )
    newer = None
    if status == AUTHENTIC_SUPERSEDED:
        newer = await _latest_after(row)
    return Verdict(
        status=status,
        verdict=VERDICTS[status],
        report_id=row["public_id"],
        kind=row["kind"],
        kind_label=KIND_WORDS.get(row["kind"], row["kind"]),
        version=row["version"],
        period_start=row["period_start"],
        period_end=row["period_end"],
        program=program["program.name"] if program else None,
        program_time_zone=program["program.time_zone"] if program else None,
        signed_at=row["signed_at"],
        superseded_at=row["superseded_at"],
        revoked_at=row["revoked_at"],
        current_report_id=newer,
    )


async def _latest_after(row: dict[str, Any]) -> str | None:
    """Follow the chain of versions that superseded this one to its newest."""
    current = row["id"]
    public_id = None
    for _ in range(1000):
        nxt = (
            await Report.select(Report.id, Report.public_id)
            .where(Report.supersedes == current)
            .first()
        )
        if nxt is None:
            return public_id
        current, public_id = nxt["id"], nxt["public_id"]
    return public_id


async def verify_bytes(content: bytes) -> Verdict:
    row = await Report.select().where(Report.sha256 == store.sha256(content)).first()
    return NOT_FOUND if row is None else await _verdict(row)


async def verify_public_id(public_id: str) -> Verdict:
    """What the QR code opens: the report's status by its printed id."""
    if "\x00" in public_id:  # no id holds one, and PostgreSQL errs on it in a query
        return NOT_FOUND
    row = await Report.select().where(Report.public_id == public_id.strip().upper()).first()
    return NOT_FOUND if row is None else await _verdict(row)
