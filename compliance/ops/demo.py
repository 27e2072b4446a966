"""Demonstration data: one program, two staff accounts and three mandated clients with
about eight weeks of sessions, attendance and drug tests.

The history is scripted, not random, so the demo always shows the cases people ask
about: an excused and an unexcused absence, a confirmed positive, a dilute specimen,
a no-show, and an MRO-verified negative. It is laid out relative to the current week.
Loading is one transaction and idempotent: a second run finds the demo program and
changes nothing.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from compliance import audit
from compliance.core import db
from compliance.core.vocabulary import (
    AnalyteOutcome,
    AttendanceStatus,
    CollectionStatus,
    ConsentPurpose,
    FollowUpSubstances,
    InformationCategory,
    RecipientKind,
    RecordSource,
    ReferralSource,
    Role,
    SessionType,
    TestReason,
)
from compliance.engine import violations
from compliance.records.analytes import DEFAULT_ANALYTES, seed_program_analytes
from compliance.staff.accounts import create_staff_user
from compliance.tables import (
    AnalyteResult,
    Attendance,
    Consent,
    DrugTest,
    FollowUpPlan,
    GroupMember,
    Mandate,
    MandatePhase,
    Participant,
    PhaseSessionRequirement,
    Program,
    Recipient,
    SessionParticipant,
    TestingAssignment,
    TestingGroup,
    TreatmentGroup,
    TreatmentSession,
)

DEMO_PROGRAM_CODE = "DEMO"
DEMO_TZ = "America/Chicago"
WEEKS = 8
PANEL = (
    "thc",
    "cocaine",
    "codeine",
    "morphine",
    "oxycodone",
    "amphetamine",
    "methamphetamine",
    "fentanyl",
    "etg",
)
REVOCATION_TEXT = (
    "You may revoke this consent at any time, in writing to the program director, "
    "except to the extent that action has already been taken in reliance on it."
)


@dataclass
class DemoResult:
    created: bool
    skipped_reason: str = ""
    credentials: list[tuple[str, str, str]] = field(default_factory=list)  # role, email, pw
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        if not self.created:
            return f"demo data not loaded: {self.skipped_reason}"
        lines = ["demo data loaded: " + ", ".join(f"{v} {k}" for k, v in self.counts.items())]
        lines.append("demo accounts (shown once; keep them somewhere safe):")
        lines += [f"  {role:<10} {email:<28} {pw}" for role, email, pw in self.credentials]
        return "\n".join(lines)


@dataclass(frozen=True)
class Client:
    """One demo participant's script."""

    key: str
    client_id: str
    first: str
    last: str
    dob: date
    source: ReferralSource
    tests_per_week: int
    observed: bool
    reason: TestReason


CLIENTS = (
    Client(
        "court",
        "RB-1001",
        "Marcus",
        "Hale",
        date(1988, 4, 12),
        ReferralSource.court,
        2,
        False,
        TestReason.random,
    ),
    Client(
        "eap",
        "RB-1002",
        "Alicia",
        "Gomez",
        date(1991, 9, 3),
        ReferralSource.eap,
        1,
        False,
        TestReason.random,
    ),
    Client(
        "dot",
        "RB-1003",
        "Terrence",
        "Boyd",
        date(1979, 1, 27),
        ReferralSource.dot_sap,
        1,
        True,
        TestReason.follow_up,
    ),
)

# (client, week index, weekday of the group: 0 Mon / 2 Wed / 3 Thu) -> (status, minutes, note)
ATTENDANCE_EXCEPTIONS: dict[tuple[str, int, int], tuple[AttendanceStatus, int, str]] = {
    ("court", 2, 2): (AttendanceStatus.absent_unexcused, 0, "No call, no show."),
    ("court", 4, 0): (AttendanceStatus.late, 150, "Arrived 30 minutes late (bus)."),
    ("court", 5, 3): (AttendanceStatus.absent_excused, 0, "Court appearance; letter on file."),
    ("eap", 1, 3): (AttendanceStatus.absent_excused, 0, "Illness; doctor's note received."),
    ("eap", 3, 2): (AttendanceStatus.left_early, 120, "Left early for a work shift."),
    ("dot", 6, 0): (AttendanceStatus.late, 165, "Arrived 15 minutes late."),
}

