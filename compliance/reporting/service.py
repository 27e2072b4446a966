"""Producing a signed report: consent gate → inputs → worker (render, sign) → store →
database row (a new version that supersedes the last one for the same period).

The database row is written only after the PDF is safely in the store, in one
transaction with the superseding of the previous version, so a crash leaves at worst
an unreferenced file, never a row without its PDF.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from compliance import audit
from compliance.consent import consents as consent_records
from compliance.consent.gate import Decision, decide
from compliance.core import db, workers
from compliance.core.local_time import spoken_day
from compliance.core.rows import view_of
from compliance.core.settings import Settings
from compliance.core.validation import FieldError, InvalidInput, check_year, is_record_id
from compliance.core.vocabulary import REPORT_TITLES, RecipientKind, ReportKind, ReportStatus
from compliance.core.vocabulary import InformationCategory as C
from compliance.engine import caseload
from compliance.records import followup_plans
from compliance.records.attendance import attendance_of
from compliance.records.attendance import earlier_versions as earlier_attendance
from compliance.records.drug_tests import earlier_versions, tests_of
from compliance.records.mandates import MandateView, mandates_of
from compliance.records.versioning import StaleVersion
from compliance.reporting import context as report_context
from compliance.reporting import store
from compliance.reporting.outdated import OutdatedBy, corrections_since
from compliance.reporting.pdf import RenderJob, render_and_sign
from compliance.reporting.signing import certificate_sha256, signing_config
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.tables import Consent, Program, Recipient, Report, StaffUser

RENDER_TIME_LIMIT_S = 120.0
RACE_RETRIES = 3


class _KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or awaits it."""

    def __init__(self) -> None:
        self._locks: dict[Any, asyncio.Lock] = {}
        self._users: dict[Any, int] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: Any) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]


_LINEAGES = _KeyedLocks()
# What staff ask for; the accounting of disclosures is made on the client's request
# (compliance/disclosure/accounting.py), never through the consent gate.
KINDS = tuple(k.value for k in ReportKind if k is not ReportKind.disclosure_accounting)
MAX_PERIOD_DAYS = 366  # a report covers at most a year


@dataclass
class ReportRequest:
    kind: str
    recipient_id: int
    period_start: date | None = None
    period_end: date | None = None
    purpose: str | None = None
    narrative: str = ""
    fitness_statement: str = ""


@dataclass
class ReportView:
    id: int
    public_id: str
    participant_id: int
    kind: str
    period_start: date
    period_end: date
    version: int
    status: str
    superseded_at: datetime | None
    supersedes_public_id: str | None
    recipient_id: int | None
    recipient_name: str
    consent_id: int | None
    sha256: str
    size_bytes: int
    signer_name: str
    signed_at: datetime | None
    revoked_at: datetime | None
    # Records of its period corrected or entered since it was signed (reporting/outdated.py).
    outdated: bool = False
    outdated_by: list[OutdatedBy] = field(default_factory=list)


class ConsentRefused(InvalidInput):
    """No valid consent covers this report for this recipient; ``missing`` says why."""

    def __init__(self, missing: tuple[str, ...]) -> None:
        self.missing = missing
        super().__init__([FieldError("consent", m) for m in missing])


def pool() -> workers.Pool:
    """Rendering needs no database, so one pool serves every app in the process."""
    return workers.shared(None)


def new_public_id() -> str:
    """Printed on the PDF and in its QR code: short enough to type, 50 bits to guess."""
    raw = secrets.token_hex(7).upper()[:13]
    return f"R-{raw[:4]}-{raw[4:8]}-{raw[8:]}"


async def _recipient(person: dict[str, Any], recipient_id: int) -> dict[str, Any]:
    row = None
    if is_record_id(recipient_id):
        row = await Recipient.select().where(Recipient.id == recipient_id).first()
    if row is None or row["program"] != person["program"]:
        raise InvalidInput([FieldError("recipient_id", "no such recipient in this program")])
    return row


