"""Sending a signed report to its recipient: a secure link to that report and an
e-mail that says a report is available, with the link and no health information (not
even the client's name: being in treatment is itself protected). The access code, if
any, is shown to staff to pass on another way, never put in the e-mail."""

from __future__ import annotations

from dataclasses import dataclass

from compliance.core.settings import Settings
from compliance.core.validation import FieldError, InvalidInput
from compliance.core.vocabulary import DisclosureKind
from compliance.disclosure import links
from compliance.disclosure.links import NewLink
from compliance.reporting import service as reports
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.tables import Program, Recipient, Report

KIND_WORDS = {
    "court_progress": "court progress report",
    "eap_status": "status report",
    "discharge_letter": "discharge / completion letter",
}


@dataclass
class SentReport:
    link: NewLink
    outbox_id: int
    to: str


def report_email(program: dict, report: dict, made: NewLink) -> tuple[str, str]:
    subject = f"A {KIND_WORDS.get(report['kind'], 'report')} is available from {program['name']}"
    lines = [
        f"{program['name']} has made a signed {KIND_WORDS.get(report['kind'], 'report')} "
        f"available to you (reference {report['public_id']}).",
        "",
        f"Open it here: {made.url}",
        f"The link works until {made.link.expires_at:%d %b %Y}.",
    ]
    if made.access_code:
        lines.append(
            f"You will also need an access code, which {program['name']} gives you separately."
        )
    lines += [
        "",
        "This message holds no health information. The report is protected by Federal "
        "confidentiality rules (42 CFR part 2).",
        f"Questions: {program['name']}, {program['phone']} {program['contact_email']}".rstrip(),
    ]
    return subject, "\n".join(lines)


async def send_report(
    principal: Principal,
    settings: Settings,
    report_id: int,
    with_access_code: bool = False,
    origin: str = "",
) -> SentReport:
    view = await reports.get_report(principal, report_id)  # access check
    report = await Report.select().where(Report.id == view.id).first()
    recipient = await Recipient.select().where(Recipient.id == report["recipient"]).first()
    if recipient is None or not recipient["email"]:
        raise InvalidInput([FieldError("recipient", "the recipient has no e-mail address")])
    person = await access.participant_row(principal, report["participant"])
    program = await Program.select().where(Program.id == person["program"]).first()
    queued: list[int] = []

    async def write_email(made: NewLink) -> None:
        subject, body = report_email(program, report, made)
        queued.append(
            await links.email_link(
                settings,
                made,
                person,
                recipient,
                subject=subject,
                body=body,
                kind=DisclosureKind.report_sent,
                description=f"report {report['public_id']} sent to {recipient['email']} "
                f"(secure link #{made.link.id})",
                report=report["id"],
                origin=origin,
            )
        )

    made = await links.issue_link(
        settings,
        person,
        recipient,
        report,
        links.DEFAULT_DAYS,
        with_access_code,
        principal.actor(origin),
        principal.id,
        after=write_email,
    )
    return SentReport(made, queued[0], recipient["email"])
