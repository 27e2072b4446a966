"""Feeding the compliance engine from the database: one participant over a period, or a
whole caseload at once (a handful of queries for all participants, not per person)."""

from __future__ import annotations

import asyncio
import gc
import os
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from time import perf_counter as time_now
from typing import Any
from zoneinfo import ZoneInfo

from piccolo.query.functions.aggregate import Count
from piccolo.query.methods.select import Select

from compliance.core import db, workers
from compliance.core.rows import view_of
from compliance.core.validation import FieldError, InvalidInput, check_year
from compliance.core.vocabulary import ReportKind
from compliance.engine.rules import (
    NOT_COLLECTED,
    AnalyteFact,
    AttendanceFact,
    CheckInMissFact,
    DrugTestFact,
    Evaluation,
    Phase,
    Policy,
    evaluate,
    week_start,
)
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.tables import (
    Analyte,
    AnalyteResult,
    Attendance,
    DrugTest,
    Mandate,
    MandatePhase,
    MissedCheckIn,
    MissedCheckInExcuse,
    Participant,
    PhaseSessionRequirement,
    Program,
    Report,
    Violation,
)

STATUS_ORDER = {
    "non_compliant": 0,
    "partial": 1,
    "in_progress": 2,
    "compliant": 3,
    "no_requirement": 4,
    "not_yet_due": 4,
    None: 5,
}


def policy_of(program: dict[str, Any]) -> Policy:
    """The engine's policy is the program's columns of the same names."""
    return view_of(Policy, program)


@dataclass
class Facts:
    """Everything the engine needs for a set of participants, grouped by participant."""

    phases: dict[int, list[Phase]]
    attendance: dict[int, list[AttendanceFact]]
    tests: dict[int, list[DrugTestFact]]
    missed_check_ins: dict[int, list[CheckInMissFact]] = field(
        default_factory=lambda: defaultdict(list)
    )


Who = list[int] | Select


async def load_facts(who: Who, since: datetime, until: datetime, check_ins: bool = False) -> Facts:
    """``who``: participant ids, or a sub-select of them (a whole program's caseload, so
    the queries do not carry thousands of ids). ``check_ins``: the missed check-ins too
    (only a program whose policy counts them needs them)."""
    if isinstance(who, list) and not who:
        return Facts(defaultdict(list), defaultdict(list), defaultdict(list))
    return Facts(
        await _phases(who),
        await _attendance_facts(who, since, until),
        await _test_facts(who, since, until),
        await _missed_check_ins(who, since, until) if check_ins else defaultdict(list),
    )


async def _missed_check_ins(
    who: Who, since: datetime, until: datetime
) -> dict[int, list[CheckInMissFact]]:
    """Days not checked in on, less those staff excused; a day either side of the window
    (the engine keeps the weeks it judges)."""
    rows = await MissedCheckIn.select(
        MissedCheckIn.participant,
        MissedCheckIn.id,
        MissedCheckIn.draw.day.as_alias("day"),
        MissedCheckIn.due_by,
    ).where(
        MissedCheckIn.participant.is_in(who)
        & (MissedCheckIn.draw.day >= since.date() - timedelta(days=1))
        & (MissedCheckIn.draw.day <= until.date() + timedelta(days=1))
        & MissedCheckIn.id.not_in(MissedCheckInExcuse.select(MissedCheckInExcuse.missed))
    )
    missed: dict[int, list[CheckInMissFact]] = defaultdict(list)
    for r in rows:
        missed[r["participant"]].append(CheckInMissFact(r["id"], r["day"], r["due_by"]))
    return missed


