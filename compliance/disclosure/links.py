"""Secure links: an officer's key to one participant's standing view or to one report.

The token (256 bits from ``secrets``) exists only in the link handed to staff; the
database keeps its SHA-256. Every access re-checks the link (revoked, expired, locked
by wrong access codes) and the consent it is bound to, and is recorded as a
disclosure. Nothing here ever logs or stores the token itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from compliance import audit
from compliance.consent import consents as consent_records
from compliance.consent.gate import CATEGORY_WORDS, Decision, decide
from compliance.core import db
from compliance.core.local_time import spoken
from compliance.core.rows import view_of
from compliance.core.settings import Settings
from compliance.core.validation import FieldError, InvalidInput, is_record_id
from compliance.core.versioned_cache import VersionedCache
from compliance.core.vocabulary import (
    REPORT_TITLES,
    DisclosureKind,
    InformationCategory,
    LinkScope,
    ReportKind,
)
from compliance.disclosure import outbox
from compliance.disclosure.record import disclosed, disclosure_insert
from compliance.engine import caseload
from compliance.engine.rules import WeekResult, hm
from compliance.engine.violations import category_of as violation_category
from compliance.reporting import service as reports
from compliance.reporting import store, summary
from compliance.reporting.context import NOTICE
from compliance.staff import access
from compliance.staff.accounts import Principal, hash_password, verify_password
from compliance.tables import (
    Consent,
    Mandate,
    Participant,
    Program,
    Recipient,
    Report,
    SecureLink,
    Violation,
)

TOKEN_BYTES = 32  # 256 bits
log = logging.getLogger(__name__)
DEFAULT_DAYS = 30
MAX_DAYS = 90
CODE_DIGITS = 8
STATUS_WEEKS = 2
RECENT_TEST_DAYS = 28

C = InformationCategory
# What a standing view is judged as, by who receives it.
VIEW_KIND = {
    "probation_officer": ReportKind.court_progress,
    "court": ReportKind.court_progress,
    "eap_case_manager": ReportKind.eap_status,
    "employer_contact": ReportKind.eap_status,
    "sap": ReportKind.sap_followup,  # the follow-up plan against the tests done
}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class LinkView:
    id: int
    participant_id: int
    scope: str
    report_id: int | None
    recipient_id: int
    recipient_name: str
    consent_id: int
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    has_access_code: bool
    failed_code_attempts: int
    use_count: int
    last_used_at: datetime | None
    state: str  # active, expired, revoked, locked


@dataclass
class NewLink:
    """Shown to staff once: the URL (holding the token) and the access code, if any."""

    link: LinkView
    url: str
    access_code: str | None = None
    purpose: str = ""


async def email_link(
    settings: Settings,
    made: NewLink,
    person: dict[str, Any],
    recipient: dict[str, Any],
    *,
    subject: str,
    body: str,
    kind: DisclosureKind,
    description: str,
    report: int | None = None,
    origin: str = "",
) -> int:
    """Queue the e-mail carrying a new link to its recipient and record the disclosure,
    in the link's transaction (``issue_link``'s ``after``): a link is never sent
    unrecorded, nor recorded unsent. Returns the outbox message's id."""
    queued = await outbox.enqueue(
        settings,
        to=recipient["email"],
        subject=subject,
        body=body,
        program=person["program"],
        participant=person["id"],
        link=made.link.id,
    )
    await disclosed(
        participant=person["id"],
        kind=kind,
        description=description,
        recipient=recipient["id"],
        consent=made.link.consent_id,
        purpose=made.purpose,
        report=report,
        link=made.link.id,
        origin=origin,
    )
    return queued


def _state(row: dict[str, Any], now: datetime) -> str:
    if row["revoked_at"] is not None:
        return "revoked"
    if row["expires_at"] <= now:
        return "expired"
    if row["access_code_hash"] and row["failed_code_attempts"] >= row["max_code_attempts"]:
        return "locked"
    return "active"