# (client, week index, test index) -> special outcome
TEST_EXCEPTIONS = {
    ("court", 1, 1): "confirmed_positive_thc",
    ("court", 3, 0): "dilute",
    ("court", 5, 1): "no_show",
    ("dot", 4, 0): "mro_negative_codeine",
}


def _week_start(today: date) -> date:
    return today - timedelta(days=today.weekday())


@dataclass(frozen=True)
class _Calendar:
    """Where the scripted history sits: WEEKS + 1 weeks from first_monday, nothing after now."""

    first_monday: date
    now: datetime
    tz: ZoneInfo

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), self.tz)

    def mondays(self) -> Iterator[tuple[int, date]]:
        """(week index, its Monday) for every week of the history, the current one last."""
        for week in range(WEEKS + 1):
            yield week, self.first_monday + timedelta(weeks=week)


@dataclass(frozen=True)
class _Cast:
    """Who the sessions and records belong to: the program, its clinician, the clients."""

    program: int
    clinician: int
    participants: dict[str, int]  # client key -> participant id


async def load_demo(if_empty: bool = False, now: datetime | None = None) -> DemoResult:
    if await Program.exists().where(Program.code == DEMO_PROGRAM_CODE):
        return DemoResult(False, "the demo program is already there")
    if if_empty and await Program.count() > 0:
        return DemoResult(False, "the database already holds programs")
    tz = ZoneInfo(DEMO_TZ)
    now = now or datetime.now(tz)
    async with db.transaction():
        # Re-check under the lock: two concurrent loads must not both insert.
        await db.serialize("compliance.ops.demo")
        if await Program.exists().where(Program.code == DEMO_PROGRAM_CODE):
            return DemoResult(False, "the demo program is already there")
        return await _build(now.astimezone(tz), tz)


async def _build(now: datetime, tz: ZoneInfo) -> DemoResult:
    """The steps in the order they write (row ids depend on it): program and staff, clients
    with their mandates, the group, sessions and attendance, drug tests, then violations."""
    program = await _program()
    analyte_ids = await seed_program_analytes(program.id, panel=PANEL)
    result = DemoResult(True)
    clinician = await _staff(program.id, result)
    calendar = _Calendar(_week_start(now.date()) - timedelta(weeks=WEEKS), now, tz)
    participants = await _participants(program.id, clinician, calendar.first_monday)
    cast = _Cast(program.id, clinician, participants)
    group = await _group(cast)
    await _testing_groups(cast, calendar.first_monday)
    sessions, attendance = await _sessions_and_attendance(cast, group, calendar)
    await Attendance.insert(*attendance)
    tests = await _save_drug_tests(cast, calendar, analyte_ids)
    found = await violations.refresh(participants.values(), today=now.date())
    await audit.record(
        "demo.loaded", audit.CLI, "program", program.id, {"participants": len(participants)}
    )
    result.counts = {
        "participants": len(participants),
        "sessions": sessions,
        "attendance records": len(attendance),
        "drug tests": tests,
        "violations": found.recorded,
    }
    return result


async def _program() -> Program:
    program = Program(
        code=DEMO_PROGRAM_CODE,
        name="Riverbend Recovery IOP",
        time_zone=DEMO_TZ,
        address="1200 River Road, Suite 300, Springfield, IL 62701",
        phone="(217) 555-0140",
        contact_email="records@riverbend.example",
    )
    await program.save()
    return program


async def _staff(program: int, result: DemoResult) -> int:
    """An admin and a clinician with fresh random passwords, put in result.credentials since
    they are shown only once; returns the clinician's id (she runs every session)."""
    admin_pw, clin_pw = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    await create_staff_user(
        email="admin@riverbend.example",
        full_name="Jordan Ellis",
        password=admin_pw,
        role=Role.admin,
        program_ids=[program],
    )
    clinician = await create_staff_user(
        email="clinician@riverbend.example",
        full_name="Priya Raman",
        password=clin_pw,
        role=Role.clinician,
        program_ids=[program],
        credentials="LCSW, LCADC",
    )
    result.credentials = [
        ("admin", "admin@riverbend.example", admin_pw),
        ("clinician", "clinician@riverbend.example", clin_pw),
    ]
    return clinician.id