async def consent_decision(
    person: dict[str, Any],
    kind: str,
    recipient: dict[str, Any],
    purpose: str | None,
    today: date,
) -> Decision:
    """Every report asks this one function (through ``consent.gate.decide``)."""
    return decide(kind, recipient, await consent_records.for_decision(person["id"]), today, purpose)


def check_period(start: date, end: date, today: date) -> None:
    """The one rule for a report's period, on every path (API, page, batch): it ends by
    today (DOMAIN.md: a report never covers time after it was made), starts before it
    ends, and spans at most a year."""
    check_year("period_start", start)
    check_year("period_end", end)
    if end > today:
        raise InvalidInput(
            [
                FieldError(
                    "period_end",
                    f"is after today ({spoken_day(today)}): a report covers only what has "
                    "happened; end the period today or earlier",
                )
            ]
        )
    if start > end:
        raise InvalidInput([FieldError("period_start", "is after the period's end")])
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise InvalidInput(
            [FieldError("period_start", "the period is longer than a year; make one per year")]
        )


def _period(
    person: dict[str, Any], kind: str, start: date | None, end: date | None, today: date
) -> tuple[date, date]:
    if kind == ReportKind.discharge_letter:
        if person["discharged_on"] is None:
            raise InvalidInput(
                [
                    FieldError(
                        "kind",
                        f"{person['first_name']} {person['last_name']} has not been "
                        "discharged: a discharge / completion letter is made after the "
                        "discharge is recorded",
                    )
                ]
            )
        end = end or person["discharged_on"]
        start = start or max(person["admitted_on"], end - timedelta(days=MAX_PERIOD_DAYS - 1))
    else:
        end = end or min(person["discharged_on"] or today, today)
        start = start or max(person["admitted_on"], end - timedelta(weeks=caseload.DEFAULT_WEEKS))
    check_period(start, end, today)
    return start, end


def _check_recipient_kind(kind: str, recipient: dict[str, Any]) -> None:
    """A DOT follow-up testing report is the SAP's (49 CFR 40.311): nobody else's."""
    if kind == ReportKind.sap_followup and recipient["kind"] != RecipientKind.sap:
        words = recipient["kind"].replace("_", " ")
        raise InvalidInput(
            [
                FieldError(
                    "recipient_id",
                    f"a {REPORT_TITLES[ReportKind.sap_followup]} goes to a Substance Abuse "
                    f"Professional; {recipient['name']} is recorded as {words}",
                )
            ]
        )


@dataclass(frozen=True)
class Lineage:
    """The versions that supersede one another: one participant's report of one kind,
    for one period and one recipient (None: the client's own accounting)."""

    participant_id: int
    kind: str
    start: date
    end: date
    recipient_id: int | None


async def lineage_state(key: Lineage) -> tuple[dict[str, Any] | None, int]:
    """The current version of this report (if any) and the next version number: after
    highest of any status, so a revoked version's number is never given again."""
    recipient = (
        Report.recipient.is_null()
        if key.recipient_id is None
        else Report.recipient == key.recipient_id
    )
    rows = (
        await Report.select()
        .where(
            (Report.participant == key.participant_id)
            & (Report.kind == key.kind)
            & (Report.period_start == key.start)
            & (Report.period_end == key.end)
            & recipient
        )
        .order_by(Report.version, ascending=False)
    )
    current = next((r for r in rows if r["status"] == ReportStatus.current.value), None)
    return current, (rows[0]["version"] + 1 if rows else 1)


def edition(
    settings: Settings,
    public_id: str,
    version: int,
    previous: dict[str, Any] | None,
    signer: dict[str, Any],
) -> dict[str, Any]:
    """What every signed report says of itself, whatever it shows (``ReportInputs``'
    fields): its number and version, the one it supersedes, where anyone holding it can
    verify it, and when and by whom it was signed."""
    return {
        "report_id": public_id,
        "version": version,
        "supersedes": previous["public_id"] if previous else None,
        "verify_url": f"{settings.base_url}/verify/{public_id}",
        "generated_at": datetime.now(UTC),
        "signer_name": signer["full_name"],
        "signer_credentials": signer["credentials"],
    }


