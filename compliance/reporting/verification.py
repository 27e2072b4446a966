"""Public verification: is this PDF ours, unchanged, and still the current version?

A file that hashes to a stored report is that report: current, superseded or revoked.
Any other file carrying a signature made with one of our certificates was signed here
and changed afterwards: an update appended after signing (its signed revision still
hashes to a stored report, which the verdict names), bytes altered inside the signed
range, or a file cut short. Everything else is "not issued by this service".

One sentence, ``Verdict.verdict``, says it the same way on the page, in the API and in
the CLI, with its moments on the program's clock. The answer names the report (id,
kind, period, program, signing date) and nothing else about the client.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from compliance.core.local_time import spoken
from compliance.core.vocabulary import REPORT_TITLES, ReportStatus
from compliance.reporting import signing, store
from compliance.tables import Participant, Report

AUTHENTIC_CURRENT = "authentic_current"
AUTHENTIC_SUPERSEDED = "authentic_superseded"
REVOKED = "revoked"
CHANGED_AFTER_SIGNING = "changed_after_signing"
NOT_OURS = "not_ours"

NOT_OURS_WORDS = "Not issued by this service"
# How a signed file of ours was changed, for ``Verdict.change``.
APPENDED = "Something was added to the file after it was signed."
ALTERED = "Bytes covered by the signature were altered after signing."
CUT_SHORT = "The file was cut short: it ends before the end of what was signed."


@dataclass
class Verdict:
    status: str
    verdict: str  # the answer in one sentence
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
    superseded_by: str | None = None  # the version that replaced this one
    revoked_at: datetime | None = None
    revocation_reason: str | None = None
    current_report_id: str | None = None  # the newest version, if any replaced it
    change: str | None = None  # for a changed file: what was done to it


def not_ours() -> Verdict:
    return Verdict(NOT_OURS, NOT_OURS_WORDS)


def _sentence(v: Verdict) -> str:
    zone = v.program_time_zone or "UTC"
    if v.status == AUTHENTIC_CURRENT:
        return "Authentic and current"
    if v.status == AUTHENTIC_SUPERSEDED:
        by = f" by {v.superseded_by}" if v.superseded_by else ""
        text = f"Authentic but superseded{by} on {spoken(v.superseded_at, zone)}"
        if v.current_report_id and v.current_report_id != v.superseded_by:
            text += f"; the newest version is {v.current_report_id}"
        return text
    if v.status == REVOKED:
        reason = (v.revocation_reason or "").strip().rstrip(".")
        because = f" because {reason}" if reason else ""
        return f"Revoked on {spoken(v.revoked_at, zone)}{because}: do not rely on it"
    if v.status == CHANGED_AFTER_SIGNING:
        named = f" as report {v.report_id}" if v.report_id else ""
        return f"Signed by this service{named}, but changed after signing: do not rely on it"
    return NOT_OURS_WORDS


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
    successors = await _successors(row) if row["superseded_at"] is not None else []
    verdict = Verdict(
        status=status,
        verdict="",
        report_id=row["public_id"],
        kind=row["kind"],
        kind_label=REPORT_TITLES.get(row["kind"], row["kind"]),
        version=row["version"],
        period_start=row["period_start"],
        period_end=row["period_end"],
        program=program["program.name"] if program else None,
        program_time_zone=program["program.time_zone"] if program else None,
        signed_at=row["signed_at"],
        superseded_at=row["superseded_at"],
        superseded_by=successors[0] if successors else None,
        revoked_at=row["revoked_at"],
        revocation_reason=row["revocation_reason"] if status == REVOKED else None,
        current_report_id=successors[-1] if successors else None,
    )
    verdict.verdict = _sentence(verdict)
    return verdict


async def _successors(row: dict[str, Any]) -> list[str]:
    """The chain of versions that superseded this one, oldest first."""
    current = row["id"]
    chain: list[str] = []
    for _ in range(1000):
        nxt = (
            await Report.select(Report.id, Report.public_id)
            .where(Report.supersedes == current)
            .first()
        )
        if nxt is None:
            break
        current = nxt["id"]
        chain.append(nxt["public_id"])
    return chain


async def verify_bytes(content: bytes, reports: store.ReportStore | None = None) -> Verdict:
    """The verdict on an uploaded file. With ``reports`` (the report store), a file
    whose signed bytes were altered is also matched to the report whose signature it
    carries; without it such a file is still "changed after signing", unnamed."""
    row = await Report.select().where(Report.sha256 == store.sha256(content)).first()
    if row is not None:
        return await _verdict(row)
    return await _changed_after_signing(content, reports)


async def _changed_after_signing(content: bytes, reports: store.ReportStore | None) -> Verdict:
    signatures = await asyncio.to_thread(signing.find_signatures, content)
    for evidence in signatures:
        if not evidence.made_by_key or not await _our_certificate(evidence.certificate_sha256):
            continue
        row = await _report_signed_as(content, evidence, reports)
        if len(content) < evidence.signed_end:
            change = CUT_SHORT
        elif evidence.digest_matches and len(content) > evidence.signed_end:
            change = APPENDED
        else:
            change = ALTERED
        if row is None:
            verdict = Verdict(CHANGED_AFTER_SIGNING, "", change=change)
        else:
            verdict = replace(await _verdict(row), status=CHANGED_AFTER_SIGNING, change=change)
        verdict.verdict = _sentence(verdict)
        return verdict
    return not_ours()


async def _our_certificate(sha256: str) -> bool:
    """A certificate some stored report was signed with: an earlier certificate's
    reports stay ours after the program moves to a new one."""
    return bool(await Report.exists().where(Report.certificate_sha256 == sha256))


async def _report_signed_as(
    content: bytes, evidence: signing.SignatureEvidence, reports: store.ReportStore | None
) -> dict[str, Any] | None:
    """The stored report this signature was made for: the one the signed revision hashes
    to (an update was appended), else the report its dictionary names, if that report's
    own signature is this very container (bytes were altered)."""
    if evidence.digest_matches:
        digest = await asyncio.to_thread(store.sha256, content[: evidence.signed_end])
        row = await Report.select().where(Report.sha256 == digest).first()
        if row is not None:
            return row
    if reports is None or not evidence.report_ids:
        return None
    rows = await Report.select().where(Report.public_id.is_in(list(evidence.report_ids)))
    for row in rows:
        try:
            original = await asyncio.to_thread(reports.read, row["stored_path"])
        except OSError:
            continue
        theirs = await asyncio.to_thread(signing.find_signatures, original)
        if any(s.cms == evidence.cms for s in theirs):
            return row
    return None


async def verify_public_id(public_id: str) -> Verdict:
    """What the QR code opens: the report's status by its printed id."""
    if "\x00" in public_id:  # no id holds one, and PostgreSQL errs on it in a query
        return not_ours()
    row = await Report.select().where(Report.public_id == public_id.strip().upper()).first()
    return not_ours() if row is None else await _verdict(row)