async def _participants(program: int, clinician: int, admitted_on: date) -> dict[str, int]:
    """Each client admitted on the first Monday, with the mandate and consent that go with
    their referral; returns participant ids by client key."""
    participants: dict[str, int] = {}
    for c in CLIENTS:
        p = Participant(
            program=program,
            client_id=c.client_id,
            first_name=c.first,
            last_name=c.last,
            date_of_birth=c.dob,
            admitted_on=admitted_on,
            primary_clinician=clinician,
            diagnosis="F10.20 Alcohol use disorder, moderate"
            if c.key == "eap"
            else "F12.20 Cannabis use disorder, moderate",
        )
        await p.save()
        participants[c.key] = p.id
        await _mandate_and_consent(c, p.id, program, clinician, admitted_on)
    return participants


async def _group(cast: _Cast) -> TreatmentGroup:
    """The standing group Mon/Wed/Thu 18:00-21:00 with the three clients as members."""
    group = TreatmentGroup(
        program=cast.program,
        name="Relapse prevention group",
        session_type=SessionType.group.value,
        scheduled_minutes=180,
        weekdays=["mon", "wed", "thu"],
        start_time="18:00",
        location="Group room B",
        facilitator_name="Priya Raman, LCSW",
        created_by=cast.clinician,
    )
    await group.save()
    await GroupMember.insert(
        *[
            GroupMember(treatment_group=group.id, participant=pid, added_by=cast.clinician)
            for pid in cast.participants.values()
        ]
    )
    return group


async def _testing_groups(cast: _Cast, since: date) -> None:
    """Random testing: Marcus in Blue (2 tests a week, his phase's), Alicia in Green (1 a
    week); Terrence is called by his SAP follow-up plan. Today's draw is the scheduler's."""
    for name, rate, client in (("Blue", 2, "court"), ("Green", 1, "eap")):
        group = TestingGroup(
            program=cast.program, name=name, tests_per_week=rate, created_by=cast.clinician
        )
        await group.save()
        await TestingAssignment(
            participant=cast.participants[client],
            testing_group=group.id,
            effective_on=since,
            reason="intake",
            assigned_by=cast.clinician,
        ).save()


async def _sessions_and_attendance(
    cast: _Cast, group: TreatmentGroup, calendar: _Calendar
) -> tuple[int, list[Attendance]]:
    """Week by week: the group sessions, the individual sessions (Tue from 09:00, one per
    client) and the court client's Saturday 12-step meeting, up to now. The attendance is
    returned unsaved, to insert at once; sessions are saved as they come."""
    sessions = 0
    attendance: list[Attendance] = []
    for week, monday in calendar.mondays():
        saved, records = await _group_sessions(cast, group, calendar, week, monday)
        sessions, attendance = sessions + saved, attendance + records
        saved, records = await _individual_sessions(cast, calendar, monday)
        sessions, attendance = sessions + saved, attendance + records
        saturday = calendar.at(monday + timedelta(days=5), 10)
        if saturday <= calendar.now:
            attendance.append(_twelve_step(cast, saturday))
    return sessions, attendance


async def _group_sessions(
    cast: _Cast, group: TreatmentGroup, calendar: _Calendar, week: int, monday: date
) -> tuple[int, list[Attendance]]:
    """One week's group sessions; everyone present for the full three hours unless
    ATTENDANCE_EXCEPTIONS says otherwise."""
    sessions = 0
    attendance: list[Attendance] = []
    for weekday in (0, 2, 3):
        starts = calendar.at(monday + timedelta(days=weekday), 18)
        if starts > calendar.now:
            continue
        s = TreatmentSession(
            program=cast.program,
            session_type=SessionType.group.value,
            title="Relapse prevention group",
            starts_at=starts,
            scheduled_minutes=180,
            facilitator=cast.clinician,
            facilitator_name="Priya Raman, LCSW",
            location="Group room B",
            treatment_group=group.id,
        )
        await s.save()
        sessions += 1
        for c in CLIENTS:
            status, minutes, note = ATTENDANCE_EXCEPTIONS.get(
                (c.key, week, weekday), (AttendanceStatus.present, 180, "")
            )
            attendance.append(
                _attendance(cast.participants[c.key], s, status, minutes, note, cast.clinician)
            )
    return sessions, attendance


