"""The accounting of disclosures a client may ask for (42 CFR §2.24): every disclosure of
the past 3 years (when, to whom, what, why, on which consent).

Machines get every event (the API and the CSV, in UTC); people get ``readable`` lines
on the program's clock, where an officer opening one link twenty times in a day is one
line with its count, so the client can see who saw what without reading the same row
twenty times. The signed PDF is made in ``accounting_report``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from compliance import audit
from compliance.core.csv_text import csv_text
from compliance.core.vocabulary import DisclosureKind as K
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.tables import Consent, Disclosure, Program, Recipient

YEARS = 3
KIND_WORDS = {
    K.report_sent: "report sent",
    K.link_created: "secure link created",
    K.link_opened: "secure link opened",
    K.report_downloaded: "report downloaded",
    K.notice_sent: "notice sent",
}
# The same words naming the link, for people; {times} is " 20 times" on a grouped line.
LINK_WORDS = {
    K.report_sent: "report sent with secure link #{link}",
    K.link_created: "secure link #{link} created",
    K.link_opened: "secure link #{link} opened{times}",
    K.report_downloaded: "report downloaded{times} through secure link #{link}",
    K.notice_sent: "notice sent with secure link #{link}",
}
# A recipient re-reading what they were given: one line a link and day, with the count.
REPEATED = frozenset({K.link_opened, K.report_downloaded})
DASH = "\N{EN DASH}"  # between the first and the last time of repeats


@dataclass
class DisclosureLine:
    """One recorded disclosure, as machines read it."""

    occurred_at: datetime
    recipient: str
    what: str
    kind: str
    purpose: str
    consent: str
    event: str = ""  # the DisclosureKind value
    link_id: int | None = None


@dataclass
class Accounting:
    participant_name: str
    client_id: str
    program_name: str
    since: date
    until: date
    lines: list[DisclosureLine]
    time_zone: str = "UTC"  # the program's: the page and PDF read their times in it


@dataclass
class ReadableLine:
    """One line for people: a disclosure, or the repeats of one on one program day."""

    day: str  # "Mon 23 Nov 2026"
    time: str  # "09:02 CST", or from the first to the last time for repeats
    disclosure: str  # "secure link #2 opened 20 times"
    what: str
    recipient: str
    purpose: str
    consent: str
    count: int


def since_day(today: date) -> date:
    """The same day 3 years back (28 February for a 29 February)."""
    try:
        return today.replace(year=today.year - YEARS)
    except ValueError:
        return today.replace(year=today.year - YEARS, day=28)


async def accounting(principal: Principal, participant_id: int, origin: str = "") -> Accounting:
    person = await access.participant_row(principal, participant_id)
    program = (
        await Program.select(Program.name, Program.time_zone)
        .where(Program.id == person["program"])
        .first()
    )
    zone = ZoneInfo(program["time_zone"])
    today = datetime.now(zone).date()
    since = since_day(today)
    rows = (
        await Disclosure.select()
        .where(
            (Disclosure.participant == participant_id)
            & (Disclosure.occurred_at >= datetime.combine(since, time.min, zone))
        )
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
                f"consent #{r['consent']}, signed {_day(consents[r['consent']]['signed_on'])}"
                if r["consent"] in consents
                else ""
            ),
            event=r["kind"],
            link_id=r["link"],
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
        since,
        today,
        lines,
        program["time_zone"],
    )


def _day(value: date) -> str:
    return f"{value.day} {value:%b %Y}"


def _who(recipient: dict[str, Any] | None) -> str:
    if recipient is None:
        return ""
    org = f", {recipient['organisation']}" if recipient["organisation"] else ""
    return f"{recipient['name']}{org}"


def readable(account: Accounting) -> list[ReadableLine]:
    """The lines people read, in order of each line's first event. Repeats group only
    when everything else about them is the same (link, day, what, to whom, why, consent)."""
    zone = ZoneInfo(account.time_zone)
    groups: dict[tuple[Any, ...], list[DisclosureLine]] = {}
    for n, line in enumerate(account.lines):
        local = line.occurred_at.astimezone(zone)
        key: tuple[Any, ...] = (n,)
        if line.event in REPEATED and line.link_id is not None:
            key = (line.event, line.link_id, local.date(), line.what, line.recipient)
            key += (line.purpose, line.consent)
        groups.setdefault(key, []).append(line)
    return [_readable(lines, zone) for lines in groups.values()]


def _readable(lines: list[DisclosureLine], zone: ZoneInfo) -> ReadableLine:
    first = lines[0].occurred_at.astimezone(zone)
    last = lines[-1].occurred_at.astimezone(zone)
    if f"{first:%H:%M %Z}" == f"{last:%H:%M %Z}":
        clock = f"{first:%H:%M %Z}"
    elif first.tzname() == last.tzname():
        clock = f"{first:%H:%M}{DASH}{last:%H:%M %Z}"
    else:  # a clock change that day: both zones named
        clock = f"{first:%H:%M %Z}{DASH}{last:%H:%M %Z}"
    line = lines[0]
    words = LINK_WORDS.get(line.event) if line.link_id is not None else None
    times = f" {len(lines)} times" if len(lines) > 1 else ""
    return ReadableLine(
        day=f"{first:%a} {first.day} {first:%b %Y}",
        time=clock,
        disclosure=(words.format(link=line.link_id, times=times) if words else line.kind + times),
        what=line.what,
        recipient=line.recipient,
        purpose=line.purpose,
        consent=line.consent,
        count=len(lines),
    )


def to_csv(account: Accounting) -> str:
    """Every event, one row each, in UTC: for the client's lawyer's or a machine's use.
    Cells go through ``csv_text``, so a name like ``=HYPERLINK(...)`` stays text."""
    header = ["date_time_utc", "recipient", "disclosure", "what", "purpose", "consent"]
    rows = (
        [
            line.occurred_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            line.recipient,
            line.kind,
            line.what,
            line.purpose,
            line.consent,
        ]
        for line in account.lines
    )
    return csv_text(header, rows)