async def _phases(who: Who) -> dict[int, list[Phase]]:
    """Each participant's phases, under their most recent mandate (the one that governs)."""
    mandates = (
        await Mandate.select(Mandate.id, Mandate.participant)
        .where(Mandate.participant.is_in(who))
        .order_by(Mandate.starts_on)
        .order_by(Mandate.id)
    )
    current: dict[int, int] = {}
    for m in mandates:  # the most recent mandate governs
        current[m["participant"]] = m["id"]
    owner = {mid: pid for pid, mid in current.items()}
    their_mandates = Mandate.select(Mandate.id).where(Mandate.participant.is_in(who))
    phase_rows = [
        p
        for p in await MandatePhase.select().where(MandatePhase.mandate.is_in(their_mandates))
        if p["mandate"] in owner
    ]
    reqs: dict[int, dict[str, int]] = defaultdict(dict)
    for r in await PhaseSessionRequirement.select(
        PhaseSessionRequirement.phase,
        PhaseSessionRequirement.session_type,
        PhaseSessionRequirement.sessions_per_week,
    ).where(
        PhaseSessionRequirement.phase.is_in(
            MandatePhase.select(MandatePhase.id).where(MandatePhase.mandate.is_in(their_mandates))
        )
    ):
        reqs[r["phase"]][r["session_type"]] = r["sessions_per_week"]
    phases: dict[int, list[Phase]] = defaultdict(list)
    for p in phase_rows:
        phases[owner[p["mandate"]]].append(
            Phase(
                p["sequence"],
                p["name"],
                p["started_on"],
                p["required_hours_per_week"],
                p["required_tests_per_week"],
                reqs[p["id"]],
            )
        )
    return phases


async def _attendance_facts(
    who: Who, since: datetime, until: datetime
) -> dict[int, list[AttendanceFact]]:
    """Current attendance in the window, as tuples (a caseload reads 390,000 rows)."""
    attendance_rows = await db.rows(
        Attendance.select(
            Attendance.participant,
            Attendance.id,
            Attendance.occurred_at,
            Attendance.session_type,
            Attendance.status,
            Attendance.scheduled_minutes,
            Attendance.minutes_attended,
        ).where(
            Attendance.participant.is_in(who)
            & Attendance.is_current.eq(True)
            & (Attendance.occurred_at >= since)
            & (Attendance.occurred_at < until)
        )
    )
    attendance: dict[int, list[AttendanceFact]] = defaultdict(list)
    for r in attendance_rows:
        attendance[r[0]].append(AttendanceFact(r[1], r[2], r[3], r[4], r[5], r[6]))
    return attendance


async def _test_facts(who: Who, since: datetime, until: datetime) -> dict[int, list[DrugTestFact]]:
    """Current drug tests in the window (by collection, or by the call for a no-show),
    with the analyte results that can change an outcome."""
    in_period = (
        DrugTest.participant.is_in(who)
        & DrugTest.is_current.eq(True)
        & (
            ((DrugTest.collected_at >= since) & (DrugTest.collected_at < until))
            | (
                DrugTest.collected_at.is_null()
                & (DrugTest.called_at >= since)
                & (DrugTest.called_at < until)
            )
        )
    )
    test_rows = await db.rows(
        DrugTest.select(
            DrugTest.participant,
            DrugTest.id,
            DrugTest.collection_status,
            DrugTest.reason,
            DrugTest.collected_at,
            DrugTest.called_at,
        ).where(in_period)
    )
    # Only analytes that can change a test's outcome (a negative screen with no
    # confirmation and no MRO review adds nothing to "negative"), of any version: the
    # versions wanted are picked below, which is cheaper than a sub-select of them.
    analyte_rows = await db.rows(
        AnalyteResult.select(
            AnalyteResult.drug_test,
            AnalyteResult.analyte,
            AnalyteResult.analyte_code,
            AnalyteResult.analyte_name,
            AnalyteResult.screen_result,
            AnalyteResult.confirmation_result,
            AnalyteResult.confirmation_method,
            AnalyteResult.mro_result,
        ).where(
            AnalyteResult.drug_test.participant.is_in(who)
            & (
                (AnalyteResult.screen_result == "positive")
                | AnalyteResult.confirmation_result.is_not_null()
                | AnalyteResult.mro_result.is_not_null()
            )
        )
    )
    catalogue = await db.rows(
        Analyte.select(Analyte.id, Analyte.key, Analyte.name, Analyte.member_of)
    )
    keys = {a_id: (key, name) for a_id, key, name, _ in catalogue}
    classes = {a_id: keys[member_of][0] for a_id, _, _, member_of in catalogue if member_of}
    analytes: dict[int, list[AnalyteFact]] = defaultdict(list)
    for test_id, analyte_id, code, name, screen, confirmation, method, mro in analyte_rows:
        key, known = keys.get(analyte_id, (code, name))
        analytes[test_id].append(
            AnalyteFact(
                key,
                name or known,
                screen,
                confirmation,
                method,
                mro,
                classes.get(analyte_id, ""),
            )
        )
    tests: dict[int, list[DrugTestFact]] = defaultdict(list)
    for r in test_rows:
        found = analytes.get(r[1])
        tests[r[0]].append(
            DrugTestFact(
                r[1], r[2], r[3], r[4], r[5], tuple(sorted(found, key=_by_key)) if found else ()
            )
        )
    return tests