async def _views(rows: list[dict[str, Any]]) -> list[LinkView]:
    """Links as staff see them; rows may carry their recipient's name already."""
    missing = [r["recipient"] for r in rows if "recipient_name" not in r]
    names = {
        r["id"]: r["name"]
        for r in (
            await Recipient.select(Recipient.id, Recipient.name).where(Recipient.id.is_in(missing))
            if missing
            else []
        )
    }
    now = datetime.now(UTC)
    return [
        view_of(
            LinkView,
            r,
            recipient_name=r.get("recipient_name") or names.get(r["recipient"], ""),
            has_access_code=bool(r["access_code_hash"]),
            state=_state(r, now),
        )
        for r in rows
    ]


def _kind(scope: str, recipient: dict[str, Any], report: dict[str, Any] | None) -> str:
    if scope == LinkScope.report and report is not None:
        return report["kind"]
    return VIEW_KIND.get(recipient["kind"], ReportKind.court_progress)


async def _bound_decision(
    link: dict[str, Any], recipient: dict[str, Any], report: dict[str, Any] | None, today: date
) -> Decision:
    """The link's own consent, judged again today: another consent does not revive it."""
    held = await consent_records.for_decision(link["participant"])
    own = [c for c in held if c["id"] == link["consent"]]
    return decide(_kind(link["scope"], recipient, report), recipient, own, today)


async def create_link(
    principal: Principal,
    settings: Settings,
    participant_id: int,
    recipient_id: int,
    scope: str = LinkScope.participant,
    report_id: int | None = None,
    days: int = DEFAULT_DAYS,
    with_access_code: bool = False,
    origin: str = "",
) -> NewLink:
    person = await access.participant_row(principal, participant_id)
    if scope not in {s.value for s in LinkScope}:
        raise InvalidInput([FieldError("scope", "participant or report")])
    recipient = None
    if is_record_id(recipient_id):
        recipient = await Recipient.select().where(Recipient.id == recipient_id).first()
    if recipient is None or recipient["program"] != person["program"]:
        raise InvalidInput([FieldError("recipient_id", "no such recipient in this program")])
    report = None
    if scope == LinkScope.report:
        if report_id is not None and is_record_id(report_id):
            report = await Report.select().where(Report.id == report_id).first()
        if report is None or report["participant"] != participant_id:
            raise InvalidInput([FieldError("report_id", "no such report of this participant")])
    return await issue_link(
        settings,
        person,
        recipient,
        report,
        days,
        with_access_code,
        principal.actor(origin),
        principal.id,
    )


async def issue_link(
    settings: Settings,
    person: dict[str, Any],
    recipient: dict[str, Any],
    report: dict[str, Any] | None,
    days: int,
    with_access_code: bool,
    actor: audit.Actor,
    created_by: int | None,
    after: Callable[[NewLink], Awaitable[None]] | None = None,
) -> NewLink:
    """A link for ``recipient`` to ``person``'s standing view, or to ``report``; refused
    (``ConsentRefused``) unless a valid consent covers it. ``after`` runs inside the
    same transaction (the e-mail carrying the link), once the slow access-code hash is
    done outside it."""
    _check_link_request(days, recipient, report)
    scope = LinkScope.report if report is not None else LinkScope.participant
    program = await Program.select().where(Program.id == person["program"]).first()
    zone = ZoneInfo(program["time_zone"])
    held = await consent_records.for_decision(person["id"])
    decision = decide(_kind(scope, recipient, report), recipient, held, datetime.now(zone).date())
    if not decision.allowed:
        raise reports.ConsentRefused(decision.missing)
    consent = next(c for c in held if c["id"] == decision.consent_id)
    now = datetime.now(UTC)
    expires = _link_expiry(now, days, consent, zone)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    code = (
        "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
        if with_access_code
        else None
    )
    code_hash = await asyncio.to_thread(hash_password, code) if code else None
    async with db.transaction():
        link = SecureLink(
            token_hash=token_hash(token),
            scope=scope,
            participant=person["id"],
            report=report["id"] if report else None,
            recipient=recipient["id"],
            consent=consent["id"],
            created_by=created_by,
            created_at=now,
            expires_at=expires,
            access_code_hash=code_hash,
        )
        await link.save()
        await disclosed(
            participant=person["id"],
            kind=DisclosureKind.link_created,
            description=(
                f"secure link #{link.id} to "
                + (f"report {report['public_id']}" if report else "the status page")
                + f", valid until {spoken(expires, zone)}"
            ),
            recipient=recipient["id"],
            consent=consent["id"],
            purpose=decision.purpose,
            report=report["id"] if report else None,
            link=link.id,
            origin=actor.origin,
        )
        await audit.record(
            "link.created",
            actor,
            "secure_link",
            link.id,
            {"scope": scope, "recipient": recipient["id"], "access_code": bool(code)},
        )
        row = await SecureLink.select().where(SecureLink.id == link.id).first()
        made = NewLink(
            (await _views([row]))[0], f"{settings.base_url}/l/{token}", code, decision.purpose
        )
        if after is not None:
            await after(made)
    return made


