"""The jobs themselves, by name. Arguments and results are JSON (they cross a queue), so a
job names what it works on (a staff member's id, a participant's id) and reloads it.

A job may run twice: a worker killed mid-job is swept and its job retried elsewhere.
Each is written to make that harmless: a report job carries a key that its report row
keeps (a retry finds the report it already made), the outbox claims a message before
sending it, and a violation's notice is claimed once in the database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from compliance import audit
from compliance.core.settings import Settings
from compliance.core.validation import FieldError, InvalidInput
from compliance.disclosure import accounting_report, notices, outbox, schedules
from compliance.intake import imports
from compliance.random_testing import check_ins, draws, windows
from compliance.records.versioning import StaleVersion
from compliance.reporting import service
from compliance.reporting.service import ConsentRefused, Once, ReportRequest
from compliance.staff import accounts
from compliance.staff.access import NotFound

Context = dict[str, Any]
Job = Callable[..., Awaitable[Any]]

# A report renders in well under a minute; past this the job is taken as lost.
REPORT_TIMEOUT_S = 300
# A worker beats every few seconds; a job silent this long was on a worker that died.
HEARTBEAT_S = 15


def request_args(request: ReportRequest) -> dict[str, Any]:
    """A report request as a job's JSON argument."""
    values = asdict(request)
    for name in ("period_start", "period_end"):
        if values[name] is not None:
            values[name] = values[name].isoformat()
    return values


def _request(values: dict[str, Any]) -> ReportRequest:
    values = dict(values)  # the job's own arguments stay JSON
    for name in ("period_start", "period_end"):
        if values.get(name) is not None:
            values[name] = date.fromisoformat(values[name])
    return ReportRequest(**values)


# What a report job may answer instead of a report: the caller's own exceptions, carried
# across the queue as data and raised again where the caller waits. Most specific first.
def _encode(exc: Exception) -> dict[str, Any] | None:
    if isinstance(exc, ConsentRefused):
        return {"raised": "ConsentRefused", "missing": list(exc.missing)}
    if isinstance(exc, InvalidInput):
        return {"raised": "InvalidInput", "errors": [[e.field, e.reason] for e in exc.errors]}
    if isinstance(exc, NotFound | StaleVersion):
        return {"raised": exc.__class__.__name__, "message": str(exc)}
    return None


def raise_answer(result: dict[str, Any]) -> None:
    """Raise the exception a job answered with, as the caller would have got it
    in-process; nothing for a result."""
    raised = result.get("raised")
    if raised == "ConsentRefused":
        raise ConsentRefused(tuple(result["missing"]))
    if raised == "InvalidInput":
        raise InvalidInput([FieldError(field, reason) for field, reason in result["errors"]])
    if raised == "NotFound":
        raise NotFound(result["message"])
    if raised == "StaleVersion":
        raise StaleVersion(result["message"])


async def make_report(
    ctx: Context,
    *,
    user_id: int,
    participant_id: int,
    request: dict[str, Any],
    origin: str = "",
    made_since: str | None = None,
) -> dict[str, Any]:
    """Plan, render, sign, store and record one report as the staff member ``user_id``.
    The job's key goes on the report's row: run again, the job finds its report there.
    A refusal (no consent, a period not yet over, a participant not theirs) is an
    answer, not a failure: retrying would refuse again."""
    once = Once(ctx.get("key"), datetime.fromisoformat(made_since) if made_since else None)

    async def sign(principal: accounts.Principal) -> dict[str, Any]:
        signed = await service.sign(
            principal, ctx["settings"], participant_id, _request(request), origin, once
        )
        return signed._asdict()

    return await _as_staff(user_id, sign)


async def make_accounting(
    ctx: Context, *, user_id: int, participant_id: int, origin: str = ""
) -> dict[str, Any]:
    """The client's accounting of disclosures as a signed report (42 CFR §2.24), made
    like any report: by a worker, once per job key."""

    async def sign(principal: accounts.Principal) -> dict[str, Any]:
        report_id = await accounting_report.sign_accounting(
            principal, ctx["settings"], participant_id, origin, job_key=ctx.get("key")
        )
        return {"report_id": report_id}

    return await _as_staff(user_id, sign)


async def _as_staff(
    user_id: int, work: Callable[[accounts.Principal], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    """``work`` as the staff member ``user_id``, reloaded (an account deactivated since
    the job was queued does nothing); a refusal is the answer, not a failure."""
    principal = await accounts.load_principal(user_id)
    if principal is None:
        return {"raised": "NotFound", "message": "this staff account is no longer active"}
    try:
        return await work(principal)
    except (InvalidInput, NotFound, StaleVersion) as exc:
        return _encode(exc) or {}


async def deliver(ctx: Context) -> dict[str, int]:
    """Violation notices queued, then the outbox's due messages sent."""
    settings: Settings = ctx["settings"]
    queued = await notices.send_violation_notices(settings)
    report = await outbox.deliver_due(settings)
    return {"notices": queued, "sent": report.sent, "failed": report.failed}


async def audit_checkpoint(ctx: Context) -> str | None:
    """The daily signed checkpoint of the audit chain (written when one is due)."""
    written = await audit.checkpoint_if_due(ctx["settings"])
    return str(written) if written else None


async def remove_expired_uploads(ctx: Context) -> int:
    """Import files previewed and left longer than imports.STAGED_FOR: kept in the
    database for any instance to commit, removed here once none will."""
    return await imports.remove_expired_uploads()


async def testing_draw(ctx: Context) -> int:
    """Today's random-testing draw for every program that has not had it, each on its own
    clock: run every few minutes, so a day's draw is made within minutes of its midnight,
    long before its call-in opens. Draws made: 0 on every run but the first of a day."""
    return await draws.draw_due_everywhere()


async def testing_windows(ctx: Context) -> dict[str, int]:
    """A missed test for each call whose collection window closed with no specimen, then
    a missed check-in for each participant who had to check in on a day whose check-in
    has closed and did not."""
    return {
        "missed_tests": await windows.close_windows(),
        "missed_check_ins": await check_ins.record_missed(),
    }


async def scheduled_reports(ctx: Context) -> dict[str, int]:
    """Each report schedule's due period made, signed and sent once (or skipped, saying
    why): disclosure/schedules.py."""
    return await schedules.run_due(ctx["settings"])


JOBS: dict[str, Job] = {
    "make_report": make_report,
    "make_accounting": make_accounting,
    "deliver": deliver,
    "audit_checkpoint": audit_checkpoint,
    "remove_expired_uploads": remove_expired_uploads,
    "testing_draw": testing_draw,
    "testing_windows": testing_windows,
    "scheduled_reports": scheduled_reports,
}

# (job, cron with seconds last). Each runs once per schedule across every worker.
# In process they also run once each at start, in this order: today's draw, the missed
# tests of windows closed meanwhile, then the notices those make.
PERIODIC: list[tuple[str, str]] = [
    ("testing_draw", "*/5 * * * *"),
    ("testing_windows", "* * * * *"),
    ("scheduled_reports", "*/15 * * * *"),
    ("deliver", "* * * * * */30"),
    ("audit_checkpoint", "*/10 * * * *"),
    ("remove_expired_uploads", "41 * * * *"),
]
