"""The compliance engine: plain records in, week-by-week judgement out. No I/O.

For each calendar week (in the program's time zone, starting on the program's chosen
day) it compares what the mandate's phase requires with what the records show, and
says why a week is not compliant in sentences that point at the records behind them.
The same records in any order give the same result.

It judges whole caseloads (5,000 participants, 650,000 records) in about a second, so
the record types are slotted dataclasses (treat them as read-only; frozen ones cost
four times as much to build) and local days, week starts and date labels are cached:
a group's members share session times, and a caseload shares its dates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from operator import attrgetter
from zoneinfo import ZoneInfo

PRESENT_STATUSES = frozenset(("present", "late", "left_early"))
NOT_COLLECTED = {"no_show": "missed", "refused": "refused", "unable_to_provide": "missed"}
SPECIMEN_FAILURES = {"adulterated": "adulterated", "substituted": "substituted"}


@dataclass(slots=True)
class Policy:
    time_zone: str = "America/New_York"
    week_starts_on: int = 0  # 0 = Monday
    dilute_counts_as_positive: bool = False
    excused_absence_counts_toward_hours: bool = False
    stepdown_compliant_weeks: int = 4
    stepdown_consecutive_negative_tests: int = 6


@dataclass(slots=True)
class Phase:
    sequence: int
    name: str
    started_on: date | None
    hours_per_week: Decimal
    tests_per_week: int
    sessions_per_week: Mapping[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class AttendanceFact:
    id: int
    occurred_at: datetime
    session_type: str
    status: str
    scheduled_minutes: int
    minutes_attended: int


@dataclass(slots=True)
class AnalyteFact:
    key: str
    name: str
    screen: str  # negative / positive / invalid / not_tested
    confirmation: str | None = None
    confirmation_method: str = ""
    mro: str | None = None


@dataclass(slots=True)
class DrugTestFact:
    id: int
    collection_status: str
    reason: str
    collected_at: datetime | None
    called_at: datetime | None = None
    analytes: tuple[AnalyteFact, ...] = ()


@dataclass(slots=True)
class Reason:
    text: str
    refs: tuple[str, ...] = ()  # "attendance:12", "drug_test:5"
    # The consent category the sentence discloses: a report leaves it out unless covered.
    topic: str = "attendance"  # or "drug_tests"


@dataclass(slots=True)
class DrugTestOutcome:
    test_id: int
    day: date
    outcome: (
        str  # negative, positive, presumptive, missed, refused, dilute, adulterated, substituted
    )
    counts_positive: bool
    detail: str
    at: datetime | None = None  # when collected, or called for when not collected


@dataclass(slots=True)
class WeekResult:
    start: date
    end: date
    phase: str | None
    status: str  # compliant, non_compliant, in_progress, partial, no_requirement
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


@dataclass(slots=True)
class Evaluation:
    weeks: tuple[WeekResult, ...]
    attendance_rate: Decimal | None  # attended / required hours over the period
    negative_share: Decimal | None  # negative tests / tests with an outcome
    days_since_last_positive: int | None
    longest_negative_streak: int
    current_phase: str | None
    meets_stepdown: bool
    violations: tuple[Violation, ...] = ()


@dataclass(slots=True)
class Violation:
    """An event an officer is told about once: a test counted positive (not a presumptive
    one) or an unexcused absence. ``ref`` names the record version behind it."""

    kind: str  # a ViolationKind value
    ref: str  # "drug_test:5", "attendance:12"
    occurred_at: datetime
    description: str


@lru_cache(maxsize=1 << 17)
def _day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


@lru_cache(maxsize=1 << 17)
def _week_of(moment: datetime, tz: ZoneInfo, week_starts_on: int) -> date:
    return week_start(_day(moment, tz), week_starts_on)


@lru_cache(maxsize=1 << 14)
def week_start(day: date, week_starts_on: int) -> date:
    return day - timedelta(days=(day.weekday() - week_starts_on) % 7)


@lru_cache(maxsize=1 << 14)
def _label(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def _phase_in(ordered: Sequence[Phase], week: date) -> Phase | None:
    """``ordered``: phases with a start date, by start date then sequence."""
    found = None
    for p in ordered:
        if p.started_on <= week:  # type: ignore[operator]
            found = p
        else:
            break
    if found is not None:
        return found
    if ordered and ordered[0].started_on <= week + timedelta(days=6):  # type: ignore[operator]
        return ordered[0]
    return None


def drug_test_outcome(test: DrugTestFact, tz: ZoneInfo, policy: Policy) -> DrugTestOutcome:
    """What a test means for compliance; the MRO's verdict prevails over the lab's."""
    moment = test.collected_at or test.called_at
    day = moment.astimezone(tz).date() if moment else date.min  # test times rarely repeat
    if not test.analytes and test.collection_status == "collected":
        return DrugTestOutcome(test.id, day, "negative", False, _negative(day), moment)
    reason = test.reason.replace("_", " ")
    if test.collection_status in NOT_COLLECTED:
        kind = NOT_COLLECTED[test.collection_status]
        verb = "Refused" if kind == "refused" else "Missed"
        return DrugTestOutcome(
            test.id, day, kind, True, f"{verb} {reason} test called for {_label(day)}", moment
        )
    if test.collection_status in SPECIMEN_FAILURES:
        kind = SPECIMEN_FAILURES[test.collection_status]
        return DrugTestOutcome(
            test.id,
            day,
            kind,
            True,
            f"{kind.capitalize()} specimen collected {_label(day)}",
            moment,
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
            moment,
        )
    if presumptive:
        return DrugTestOutcome(
            test.id,
            day,
            "presumptive",
            True,
            f"Presumptive positive collected {_label(day)}: {', '.join(presumptive)}",
            moment,
        )
    if test.collection_status == "dilute":
        counts = policy.dilute_counts_as_positive
        tail = " (counts as positive under program policy)" if counts else ""
        return DrugTestOutcome(
            test.id, day, "dilute", counts, f"Dilute specimen collected {_label(day)}{tail}", moment
        )
    return DrugTestOutcome(test.id, day, "negative", False, _negative(day), moment)


@lru_cache(maxsize=1 << 14)
def _negative(day: date) -> str:
    return f"Negative test collected {_label(day)}"


@lru_cache(maxsize=4096)
def _hours(minutes: int) -> Decimal:
    return (Decimal(minutes) / 60).quantize(Decimal("0.01"))


SIX_DAYS = timedelta(days=6)
ZERO = Decimal(0)
VIOLATION_KINDS = {
    "missed": "missed_test",
    "refused": "refused_test",
    "positive": "confirmed_positive",
    "adulterated": "adulterated_specimen",
    "substituted": "substituted_specimen",
    "dilute": "dilute_specimen",  # only when policy counts it as positive
}


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
    first_day = policy.week_starts_on
    by_week_att: dict[date, list[AttendanceFact]] = {}
    for a in attendance:
        key = _week_of(a.occurred_at, tz, first_day)
        if key in by_week_att:
            by_week_att[key].append(a)
        else:
            by_week_att[key] = [a]
    outcomes = [drug_test_outcome(t, tz, policy) for t in tests]
    outcomes.sort(key=_OUTCOME_ORDER)
    by_week_tests: dict[date, list[DrugTestOutcome]] = {}
    for o in outcomes:
        key = week_start(o.day, first_day)
        if key in by_week_tests:
            by_week_tests[key].append(o)
        else:
            by_week_tests[key] = [o]

    ordered_phases = sorted(
        (p for p in phases if p.started_on), key=lambda p: (p.started_on, p.sequence)
    )
    weeks = []
    violations: list[Violation] = []
    start = week_start(max(period_start, admitted_on), first_day)
    last = min(period_end, discharged_on or period_end)
    judged_on = as_of or period_end
    while start <= last:
        weeks.append(
            _week(
                start,
                _phase_in(ordered_phases, start),
                by_week_att.get(start, ()),
                by_week_tests.get(start, ()),
                policy,
                admitted_on,
                discharged_on,
                violations,
                judged_on,
            )
        )
        start += timedelta(days=7)

    required = sum((w.required_hours for w in weeks), Decimal(0))
    attended = sum((w.attended_hours for w in weeks), Decimal(0))
    counted = [o for o in outcomes if period_start <= o.day <= period_end]
    judged = [o for o in counted if o.outcome != "dilute" or o.counts_positive]
    negatives = sum(1 for o in judged if not o.counts_positive)
    streak = best = 0
    for o in judged:
        if o.counts_positive:
            streak = 0
        else:
            streak += 1
            if streak > best:
                best = streak
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
    current = _phase_in(ordered_phases, week_start(as_of, first_day))
    return Evaluation(
        weeks=tuple(weeks),
        attendance_rate=(attended / required).quantize(Decimal("0.001")) if required else None,
        negative_share=(Decimal(negatives) / len(judged)).quantize(Decimal("0.001"))
        if judged
        else None,
        days_since_last_positive=(as_of - max(positives)).days if positives else None,
        longest_negative_streak=best,
        current_phase=current.name if current else None,
        meets_stepdown=meets,
        violations=tuple(violations),
    )


_OUTCOME_ORDER = attrgetter("day", "test_id")


def _absence(a: AttendanceFact, day: date) -> str:
    return f"Unexcused absence from {a.session_type.replace('_', ' ')} session {_label(day)}"


def _week(
    start: date,
    phase: Phase | None,
    attendance: Sequence[AttendanceFact],
    outcomes: Sequence[DrugTestOutcome],
    policy: Policy,
    admitted_on: date,
    discharged_on: date | None,
    violations: list[Violation],
    judged_on: date,
) -> WeekResult:
    """One week's judgement; appends the week's violations to ``violations``.

    A week not over on ``judged_on`` (this week, or one the period cuts) cannot fall
    short of its hours, sessions or tests yet: it is "in_progress", or "non_compliant"
    only when a violation (an unexcused absence, a positive or missed test) has already
    happened, and only those reasons are given."""
    end = start + SIX_DAYS
    minutes = 0
    attended_types: dict[str, int] = {}
    excused = 0
    absences: list[AttendanceFact] = []
    reasons: list[Reason] = []
    for a in attendance:
        status = a.status
        if status in PRESENT_STATUSES:
            minutes += a.minutes_attended
            attended_types[a.session_type] = attended_types.get(a.session_type, 0) + 1
        elif status == "absent_excused":
            excused += 1
            if policy.excused_absence_counts_toward_hours:
                minutes += a.scheduled_minutes
                attended_types[a.session_type] = attended_types.get(a.session_type, 0) + 1
        elif status == "absent_unexcused":
            absences.append(a)
    if absences:
        absences.sort(key=_ABSENCE_ORDER)
        tz = ZoneInfo(policy.time_zone)
        for a in absences:
            text, ref = _absence(a, _day(a.occurred_at, tz)), f"attendance:{a.id}"
            reasons.append(Reason(text, (ref,)))
            violations.append(Violation("unexcused_absence", ref, a.occurred_at, text))
    hours = _hours(minutes)
    required_sessions = phase.sessions_per_week if phase else {}
    required_hours = phase.hours_per_week if phase else ZERO
    tests_required = phase.tests_per_week if phase else 0
    collected = 0
    for o in outcomes:
        if o.outcome not in ("missed", "refused"):
            collected += 1
        if o.counts_positive:
            ref = f"drug_test:{o.test_id}"
            reasons.append(Reason(o.detail, (ref,), "drug_tests"))
            kind = VIOLATION_KINDS.get(o.outcome)
            if kind and o.at is not None:
                violations.append(Violation(kind, ref, o.at, o.detail))
    if phase:
        if hours < required_hours:
            reasons.insert(
                0, Reason(f"Attended {_fmt(hours)} of {_fmt(required_hours)} required hours")
            )
        for kind, needed in _by_type(phase):
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
                    f"test{'s' if tests_required != 1 else ''} collected",
                    topic="drug_tests",
                )
            )
    partial = admitted_on > start or (discharged_on is not None and discharged_on < end)
    if phase is None or (required_hours == 0 and not required_sessions and not tests_required):
        status = "no_requirement"
    elif partial:
        status = "partial"
    elif end > judged_on:
        reasons = [r for r in reasons if r.refs]
        status = "non_compliant" if reasons else "in_progress"
    else:
        status = "non_compliant" if reasons else "compliant"
    return WeekResult(  # positional: a caseload builds 130,000 of these
        start,
        end,
        phase.name if phase else None,
        status,
        required_hours,
        hours,
        required_sessions,
        attended_types,
        excused,
        len(absences),
        tests_required,
        collected,
        tuple(outcomes),
        tuple(reasons),
    )


def _by_type(phase: Phase) -> list[tuple[str, int]]:
    return sorted(phase.sessions_per_week.items()) if phase.sessions_per_week else []


_ABSENCE_ORDER = attrgetter("occurred_at", "id")


def _fmt(hours: Decimal) -> str:
    return format(hours.normalize(), "f")