def _check_link_request(
    days: int, recipient: dict[str, Any], report: dict[str, Any] | None
) -> None:
    """A link lasts 1 to MAX_DAYS days; a report link only to a current report, and
    only for the recipient it was made for (its consent decided its contents)."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput([FieldError("days", f"between 1 and {MAX_DAYS}")])
    if report is not None and report["status"] != "current":
        raise InvalidInput([FieldError("report_id", f"the report is {report['status']}")])
    if report is not None and report["recipient"] != recipient["id"]:
        raise InvalidInput([FieldError("report_id", "the report was made for another recipient")])


def _link_expiry(now: datetime, days: int, consent: dict[str, Any], zone: ZoneInfo) -> datetime:
    """``days`` from now, but never past the end of the consent's last day."""
    expires = now + timedelta(days=days)
    if consent["expires_on"] is not None:
        consent_end = datetime.combine(consent["expires_on"] + timedelta(days=1), time.min, zone)
        expires = min(expires, consent_end.astimezone(UTC))
    return expires


_PARTICIPANT_LINKS = db.Prepared(
    lambda: (
        SecureLink.select(
            *SecureLink.all_columns(), SecureLink.recipient.name.as_alias("recipient_name")
        )
        .where(SecureLink.participant == db.Param("participant"))
        .order_by(SecureLink.id, ascending=False)
    )
)


async def participant_links(principal: Principal, participant_id: int) -> list[LinkView]:
    """Read live on every participant page (a link's use does not count as a change to
    the records), so one query compiled once, the recipients' names joined in."""
    await access.participant_row(principal, participant_id)
    return await _views(await _PARTICIPANT_LINKS.run(participant=participant_id))


async def get_link(principal: Principal, link_id: int) -> LinkView:
    row = await SecureLink.select().where(SecureLink.id == link_id).first()
    if row is None:
        raise access.NotFound("no such link")
    await access.participant_row(principal, row["participant"])
    return (await _views([row]))[0]


async def revoke_link(principal: Principal, link_id: int, origin: str = "") -> LinkView:
    row = await SecureLink.select().where(SecureLink.id == link_id).first()
    if row is None:
        raise access.NotFound("no such link")
    await access.participant_row(principal, row["participant"])
    if row["revoked_at"] is None:
        async with db.transaction():
            await SecureLink.update(
                {SecureLink.revoked_at: datetime.now(UTC), SecureLink.revoked_by: principal.id}
            ).where(SecureLink.id == link_id)
            await audit.record("link.revoked", principal.actor(origin), "secure_link", link_id)
    return (await _views([await SecureLink.select().where(SecureLink.id == link_id).first()]))[0]


# --- the officer's side ----------------------------------------------------------------


class LinkNotFound(Exception):
    """No link has this token (a typo, or never issued)."""


@dataclass
class LinkGone(Exception):
    """The link or its consent no longer allows access: HTTP 410, nothing disclosed."""

    reason: str
    program: str = ""
    phone: str = ""
    email: str = ""

    @property
    def phone_href(self) -> str:
        return tel_href(self.phone)


class CodeRequired(Exception):
    """The link needs its access code first."""

    def __init__(self, attempts_left: int) -> None:
        self.attempts_left = attempts_left
        super().__init__("access code required")