def _by_key(a: AnalyteFact) -> str:
    return a.key


def _bounds(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return (
        datetime.combine(start, time.min, tz).astimezone(UTC),
        datetime.combine(end + timedelta(days=1), time.min, tz).astimezone(UTC),
    )


@contextmanager
def _gc_paused() -> Iterator[None]:
    """A caseload builds about a million short-lived objects with no cycles among them;
    the cyclic collector walking them again and again was a fifth of the time."""
    global _pauses
    if _pauses == 0 and not gc.isenabled():
        yield  # someone else turned it off; leave it so
        return
    _pauses += 1
    gc.disable()
    try:
        yield
    finally:
        _pauses -= 1
        if _pauses == 0:
            gc.enable()


_pauses = 0


def _evaluate_each(
    people: list[dict[str, Any]],
    facts: Facts,
    policy: Policy,
    period_start: date,
    period_end: date,
    as_of: date,
) -> dict[int, Evaluation]:
    return {
        p["id"]: evaluate(
            admitted_on=p["admitted_on"],
            discharged_on=p["discharged_on"],
            phases=facts.phases[p["id"]],
            attendance=facts.attendance[p["id"]],
            tests=facts.tests[p["id"]],
            missed_check_ins=facts.missed_check_ins[p["id"]],
            policy=policy,
            period_start=max(period_start, p["admitted_on"]),
            period_end=period_end,
            as_of=as_of,
        )
        for p in people
    }


async def _load_and_evaluate(
    program: dict[str, Any],
    people: list[dict[str, Any]],
    who: Who,
    period_start: date,
    period_end: date,
    in_thread: bool,
    as_of: date | None = None,
) -> tuple[dict[int, Evaluation], float, float]:
    """The evaluations as of ``as_of`` (default: the program's today), and the seconds
    spent reading and judging. The caller keeps the collector paused until it has
    dropped them (see ``_gc_paused``)."""
    policy = policy_of(program)
    tz = ZoneInfo(policy.time_zone)
    as_of = as_of or datetime.now(tz).date()
    first = week_start(period_start, policy.week_starts_on)
    t = time_now()
    facts = await load_facts(
        who, *_bounds(first, period_end, tz), check_ins=policy.missed_check_in_counts
    )
    loaded = time_now()
    if in_thread:  # the event loop keeps answering meanwhile
        results = await asyncio.to_thread(
            _evaluate_each, people, facts, policy, period_start, period_end, as_of
        )
    else:
        results = _evaluate_each(people, facts, policy, period_start, period_end, as_of)
    return results, loaded - t, time_now() - loaded


async def evaluate_people(
    program: dict[str, Any],
    people: list[dict[str, Any]],
    who: Who,
    period_start: date,
    period_end: date,
    as_of: date | None = None,
) -> dict[int, Evaluation]:
    """Judge ``people`` (participant rows of one program; ``who`` selects the same ids)
    over a period as it stood on ``as_of`` (default: the program's today; nothing later
    is judged). Large caseloads are judged in a thread so the event loop keeps
    answering while the engine runs."""
    if not people:
        return {}
    with _gc_paused():
        results, _, _ = await _load_and_evaluate(
            program,
            people,
            who,
            period_start,
            period_end,
            len(people) >= THREAD_ABOVE,
            as_of,
        )
    return results


THREAD_ABOVE = 200  # participants; below this the engine takes a few milliseconds


DEFAULT_WEEKS = 12


async def compliance_period(
    principal: Principal, participant_id: int, start: date | None, end: date | None
) -> tuple[date, date]:
    """The period asked for, or the last 12 weeks of the enrolment up to today."""
    person = await access.participant_row(principal, participant_id)
    check_year("start", start)
    check_year("end", end)
    program = await Program.select(Program.time_zone).where(Program.id == person["program"]).first()
    end = end or person["discharged_on"] or datetime.now(ZoneInfo(program["time_zone"])).date()
    start = start or max(person["admitted_on"], end - timedelta(weeks=DEFAULT_WEEKS))
    if start > end or (end - start).days > 3 * 366:
        raise InvalidInput([FieldError("start", "must be before the end and within 3 years of it")])
    return start, end


async def participant_compliance(
    principal: Principal, participant_id: int, period_start: date, period_end: date
) -> Evaluation:
    allowed = await access.participant(principal, participant_id)
    program = await Program.select().where(Program.id == allowed.person["program"]).first()
    return await compliance_of(allowed, program, period_start, period_end)


async def compliance_of(
    allowed: access.ParticipantAccess,
    program: dict[str, Any],
    period_start: date,
    period_end: date,
) -> Evaluation:
    """The participant's weeks judged under ``program`` (theirs, read by the caller)."""
    found = await evaluate_people(program, [allowed.person], [allowed.id], period_start, period_end)
    return found[allowed.id]


async def open_violations(who: Who) -> dict[int, int]:
    """Violations neither withdrawn nor reviewed, counted per participant."""
    rows = (
        await Violation.select(Violation.participant, Count(Violation.id))
        .where(
            Violation.participant.is_in(who)
            & Violation.withdrawn_at.is_null()
            & Violation.reviewed_at.is_null()
        )
        .group_by(Violation.participant)
    )
    return {r["participant"]: r["count"] for r in rows}


@dataclass
class CaseRow:
    participant_id: int
    name: str
    client_id: str
    program_id: int
    this_week: str | None
    last_week: str | None
    reasons_this_week: list[str]
    reasons_last_week: list[str]
    open_violations: int
    days_since_last_positive: int | None
    current_phase: str | None
    meets_stepdown: bool
    first_name: str = ""
    last_name: str = ""
    # The engine's Reason.kind of each reason above, in the same order (rules.REASON_KINDS).
    kinds_this_week: list[str] = field(default_factory=list)
    kinds_last_week: list[str] = field(default_factory=list)
    # Tests called for this or last week whose specimen did not come within the program's
    # collection window (late, or not recorded yet); a no-show is a missed test instead.
    tests_overdue: int = 0
    # A court or probation client with no court progress report signed in the last
    # REPORT_INTERVAL_DAYS days (none at all counts once the mandate is that old).
    report_due: bool = False
    last_court_report: date | None = None  # the program's local day it was signed


# What the dashboard keeps of an evaluation: this and last week's status and reasons (as
# text and kind), days since the last positive, phase, step-down. Small, so workers can
# send it back.
Summary = tuple[
    str | None,
    str | None,
    list[tuple[str, str]],
    list[tuple[str, str]],
    int | None,
    str | None,
    bool,
]


def _summary(result: Evaluation, this_week: date) -> Summary:
    by_start = {w.start: w for w in result.weeks[-2:]}
    now_w = by_start.get(this_week)
    last_w = by_start.get(this_week - timedelta(days=7))
    return (
        now_w.status if now_w else None,
        last_w.status if last_w else None,
        [(r.text, r.kind) for r in now_w.reasons] if now_w else [],
        [(r.text, r.kind) for r in last_w.reasons] if last_w else [],
        result.days_since_last_positive,
        result.current_phase,
        result.meets_stepdown,
    )


@dataclass
class Timings:
    """Where a caseload's time went, for ``make bench``: seconds reading the database
    and judging, summed over workers, and the longest single worker's share."""

    load: float = 0.0
    engine: float = 0.0
    longest_engine: float = 0.0
    workers: int = 1


SHARD_ABOVE = 1000  # participants; from here a caseload is split across worker processes
JOB_TIMEOUT_S = 120.0


def _active_where(program_id: int) -> Any:
    return (Participant.program == program_id) & Participant.discharged_on.is_null()


def _active(program_id: int, lo: int | None = None, hi: int | None = None) -> Select:
    where = _active_where(program_id)
    if lo is not None and hi is not None:
        where = where & (Participant.id >= lo) & (Participant.id <= hi)
    return Participant.select(Participant.id).where(where)


async def _judge_here(
    program: dict[str, Any],
    people: list[dict[str, Any]],
    who: Who,
    since: date,
    today: date,
    this_week: date,
    in_thread: bool = False,
) -> tuple[dict[int, Summary], float, float]:
    with _gc_paused():
        results, load_s, engine_s = await _load_and_evaluate(
            program, people, who, since, today, in_thread, today
        )
        summaries = {pid: _summary(result, this_week) for pid, result in results.items()}
        del results  # freed before the collector is back on
    return summaries, load_s, engine_s


def judge_shard(
    program: dict[str, Any],
    people: list[dict[str, Any]],
    since: date,
    today: date,
    this_week: date,
) -> tuple[dict[int, Summary], float, float]:
    """Worker-process job: a contiguous id range of one program's active participants."""
    who = _active(program["id"], people[0]["id"], people[-1]["id"])
    return asyncio.run(_judge_here(program, people, who, since, today, this_week))


async def _judge(
    program: dict[str, Any],
    people: list[dict[str, Any]],
    since: date,
    today: date,
    this_week: date,
    timings: Timings,
) -> dict[int, Summary]:
    """Small caseloads are judged in a thread (the engine takes milliseconds for them);
    large ones across worker processes, a contiguous range of ids each, so reading the
    rows and judging them run on every core."""
    if len(people) < SHARD_ABOVE or (os.cpu_count() or 1) < 2:
        who = _active(program["id"])
        in_thread = len(people) >= THREAD_ABOVE
        found = await _judge_here(program, people, who, since, today, this_week, in_thread)
        summaries, timings.load, timings.engine = found
        timings.longest_engine, timings.workers = timings.engine, 1
        return summaries
    pool = workers.shared(db.current_url())
    ordered = sorted(people, key=_by_id)
    size = -(-len(ordered) // pool.size)
    shards = [ordered[i : i + size] for i in range(0, len(ordered), size)]
    done = await asyncio.gather(
        *(
            pool.run(judge_shard, program, shard, since, today, this_week, time_limit=JOB_TIMEOUT_S)
            for shard in shards
        )
    )
    summaries: dict[int, Summary] = {}
    for found, load_s, engine_s in done:
        summaries.update(found)
        timings.load += load_s
        timings.engine += engine_s
        timings.longest_engine = max(timings.longest_engine, engine_s)
    timings.workers = len(shards)
    return summaries


def _by_id(p: dict[str, Any]) -> int:
    return p["id"]


async def caseload(
    principal: Principal,
    today: date | None = None,
    program_id: int | None = None,
    history_weeks: int = 26,
    timings: Timings | None = None,
) -> list[CaseRow]:
    """This and last week for every active participant, the most serious first.

    As of now (no ``today``, no ``timings``) the rows come from the view cache while
    the records stay as they were (``db.records_version``) and nothing has turned with
    the clock (the programs' day, a called test's collection window closing): a
    caseload is judged once for everyone who sees the same programs, not on every page
    load by every clinician (issue 18). Callers treat the rows as read-only."""
    if today is not None or timings is not None:
        programs = access.covered_programs(principal, program_id)
        return (await _caseload(programs, today, history_weeks, timings or Timings()))[0]
    return (await current(principal, program_id, history_weeks))[0]


# Caseloads kept (programs seen x records versions): an old version is never read again,
# and a large one holds thousands of rows, so few.
CACHED_CASELOADS = 8


async def current(
    principal: Principal, program_id: int | None = None, history_weeks: int = 26
) -> tuple[list[CaseRow], tuple]:
    """``caseload`` as of now, and a stamp naming that computation: the same stamp, the
    same rows (and the same programs), so a page may keep what it made of them under
    it. Filed under the programs the principal sees, never under who they are."""
    programs = access.covered_programs(principal, program_id)
    cache = db.view_cache("caseload", CACHED_CASELOADS)
    key = (tuple(programs), history_weeks, await db.records_version())
    found = await cache.computed_once(
        key,
        lambda: _caseload(programs, None, history_weeks, Timings()),
        fresh=lambda kept: datetime.now(UTC) < kept[1],
    )
    return found[0], (*key, found[1])


async def _caseload(
    programs: list[int], today: date | None, history_weeks: int, timings: Timings
) -> tuple[list[CaseRow], datetime]:
    """The rows, and until when they hold if nothing is recorded: the next midnight in
    a program's zone, or the moment a called test's collection window closes (it turns
    overdue then), whichever comes first."""
    rows: list[CaseRow] = []
    until = datetime.max.replace(tzinfo=UTC)
    for program in await Program.select().where(Program.id.is_in(programs or [0])):
        policy = policy_of(program)
        tz = ZoneInfo(policy.time_zone)
        local_today = today or datetime.now(tz).date()
        this_week = week_start(local_today, policy.week_starts_on)
        since = this_week - timedelta(weeks=history_weeks - 1)
        people = await Participant.select(
            Participant.id,
            Participant.first_name,
            Participant.last_name,
            Participant.client_id,
            Participant.admitted_on,
            Participant.discharged_on,
        ).where(_active_where(program["id"]))
        active = _active(program["id"])
        open_counts = await open_violations(active)
        midnight = _bounds(local_today, local_today, tz)[1]
        now = min(datetime.now(UTC), midnight)
        last_week = _bounds(this_week - timedelta(days=7), local_today, tz)[0]
        overdue, turns = await _overdue_and_next(
            active, last_week, now, program["collection_window_hours"]
        )
        until = min(until, midnight, turns or midnight)
        reports = await court_reports_due(active, local_today, tz)
        summaries = await _judge(program, people, since, local_today, this_week, timings)
        for p in people:
            now_s, last_s, now_r, last_r, since_positive, phase, stepdown = summaries[p["id"]]
            due, last_report = reports.get(p["id"], (False, None))
            rows.append(
                CaseRow(
                    p["id"],
                    f"{p['first_name']} {p['last_name']}",
                    p["client_id"],
                    program["id"],
                    now_s,
                    last_s,
                    [text for text, _ in now_r],
                    [text for text, _ in last_r],
                    open_counts.get(p["id"], 0),
                    since_positive,
                    phase,
                    stepdown,
                    p["first_name"],
                    p["last_name"],
                    [kind for _, kind in now_r],
                    [kind for _, kind in last_r],
                    overdue.get(p["id"], 0),
                    due,
                    last_report,
                )
            )
    rows.sort(key=SORTS["status"])
    return rows, until


REPORT_INTERVAL_DAYS = 7  # how often a court client's officer expects a progress report
COURT_SOURCES = ("court", "probation")
NO_SPECIMEN = tuple(NOT_COLLECTED)  # a no-show or refusal: counted as missed, not overdue


async def tests_overdue(
    who: Who, since: datetime, now: datetime, window_hours: int
) -> dict[int, int]:
    """Tests called for from ``since`` whose specimen did not come within the collection
    window: delivered late, or not recorded by ``now`` though the window has passed. A
    no-show or refusal is not overdue: the engine already counts it as missed."""
    return (await _overdue_and_next(who, since, now, window_hours))[0]


async def _overdue_and_next(
    who: Who, since: datetime, now: datetime, window_hours: int
) -> tuple[dict[int, int], datetime | None]:
    """``tests_overdue``, and the first moment after ``now`` at which the answer changes
    with no new record (a called test's window closing, or a test called for later)."""
    window = timedelta(hours=window_hours)
    found: dict[int, int] = defaultdict(int)
    turns: datetime | None = None
    for pid, called, collected in await db.rows(
        DrugTest.select(DrugTest.participant, DrugTest.called_at, DrugTest.collected_at).where(
            DrugTest.participant.is_in(who)
            & DrugTest.is_current.eq(True)
            & (DrugTest.called_at >= since)
            & DrugTest.collection_status.not_in(NO_SPECIMEN)
        )
    ):
        if called >= now:  # counted from the moment it was called for
            turns = called if turns is None else min(turns, called)
            continue
        # The rule drug_tests.hours_past marks a specimen late by (not imported: a cycle).
        if (collected or now) - called > window:
            found[pid] += 1
        elif collected is None:  # overdue once the window closes
            turns = called + window if turns is None else min(turns, called + window)
    return found, turns


async def court_reports_due(
    who: Who, today: date, tz: ZoneInfo
) -> dict[int, tuple[bool, date | None]]:
    """For each court or probation client (their current mandate's source): whether a
    court progress report is due, and the local day the last one was signed. Due: none
    signed in the last REPORT_INTERVAL_DAYS days, or none at all once the mandate is
    that old. A revoked report does not count."""
    current: dict[int, tuple[str, date]] = {}
    for pid, source, starts in await db.rows(
        Mandate.select(Mandate.participant, Mandate.source, Mandate.starts_on)
        .where(Mandate.participant.is_in(who))
        .order_by(Mandate.starts_on)
        .order_by(Mandate.id)
    ):
        current[pid] = (source, starts)  # the most recent mandate governs, as in load_facts
    court = {pid: starts for pid, (source, starts) in current.items() if source in COURT_SOURCES}
    if not court:
        return {}
    last: dict[int, date] = {}
    for pid, signed in await db.rows(
        Report.select(Report.participant, Report.signed_at).where(
            Report.participant.is_in(who)
            & (Report.kind == ReportKind.court_progress.value)
            & Report.signed_at.is_not_null()
            & Report.revoked_at.is_null()
        )
    ):
        day = signed.astimezone(tz).date()
        if pid in court and (pid not in last or day > last[pid]):
            last[pid] = day
    oldest_fine = today - timedelta(days=REPORT_INTERVAL_DAYS)
    return {
        pid: (last[pid] <= oldest_fine if pid in last else starts <= oldest_fine, last.get(pid))
        for pid, starts in court.items()
    }


# How serious each reason kind is (rules.REASON_KINDS), most serious first: a confirmed
# positive, then a test that counts as positive because it was not given or not valid,
# then one that counts only until confirmed or by policy, an unexcused absence, and
# last what the week fell short of.
SEVERITY = {
    "positive": 0,
    "missed": 1,
    "refused": 1,
    "adulterated": 1,
    "substituted": 1,
    "presumptive": 2,
    "dilute": 2,
    "absence": 3,
    "missed_check_in": 3,
    "hours": 4,
    "sessions": 4,
    "tests_short": 4,
}
SHORTFALL = 4  # a kind the table does not know yet ranks with the shortfalls
OVERDUE, OPEN, QUIET = 5, 6, 7  # nothing this or last week: an overdue test, an open violation


def severity(r: CaseRow) -> tuple[int, int]:
    """(how serious, 0 this week / 1 last week) of the row's most serious reason; rows
    without one rank by an overdue test, then an open violation from earlier weeks."""
    found = [(SEVERITY.get(k, SHORTFALL), 0) for k in r.kinds_this_week]
    found += [(SEVERITY.get(k, SHORTFALL), 1) for k in r.kinds_last_week]
    if found:
        return min(found)
    if r.tests_overdue:
        return OVERDUE, 0
    return (OPEN, 0) if r.open_violations else (QUIET, 0)


def lead_kind(r: CaseRow) -> str | None:
    """The kind of the row's most serious reason (this week first on a tie), for the page."""
    ranked = sorted(
        [(SEVERITY.get(k, SHORTFALL), 0, k) for k in r.kinds_this_week]
        + [(SEVERITY.get(k, SHORTFALL), 1, k) for k in r.kinds_last_week]
    )
    return ranked[0][2] if ranked else None


def why(r: CaseRow) -> list[tuple[str, list[tuple[str, str]]]]:
    """The row's reasons as the page lists them: this week's, then last week's, each
    week's most serious first, as (text, kind)."""
    weeks = [
        ("This week", r.reasons_this_week, r.kinds_this_week),
        ("Last week", r.reasons_last_week, r.kinds_last_week),
    ]
    return [
        (label, sorted(zip(texts, kinds, strict=True), key=_reason_rank))
        for label, texts, kinds in weeks
        if texts
    ]


def _reason_rank(reason: tuple[str, str]) -> int:
    return SEVERITY.get(reason[1], SHORTFALL)


def _last_name_first(r: CaseRow) -> tuple[str, str, str]:
    return r.last_name.casefold(), r.first_name.casefold(), r.client_id


def _by_severity(r: CaseRow) -> tuple[Any, ...]:
    return (
        *severity(r),
        STATUS_ORDER.get(r.last_week, 5),
        STATUS_ORDER.get(r.this_week, 5),
        *_last_name_first(r),
    )


SORTS = {
    "status": _by_severity,
    "name": _last_name_first,
    "client_id": lambda r: (r.client_id, *_last_name_first(r)),
    "violations": lambda r: (-r.open_violations, *_by_severity(r)),
    "last_positive": lambda r: (
        r.days_since_last_positive is None,
        r.days_since_last_positive or 0,
        *_last_name_first(r),
    ),
}


def _out_this_week(r: CaseRow) -> bool:
    return r.this_week == "non_compliant"


def _out_last_week(r: CaseRow) -> bool:
    return r.last_week == "non_compliant"


# Which rows each ``show`` keeps. ``attention``: not compliant last or this week, an
# open violation or an overdue test; ``stepdown``: meets the step-down criteria.
FILTERS = {
    "all": lambda r: True,
    "attention": lambda r: (
        _out_this_week(r) or _out_last_week(r) or r.open_violations > 0 or r.tests_overdue > 0
    ),
    "this_week": _out_this_week,
    "last_week": _out_last_week,
    "tests_overdue": lambda r: r.tests_overdue > 0,
    "reports_due": lambda r: r.report_due,
    "violations": lambda r: r.open_violations > 0,
    "compliant": lambda r: r.last_week == "compliant" and r.this_week != "non_compliant",
    "stepdown": lambda r: r.meets_stepdown,
}
SHOW = tuple(FILTERS)


def arrange(
    rows: list[CaseRow], sort: str = "status", show: str = "all", q: str = ""
) -> list[CaseRow]:
    """The dashboard's sorting and filtering; ``q`` finds a name (either order) or id."""
    if sort not in SORTS:
        raise InvalidInput([FieldError("sort", f"one of {', '.join(SORTS)}")])
    if show not in FILTERS:
        raise InvalidInput([FieldError("show", f"one of {', '.join(SHOW)}")])
    needle = q.strip().casefold()
    keep = FILTERS[show]
    kept = [
        r
        for r in rows
        if keep(r)
        and (
            not needle
            or needle in r.name.casefold()
            or needle in f"{r.last_name}, {r.first_name}".casefold()
            or needle in r.client_id.casefold()
        )
    ]
    return sorted(kept, key=SORTS[sort])


@dataclass
class Counts:
    """The caseload's head: how many clients need what, over all active ones."""

    active: int
    out_this_week: int
    out_last_week: int
    tests_overdue: int  # tests
    tests_overdue_clients: int
    reports_due: int  # clients
    open_violations: int  # violations
    violation_clients: int


def counts(rows: list[CaseRow]) -> Counts:
    return Counts(
        len(rows),
        sum(map(_out_this_week, rows)),
        sum(map(_out_last_week, rows)),
        sum(r.tests_overdue for r in rows),
        sum(r.tests_overdue > 0 for r in rows),
        sum(r.report_due for r in rows),
        sum(r.open_violations for r in rows),
        sum(r.open_violations > 0 for r in rows),
    )