async def _inputs(
    settings: Settings,
    planned: Plan,
    previous: dict[str, Any] | None,
    public_id: str,
    version: int,
) -> report_context.ReportInputs:
    """What the report could show, read for the participant ``plan`` authorized: the
    readers below are handed that, and neither check nor load the participant again."""
    allowed, program, decision, request = (
        planned.allowed,
        planned.program,
        planned.decision,
        planned.request,
    )
    start, end = planned.start, planned.end
    pid, person = allowed.id, allowed.person
    shown = decision.categories
    zone = ZoneInfo(program["time_zone"])
    signer = await StaffUser.select().where(StaffUser.id == allowed.principal.id).first()
    mandate = await _reported_mandate(allowed, decision)
    evaluation = None
    if shown & {C.attendance, C.compliance_status, C.drug_tests}:
        evaluation = await caseload.compliance_of(allowed, program, start, end)
    attendance = []
    if C.attendance in shown:
        attendance = [
            a
            for a in await attendance_of(allowed)
            if start <= a.occurred_at.astimezone(zone).date() <= end
        ]
    every_test = await tests_of(allowed, program) if C.drug_tests in shown else []
    tests = [
        t
        for t in every_test
        if (when := t.collected_at or t.called_at) is not None
        and start <= when.astimezone(zone).date() <= end
    ]
    plan = None
    if request.kind == ReportKind.sap_followup and mandate is not None:
        plan = await followup_plans.current_plan(mandate.id)
    history = await earlier_versions(pid, tests, program) if tests else {}
    attendance_history = await earlier_attendance(pid, attendance) if attendance else {}
    return report_context.ReportInputs(
        kind=request.kind,
        **edition(settings, public_id, version, previous, signer),
        period_start=start,
        period_end=end,
        program=program,
        participant=person,
        recipient=planned.recipient,
        evaluation=evaluation,
        mandate=mandate,
        attendance=attendance,
        tests=tests,
        test_history=history,
        attendance_history=attendance_history,
        narrative=request.narrative,
        fitness_statement=request.fitness_statement,
        followup_plan=plan,
        plan_tests=every_test if plan is not None else [],
    )


async def _reported_mandate(
    allowed: access.ParticipantAccess, decision: Decision
) -> MandateView | None:
    """The mandate the consent names, else the participant's first."""
    mandates = await mandates_of(allowed)
    consent = await Consent.select(Consent.mandate).where(Consent.id == decision.consent_id).first()
    named = next((m for m in mandates if consent and m.id == consent["mandate"]), None)
    return named or (mandates[0] if mandates else None)


class _Raced(Exception):
    """Another version of the same report was stored while this one rendered."""


@dataclass
class Plan:
    """A report request that passed validation and the consent gate, for a participant
    the principal was authorized for once (``allowed``)."""

    request: ReportRequest
    allowed: access.ParticipantAccess
    program: dict[str, Any]
    recipient: dict[str, Any]
    decision: Decision
    start: date
    end: date


async def plan(principal: Principal, participant_id: int, request: ReportRequest) -> Plan:
    """Check the request; refuse (``ConsentRefused``) without a valid consent."""
    allowed = await access.participant(principal, participant_id)
    person = allowed.person
    if request.kind not in KINDS:
        raise InvalidInput([FieldError("kind", f"one of {', '.join(KINDS)}")])
    for name in ("purpose", "narrative", "fitness_statement"):
        if "\x00" in (getattr(request, name) or ""):  # PostgreSQL cannot store it
            raise InvalidInput([FieldError(name, "contains a NUL character")])
    program = await Program.select().where(Program.id == person["program"]).first()
    today = datetime.now(ZoneInfo(program["time_zone"])).date()
    start, end = _period(person, request.kind, request.period_start, request.period_end, today)
    recipient = await _recipient(person, request.recipient_id)
    _check_recipient_kind(request.kind, recipient)
    decision = await consent_decision(person, request.kind, recipient, request.purpose, today)
    if not decision.allowed:
        raise ConsentRefused(decision.missing)
    return Plan(request, allowed, program, recipient, decision, start, end)