@dataclass
class LinkAccess:
    link: dict[str, Any]
    person: dict[str, Any]
    program: dict[str, Any]
    recipient: dict[str, Any]
    report: dict[str, Any] | None
    decision: Decision
    # The change counters the rows above were read at (db.participant_version), and
    # the program's day then.
    records_version: tuple[int, int]
    today: date


@dataclass(frozen=True)
class _Bound:
    """What a link is about, read from the records: shared by every opening of the link
    until the records change (or the program's day does, for the consent's dates)."""

    person: dict[str, Any]
    program: dict[str, Any]
    recipient: dict[str, Any]
    report: dict[str, Any] | None
    decision: Decision
    today: date


def _gone(program: dict[str, Any], reason: str) -> LinkGone:
    return LinkGone(reason, program["name"], program["phone"], program["contact_email"])


async def resolve(token: str, unlocked: bool = False) -> LinkAccess:
    """The link behind ``token``, checked now: raises ``LinkNotFound``, ``LinkGone`` or
    ``CodeRequired``. Reads only; the caller records what it then discloses.

    The link's own row is read every time (revoked, expired, locked take effect at
    once); what it is about (participant, program, recipient, report, the consent
    decision) is read once per change to the participant's records or the shared ones
    (``db.participant_version``) and per day: a batch signing other clients' reports
    leaves this page's reads as they were."""
    digest = token_hash(token)
    found = await _LINK_BY_TOKEN.run(digest=digest)
    row = found[0] if found else None
    if row is None or not hmac.compare_digest(row["token_hash"], digest):
        raise LinkNotFound()
    # Before the reads it keys: those are then at least this new.
    version = await db.participant_version(row["participant"])
    cache: VersionedCache[_Bound] = db.view_cache("link.bound")
    key = (row["id"], version)

    async def bind() -> _Bound:
        async with db.reading():
            return await _bind(row)

    def same_day(kept: _Bound) -> bool:  # else the consent may have lapsed
        return kept.today == datetime.now(ZoneInfo(kept.program["time_zone"])).date()

    bound = await cache.computed_once(key, bind, fresh=same_day)
    return _checked(row, bound, version, unlocked)


_LINK_BY_TOKEN = db.Prepared(
    lambda: SecureLink.select().where(SecureLink.token_hash == db.Param("digest"))
)
_LINK_USED = db.Prepared(
    lambda: SecureLink.update(
        {
            SecureLink.use_count: SecureLink.use_count + 1,
            SecureLink.last_used_at: db.Param("now"),
        }
    ).where(SecureLink.id == db.Param("link"))
)


async def _bind(row: dict[str, Any]) -> _Bound:
    person = await Participant.select().where(Participant.id == row["participant"]).first()
    program = await Program.select().where(Program.id == person["program"]).first()
    recipient = await Recipient.select().where(Recipient.id == row["recipient"]).first()
    report = (
        await Report.select().where(Report.id == row["report"]).first() if row["report"] else None
    )
    today = datetime.now(ZoneInfo(program["time_zone"])).date()
    decision = await _bound_decision(row, recipient, report, today)
    return _Bound(person, program, recipient, report, decision, today)


def _checked(
    row: dict[str, Any], bound: _Bound, version: tuple[int, int], unlocked: bool
) -> LinkAccess:
    program, report = bound.program, bound.report
    state = _state(row, datetime.now(UTC))
    if state == "revoked":
        raise _gone(program, "This link was withdrawn by the program.")
    if state == "expired":
        raise _gone(program, "This link has expired.")
    if state == "locked":
        raise _gone(program, "This link was locked after too many wrong access codes.")
    if report is not None and report["status"] == "revoked":
        raise _gone(program, "The report behind this link was withdrawn by the program.")
    if report is not None and report["status"] == "superseded":
        raise _gone(program, "The report behind this link was replaced by a newer version.")
    if not bound.decision.allowed:
        raise _gone(
            program,
            "The client's consent no longer allows this disclosure (it was revoked, has "
            "expired or does not cover it).",
        )
    if row["access_code_hash"] and not unlocked:
        raise CodeRequired(row["max_code_attempts"] - row["failed_code_attempts"])
    return LinkAccess(
        row,
        bound.person,
        program,
        bound.recipient,
        report,
        bound.decision,
        records_version=version,
        today=bound.today,
    )