async def _individual_sessions(
    cast: _Cast, calendar: _Calendar, monday: date
) -> tuple[int, list[Attendance]]:
    """One week's individual sessions: Tuesday, one client an hour from 09:00, all attended."""
    sessions = 0
    attendance: list[Attendance] = []
    for offset, c in enumerate(CLIENTS):
        starts = calendar.at(monday + timedelta(days=1), 9 + offset)
        if starts > calendar.now:
            continue
        participant = cast.participants[c.key]
        s = TreatmentSession(
            program=cast.program,
            session_type=SessionType.individual.value,
            title=f"Individual session: {c.first} {c.last}",
            starts_at=starts,
            scheduled_minutes=50,
            facilitator=cast.clinician,
            facilitator_name="Priya Raman, LCSW",
            location="Office 3",
        )
        await s.save()
        await SessionParticipant(session=s.id, participant=participant).save()
        sessions += 1
        attendance.append(
            _attendance(participant, s, AttendanceStatus.present, 50, "", cast.clinician)
        )
    return sessions, attendance


def _twelve_step(cast: _Cast, saturday: datetime) -> Attendance:
    """The court client's outside 12-step meeting: attendance without a session of ours."""
    return Attendance(
        record_uid=uuid.uuid4(),
        participant=cast.participants["court"],
        session=None,
        session_type=SessionType.twelve_step.value,
        occurred_at=saturday,
        scheduled_minutes=60,
        status=AttendanceStatus.present.value,
        minutes_attended=60,
        meeting_name="Saturday Morning Serenity (AA)",
        proof="Signed attendance slip, meeting secretary",
        source="demo",
        recorded_by=cast.clinician,
    )


def _attendance(
    participant: int,
    s: TreatmentSession,
    status: AttendanceStatus,
    minutes: int,
    note: str,
    recorded_by: int,
) -> Attendance:
    return Attendance(
        record_uid=uuid.uuid4(),
        participant=participant,
        session=s.id,
        session_type=s.session_type,
        occurred_at=s.starts_at,
        scheduled_minutes=s.scheduled_minutes,
        status=status.value,
        minutes_attended=minutes,
        note=note,
        source=RecordSource.demo.value,
        recorded_by=recorded_by,
    )


@dataclass(frozen=True)
class _Contact:
    """The referral's contact person, who is also the recipient of the reports."""

    kind: RecipientKind
    name: str
    title: str
    organisation: str
    email: str
    phone: str


# A phase: name, hours per week, tests per week, sessions per week by type. The first
# phase starts on admission; the clinician steps the client into the later ones.
_Phase = tuple[str, str, int, dict[str, int]]


@dataclass(frozen=True)
class _Referral:
    """What one referral source brings: the mandate (who refers, for how long, in which
    phases), the contact who receives the reports, and what the client consents to
    disclose to them, and for what purpose."""

    referring_agency: str
    contact: _Contact
    length: timedelta
    phases: list[_Phase]
    categories: list[InformationCategory]
    purpose: ConsentPurpose
    criminal_justice: bool
    description: str
    case_number: str = ""
    court_name: str = ""
    notes: str = ""