async def render_job(
    settings: Settings,
    planned: Plan,
    previous: dict[str, Any] | None,
    public_id: str,
    version: int = 1,
) -> tuple[report_context.ReportInputs, RenderJob]:
    """Everything a worker needs to render and sign, as plain picklable data."""
    inputs = await _inputs(settings, planned, previous, public_id, version)
    context = report_context.build(inputs, planned.decision)
    return inputs, await signing_job(settings, inputs, context)


async def signing_job(
    settings: Settings, inputs: report_context.ReportInputs, context: dict[str, Any]
) -> RenderJob:
    """The worker's job for any report: its context, the key, and the visible stamp
    (who signed, for which program, which report; the time on the program's clock)."""
    name = inputs.program["name"]
    return RenderJob(
        context=context,
        signing=await asyncio.to_thread(signing_config, settings),
        stamp_lines=(
            f"Signed by {inputs.signer_name}"
            + (f", {inputs.signer_credentials}" if inputs.signer_credentials else ""),
            name,
            f"Report {inputs.report_id}",
        ),
        reason=f"{report_context.TITLES[inputs.kind]} {inputs.report_id}",
        location=name,
        time_zone=inputs.program["time_zone"],
        audit_head=(await audit.head()).pair,
    )


@dataclass(frozen=True)
class Once:
    """What makes a second run of the same work give the first run's report instead of
    another version: the job's key (kept on the row), and for a batch its start (a
    current version made since then is this batch's, whichever job made it: a batch
    run again after its command was killed does not sign twice what an orphaned job of
    the first run signs meanwhile)."""

    job_key: str | None = None
    since: datetime | None = None

    def made(self, current: dict[str, Any] | None) -> bool:
        return bool(self.since and current and current["created_at"] >= self.since)


class Signed(NamedTuple):
    """A report just made: its id, its program's time zone and whether the program
    counts missed check-ins (to show it without reading the participant again)."""

    report_id: int
    time_zone: str
    counts_check_ins: bool | None = None  # None: not known (read it when needed)


async def sign(
    principal: Principal,
    settings: Settings,
    participant_id: int,
    request: ReportRequest,
    origin: str = "",
    once: Once = Once(),
) -> Signed:
    """Render, sign and store a report; refuse (``ConsentRefused``) without a valid
    consent. The participant is authorized and read once, by ``plan``. ``once``: the
    queued job making it (jobs/tasks.py); run again, the job gets the report it made."""
    if once.job_key is not None and (made := await _made_by(once.job_key)) is not None:
        return made
    planned = await plan(principal, participant_id, request)
    report_id = await _sign_planned(principal, settings, planned, origin, once)
    return Signed(
        report_id, planned.program["time_zone"], planned.program["missed_check_in_counts"]
    )


async def _made_by(job_key: str) -> Signed | None:
    row = (
        await Report.select(
            Report.id,
            Report.participant.program.time_zone,
            Report.participant.program.missed_check_in_counts,
        )
        .where(Report.job_key == job_key)
        .first()
    )
    if row is None:
        return None
    program = ("participant.program.time_zone", "participant.program.missed_check_in_counts")
    return Signed(row["id"], *(row[name] for name in program))


async def signed_view(signed: Signed) -> ReportView:
    """The view of a report just made, by whoever made it (``sign`` authorized them)."""
    row = await Report.select().where(Report.id == signed.report_id).first()
    counts = signed.counts_check_ins
    counting = None if counts is None else ({row["participant"]} if counts else set())
    return (await _views([row], {row["participant"]: signed.time_zone}, counting))[0]


async def _sign_planned(
    principal: Principal, settings: Settings, planned: Plan, origin: str, once: Once = Once()
) -> int:
    request = planned.request
    key = Lineage(
        planned.allowed.id, request.kind, planned.start, planned.end, planned.recipient["id"]
    )
    # Versions of one report are made one at a time in this process: ten clicks at once
    # then wait their turn instead of racing and re-rendering. Another process (a batch
    # from the shell) can still race; the retries below settle that.
    async with _LINEAGES.hold(key):
        return await _generate(principal, settings, planned, key, origin, once)