async def check_code(token: str, code: str, origin: str = "") -> bool:
    """One attempt at the access code. The attempt is counted before the code is checked
    (and given back when right), so a burst of guesses cannot outrun the lock."""
    try:
        await resolve(token)
        return True  # no code needed
    except CodeRequired:
        pass
    digest = token_hash(token)
    counted = (
        await SecureLink.update(
            {SecureLink.failed_code_attempts: SecureLink.failed_code_attempts + 1}
        )
        .where(
            (SecureLink.token_hash == digest)
            & (SecureLink.failed_code_attempts < SecureLink.max_code_attempts)
        )
        .returning(SecureLink.id, SecureLink.access_code_hash)
    )
    if not counted:
        return False  # locked: resolve() now answers 410
    row = counted[0]
    ok = await asyncio.to_thread(verify_password, row["access_code_hash"], code.strip())
    if ok:
        await SecureLink.update(
            {SecureLink.failed_code_attempts: SecureLink.failed_code_attempts - 1}
        ).where(SecureLink.id == row["id"])
    else:
        await audit.record(
            "link.code_failed", audit.Actor(f"link:{row['id']}", origin), "secure_link", row["id"]
        )
    return ok


UNLOCK_SECONDS = 3600


def unlock_mark(secret: str, link_digest: str, until: int | None = None) -> str:
    """The cookie value that says this browser gave the right code for this link, until
    a time the server checks (a browser's max-age is only a request)."""
    until = until or int(datetime.now(UTC).timestamp()) + UNLOCK_SECONDS
    mac = hmac.new(secret.encode(), f"link-unlocked:{link_digest}:{until}".encode(), "sha256")
    return f"{until}.{mac.hexdigest()}"


def unlocked(secret: str, link_digest: str, mark: str) -> bool:
    until, _, _ = mark.partition(".")
    if not until.isdigit() or int(until) < datetime.now(UTC).timestamp():
        return False
    return hmac.compare_digest(mark, unlock_mark(secret, link_digest, int(until)))


# The officer reads the engine's status in plain words; "in progress" alone reads as
# neither good nor bad, so this week says whether it is on track so far.
# Which mandate speaks to which recipient: an employer never sees a court case number.
MANDATE_SOURCES = {
    "probation_officer": ("court", "probation"),
    "court": ("court", "probation"),
    "eap_case_manager": ("eap",),
    "employer_contact": ("eap",),
    "sap": ("dot_sap",),
}
CONTACT_ROLES = {
    "court": "Probation officer",
    "probation": "Probation officer",
    "eap": "EAP case manager",
    "dot_sap": "Substance Abuse Professional",
}
# The categories the status page can show, in the order a reader expects them.
PAGE_CATEGORIES = (C.attendance, C.drug_tests, C.compliance_status)


@dataclass
class WeekLine:
    start: date
    end: date
    status: str | None = None
    status_label: str | None = None
    hours: str | None = None
    reasons: list[str] = field(default_factory=list)


@dataclass
class StatusLine:
    """This week so far, or the last full week: the court's first question."""

    label: str  # "This week so far"
    days: str  # "Mon 23 Nov to Sun 29 Nov"
    status: str
    words: str
    reasons: list[str] = field(default_factory=list)


@dataclass
class ViolationLine:
    when: str  # on the program's clock
    what: str
    counts: str
    day: date


@dataclass
class TestLine:
    day: date
    outcome: str
    detail: str


@dataclass
class Contact:
    role: str
    name: str
    phone: str = ""
    phone_href: str = ""  # tel:2175550140
    email: str = ""


@dataclass
class OfficerView:
    participant_name: str
    program_name: str
    program_phone: str
    program_email: str
    recipient_name: str
    shown: list[str]
    weeks: list[WeekLine]
    tests: list[TestLine]
    reports: list[dict[str, Any]]
    consent_scope: str
    notice: str
    expires_at: datetime
    expires_words: str = ""
    case_number: str = ""
    court_name: str = ""
    this_week: StatusLine | None = None
    last_week: StatusLine | None = None
    violations: list[ViolationLine] | None = None  # None: the consent does not cover them
    contacts: list[Contact] = field(default_factory=list)


