"""'Make a new version': the same report (kind, recipient, period, narrative) signed
again from the records as they are now, superseding the one a correction outdated."""

from __future__ import annotations

from compliance.core.settings import Settings
from compliance.core.validation import FieldError, InvalidInput
from compliance.core.vocabulary import ReportKind, ReportStatus
from compliance.jobs import reports
from compliance.reporting.service import ReportRequest, ReportView
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.tables import Report


async def remake(
    principal: Principal, settings: Settings, report_id: int, origin: str = ""
) -> ReportView:
    """Re-run ``generate`` for the report's own request. Only the current version can
    be remade (a superseded one's successor is the one to look at); the consent gate
    decides again, so a consent revoked since refuses it. An EAP fitness statement is
    not stored with a report, so a new EAP version has none unless made from the form."""
    row = await access.participant_record(principal, Report, report_id, "report")
    if row["kind"] == ReportKind.disclosure_accounting.value or row["recipient"] is None:
        raise InvalidInput(
            [FieldError("report", "the accounting of disclosures is made again from its page")]
        )
    if row["status"] != ReportStatus.current.value:
        raise InvalidInput(
            [
                FieldError(
                    "report",
                    f"{row['public_id']} is {row['status']}: only the current "
                    "version can be made again",
                )
            ]
        )
    return await reports.generate(
        principal,
        settings,
        row["participant"],
        ReportRequest(
            kind=row["kind"],
            recipient_id=row["recipient"],
            period_start=row["period_start"],
            period_end=row["period_end"],
            narrative=row["narrative"],
        ),
        origin,
    )