async def _generate(
    principal: Principal,
    settings: Settings,
    planned: Plan,
    key: Lineage,
    origin: str,
    once: Once = Once(),
) -> int:
    request = planned.request

    async def make(
        previous: dict[str, Any] | None, public_id: str, version: int
    ) -> tuple[report_context.ReportInputs, RenderJob]:
        return await render_job(settings, planned, previous, public_id, version)

    return await produce(
        principal,
        settings,
        key,
        make,
        origin,
        consent=planned.decision.consent_id,
        narrative=request.narrative,
        once=once,
    )


MakeJob = Callable[
    [dict[str, Any] | None, str, int],
    Awaitable[tuple[report_context.ReportInputs, RenderJob]],
]


async def produce(
    principal: Principal,
    settings: Settings,
    key: Lineage,
    make: MakeJob,
    origin: str,
    *,
    consent: int | None = None,
    narrative: str = "",
    once: Once = Once(),
) -> int:
    """The one way a signed report is made: the next version's inputs (``make``), render
    and sign in a worker, the store, then the row. The row is written only after the PDF
    is safely stored, in one transaction with the superseding of the previous version;
    if another version got in first, render again with the right number."""
    for _ in range(RACE_RETRIES):
        previous, version = await lineage_state(key)
        if once.made(previous):
            assert previous is not None
            return previous["id"]
        inputs, job = await make(previous, new_public_id(), version)
        pdf = await pool().run(render_and_sign, job, time_limit=RENDER_TIME_LIMIT_S)
        digest, rel = await asyncio.to_thread(store.of(settings).put, pdf)
        stored = Stored(
            digest, rel, len(pdf), await asyncio.to_thread(certificate_sha256, job.signing)
        )
        try:
            return await _record(
                principal, origin, key, inputs, previous, stored, consent, narrative, once
            )
        except _Raced:
            continue
    raise StaleVersion(
        "another version of this report was being made at the same moment; try again"
    )


@dataclass(frozen=True)
class Stored:
    sha256: str
    path: str
    size: int
    certificate_sha256: str


async def _record(
    principal: Principal,
    origin: str,
    key: Lineage,
    inputs: report_context.ReportInputs,
    previous: dict[str, Any] | None,
    stored: Stored,
    consent: int | None,
    narrative: str,
    once: Once = Once(),
) -> int:
    now = datetime.now(UTC)
    async with db.transaction(touching=key.participant_id):
        await db.serialize(f"report:{key.participant_id}")
        # The same work done meanwhile by another run: its report; this PDF unreferenced.
        if once.job_key is not None and (made := await _made_by(once.job_key)) is not None:
            return made.report_id
        latest, version = await lineage_state(key)
        if once.made(latest):
            assert latest is not None
            return latest["id"]
        if (latest and latest["id"]) != (previous and previous["id"]) or version != inputs.version:
            raise _Raced()
        if previous is not None:
            superseded = (
                await Report.update(
                    {Report.status: ReportStatus.superseded.value, Report.superseded_at: now}
                )
                .where(
                    (Report.id == previous["id"]) & (Report.status == ReportStatus.current.value)
                )
                .returning(Report.id)
            )
            if not superseded:  # revoked meanwhile: never turn that back
                raise _Raced()
        row = Report(
            public_id=inputs.report_id,
            participant=key.participant_id,
            mandate=inputs.mandate.id if inputs.mandate else None,
            kind=key.kind,
            period_start=key.start,
            period_end=key.end,
            version=inputs.version,
            supersedes=previous["id"] if previous else None,
            status=ReportStatus.current.value,
            sha256=stored.sha256,
            stored_path=stored.path,
            size_bytes=stored.size,
            recipient=key.recipient_id,
            consent=consent,
            narrative=narrative,
            signer=principal.id,
            signer_name=inputs.signer_name,
            signer_credentials=inputs.signer_credentials,
            signed_at=inputs.generated_at,
            certificate_sha256=stored.certificate_sha256,
            created_by=principal.id,
            job_key=once.job_key,
        )
        await row.save()
        await audit.record(
            "report.signed",
            principal.actor(origin),
            "report",
            row.id,
            {"public_id": inputs.report_id, "kind": key.kind, "version": inputs.version},
        )
    return row.id


