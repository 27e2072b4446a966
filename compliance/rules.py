"""The compliance engine: plain records in, week-by-week judgement out. No I/O.

For each calendar week (in the program's time zone, starting on the program's chosen
day) it compares what the mandate's phase requires with what the records show, and
says why a week is not compliant in sentences that point at the records behind them.
The same records in any order give the same result.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

PRESENT_STATUSES = ("present", "late", "left_early")
NOT_COLLECTED = {"no_show": "missed", "refused": "refused", "unable_to_provide": "missed"}
SPECIMEN_FAILURES = {"adulterated": "adulterated", "substituted": "substituted"}


@dataclass(frozen=True)
class Policy:
    time_zone: str = "America/New_York"
    week_starts_on: int = 0  # 0 = Monday
    dilute_counts_as_positive: bool = False
    excused_absence_counts_toward_hours: bool = False
    stepdown_compliant_weeks: int = 4
    stepdown_consecutive_negative_tests: int = 6


@dataclass(frozen=True)
class Phase:
    sequence: int
    name: str
    started_on: date | None
    hours_per_week: Decimal
    tests_per_week: int
    sessions_per_week: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AttendanceFact:
    id: int
    occurred_at: datetime
    session_type: str
    status: str
    scheduled_minutes: int
    minutes_attended: int


@dataclass(frozen=True)
class AnalyteFact:
    key: str
    name: str
    screen: str  # negative / positive / invalid / not_tested
    confirmation: str | None = None
    confirmation_method: str = ""
    mro: str | None = None


@dataclass(frozen=True)
class DrugTestFact:
    id: int
    collection_status: str
    reason: str
    collected_at: datetime | None
    called_at: datetime | None = None
    analytes: tuple[AnalyteFact, ...] = ()


@dataclass(frozen=True)
class Reason:
    text: str
    refs: tuple[str, ...] = ()  # "attendance:12", "drug_test:5"


@dataclass(frozen=True)
class DrugTestOutcome:
    test_id: int
    day: date
    outcome: (
        str  # negative, positive, presumptive, missed, refused, dilute, adulterated, substituted
    )
    counts_positive: bool
    detail: str


@dataclass(frozen=True)
class WeekResult:
    start: date
    end: date
    phase: str | None
    status: str  # compliant, non_compliant, partial, no_requirement
    required_hours: Decimal
    attended_hours: Decimal
    sessions_required: Mapping[str, int]
    sessions_attended: Mapping[str, int]
    excused_absences: int
    unexcused_absences: int
    tests_required: int
    tests_collected: int
    tests: tuple[DrugTestOutcome, ...]
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Evaluation:
    weeks: tuple[WeekResult, ...]
    attendance_rate: Decimal | None  # attended / required hours over the period
    negative_share: Decimal | None  # negative tests / tests with an outcome
    days_since_last_positive: int | None
    longest_negative_streak: int
    current_phase: str | None
    meets_stepdown: bool


def _day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def week_start(day: date, week_starts_on: int) -> date:
    return day - timedelta(days=(day.weekday() - week_starts_on) % 7)


def _label(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def phase_for(phases: Sequence[Phase], week: date) -> Phase | None:
    """The phase in force on the week's first day, or else the one that starts inside it."""
    started = sorted((p for p in phases if p.started_on), key=lambda p: (p.started_on, p.sequence))
    in_force = [p for p in started if p.started_on <= week]  # type: ignore[operator]
    if in_force:
        return in_force[-1]
    starting = [p for p in started if p.started_on <= week + timedelta(days=6)]  # type: ignore[operator]
    return starting[0] if starting else None


