"""A 40-client caseload, as the reviewer of issue 15 had: the demo's three clients and 37
copies of them under other names, a few with this or last week's events (a confirmed
positive, a missed test, absences, an excused absence that leaves the week short, a late
specimen), so the caseload has every kind of row to order. For the caseload's browser
test and `make bench` (bench/pages.py); records are laid out relative to ``now``.

`caseload_of(200)` is the same layout at 200 clients (issue 18's larger caseload), and
`extend_history` gives one client 26 weeks of history (issue 18's participant page)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from compliance.core import db
from compliance.engine import violations
from compliance.ops.demo import DEMO_TZ, load_demo
from compliance.tables import (
    Analyte,
    AnalyteResult,
    Attendance,
    Consent,
    DrugTest,
    Mandate,
    MandatePhase,
    Participant,
    PhaseSessionRequirement,
)

NAMES = [
    ("Olivia", "Bennett"),
    ("James", "Alvarez"),
    ("Sophia", "Nguyen"),
    ("Daniel", "Okafor"),
    ("Emma", "Schultz"),
    ("Michael", "Patel"),
    ("Ava", "Kowalski"),
    ("David", "Reyes"),
    ("Mia", "Fitzgerald"),
    ("Joseph", "Chen"),
    ("Grace", "Washington"),
    ("Samuel", "Duarte"),
    ("Chloe", "Abernathy"),
    ("Ethan", "Yilmaz"),
    ("Lily", "Morrison"),
    ("Noah", "Brooks"),
    ("Hannah", "Ortiz"),
    ("Lucas", "Sullivan"),
    ("Zoe", "Adeyemi"),
    ("Ryan", "Kim"),
    ("Natalie", "Vance"),
    ("Isaac", "Delgado"),
    ("Ella", "Thornton"),
    ("Owen", "Price"),
    ("Aria", "Castillo"),
    ("Caleb", "Jensen"),
    ("Leah", "Harper"),
    ("Wyatt", "Lindqvist"),
    ("Nora", "Fields"),
    ("Julian", "Moreau"),
    ("Ruby", "Dawson"),
    ("Elijah", "Quinn"),
    ("Stella", "Iverson"),
    ("Miles", "Underwood"),
    ("Violet", "Ramsey"),
    ("Adam", "Zielinski"),
    ("Clara", "Easton"),
]
SOURCES = ("RB-1001", "RB-1002", "RB-1003")  # court, EAP, DOT: copied in turn
# Copy number -> what happened to that client this or last week.
SCENARIOS = {
    0: "positive_this_week",
    4: "positive_last_week",
    7: "missed_last_week",
    11: "absence_this_week",
    15: "absence_last_week",
    19: "excused_last_week",
    23: "excused_last_week",
    27: "late_specimen",
    31: "missed_this_week",
}


async def forty_clients(now: datetime | None = None) -> int:
    """The demo (laid out to ``now``) and 37 more clients; returns the program's id."""
    return await caseload_of(40, now)