@dataclass
class _Reads:
    """What one opening of the page read, inside one read transaction."""

    weeks: list[WeekLine] = field(default_factory=list)
    tests: list[TestLine] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)
    mandate: dict[str, Any] | None = None
    this_week: StatusLine | None = None
    last_week: StatusLine | None = None
    violations: list[ViolationLine] | None = None
    # The first and the last week whose records the page shows (by their first days).
    weeks_shown: tuple[date, date] | None = None


def tel_href(phone: str) -> str:
    """``tel:`` and the number's digits (an extension after "x"/"ext" is left out), or ""."""
    number = re.split(r"(?i)x|ext", phone, maxsplit=1)[0]
    digits = re.sub(r"\D", "", number)
    return f"tel:{digits}" if digits else ""


def _days(start: date, end: date) -> str:
    return f"{start:%a} {start.day} {start:%b} to {end:%a} {end.day} {end:%b}"


def span_words(start: date, end: date) -> str:
    """ "5 Oct to 22 Nov 2026"; the year twice only when it changes."""
    first = f"{start.day} {start:%b}" + (f" {start.year}" if start.year != end.year else "")
    return f"{first} to {end.day} {end:%b %Y}"


def report_title(kind: str) -> str:
    return REPORT_TITLES.get(kind, kind.replace("_", " ").capitalize())


def _report_words(report: dict[str, Any]) -> str:
    """A report as the accounting names it: id, kind, period and version."""
    return (
        f"report {report['public_id']} ({report_title(report['kind'])}, "
        f"{span_words(report['period_start'], report['period_end'])}, "
        f"version {report['version']})"
    )


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


async def _visible_reports(grant: LinkAccess) -> list[dict[str, Any]]:
    """Current reports made for this recipient that both the link's consent and the
    consent each report was made under still allow (a report's contents were decided
    by its own consent, which may since have been revoked)."""
    if grant.report is not None:
        rows = [grant.report]
    else:
        rows = (
            await Report.select()
            .where(
                (Report.participant == grant.person["id"])
                & (Report.recipient == grant.recipient["id"])
                & (Report.status == "current")
            )
            .order_by(Report.id, ascending=False)
        )
    by_id = {c["id"]: c for c in await consent_records.for_decision(grant.person["id"])}
    today = datetime.now(ZoneInfo(grant.program["time_zone"])).date()

    def allowed(report: dict[str, Any], consent_id: int | None) -> bool:
        consent = by_id.get(consent_id)
        return (
            consent is not None
            and decide(report["kind"], grant.recipient, [consent], today).allowed
        )

    return [
        r
        for r in rows
        if r["status"] == "current"
        and r["recipient"] == grant.recipient["id"]
        and allowed(r, grant.link["consent"])
        and allowed(r, r["consent"])
    ]


async def _mandate(grant: LinkAccess) -> dict[str, Any] | None:
    """The mandate behind the link: its consent's, else the participant's latest one of
    the recipient's kind (a probation officer's court case, never the EAP's to an
    employer or the other way round)."""
    consent = (
        await Consent.select(Consent.mandate).where(Consent.id == grant.link["consent"]).first()
    )
    if consent and consent["mandate"]:
        return await Mandate.select().where(Mandate.id == consent["mandate"]).first()
    sources = MANDATE_SOURCES.get(grant.recipient["kind"])
    if not sources:
        return None
    return (
        await Mandate.select()
        .where((Mandate.participant == grant.person["id"]) & Mandate.source.is_in(list(sources)))
        .order_by(Mandate.starts_on, ascending=False)
        .order_by(Mandate.id, ascending=False)
        .first()
    )