async def _views(
    rows: list[dict[str, Any]],
    zones: dict[int, str] | None = None,
    counting: set[int] | None = None,
) -> list[ReportView]:
    names = {
        r["id"]: r["name"]
        for r in await Recipient.select(Recipient.id, Recipient.name).where(
            Recipient.id.is_in([r["recipient"] for r in rows if r["recipient"]] or [0])
        )
    }
    earlier = {
        r["id"]: r["public_id"]
        for r in await Report.select(Report.id, Report.public_id).where(
            Report.id.is_in([r["supersedes"] for r in rows if r["supersedes"]] or [0])
        )
    }
    stale = await corrections_since(rows, zones, counting)
    return [
        view_of(
            ReportView,
            r,
            supersedes_public_id=earlier.get(r["supersedes"]),
            recipient_name=names.get(r["recipient"], ""),
            outdated=r["id"] in stale,
            outdated_by=stale.get(r["id"], []),
        )
        for r in rows
    ]


async def _report_row(principal: Principal, report_id: int) -> dict[str, Any]:
    return await access.participant_record(principal, Report, report_id, "report")


async def get_report(principal: Principal, report_id: int) -> ReportView:
    return (await _views([await _report_row(principal, report_id)]))[0]


async def participant_reports(principal: Principal, participant_id: int) -> list[ReportView]:
    await access.participant_row(principal, participant_id)
    rows = (
        await Report.select()
        .where(Report.participant == participant_id)
        .order_by(Report.id, ascending=False)
    )
    return await _views(rows)


async def report_pdf(
    principal: Principal, settings: Settings, report_id: int
) -> tuple[ReportView, bytes]:
    """Staff download: the stored bytes, checked against the recorded hash first."""
    row = await _report_row(principal, report_id)
    content = await stored_pdf(settings, row)
    if store.sha256(content) != row["sha256"]:
        raise StoreDamaged(f"the stored PDF of report {row['public_id']} does not match its hash")
    return (await _views([row]))[0], content


class StoreDamaged(Exception):
    """A stored PDF is missing or no longer matches the hash recorded when it was signed."""


async def stored_pdf(settings: Settings, row: dict[str, Any]) -> bytes:
    try:
        return await asyncio.to_thread(store.of(settings).read, row["stored_path"])
    except OSError as exc:
        raise StoreDamaged(
            f"the stored PDF of report {row['public_id']} cannot be read ({exc.strerror})"
        ) from None


async def revoke(principal: Principal, report_id: int, reason: str, origin: str = "") -> ReportView:
    """Withdraw a report (sent in error, wrong client): it then verifies as revoked."""
    row = await _report_row(principal, report_id)
    if not reason.strip():
        raise InvalidInput([FieldError("reason", "say why the report is revoked")])
    if "\x00" in reason:  # PostgreSQL cannot store it
        raise InvalidInput([FieldError("reason", "contains a NUL character")])
    if row["revoked_at"] is not None:
        raise InvalidInput([FieldError("report", "already revoked")])
    async with db.transaction(touching=row["participant"]):
        await db.serialize(f"report:{row['participant']}")  # not while a version is recorded
        await Report.update(
            {
                Report.status: ReportStatus.revoked.value,
                Report.revoked_at: datetime.now(UTC),
                Report.revocation_reason: reason.strip(),
            }
        ).where(Report.id == report_id)
        await audit.record(
            "report.revoked",
            principal.actor(origin),
            "report",
            report_id,
            {"public_id": row["public_id"]},
        )
    return await get_report(principal, report_id)
