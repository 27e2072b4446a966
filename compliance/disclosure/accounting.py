"""The accounting of disclosures a client may ask for: every disclosure of the past
3 years (date and time, recipient, what, purpose, consent), as a page, CSV or PDF."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from compliance import access, audit
from compliance.accounts import Principal
from compliance.tables import Consent, Disclosure, Program, Recipient

YEARS = 3
KIND_WORDS = {
    "report_sent": "report sent",
    "link_created": "secure link created",
    "link_opened": "secure link opened",
    "report_downloaded": "report downloaded",
    "notice_sent": "notice sent",
}


@dataclass
class DisclosureLine:
    occurred_at: datetime
    recipient: str
    what: str
    kind: str
    purpose: str
    consent: str


@dataclass
class Accounting:
    participant_name: str
    client_id: str
    program_name: str
    since: date
    until: date
    lines: list[DisclosureLine]
    time_zone: str = "UTC"  # the program's: the page and PDF read their times in it


async def accounting(principal: Principal, participant_id: int, origin: str = "") -> Accounting:
    person = await access.participant_row(principal, participant_id)
    program = (
        await Program.select(Program.name, Program.time_zone)
        .where(Program.id == person["program"])
        .first()
    )
    now = datetime.now(UTC)
    since = now - timedelta(days=365 * YEARS + 1)
    rows = (
        await Disclosure.select()
        .where((Disclosure.participant == participant_id) & (Disclosure.occurred_at >= since))
        .order_by(Disclosure.occurred_at)
        .order_by(Disclosure.id)
    )
    recipients = {
        r["id"]: r
        for r in await Recipient.select().where(
            Recipient.id.is_in([r["recipient"] for r in rows if r["recipient"]] or [0])
        )
    }
    consents = {
        c["id"]: c
        for c in await Consent.select(Consent.id, Consent.signed_on).where(
            Consent.id.is_in([r["consent"] for r in rows if r["consent"]] or [0])
        )
    }
    lines = [
        DisclosureLine(
            occurred_at=r["occurred_at"],
            recipient=_who(recipients.get(r["recipient"])),
            what=r["description"],
            kind=KIND_WORDS.get(r["kind"], r["kind"]),
            purpose=r["purpose"].replace("_", " "),
            consent=(
                f"consent #{r['consent']} signed {consents[r['consent']]['signed_on']:%Y-%m-%d}"
                if r["consent"] in consents
                else ""
            ),
        )
        for r in rows
    ]
    await audit.record(
        "disclosures.accounted", principal.actor(origin), "participant", participant_id
    )
    return Accounting(
        f"{person['first_name']} {person['last_name']}",
        person["client_id"],
        program["name"],
        since.date(),
        now.date(),
        lines,
        program["time_zone"],
    )


def _who(recipient: dict[str, Any] | None) -> str:
    if recipient is None:
        return ""
    org = f", {recipient['organisation']}" if recipient["organisation"] else ""
    return f"{recipient['name']}{org}"


def to_csv(account: Accounting) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["date_time_utc", "recipient", "disclosure", "what", "purpose", "consent"])
    for line in account.lines:
        writer.writerow(
            [
                line.occurred_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                line.recipient,
                line.kind,
                line.what,
                line.purpose,
                line.consent,
            ]
        )
    return out.getvalue()
