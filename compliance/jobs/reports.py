"""Making a signed report, wherever this process's jobs run: in this process (the
embedded default) or on a worker through the queue. The web, the batch and remaking a
report all come here; ``reporting.service.sign`` is what the job itself calls."""

from __future__ import annotations

from datetime import datetime

from compliance.core.settings import Settings
from compliance.jobs import dispatch
from compliance.jobs.tasks import raise_answer, request_args
from compliance.reporting import service
from compliance.reporting.service import ReportRequest, ReportView, Signed
from compliance.staff.accounts import Principal


async def sign(
    principal: Principal,
    settings: Settings,
    participant_id: int,
    request: ReportRequest,
    origin: str = "",
    key: str | None = None,
    made_since: datetime | None = None,
) -> Signed:
    """Make the report as ``principal`` (the job reloads them by id: an account
    deactivated meanwhile makes nothing). ``key`` names this piece of work: submitted
    again under one key, it is made once. ``made_since``: a batch's start; a current
    version made since then is taken as this one (reporting.service.Once)."""
    result = await dispatch.run(
        settings,
        "make_report",
        key=key or dispatch.new_key("report"),
        user_id=principal.id,
        participant_id=participant_id,
        request=request_args(request),
        origin=origin,
        made_since=made_since.isoformat() if made_since else None,
    )
    raise_answer(result)
    # .get: a worker of an earlier version answers without it (a rolling upgrade).
    return Signed(result["report_id"], result["time_zone"], result.get("counts_check_ins"))


async def generate(
    principal: Principal,
    settings: Settings,
    participant_id: int,
    request: ReportRequest,
    origin: str = "",
) -> ReportView:
    """``sign``, then the new report as the API and pages show it."""
    return await service.signed_view(
        await sign(principal, settings, participant_id, request, origin)
    )


async def accounting(
    principal: Principal, settings: Settings, participant_id: int, origin: str = ""
) -> ReportView:
    """The client's accounting of disclosures, signed by a worker like any report."""
    result = await dispatch.run(
        settings,
        "make_accounting",
        key=dispatch.new_key("accounting"),
        user_id=principal.id,
        participant_id=participant_id,
        origin=origin,
    )
    raise_answer(result)
    return await service.get_report(principal, result["report_id"])
