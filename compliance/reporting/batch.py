"""A whole caseload's reports for one period (for example last week's court reports),
rendered across every worker; one participant's failure is reported, not fatal."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from compliance.consent import consents as consent_records
from compliance.consent.gate import decide
from compliance.core import db
from compliance.core.settings import Settings
from compliance.core.validation import FieldError, InvalidInput
from compliance.core.vocabulary import ReportKind
from compliance.jobs import dispatch, reports
from compliance.reporting import service
from compliance.reporting.service import ReportRequest
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.tables import Participant, Program, Recipient

BATCH_KINDS = tuple(k for k in service.KINDS if k != ReportKind.discharge_letter)


@dataclass
class BatchResult:
    made: list[tuple[int, int]] = field(default_factory=list)  # participant id, report id
    failed: list[tuple[str, str]] = field(default_factory=list)  # client id, reason


def _recipient_for(
    kind: str, recipients: list[dict[str, Any]], consents: list[dict[str, Any]], today: date
) -> tuple[dict[str, Any] | None, str]:
    """The first recipient a valid consent allows this report for, or why there is none."""
    reasons: list[str] = []
    for recipient in recipients:
        decision = decide(kind, recipient, consents, today)
        if decision.allowed:
            return recipient, ""
        if not any(m.startswith("no consent names") for m in decision.missing):
            reasons.extend(decision.missing)
    return None, "; ".join(reasons) or "no consent names a recipient for this report"


async def run(
    principal: Principal,
    settings: Settings,
    program_id: int,
    kind: str,
    start: date,
    end: date,
    progress: Callable[[int, int], None] = lambda done, total: None,
    key: str | None = None,
) -> BatchResult:
    """``key`` names this batch: each participant's report is the job ``key:<id>``, so a
    worker lost mid-batch costs a retry, never a second report."""
    batch_key = key or dispatch.new_key("batch")
    started = datetime.now(UTC)
    access.require_program(principal, program_id)
    program = await Program.select().where(Program.id == program_id).first()
    today = datetime.now(ZoneInfo(program["time_zone"])).date()
    if kind not in service.KINDS or kind == ReportKind.discharge_letter:
        # Discharge letters are for discharged clients; a batch signs the active ones.
        raise InvalidInput([FieldError("kind", f"a batch makes one of {', '.join(BATCH_KINDS)}")])
    service.check_period(start, end, today)  # refused whole, before any report is made
    people = (
        await Participant.select(Participant.id, Participant.client_id)
        .where((Participant.program == program_id) & Participant.discharged_on.is_null())
        .order_by(Participant.client_id)
    )
    recipients = (
        await Recipient.select().where(Recipient.program == program_id).order_by(Recipient.id)
    )
    consents = await consent_records.for_decisions([p["id"] for p in people])
    result = BatchResult()
    done = 0
    gate = asyncio.Semaphore(dispatch.current(settings).in_flight)

    async def one(person: dict[str, Any]) -> None:
        nonlocal done
        async with gate:
            try:
                recipient, why = _recipient_for(
                    kind, recipients, consents.get(person["id"], []), today
                )
                if recipient is None:
                    result.failed.append((person["client_id"], why))
                    return
                signed = await reports.sign(
                    principal,
                    settings,
                    person["id"],
                    ReportRequest(kind, recipient["id"], start, end),
                    "batch",
                    key=f"{batch_key}:{person['id']}",
                    made_since=started,
                )
                result.made.append((person["id"], signed.report_id))
            except InvalidInput as exc:
                result.failed.append((person["client_id"], str(exc)))
            except Exception as exc:  # one participant's failure must not stop the batch
                result.failed.append((person["client_id"], f"{exc.__class__.__name__}: {exc}"))
            finally:
                done += 1
                progress(done, len(people))

    async with db.pooled():
        await asyncio.gather(*(one(p) for p in people))
    return result