_REFERRALS = {
    # Drug court: a year's mandate in three phases, reports to the probation officer.
    ReferralSource.court: _Referral(
        case_number="2026-CF-001432",
        court_name="Sangamon County Drug Treatment Court",
        referring_agency="Sangamon County Adult Probation",
        contact=_Contact(
            RecipientKind.probation_officer,
            "Dana Whitfield",
            "Probation Officer II",
            "Sangamon County Adult Probation",
            "dwhitfield@probation.example",
            "(217) 555-0188",
        ),
        length=timedelta(days=365),
        phases=[
            ("Phase 1: Stabilization", "9", 2, {"group": 3, "individual": 1}),
            ("Phase 2: Early recovery", "6", 1, {"group": 2, "individual": 1}),
            ("Phase 3: Aftercare", "1.5", 1, {"group": 1}),
        ],
        categories=[
            InformationCategory.attendance,
            InformationCategory.drug_tests,
            InformationCategory.compliance_status,
            InformationCategory.treatment_progress,
            InformationCategory.discharge_status,
        ],
        purpose=ConsentPurpose.court_supervision,
        criminal_justice=True,
        description="Attendance, drug and alcohol test results, compliance with the "
        "treatment mandate, treatment progress and discharge status.",
    ),
    # Employee assistance: twelve weeks of IOP, the employer told only what it needs.
    ReferralSource.eap: _Referral(
        referring_agency="Keystone EAP Services (for Midstate Logistics)",
        contact=_Contact(
            RecipientKind.eap_case_manager,
            "Renee Cho",
            "EAP Case Manager",
            "Keystone EAP Services",
            "rcho@keystone-eap.example",
            "(217) 555-0122",
        ),
        length=timedelta(weeks=12),
        phases=[("IOP", "9", 1, {"group": 3, "individual": 1})],
        categories=[
            InformationCategory.attendance,
            InformationCategory.compliance_status,
            InformationCategory.fitness_to_return,
        ],
        purpose=ConsentPurpose.employment,
        criminal_justice=False,
        description="Whether I attend as required, whether I am compliant with my "
        "return-to-work agreement (yes/no), and fitness to return to work.",
    ),
    # DOT return to duty: a year's mandate from the SAP, who receives the reports.
    ReferralSource.dot_sap: _Referral(
        referring_agency="Ellen Marsh, PhD, Substance Abuse Professional",
        contact=_Contact(
            RecipientKind.sap,
            "Ellen Marsh",
            "Substance Abuse Professional",
            "Marsh SAP Services",
            "emarsh@sap.example",
            "(217) 555-0109",
        ),
        length=timedelta(days=365),
        notes="DOT return to duty (49 CFR Part 40); the SAP's follow-up testing plan is "
        "recorded with this mandate.",
        phases=[("Follow-up", "9", 1, {"group": 3, "individual": 1})],
        categories=[
            InformationCategory.attendance,
            InformationCategory.drug_tests,
            InformationCategory.compliance_status,
            InformationCategory.fitness_to_return,
        ],
        purpose=ConsentPurpose.dot_return_to_duty,
        criminal_justice=False,
        description="Attendance, drug and alcohol test results, compliance with the "
        "follow-up plan and fitness for return to safety-sensitive duty.",
    ),
}


async def _mandate_and_consent(
    c: Client, participant: int, program: int, clinician: int, start: date
) -> None:
    """The client's mandate with its phases (and, for DOT, the SAP's follow-up plan), and a
    signed consent to disclose to the referral's contact."""
    referral = _REFERRALS[c.source]
    contact = referral.contact
    mandate = Mandate(
        participant=participant,
        source=c.source.value,
        case_number=referral.case_number,
        court_name=referral.court_name,
        referring_agency=referral.referring_agency,
        contact_name=contact.name,
        contact_email=contact.email,
        contact_phone=contact.phone,
        starts_on=start,
        ends_on=start + referral.length,
        notes=referral.notes,
        created_by=clinician,
    )
    await mandate.save()
    if c.source is ReferralSource.dot_sap:
        await _followup_plan(mandate.id, start, clinician)
    await _phases(mandate.id, referral.phases, start)
    recipient = Recipient(
        program=program,
        kind=contact.kind.value,
        name=contact.name,
        title=contact.title,
        organisation=contact.organisation,
        email=contact.email,
        phone=contact.phone,
    )
    await recipient.save()
    await _consent(c, participant, referral, recipient.id, clinician, start)


async def _phases(mandate: int, phases: list[_Phase], start: date) -> None:
    for seq, (name, hours, tests, per_type) in enumerate(phases, start=1):
        phase = MandatePhase(
            mandate=mandate,
            sequence=seq,
            name=name,
            required_hours_per_week=Decimal(hours),
            required_tests_per_week=tests,
            started_on=start if seq == 1 else None,
        )
        await phase.save()
        await PhaseSessionRequirement.insert(
            *[
                PhaseSessionRequirement(phase=phase.id, session_type=t, sessions_per_week=n)
                for t, n in per_type.items()
            ]
        )