async def _open_violations(grant: LinkAccess, zone: ZoneInfo) -> list[ViolationLine] | None:
    """Violations neither withdrawn nor reviewed, of the kinds the consent covers: a test
    or a check-in needs drug tests, an absence attendance. None when it covers neither."""
    shown = grant.decision.categories
    if not shown & {C.drug_tests, C.attendance}:
        return None
    rows = (
        await Violation.select()
        .where(
            (Violation.participant == grant.person["id"])
            & Violation.withdrawn_at.is_null()
            & Violation.reviewed_at.is_null()
        )
        .order_by(Violation.occurred_at, ascending=False)
    )
    return [
        ViolationLine(
            spoken(r["occurred_at"], zone),
            r["description"],
            summary.how_it_counts(r["kind"]),
            r["occurred_at"].astimezone(zone).date(),
        )
        for r in rows
        if violation_category(r["kind"]) in shown
    ]


def _status_line(label: str, week: WeekResult, today: date, shown: set[str]) -> StatusLine:
    return StatusLine(
        label,
        _days(week.start, week.end),
        week.status,
        summary.status_label(week, today),
        [r.text for r in summary.shown_reasons(week, shown)],
    )


async def _officer_reads(grant: LinkAccess) -> _Reads:
    shown = set(grant.decision.categories)
    zone = ZoneInfo(grant.program["time_zone"])
    today = datetime.now(zone).date()
    reads = _Reads(mandate=await _mandate(grant))
    if shown & set(PAGE_CATEGORIES) and grant.report is None:
        start = max(grant.person["admitted_on"], today - timedelta(days=RECENT_TEST_DAYS))
        result = (
            await caseload.evaluate_people(
                grant.program, [grant.person], [grant.person["id"]], start, today
            )
        )[grant.person["id"]]
        weeks = [w for w in result.weeks if w.start <= today]
        # A week line says a status or hours; with neither covered it would be empty.
        lined = weeks if shown & {C.attendance, C.compliance_status} else []
        for w in lined[-STATUS_WEEKS:][::-1]:
            line = WeekLine(w.start, w.end)
            if C.compliance_status in shown:
                line.status = w.status
                line.status_label = summary.status_label(w, today)
                line.reasons = [r.text for r in summary.shown_reasons(w, shown)]
            if C.attendance in shown:
                line.hours = f"{hm(w.attended_minutes)} of {hm(w.required_minutes)} hours"
            reads.weeks.append(line)
        if C.compliance_status in shown and weeks:
            current = weeks[-1]
            if current.end >= today:
                reads.this_week = _status_line("This week so far", current, today, shown)
            full = [w for w in weeks if w.end < today]
            if full:
                reads.last_week = _status_line("Last full week", full[-1], today, shown)
        if C.drug_tests in shown:
            reads.tests = [
                TestLine(t.day, t.outcome.replace("_", " "), t.detail)
                for w in weeks
                for t in w.tests
            ][::-1]
        if weeks:
            first = weeks[0] if C.drug_tests in shown else lined[-STATUS_WEEKS:][0]
            reads.weeks_shown = (first.start, weeks[-1].start)
        reads.violations = await _open_violations(grant, zone)
    reads.reports = await _visible_reports(grant)
    return reads


def _opened_words(grant: LinkAccess, reads: _Reads) -> str:
    """What the accounting says was shown, in words the client understands: the
    categories and the weeks, or the report; never the health information itself."""
    through = f", through secure link #{grant.link['id']}"
    if grant.report is not None:
        return _report_words(grant.report) + through
    shown = grant.decision.categories
    parts = []
    categories = [CATEGORY_WORDS[c] for c in PAGE_CATEGORIES if c in shown]
    if categories and reads.weeks_shown is not None:
        parts.append(f"{_and(categories)}, weeks of {span_words(*reads.weeks_shown)}")
    if reads.violations:
        days = sorted({v.day for v in reads.violations})
        parts.append(
            f"open violation{'s' if len(reads.violations) != 1 else ''} of "
            + _and([f"{d.day} {d:%b %Y}" for d in days])
        )
    elif reads.violations is not None:
        parts.append("no open violations")
    if reads.reports:
        listed = ", ".join(r["public_id"] for r in reads.reports)
        parts.append(f"signed report{'s' if len(reads.reports) != 1 else ''} listed: {listed}")
    return "status page: " + ("; ".join(parts) or "no records") + through


