"""The accounting of disclosures as a signed report: the pipeline every report takes
(render and sign in a worker, the store, a ``Report`` row that /verify answers for, a
new version superseding the last for the same period), but it goes to the client at
their own request, so it has no recipient, no consent and never asks the consent gate
(42 CFR §2.24)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from compliance.consent.gate import Decision
from compliance.core.settings import Settings
from compliance.core.vocabulary import ReportKind
from compliance.disclosure import accounting
from compliance.reporting import context as report_context
from compliance.reporting import service
from compliance.reporting.pdf import RenderJob
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.tables import Program, StaffUser

KIND = ReportKind.disclosure_accounting
# Printed where other reports state the consent's scope.
CLIENT_REQUEST = (
    "Made at the client's request (42 CFR §2.24): a client's own accounting of "
    "disclosures needs no consent."
)
# Stands in for the recipient on the letterhead: the accounting goes to the client.
TO_CLIENT = {"title": "the client, at their request", "organisation": "", "kind": "client"}


async def sign_accounting(
    principal: Principal,
    settings: Settings,
    participant_id: int,
    origin: str = "",
    job_key: str | None = None,
) -> int:
    """Render, sign and store the client's accounting of disclosures as of today; the
    report's id. ``job_key``: the job making it (jobs/tasks.py), as for other reports."""
    account = await accounting.accounting(principal, participant_id, origin)
    person = await access.participant_row(principal, participant_id)
    program = await Program.select().where(Program.id == person["program"]).first()
    signer = await StaffUser.select().where(StaffUser.id == principal.id).first()
    key = service.Lineage(participant_id, KIND.value, account.since, account.until, None)

    async def make(
        previous: dict[str, Any] | None, public_id: str, version: int
    ) -> tuple[report_context.ReportInputs, RenderJob]:
        inputs = report_context.ReportInputs(
            kind=KIND.value,
            **service.edition(settings, public_id, version, previous, signer),
            period_start=account.since,
            period_end=account.until,
            program=program,
            participant=person,
            recipient={"name": account.participant_name, **TO_CLIENT},
        )
        return inputs, await service.signing_job(settings, inputs, _context(inputs, account))

    once = service.Once(job_key)
    return await service.produce(principal, settings, key, make, origin, once=once)


def _context(inputs: report_context.ReportInputs, account: accounting.Accounting) -> dict[str, Any]:
    """The letterhead, notice and signature as every report has them, with the table."""
    nothing = Decision(True, purpose="the client's own review", scope=CLIENT_REQUEST)
    context = report_context.build(inputs, nothing)
    lines = accounting.readable(account)
    context["accounting"] = {
        "lines": [asdict(line) for line in lines],
        "events": len(account.lines),
        "grouped": sum(1 for line in lines if line.count > 1),
        "time_zone": context["generated_at"].tzname(),
    }
    return context