async def _consent(
    c: Client, participant: int, referral: _Referral, recipient: int, clinician: int, start: date
) -> None:
    """Signed on the admission day, expiring with the mandate; a criminal justice consent
    also names the case's final disposition, and cannot be revoked before the mandate ends."""
    cj = referral.criminal_justice
    ends_on = start + referral.length
    await Consent(
        participant=participant,
        recipient=recipient,
        recipient_organisation=referral.contact.organisation,
        disclosing_party="Riverbend Recovery IOP",
        information_categories=[cat.value for cat in referral.categories],
        information_description=referral.description,
        purposes=[referral.purpose.value],
        purpose_description=referral.referring_agency,
        is_criminal_justice=cj,
        expires_on=ends_on,
        expiry_event="final disposition of the criminal case" if cj else "",
        revocable_after=ends_on if cj else None,
        irrevocable_until_event="final disposition of the criminal case" if cj else "",
        revocation_instructions=REVOCATION_TEXT,
        signed_by_name=f"{c.first} {c.last}",
        signed_on=start,
        created_by=clinician,
    ).save()


async def _followup_plan(mandate: int, start: date, clinician: int) -> None:
    """The SAP's plan for the DOT client: back to duty on the admission day, the 49 CFR
    40.307 minimum of 6 observed tests in the first year, over 24 months."""
    await FollowUpPlan(
        mandate=mandate,
        version=1,
        return_to_duty_on=start,
        tests_first_year=6,
        months=24,
        directly_observed=True,
        substances=FollowUpSubstances.both.value,
        set_by="Ellen Marsh",
        set_on=start - timedelta(days=3),
        notes="Unannounced; DOT urine drug test under direct observation and evidential "
        "breath alcohol test at each collection.",
        recorded_by=clinician,
        recorded_at=datetime.combine(start, time(9), ZoneInfo(DEMO_TZ)),
    ).save()


async def _save_drug_tests(cast: _Cast, calendar: _Calendar, analyte_ids: dict[str, int]) -> int:
    """Saves the tests one by one (each result row needs its test's id), then all the
    analyte results at once under the program's analytes and local codes; returns the
    number of tests."""
    tests, results = _drug_tests(cast.participants, calendar, cast.clinician)
    local_code = {a.key: a.local_code for a in DEFAULT_ANALYTES}
    analyte_rows: list[AnalyteResult] = []
    for t, rows in zip(tests, results, strict=True):
        await t.save()
        analyte_rows += [
            AnalyteResult(
                **{
                    **r,
                    "drug_test": t.id,
                    "analyte": analyte_ids[r["analyte_code"]],
                    "analyte_code": local_code[r["analyte_code"]],
                }
            )
            for r in rows
        ]
    await AnalyteResult.insert(*analyte_rows)
    return len(tests)


def _drug_tests(
    participants: dict[str, int], calendar: _Calendar, clinician: int
) -> tuple[list[DrugTest], list[list[dict]]]:
    """The tests, and for each its analyte results as column values (keyed by analyte key):
    a negative panel unless TEST_EXCEPTIONS scripts something else."""
    tests: list[DrugTest] = []
    results: list[list[dict]] = []
    for c in CLIENTS:
        for week, monday in calendar.mondays():
            for index in range(c.tests_per_week):
                # Spread over the whole week, weekends included, like a random calendar.
                day = monday + timedelta(days=(week * 3 + index * 4 + len(c.key)) % 7)
                called = calendar.at(day, 7)
                if called + timedelta(hours=2, minutes=15 * index) > calendar.now:
                    continue
                test = _collected_test(c, participants[c.key], day, index, called, clinician)
                special = TEST_EXCEPTIONS.get((c.key, week, index), "")
                rows = [] if special == "no_show" else _negative_panel()
                if special:
                    _SPECIAL_TESTS[special](test, rows)
                tests.append(test)
                results.append(rows)
    return tests, results


def _hours_after(moment: datetime, hours: int) -> datetime:
    """``hours`` of real time later: an aware datetime plus a timedelta moves its wall
    clock, which across the autumn clock change is an hour more (a 74-hour result read
    "75 h after collection")."""
    return (moment.astimezone(UTC) + timedelta(hours=hours)).astimezone(moment.tzinfo)