def drug_test_outcome(test: DrugTestFact, tz: ZoneInfo, policy: Policy) -> DrugTestOutcome:
    """What a test means for compliance; the MRO's verdict prevails over the lab's."""
    moment = test.collected_at or test.called_at
    day = _day(moment, tz) if moment else date.min
    reason = test.reason.replace("_", " ")
    if test.collection_status in NOT_COLLECTED:
        kind = NOT_COLLECTED[test.collection_status]
        verb = "Refused" if kind == "refused" else "Missed"
        return DrugTestOutcome(
            test.id, day, kind, True, f"{verb} {reason} test called for {_label(day)}"
        )
    if test.collection_status in SPECIMEN_FAILURES:
        kind = SPECIMEN_FAILURES[test.collection_status]
        return DrugTestOutcome(
            test.id, day, kind, True, f"{kind.capitalize()} specimen collected {_label(day)}"
        )
    confirmed, presumptive = [], []
    for a in test.analytes:
        if a.mro is not None:
            if a.mro == "positive":
                confirmed.append(f"{a.name} (verified by the MRO)")
            continue
        if a.confirmation == "positive":
            method = f" by {a.confirmation_method}" if a.confirmation_method else ""
            confirmed.append(f"{a.name} (confirmed{method})")
        elif a.screen == "positive" and a.confirmation is None:
            presumptive.append(f"{a.name} (screen only, not confirmed)")
    if confirmed:
        return DrugTestOutcome(
            test.id,
            day,
            "positive",
            True,
            f"Positive test collected {_label(day)}: {', '.join(confirmed)}",
        )
    if presumptive:
        return DrugTestOutcome(
            test.id,
            day,
            "presumptive",
            True,
            f"Presumptive positive collected {_label(day)}: {', '.join(presumptive)}",
        )
    if test.collection_status == "dilute":
        counts = policy.dilute_counts_as_positive
        tail = " (counts as positive under program policy)" if counts else ""
        return DrugTestOutcome(
            test.id, day, "dilute", counts, f"Dilute specimen collected {_label(day)}{tail}"
        )
    return DrugTestOutcome(
        test.id, day, "negative", False, f"Negative test collected {_label(day)}"
    )


def _hours(minutes: int) -> Decimal:
    return (Decimal(minutes) / 60).quantize(Decimal("0.01"))


def evaluate(
    *,
    admitted_on: date,
    discharged_on: date | None,
    phases: Sequence[Phase],
    attendance: Iterable[AttendanceFact],
    tests: Iterable[DrugTestFact],
    policy: Policy,
    period_start: date,
    period_end: date,
    as_of: date | None = None,
) -> Evaluation:
    tz = ZoneInfo(policy.time_zone)
    by_week_att: dict[date, list[AttendanceFact]] = {}
    for a in sorted(attendance, key=lambda a: (a.occurred_at, a.id)):
        by_week_att.setdefault(
            week_start(_day(a.occurred_at, tz), policy.week_starts_on), []
        ).append(a)
    outcomes = sorted(
        (drug_test_outcome(t, tz, policy) for t in tests), key=lambda o: (o.day, o.test_id)
    )
    by_week_tests: dict[date, list[DrugTestOutcome]] = {}
    for o in outcomes:
        by_week_tests.setdefault(week_start(o.day, policy.week_starts_on), []).append(o)

    weeks = []
    start = week_start(max(period_start, admitted_on), policy.week_starts_on)
    last = min(period_end, discharged_on or period_end)
    while start <= last:
        weeks.append(
            _week(
                start,
                phases,
                by_week_att.get(start, []),
                by_week_tests.get(start, []),
                policy,
                admitted_on,
                discharged_on,
            )
        )
        start += timedelta(days=7)

    required = sum((w.required_hours for w in weeks), Decimal(0))
    attended = sum((w.attended_hours for w in weeks), Decimal(0))
    counted = [o for o in outcomes if period_start <= o.day <= period_end]
    judged = [o for o in counted if o.outcome != "dilute" or o.counts_positive]
    negatives = [o for o in judged if not o.counts_positive]
    streak = best = 0
    for o in judged:
        streak = 0 if o.counts_positive else streak + 1
        best = max(best, streak)
    positives = [o.day for o in counted if o.counts_positive]
    as_of = as_of or period_end
    recent_weeks = [w for w in weeks if w.status != "no_requirement"][
        -policy.stepdown_compliant_weeks :
    ]
    recent_tests = judged[-policy.stepdown_consecutive_negative_tests :]
    meets = (
        len(recent_weeks) == policy.stepdown_compliant_weeks
        and all(w.status == "compliant" for w in recent_weeks)
        and len(recent_tests) == policy.stepdown_consecutive_negative_tests
        and not any(o.counts_positive for o in recent_tests)
    )
    current = phase_for(phases, week_start(as_of, policy.week_starts_on))
    return Evaluation(
        weeks=tuple(weeks),
        attendance_rate=(attended / required).quantize(Decimal("0.001")) if required else None,
        negative_share=(Decimal(len(negatives)) / len(judged)).quantize(Decimal("0.001"))
        if judged
        else None,
        days_since_last_positive=(as_of - max(positives)).days if positives else None,
        longest_negative_streak=best,
        current_phase=current.name if current else None,
        meets_stepdown=meets,
    )