def _name(n: int) -> tuple[str, str]:
    """Copy ``n``'s name: NAMES in order, then other pairings of the same names (a
    caseload of 200 has some first names twice, as a real one does)."""
    if n < len(NAMES):
        return NAMES[n]
    return NAMES[n % len(NAMES)][0], NAMES[(n + 7 * (n // len(NAMES))) % len(NAMES)][1]


async def caseload_of(size: int, now: datetime | None = None) -> int:
    """The demo (laid out to ``now``) and ``size - 3`` more clients, the events of
    SCENARIOS repeating every len(NAMES) copies; returns the program's id."""
    tz = ZoneInfo(DEMO_TZ)
    now = (now or datetime.now(tz)).astimezone(tz)
    await load_demo(now=now)
    this_monday = now.date() - timedelta(days=now.weekday())
    last_monday = this_monday - timedelta(days=7)
    # A moment this week that has already happened (a Monday 00:00 start is the edge).
    this_week = max(datetime.combine(this_monday, time(0, 5), tz), now - timedelta(hours=2))
    sources = {
        p["client_id"]: await _read(p)
        for p in await Participant.select().where(Participant.client_id.is_in(list(SOURCES)))
    }
    program = sources["RB-1001"].person["program"]
    thc = (
        await Analyte.select().where((Analyte.program == program) & (Analyte.key == "thc")).first()
    )
    made: list[int] = []
    async with db.transaction():
        for n in range(size - len(SOURCES)):
            first, last = _name(n)
            scenario = SCENARIOS.get(n % len(NAMES), "")
            source = sources[SOURCES[n % len(SOURCES)]]
            change = _excuse(last_monday, tz) if scenario == "excused_last_week" else None
            pid = await _copy(source, f"RB-2{n:03}", first, last, change)
            made.append(pid)
            if scenario.startswith("positive"):
                when = this_week if scenario.endswith("this_week") else _at(last_monday, 1, 9, tz)
                await _positive(pid, when, thc)
            elif scenario.startswith("missed"):
                when = this_week if scenario.endswith("this_week") else _at(last_monday, 2, 7, tz)
                await _test(pid, called_at=when, collected_at=None, collection_status="no_show")
            elif scenario.startswith("absence"):
                when = this_week if scenario.endswith("this_week") else _at(last_monday, 1, 18, tz)
                await _absence(pid, when)
            elif scenario == "late_specimen":
                called = _at(last_monday, 4, 7, tz)
                await _test(
                    pid,
                    called_at=called,
                    collected_at=called + timedelta(hours=10),
                    collection_status="collected",
                )
        await violations.refresh(made, today=now.date())
    return program


def _at(monday: Any, day: int, hour: int, tz: ZoneInfo) -> datetime:
    return datetime.combine(monday + timedelta(days=day), time(hour), tz)


def _excuse(last_monday: Any, tz: ZoneInfo) -> Callable[[dict], dict]:
    """Last Monday's group excused: the week falls 3 hours short, one excused absence."""
    start = datetime.combine(last_monday, time(0), tz)
    end = start + timedelta(days=1)

    def change(row: dict) -> dict:
        if row["session_type"] == "group" and start <= row["occurred_at"] < end:
            return row | {"status": "absent_excused", "minutes_attended": 0}
        return row

    return change


@dataclass
class Source:
    """One demo client's rows, read once and copied 12 or 13 times."""

    person: dict
    mandates: list[tuple[dict, list[tuple[dict, list[dict]]]]]  # mandate, (phase, reqs)
    consents: list[dict]
    attendance: list[dict]
    tests: list[dict]
    results: dict[int, list[dict]]


async def _read(person: dict) -> Source:
    mandates = []
    for mandate in await Mandate.select().where(Mandate.participant == person["id"]):
        phases = []
        for phase in await MandatePhase.select().where(MandatePhase.mandate == mandate["id"]):
            reqs = await PhaseSessionRequirement.select().where(
                PhaseSessionRequirement.phase == phase["id"]
            )
            phases.append((phase, reqs))
        mandates.append((mandate, phases))
    tests = await DrugTest.select().where(DrugTest.participant == person["id"])
    results: dict[int, list[dict]] = {t["id"]: [] for t in tests}
    for r in await AnalyteResult.select().where(
        AnalyteResult.drug_test.is_in([t["id"] for t in tests] or [0])
    ):
        results[r["drug_test"]].append(r)
    return Source(
        person,
        mandates,
        await Consent.select().where(Consent.participant == person["id"]),
        await Attendance.select().where(Attendance.participant == person["id"]),
        tests,
        results,
    )


def _copied(row: dict, **changes: object) -> dict:
    return {k: v for k, v in row.items() if k != "id"} | changes


async def _copy(
    src: Source, client_id: str, first: str, last: str, change: Callable[[dict], dict] | None
) -> int:
    """One client's mandate, phases, consent, attendance and tests under another name."""
    person = Participant(
        **_copied(
            src.person, client_id=client_id, first_name=first, last_name=last, date_of_birth=None
        )
    )
    await person.save()
    reqs: list[dict] = []
    for mandate, phases in src.mandates:
        m = Mandate(**_copied(mandate, participant=person.id))
        await m.save()
        for phase, phase_reqs in phases:
            new_phase = MandatePhase(**_copied(phase, mandate=m.id))
            await new_phase.save()
            reqs += [_copied(r, phase=new_phase.id) for r in phase_reqs]
        await db.insert_many(
            Consent, [_copied(c, participant=person.id, mandate=m.id) for c in src.consents]
        )
    await db.insert_many(PhaseSessionRequirement, reqs)
    await db.insert_many(
        Attendance,
        [
            (change or _same)(_copied(a, participant=person.id, record_uid=uuid.uuid4()))
            for a in src.attendance
        ],
    )
    uids = {t["id"]: uuid.uuid4() for t in src.tests}
    await db.insert_many(
        DrugTest,
        [_copied(t, participant=person.id, record_uid=uids[t["id"]]) for t in src.tests],
    )
    ids = {
        str(row["record_uid"]): row["id"]
        for row in await DrugTest.select(DrugTest.id, DrugTest.record_uid).where(
            DrugTest.participant == person.id
        )
    }
    await db.insert_many(
        AnalyteResult,
        [
            _copied(r, drug_test=ids[str(uids[t["id"]])])
            for t in src.tests
            for r in src.results[t["id"]]
        ],
    )
    return person.id


def _same(row: dict) -> dict:
    return row


async def _test(pid: int, **fields: Any) -> int:
    test = DrugTest(
        record_uid=uuid.uuid4(),
        participant=pid,
        reason="random",
        lab_name="Prairie Toxicology Laboratory",
        source="demo",
        **fields,
    )
    await test.save()
    return test.id


async def _positive(pid: int, collected: datetime, thc: dict) -> None:
    test_id = await _test(
        pid,
        called_at=collected - timedelta(hours=1),
        collected_at=collected,
        collection_status="collected",
        result_reported_at=collected + timedelta(minutes=30),
    )
    await AnalyteResult(
        drug_test=test_id,
        analyte=thc["id"],
        analyte_code="THC",
        analyte_name=thc["name"],
        screen_result="positive",
        confirmation_result="positive",
        confirmation_method="GC-MS",
    ).save()


async def _absence(pid: int, when: datetime) -> None:
    await Attendance(
        record_uid=uuid.uuid4(),
        participant=pid,
        session=None,
        session_type="group",
        occurred_at=when,
        scheduled_minutes=180,
        status="absent_unexcused",
        minutes_attended=0,
        note="No call, no show.",
        source="demo",
    ).save()


async def extend_history(client_id: str, weeks: int, now: datetime | None = None) -> int:
    """Admit the demo client ``client_id`` ``weeks`` weeks before this week's Monday and
    fill the weeks before the demo's with its own complete demo weeks (repeated in turn,
    moved back, unscheduled, accession numbers made unique): attendance and tests for
    every week. Its mandate and first phase start on the new admission day. Returns the
    participant's id. Call after ``forty_clients`` / ``caseload_of`` with the same
    ``now``."""
    tz = ZoneInfo(DEMO_TZ)
    now = (now or datetime.now(tz)).astimezone(tz)
    person = await Participant.select().where(Participant.client_id == client_id).first()
    first_monday = person["admitted_on"]  # the demo admits on its first Monday
    this_monday = now.date() - timedelta(days=now.weekday())
    demo_weeks = (this_monday - first_monday).days // 7  # complete weeks in the demo
    back = weeks - demo_weeks
    if back <= 0:
        return person["id"]
    src = await _read(person)

    def week_of(moment: datetime | None) -> int:
        return (moment.astimezone(tz).date() - first_monday).days // 7 if moment else -1

    def moved(row: dict, by: timedelta) -> dict:
        return {k: (v - by if isinstance(v, datetime) else v) for k, v in row.items()}

    attendance, tests, results = [], [], []
    for w in range(back):
        source_week = w % demo_weeks
        by = timedelta(weeks=back + source_week - w)
        for a in src.attendance:
            if week_of(a["occurred_at"]) == source_week:
                attendance.append(moved(_copied(a, record_uid=uuid.uuid4(), session=None), by))
        for t in src.tests:
            if week_of(t["called_at"] or t["collected_at"]) == source_week:
                uid = uuid.uuid4()
                accession = f"{t['accession_id']}-{w}" if t["accession_id"] else ""
                tests.append(moved(_copied(t, record_uid=uid, accession_id=accession), by))
                results += [(uid, moved(r, by)) for r in src.results[t["id"]]]
    admitted = first_monday - timedelta(weeks=back)
    async with db.transaction():
        await Participant.update({Participant.admitted_on: admitted}).where(
            Participant.id == person["id"]
        )
        for mandate, phases in src.mandates:
            await Mandate.update({Mandate.starts_on: admitted}).where(Mandate.id == mandate["id"])
            first = min(phases, key=lambda p: p[0]["sequence"])[0]
            await MandatePhase.update({MandatePhase.started_on: admitted}).where(
                MandatePhase.id == first["id"]
            )
        await db.insert_many(Attendance, attendance)
        await db.insert_many(DrugTest, tests)
        ids = {
            str(row["record_uid"]): row["id"]
            for row in await DrugTest.select(DrugTest.id, DrugTest.record_uid).where(
                DrugTest.participant == person["id"]
            )
        }
        await db.insert_many(
            AnalyteResult, [_copied(r, drug_test=ids[str(uid)]) for uid, r in results]
        )
        await violations.refresh([person["id"]], today=now.date())
    return person["id"]