def _collected_test(
    c: Client, participant: int, day: date, index: int, called: datetime, clinician: int
) -> DrugTest:
    """An ordinary collection: 2h15 after the call (15 minutes more per test that day),
    normal specimen validity, the result 30 hours later."""
    collected = called + timedelta(hours=2, minutes=15 * index)
    accession = f"RB{day:%y%m%d}{c.client_id[-2:]}{index}"
    return DrugTest(
        record_uid=uuid.uuid4(),
        participant=participant,
        called_at=called,
        collected_at=collected,
        observed=c.observed,
        reason=c.reason.value,
        collection_status=CollectionStatus.collected.value,
        lab_name="Prairie Toxicology Laboratory",
        accession_id=accession,
        chain_of_custody_id=f"CCF-{accession}",
        result_reported_at=_hours_after(collected, 30),
        creatinine_mg_dl=Decimal("96.0"),
        specific_gravity=Decimal("1.0150"),
        ph=Decimal("6.20"),
        source=RecordSource.demo.value,
        recorded_by=clinician,
    )


def _negative_panel() -> list[dict]:
    """Every PANEL analyte screened negative, with the default cutoffs."""
    cutoffs = {a.key: a for a in DEFAULT_ANALYTES}
    return [
        {
            "analyte_code": key,
            "analyte_name": cutoffs[key].name,
            "screen_result": AnalyteOutcome.negative.value,
            "screen_cutoff_ng_ml": cutoffs[key].screen,
            "confirmation_cutoff_ng_ml": cutoffs[key].confirmation,
        }
        for key in PANEL
    ]


def _no_show(test: DrugTest, rows: list[dict]) -> None:
    test.collected_at = None
    test.result_reported_at = None
    test.collection_status = CollectionStatus.no_show.value
    test.creatinine_mg_dl = test.specific_gravity = test.ph = None
    test.notes = "Called at 07:00; did not report for collection within 8 hours."


def _dilute(test: DrugTest, rows: list[dict]) -> None:
    # Delivered late in the day, past the 8-hour window: both to see.
    test.collected_at = test.called_at + timedelta(hours=10, minutes=30)
    test.result_reported_at = _hours_after(test.collected_at, 30)
    test.collection_status = CollectionStatus.dilute.value
    test.creatinine_mg_dl = Decimal("14.2")
    test.specific_gravity = Decimal("1.0020")
    test.validity_note = "Dilute: creatinine < 20 mg/dL."


def _confirmed_positive_thc(test: DrugTest, rows: list[dict]) -> None:
    # The confirmation took the lab three days: a late result to see.
    test.result_reported_at = _hours_after(test.collected_at, 74)
    thc = next(r for r in rows if r["analyte_code"] == "thc")
    thc.update(
        screen_result=AnalyteOutcome.positive.value,
        confirmation_result=AnalyteOutcome.positive.value,
        confirmation_method="GC-MS",
        level_ng_ml=Decimal("42.0"),
        abnormal_flag="A",
    )


def _mro_negative_codeine(test: DrugTest, rows: list[dict]) -> None:
    """A lab positive the MRO reports negative: a valid prescription."""
    cod = next(r for r in rows if r["analyte_code"] == "codeine")
    cod.update(
        screen_result=AnalyteOutcome.positive.value,
        confirmation_result=AnalyteOutcome.positive.value,
        confirmation_method="LC-MS/MS",
        level_ng_ml=Decimal("2450.0"),
        abnormal_flag="A",
        mro_result=AnalyteOutcome.negative.value,
        mro_comment="Valid prescription (acetaminophen with codeine) verified.",
        mro_verified_at=test.collected_at + timedelta(days=3),
    )


# TEST_EXCEPTIONS' outcomes: each turns an ordinary test and its negative panel into it.
_SPECIAL_TESTS: dict[str, Callable[[DrugTest, list[dict]], None]] = {
    "no_show": _no_show,
    "dilute": _dilute,
    "confirmed_positive_thc": _confirmed_positive_thc,
    "mro_negative_codeine": _mro_negative_codeine,
}