async def _cached_reads(grant: LinkAccess) -> tuple[_Reads, str]:
    """The page's reads and the accounting's words for them, computed once per link,
    change counter and day (the counter ``resolve`` read them at)."""
    cache: VersionedCache[tuple[_Reads, str]] = db.view_cache("link.reads")
    key = (grant.link["id"], grant.records_version, grant.today)

    async def compute() -> tuple[_Reads, str]:
        async with db.reading():
            reads = await _officer_reads(grant)
        return reads, _opened_words(grant, reads)

    return await cache.computed_once(key, compute)


async def _record_use(
    grant: LinkAccess, *, kind: str, description: str, report: int | None, origin: str
) -> None:
    """The link's use count and the disclosure, committed together before anything is
    shown: nothing is disclosed unrecorded."""
    await db.write_together(
        _LINK_USED.bind(now=datetime.now(UTC), link=grant.link["id"]),
        disclosure_insert(
            participant=grant.person["id"],
            kind=kind,
            description=description,
            recipient=grant.recipient["id"],
            consent=grant.link["consent"],
            purpose=grant.decision.purpose,
            report=report,
            link=grant.link["id"],
            origin=origin,
        ),
    )


async def officer_view(grant: LinkAccess, origin: str = "") -> OfficerView:
    """What the link page shows, recorded as a disclosure that names what was shown."""
    log.info("secure link #%s opened from %s", grant.link["id"], origin or "?")
    reads, words = await _cached_reads(grant)
    await _record_use(
        grant,
        kind=DisclosureKind.link_opened,
        description=words,
        report=grant.report["id"] if grant.report else None,
        origin=origin,
    )
    program, mandate = grant.program, reads.mandate or {}
    contacts = [
        Contact(
            "Program",
            program["name"],
            program["phone"],
            tel_href(program["phone"]),
            program["contact_email"],
        )
    ]
    if mandate.get("contact_name"):
        contacts.append(
            Contact(
                CONTACT_ROLES.get(mandate["source"], "Referral contact"),
                mandate["contact_name"],
                mandate["contact_phone"],
                tel_href(mandate["contact_phone"]),
                mandate["contact_email"],
            )
        )
    return OfficerView(
        participant_name=f"{grant.person['first_name']} {grant.person['last_name']}",
        program_name=program["name"],
        program_phone=program["phone"],
        program_email=program["contact_email"],
        recipient_name=grant.recipient["name"],
        shown=sorted(grant.decision.categories),
        weeks=reads.weeks,
        tests=reads.tests,
        reports=[
            {
                "id": r["id"],
                "public_id": r["public_id"],
                "kind": r["kind"],
                "title": report_title(r["kind"]),
                "period": span_words(r["period_start"], r["period_end"]),
                "period_start": r["period_start"],
                "period_end": r["period_end"],
                "version": r["version"],
                "signed_at": r["signed_at"],
            }
            for r in reads.reports
        ],
        consent_scope=grant.decision.scope,
        notice=NOTICE,
        expires_at=grant.link["expires_at"],
        expires_words=spoken(grant.link["expires_at"], program["time_zone"]),
        case_number=mandate.get("case_number", ""),
        court_name=mandate.get("court_name", ""),
        this_week=reads.this_week,
        last_week=reads.last_week,
        violations=reads.violations,
        contacts=contacts,
    )


async def download(
    grant: LinkAccess, settings: Settings, report_id: int, origin: str = ""
) -> tuple[dict[str, Any], bytes]:
    """A report the link covers, exactly as stored; recorded as a disclosure."""
    async with db.reading():
        visible = await _visible_reports(grant)
    report = next((r for r in visible if r["id"] == report_id), None)
    if report is None:
        raise LinkNotFound()
    content = await reports.stored_pdf(settings, report)
    if store.sha256(content) != report["sha256"]:
        raise reports.StoreDamaged(f"the stored PDF of report {report['public_id']} is damaged")
    await _record_use(
        grant,
        kind=DisclosureKind.report_downloaded,
        description=(
            f"signed PDF of {_report_words(report)}, through secure link #{grant.link['id']}"
        ),
        report=report["id"],
        origin=origin,
    )
    return report, content
