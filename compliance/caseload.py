"""Feeding the compliance engine from the database: one participant over a period, or a
whole caseload at once (a handful of queries for all participants, not per person)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from compliance import access
from compliance.accounts import Principal
from compliance.rules import (
    AnalyteFact,
    AttendanceFact,
    DrugTestFact,
    Evaluation,
    Phase,
    Policy,
    evaluate,
    week_start,
)
from compliance.tables import (
    Analyte,
    AnalyteResult,
    Attendance,
    DrugTest,
    Mandate,
    MandatePhase,
    Participant,
    PhaseSessionRequirement,
    Program,
)

STATUS_ORDER = {"non_compliant": 0, "partial": 1, "compliant": 2, "no_requirement": 3, None: 4}


def policy_of(program: dict[str, Any]) -> Policy:
    return Policy(
        time_zone=program["time_zone"],
        week_starts_on=program["week_starts_on"],
        dilute_counts_as_positive=program["dilute_counts_as_positive"],
        excused_absence_counts_toward_hours=program["excused_absence_counts_toward_hours"],
        stepdown_compliant_weeks=program["stepdown_compliant_weeks"],
        stepdown_consecutive_negative_tests=program["stepdown_consecutive_negative_tests"],
    )


@dataclass
class Facts:
    """Everything the engine needs for a set of participants, grouped by participant."""

    phases: dict[int, list[Phase]]
    attendance: dict[int, list[AttendanceFact]]
    tests: dict[int, list[DrugTestFact]]


async def load_facts(participant_ids: Sequence[int], since: datetime, until: datetime) -> Facts:
    ids = list(participant_ids) or [0]
    mandates = (
        await Mandate.select().where(Mandate.participant.is_in(ids)).order_by(Mandate.starts_on)
    )
    current: dict[int, int] = {}
    for m in mandates:  # the most recent mandate governs
        current[m["participant"]] = m["id"]
    phase_rows = await MandatePhase.select().where(
        MandatePhase.mandate.is_in(list(current.values()) or [0])
    )
    reqs: dict[int, dict[str, int]] = defaultdict(dict)
    for r in await PhaseSessionRequirement.select().where(
        PhaseSessionRequirement.phase.is_in([p["id"] for p in phase_rows] or [0])
    ):
        reqs[r["phase"]][r["session_type"]] = r["sessions_per_week"]
    owner = {mid: pid for pid, mid in current.items()}
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
    attendance: dict[int, list[AttendanceFact]] = defaultdict(list)
    for a in await Attendance.select(
        Attendance.id,
        Attendance.participant,
        Attendance.occurred_at,
        Attendance.session_type,
        Attendance.status,
        Attendance.scheduled_minutes,
        Attendance.minutes_attended,
    ).where(
        Attendance.participant.is_in(ids)
        & Attendance.is_current.eq(True)
        & (Attendance.occurred_at >= since)
        & (Attendance.occurred_at < until)
    ):
        attendance[a["participant"]].append(
            AttendanceFact(
                a["id"],
                a["occurred_at"],
                a["session_type"],
                a["status"],
                a["scheduled_minutes"],
                a["minutes_attended"],
            )
        )
    test_rows = await DrugTest.select(
        DrugTest.id,
        DrugTest.participant,
        DrugTest.collection_status,
        DrugTest.reason,
        DrugTest.collected_at,
        DrugTest.called_at,
    ).where(DrugTest.participant.is_in(ids) & DrugTest.is_current.eq(True))
    test_rows = [
        t for t in test_rows if since <= (t["collected_at"] or t["called_at"] or since) < until
    ]
    keys = {
        a["id"]: (a["key"], a["name"])
        for a in await Analyte.select(Analyte.id, Analyte.key, Analyte.name)
    }
    analytes: dict[int, list[AnalyteFact]] = defaultdict(list)
    wanted = [t["id"] for t in test_rows]
    for start in range(0, len(wanted), 5000):
        for r in await AnalyteResult.select(
            AnalyteResult.drug_test,
            AnalyteResult.analyte,
            AnalyteResult.analyte_code,
            AnalyteResult.analyte_name,
            AnalyteResult.screen_result,
            AnalyteResult.confirmation_result,
            AnalyteResult.confirmation_method,
            AnalyteResult.mro_result,
        ).where(AnalyteResult.drug_test.is_in(wanted[start : start + 5000])):
            key, name = keys.get(r["analyte"], (r["analyte_code"], r["analyte_name"]))
            analytes[r["drug_test"]].append(
                AnalyteFact(
                    key,
                    r["analyte_name"] or name,
                    r["screen_result"],
                    r["confirmation_result"],
                    r["confirmation_method"],
                    r["mro_result"],
                )
            )
    tests: dict[int, list[DrugTestFact]] = defaultdict(list)
    for t in test_rows:
        tests[t["participant"]].append(
            DrugTestFact(
                t["id"],
                t["collection_status"],
                t["reason"],
                t["collected_at"],
                t["called_at"],
                tuple(sorted(analytes[t["id"]], key=lambda a: a.key)),
            )
        )
    return Facts(phases, attendance, tests)


def _bounds(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return (
        datetime.combine(start, time.min, tz).astimezone(UTC),
        datetime.combine(end + timedelta(days=1), time.min, tz).astimezone(UTC),
    )


async def participant_compliance(
    principal: Principal, participant_id: int, period_start: date, period_end: date
) -> Evaluation:
    person = await access.participant_row(principal, participant_id)
    program = await Program.select().where(Program.id == person["program"]).first()
    policy = policy_of(program)
    tz = ZoneInfo(policy.time_zone)
    first = week_start(period_start, policy.week_starts_on)
    facts = await load_facts([participant_id], *_bounds(first, period_end, tz))
    return evaluate(
        admitted_on=person["admitted_on"],
        discharged_on=person["discharged_on"],
        phases=facts.phases[participant_id],
        attendance=facts.attendance[participant_id],
        tests=facts.tests[participant_id],
        policy=policy,
        period_start=period_start,
        period_end=period_end,
    )


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
    days_since_last_positive: int | None
    current_phase: str | None


async def caseload(
    principal: Principal,
    today: date | None = None,
    program_id: int | None = None,
    history_weeks: int = 26,
) -> list[CaseRow]:
    """This and last week for every active participant, out of compliance first."""
    programs = (
        [access.require_program(principal, program_id)]
        if program_id
        else sorted(principal.program_ids)
    )
    rows: list[CaseRow] = []
    for program in await Program.select().where(Program.id.is_in(programs or [0])):
        policy = policy_of(program)
        tz = ZoneInfo(policy.time_zone)
        local_today = today or datetime.now(tz).date()
        this_week = week_start(local_today, policy.week_starts_on)
        since = this_week - timedelta(weeks=history_weeks)
        people = await Participant.select().where(
            (Participant.program == program["id"]) & Participant.discharged_on.is_null()
        )
        facts = await load_facts([p["id"] for p in people], *_bounds(since, local_today, tz))
        for p in people:
            result = evaluate(
                admitted_on=p["admitted_on"],
                discharged_on=None,
                phases=facts.phases[p["id"]],
                attendance=facts.attendance[p["id"]],
                tests=facts.tests[p["id"]],
                policy=policy,
                period_start=max(since, p["admitted_on"]),
                period_end=local_today,
            )
            by_start = {w.start: w for w in result.weeks}
            now_w = by_start.get(this_week)
            last_w = by_start.get(this_week - timedelta(days=7))
            rows.append(
                CaseRow(
                    p["id"],
                    f"{p['first_name']} {p['last_name']}",
                    p["client_id"],
                    program["id"],
                    now_w.status if now_w else None,
                    last_w.status if last_w else None,
                    [r.text for r in now_w.reasons] if now_w else [],
                    [r.text for r in last_w.reasons] if last_w else [],
                    result.days_since_last_positive,
                    result.current_phase,
                )
            )
    rows.sort(key=lambda r: (STATUS_ORDER[r.last_week], STATUS_ORDER[r.this_week], r.name))
    return rows