def _week(
    start: date,
    phases: Sequence[Phase],
    attendance: list[AttendanceFact],
    outcomes: list[DrugTestOutcome],
    policy: Policy,
    admitted_on: date,
    discharged_on: date | None,
) -> WeekResult:
    end = start + timedelta(days=6)
    tz = ZoneInfo(policy.time_zone)
    phase = phase_for(phases, start)
    minutes = 0
    attended_types: dict[str, int] = {}
    excused = unexcused = 0
    reasons: list[Reason] = []
    for a in attendance:
        day = _day(a.occurred_at, tz)
        if a.status in PRESENT_STATUSES:
            minutes += a.minutes_attended
            attended_types[a.session_type] = attended_types.get(a.session_type, 0) + 1
        elif a.status == "absent_excused":
            excused += 1
            if policy.excused_absence_counts_toward_hours:
                minutes += a.scheduled_minutes
                attended_types[a.session_type] = attended_types.get(a.session_type, 0) + 1
        elif a.status == "absent_unexcused":
            unexcused += 1
            reasons.append(
                Reason(
                    f"Unexcused absence from {a.session_type.replace('_', ' ')} "
                    f"session {_label(day)}",
                    (f"attendance:{a.id}",),
                )
            )
    hours = _hours(minutes)
    required_sessions = dict(phase.sessions_per_week) if phase else {}
    required_hours = phase.hours_per_week if phase else Decimal(0)
    tests_required = phase.tests_per_week if phase else 0
    collected = sum(1 for o in outcomes if o.outcome not in ("missed", "refused"))
    for o in outcomes:
        if o.counts_positive:
            reasons.append(Reason(o.detail, (f"drug_test:{o.test_id}",)))
    if phase:
        if hours < required_hours:
            reasons.insert(
                0, Reason(f"Attended {_fmt(hours)} of {_fmt(required_hours)} required hours")
            )
        for kind, needed in sorted(required_sessions.items()):
            got = attended_types.get(kind, 0)
            if got < needed:
                reasons.append(
                    Reason(
                        f"Attended {got} of {needed} required "
                        f"{kind.replace('_', ' ')} session{'s' if needed != 1 else ''}"
                    )
                )
        if collected < tests_required:
            reasons.append(
                Reason(
                    f"{collected} of {tests_required} required drug "
                    f"test{'s' if tests_required != 1 else ''} collected"
                )
            )
    partial = admitted_on > start or (discharged_on is not None and discharged_on < end)
    if phase is None or (required_hours == 0 and not required_sessions and not tests_required):
        status = "no_requirement"
    elif partial:
        status = "partial"
    else:
        status = "non_compliant" if reasons else "compliant"
    return WeekResult(
        start=start,
        end=end,
        phase=phase.name if phase else None,
        status=status,
        required_hours=required_hours,
        attended_hours=hours,
        sessions_required=required_sessions,
        sessions_attended=attended_types,
        excused_absences=excused,
        unexcused_absences=unexcused,
        tests_required=tests_required,
        tests_collected=collected,
        tests=tuple(outcomes),
        reasons=tuple(reasons),
    )


def _fmt(hours: Decimal) -> str:
    return format(hours.normalize(), "f")
