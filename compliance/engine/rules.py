"""The compliance engine: plain records in, week-by-week judgement out. No I/O.

For each calendar week (in the program's time zone, starting on the program's chosen
day) it compares what the mandate's phase requires with what the records show, and
says why a week is not compliant in sentences that point at the records behind them:
one reason per event, so an unexcused absence is not also counted as the hours and the
session it cost. The same records in any order give the same result.

Only what has happened is judged (DOMAIN.md, "Time"): the engine is always told the day
it judges on (``as_of``). A week starting after it is "not_yet_due" and counts nowhere;
the week holding it is "in_progress", non-compliant only on events already known.

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
    # Off (the default): a screen positive awaiting confirmation is pending, neither a
    # violation nor a reason; on: it counts as positive until confirmed or reviewed.
    presumptive_counts_before_confirmation: bool = False
    excused_absence_counts_toward_hours: bool = False
    stepdown_compliant_weeks: int = 4
    stepdown_consecutive_negative_tests: int = 6
    # Off (the default): a missed check-in is recorded for staff and counts for nothing;
    # on: it makes its week not compliant and is a violation.
    missed_check_in_counts: bool = False


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
    member_of: str = ""  # the immunoassay class (key) whose screen this drug confirms


@dataclass(slots=True)
class DrugTestFact:
    id: int
    collection_status: str
    reason: str
    collected_at: datetime | None
    called_at: datetime | None = None
    analytes: tuple[AnalyteFact, ...] = ()


@dataclass(slots=True)
class CheckInMissFact:
    """A drawn day the participant did not check in on by ``due_by`` (not excused)."""

    id: int
    day: date  # the draw's day, on the program's clock
    due_by: datetime


@dataclass(slots=True)
class Reason:
    text: str
    refs: tuple[str, ...] = ()  # "attendance:12", "drug_test:5"
    # The consent category the sentence discloses: a report leaves it out unless covered.
    topic: str = "attendance"  # or "drug_tests"
    # What kind of fact it is (REASON_KINDS) and the local day it happened: a report lists
    # the period's events by date and says how each one counts.
    kind: str = "hours"
    day: date | None = None


# What each kind of reason is and how it counts, in a reader's words.
REASON_KINDS = {
    "absence": "makes the week not compliant",
    "hours": "required hours not met",
    "sessions": "required sessions not met",
    "tests_short": "required tests not collected",
    "positive": "a positive test",
    "presumptive": "counts as positive until confirmed or reviewed (program policy)",
    "missed": "counts as a positive test",
    "refused": "counts as a positive test",
    "adulterated": "counts as a positive test",
    "substituted": "counts as a positive test",
    "dilute": "counts as positive under program policy",
    "missed_check_in": "counts against the week under program policy",
}


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
    # Exact figures (hours above are rounded to 0.01): a report prints h:mm from these.
    attended_minutes: int = 0
    required_minutes: int = 0


@dataclass(slots=True)
class PeriodCounts:
    """Counts over the period's full weeks (``is_full``: partial, in-progress and
    not-yet-due weeks are left out, so nothing is required that was not yet due)."""

    weeks_judged: int = 0
    weeks_compliant: int = 0
    attended_minutes: int = 0
    required_minutes: int = 0
    sessions_attended: dict[str, int] = field(default_factory=dict)
    sessions_required: dict[str, int] = field(default_factory=dict)
    excused_absences: int = 0
    unexcused_absences: int = 0
    tests_required: int = 0
    tests_collected: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)  # negative, positive, missed ...


@dataclass(slots=True)
class Evaluation:
    weeks: tuple[WeekResult, ...]
    attendance_rate: Decimal | None  # attended / required hours over the judged weeks
    negative_share: Decimal | None  # negative tests / tests with an outcome
    days_since_last_positive: int | None
    longest_negative_streak: int
    current_phase: str | None
    meets_stepdown: bool
    violations: tuple[Violation, ...] = ()
    as_of: date | None = None  # the day judged on: min(period end, today)
    counts: PeriodCounts = field(default_factory=PeriodCounts)
    last_positive: DrugTestOutcome | None = None
    # The step-down criteria not met yet, in words ("4 compliant weeks in a row: 2 so far").
    stepdown_unmet: tuple[str, ...] = ()
    # Presumptive positives the program's policy does not count before confirmation, up
    # to the day judged on: awaiting the lab, they count for nothing yet.
    pending: tuple[DrugTestOutcome, ...] = ()
    # The last day that is over: the period's end, or the day before the day judged on
    # when the period reaches it (that day is not over yet). A week ending later is in
    # progress and is not counted among the judged weeks.
    over_by: date | None = None


@dataclass(slots=True)
class Violation:
    """An event an officer is told about once: a test counted positive (a presumptive
    one only when the program's policy counts it) or an unexcused absence. ``ref`` names
    the record version behind it."""

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
    # A class screen (opiates) is settled by its members' confirmations (morphine, codeine).
    settled = {
        a.member_of
        for a in test.analytes
        if a.member_of and (a.confirmation is not None or a.mro is not None)
    }
    for a in test.analytes:
        if a.mro is not None:
            if a.mro == "positive":
                confirmed.append(f"{a.name} (verified by the MRO)")
            continue
        if a.confirmation == "positive":
            method = f" by {a.confirmation_method}" if a.confirmation_method else ""
            confirmed.append(f"{a.name} (confirmed{method})")
        elif a.screen == "positive" and a.confirmation is None and a.key not in settled:
            presumptive.append(a.name)
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
            policy.presumptive_counts_before_confirmation,
            f"Presumptive positive collected {_label(day)}, pending confirmation: "
            + ", ".join(presumptive),
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
    "presumptive": "presumptive_positive",  # likewise
}


# The reason kind behind each violation kind: one "how it counts" for both.
VIOLATION_REASONS = {kind: outcome for outcome, kind in VIOLATION_KINDS.items()} | {
    "unexcused_absence": "absence",
    "missed_check_in": "missed_check_in",
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
    as_of: date,
    missed_check_ins: Iterable[CheckInMissFact] = (),
) -> Evaluation:
    """Judge the period as it stood on ``as_of`` (the program's local today, or an
    earlier day): records after that day are not yet known, weeks starting after it are
    not yet due, and the week holding it is judged only on events so far. Missed
    check-ins count only under the program's policy."""
    tz = ZoneInfo(policy.time_zone)
    first_day = policy.week_starts_on
    judged_on = min(period_end, as_of)
    over_by = min(period_end, as_of - timedelta(days=1))
    by_week_att = _attendance_by_week(attendance, tz, first_day, as_of)
    outcomes = [o for t in tests if (o := drug_test_outcome(t, tz, policy)).day <= as_of]
    outcomes.sort(key=_OUTCOME_ORDER)
    by_week_tests: dict[date, list[DrugTestOutcome]] = {}
    for o in outcomes:
        key = week_start(o.day, first_day)
        if key in by_week_tests:
            by_week_tests[key].append(o)
        else:
            by_week_tests[key] = [o]
    by_week_misses: dict[date, list[CheckInMissFact]] = {}
    if policy.missed_check_in_counts:
        last_day = min(as_of, discharged_on or as_of)
        for m in missed_check_ins:
            if admitted_on <= m.day <= last_day:
                by_week_misses.setdefault(week_start(m.day, first_day), []).append(m)

    ordered_phases = sorted(
        (p for p in phases if p.started_on), key=lambda p: (p.started_on, p.sequence)
    )
    weeks = []
    violations: list[Violation] = []
    start = week_start(max(period_start, admitted_on), first_day)
    last = min(period_end, discharged_on or period_end)
    while start <= last:
        phase = _phase_in(ordered_phases, start)
        if start > as_of:
            weeks.append(_not_yet_due(start, phase))
        else:
            weeks.append(
                _week(
                    start,
                    phase,
                    by_week_att.get(start, ()),
                    by_week_tests.get(start, ()),
                    policy,
                    admitted_on,
                    discharged_on,
                    violations,
                    over_by,
                    by_week_misses.get(start, ()),
                )
            )
        start += timedelta(days=7)

    counts = _counts(weeks, over_by)
    counted = [o for o in outcomes if period_start <= o.day <= judged_on]
    # A dilute or presumptive the policy does not count is neither negative nor positive.
    judged = [o for o in counted if o.outcome not in UNJUDGED or o.counts_positive]
    negatives = sum(1 for o in judged if not o.counts_positive)
    positives = [o for o in counted if o.counts_positive]
    unmet = _stepdown_unmet(weeks, judged, policy)
    current = _phase_in(ordered_phases, week_start(judged_on, first_day))
    return Evaluation(
        weeks=tuple(weeks),
        attendance_rate=(
            (Decimal(counts.attended_minutes) / counts.required_minutes).quantize(Decimal("0.001"))
            if counts.required_minutes
            else None
        ),
        negative_share=(Decimal(negatives) / len(judged)).quantize(Decimal("0.001"))
        if judged
        else None,
        days_since_last_positive=(judged_on - positives[-1].day).days if positives else None,
        longest_negative_streak=_longest_negative_run(judged),
        current_phase=current.name if current else None,
        meets_stepdown=not unmet,
        violations=tuple(violations),
        as_of=judged_on,
        counts=counts,
        last_positive=positives[-1] if positives else None,
        stepdown_unmet=unmet,
        pending=tuple(o for o in counted if o.outcome == "presumptive" and not o.counts_positive),
        over_by=over_by,
    )


def _attendance_by_week(
    attendance: Iterable[AttendanceFact], tz: ZoneInfo, first_day: int, as_of: date
) -> dict[date, list[AttendanceFact]]:
    """Attendance known by ``as_of``, by the start of its week on the program's clock."""
    by_week: dict[date, list[AttendanceFact]] = {}
    for a in attendance:
        if _day(a.occurred_at, tz) > as_of:
            continue
        key = _week_of(a.occurred_at, tz, first_day)
        if key in by_week:
            by_week[key].append(a)
        else:
            by_week[key] = [a]
    return by_week


def _longest_negative_run(judged: Sequence[DrugTestOutcome]) -> int:
    """The most judged tests in a row, in date order, none counting as positive."""
    streak = best = 0
    for o in judged:
        if o.counts_positive:
            streak = 0
        else:
            streak += 1
            best = max(best, streak)
    return best


_OUTCOME_ORDER = attrgetter("day", "test_id")
UNJUDGED = frozenset(("dilute", "presumptive"))  # unless the policy counts them
JUDGED = frozenset(("compliant", "non_compliant"))


def is_full(week: WeekResult, over_by: date | None) -> bool:
    """A week judged whole: compliant or not, and over by ``over_by`` (an evaluation's
    ``over_by``; a week in progress can already be non-compliant, but is not full)."""
    return week.status in JUDGED and (over_by is None or week.end <= over_by)


def _counts(weeks: Sequence[WeekResult], over_by: date) -> PeriodCounts:
    c = PeriodCounts()
    for w in weeks:
        if not is_full(w, over_by):
            continue
        c.weeks_judged += 1
        c.weeks_compliant += w.status == "compliant"
        c.attended_minutes += w.attended_minutes
        c.required_minutes += w.required_minutes
        for kind, n in w.sessions_attended.items():
            c.sessions_attended[kind] = c.sessions_attended.get(kind, 0) + n
        for kind, n in w.sessions_required.items():
            c.sessions_required[kind] = c.sessions_required.get(kind, 0) + n
        c.excused_absences += w.excused_absences
        c.unexcused_absences += w.unexcused_absences
        c.tests_required += w.tests_required
        c.tests_collected += w.tests_collected
        for o in w.tests:
            c.outcomes[o.outcome] = c.outcomes.get(o.outcome, 0) + 1
    return c


def _stepdown_unmet(
    weeks: Sequence[WeekResult], judged: Sequence[DrugTestOutcome], policy: Policy
) -> tuple[str, ...]:
    """The step-down criteria still unmet, each with how far along the client is: the
    last N judged weeks compliant and the last M tests negative."""
    unmet = []
    need_weeks = policy.stepdown_compliant_weeks
    need_tests = policy.stepdown_consecutive_negative_tests
    run = 0
    for w in reversed(weeks):
        if w.status not in JUDGED:
            continue
        if w.status != "compliant":
            break
        run += 1
    if run < need_weeks:
        unmet.append(f"{need_weeks} compliant weeks in a row ({run} so far)")
    negatives = 0
    for o in reversed(judged):
        if o.counts_positive:
            break
        negatives += 1
    if negatives < need_tests:
        unmet.append(f"{need_tests} negative tests in a row ({negatives} so far)")
    return tuple(unmet)


def _not_yet_due(start: date, phase: Phase | None) -> WeekResult:
    """A week that has not started: shown, never judged, counted nowhere."""
    return WeekResult(
        start,
        start + SIX_DAYS,
        phase.name if phase else None,
        "not_yet_due",
        phase.hours_per_week if phase else ZERO,
        ZERO,
        phase.sessions_per_week if phase else {},
        {},
        0,
        0,
        phase.tests_per_week if phase else 0,
        0,
        (),
        (),
        0,
        _minutes(phase.hours_per_week) if phase else 0,
    )


_ABSENCE_ORDER = attrgetter("occurred_at", "id")


def _absence(a: AttendanceFact, day: date) -> str:
    return f"Unexcused absence from {session_words(a.session_type)} session {_label(day)}"


def session_words(kind: str) -> str:
    """A session type as a reader says it: "twelve_step" is a "12-step" session."""
    return "12-step" if kind == "twelve_step" else kind.replace("_", " ")


def _minutes(hours: Decimal) -> int:
    return int((hours * 60).to_integral_value())


def hm(minutes: int) -> str:
    """Hours as h:mm, the way people read durations (470 minutes: 7:50, not 7.83)."""
    return f"{minutes // 60}:{minutes % 60:02d}"


def _week(
    start: date,
    phase: Phase | None,
    attendance: Sequence[AttendanceFact],
    outcomes: Sequence[DrugTestOutcome],
    policy: Policy,
    admitted_on: date,
    discharged_on: date | None,
    violations: list[Violation],
    over_by: date,
    misses: Sequence[CheckInMissFact] = (),
) -> WeekResult:
    """One week's judgement; appends the week's violations to ``violations``.

    A week not over by ``over_by`` (this week, its last day included, or one the period
    cuts) cannot fall short of its hours, sessions or tests yet: it is "in_progress", or
    "non_compliant" only when a violation (an unexcused absence, a positive or missed
    test) has already happened, and only those reasons are given.

    One event, one reason: hours or sessions short only by what unexcused absences cost,
    or tests short only by tests missed or refused, add no reason of their own."""
    end = start + SIX_DAYS
    minutes, types, excused, absences = _attended(attendance, policy)
    reasons: list[Reason] = []
    absent = _absences(absences, policy, reasons, violations) if absences else _NONE_ABSENT
    collected, not_collected = _tests_taken(outcomes, reasons, violations)
    if misses:
        _check_ins_missed(misses, reasons, violations)
    required_sessions = phase.sessions_per_week if phase else {}
    required_hours = phase.hours_per_week if phase else ZERO
    required_minutes = _minutes(required_hours)
    tests_required = phase.tests_per_week if phase else 0
    if phase:
        short = _attendance_short(
            phase, minutes, types, excused, absent, required_minutes, policy, end
        )
        if short is not None:
            reasons.insert(0, short)
        if collected + not_collected < tests_required:
            reasons.append(_tests_short(collected, tests_required, end))
    partial = admitted_on > start or (discharged_on is not None and discharged_on < end)
    if phase is None or (required_hours == 0 and not required_sessions and not tests_required):
        status = "no_requirement"
    elif partial:
        status = "partial"
    elif end > over_by:
        reasons = [r for r in reasons if r.refs]  # only what has happened yet
        status = "non_compliant" if reasons else "in_progress"
    else:
        status = "non_compliant" if reasons else "compliant"
    return WeekResult(  # positional: a caseload builds 130,000 of these
        start,
        end,
        phase.name if phase else None,
        status,
        required_hours,
        _hours(minutes),
        required_sessions,
        types,
        excused,
        len(absences),
        tests_required,
        collected,
        tuple(outcomes),
        tuple(reasons),
        minutes,
        required_minutes,
    )


_NONE_ABSENT: tuple[int, dict[str, int]] = (0, {})


def _attended(
    attendance: Sequence[AttendanceFact], policy: Policy
) -> tuple[int, dict[str, int], int, list[AttendanceFact]]:
    """A week's attendance tallied: the minutes and sessions that count, the excused
    absences, and the unexcused ones (each a reason and a violation of its own)."""
    minutes = excused = 0
    types: dict[str, int] = {}
    absences: list[AttendanceFact] = []
    for a in attendance:
        status = a.status
        if status in PRESENT_STATUSES:
            minutes += a.minutes_attended
            types[a.session_type] = types.get(a.session_type, 0) + 1
        elif status == "absent_excused":
            excused += 1
            if policy.excused_absence_counts_toward_hours:
                minutes += a.scheduled_minutes
                types[a.session_type] = types.get(a.session_type, 0) + 1
        elif status == "absent_unexcused":
            absences.append(a)
    return minutes, types, excused, absences


def _absences(
    absences: list[AttendanceFact],
    policy: Policy,
    reasons: list[Reason],
    violations: list[Violation],
) -> tuple[int, dict[str, int]]:
    """A reason and a violation per unexcused absence; the minutes and sessions they
    cost (a week short by no more than that gives no second reason)."""
    minutes = 0
    types: dict[str, int] = {}
    absences.sort(key=_ABSENCE_ORDER)
    tz = ZoneInfo(policy.time_zone)
    for a in absences:
        day = _day(a.occurred_at, tz)
        text, ref = _absence(a, day), f"attendance:{a.id}"
        reasons.append(Reason(text, (ref,), "attendance", "absence", day))
        violations.append(Violation("unexcused_absence", ref, a.occurred_at, text))
        minutes += a.scheduled_minutes
        types[a.session_type] = types.get(a.session_type, 0) + 1
    return minutes, types


def _tests_taken(
    outcomes: Sequence[DrugTestOutcome], reasons: list[Reason], violations: list[Violation]
) -> tuple[int, int]:
    """(collected, missed or refused); a reason, and a violation where the kind has one,
    for each test that counts as positive."""
    collected = not_collected = 0
    for o in outcomes:
        if o.outcome in ("missed", "refused"):
            not_collected += 1
        else:
            collected += 1
        if o.counts_positive:
            ref = f"drug_test:{o.test_id}"
            reasons.append(Reason(o.detail, (ref,), "drug_tests", o.outcome, o.day))
            kind = VIOLATION_KINDS.get(o.outcome)
            if kind and o.at is not None:
                violations.append(Violation(kind, ref, o.at, o.detail))
    return collected, not_collected


def _check_ins_missed(
    misses: Sequence[CheckInMissFact], reasons: list[Reason], violations: list[Violation]
) -> None:
    """A reason and a violation per day not checked in on (the policy counts them)."""
    for m in sorted(misses, key=_MISS_ORDER):
        text, ref = f"Did not check in for testing on {_label(m.day)}", f"missed_check_in:{m.id}"
        reasons.append(Reason(text, (ref,), "drug_tests", "missed_check_in", m.day))
        violations.append(Violation("missed_check_in", ref, m.due_by, text))


_MISS_ORDER = attrgetter("day", "id")


def _attendance_short(
    phase: Phase,
    minutes: int,
    types: dict[str, int],
    excused: int,
    absent: tuple[int, dict[str, int]],
    required_minutes: int,
    policy: Policy,
    end: date,
) -> Reason | None:
    """Hours and sessions short beyond what unexcused absences explain, in one sentence
    (an excused absence costs both, and is one event)."""
    absent_minutes, absent_types = absent
    short = []
    if minutes + absent_minutes < required_minutes:
        short.append(f"{hm(minutes)} of {hm(required_minutes)} required hours")
    for kind, needed in _by_type(phase):
        got = types.get(kind, 0)
        if got + absent_types.get(kind, 0) < needed:
            plural = "s" if needed != 1 else ""
            short.append(f"{got} of {needed} required {session_words(kind)} session{plural}")
    if not short:
        return None
    why = (
        f" ({excused} excused absence{'s' if excused != 1 else ''})"
        if excused and not policy.excused_absence_counts_toward_hours
        else ""
    )
    kind = "hours" if short[0].endswith("hours") else "sessions"
    return Reason("Attended " + " and ".join(short) + why, kind=kind, day=end)


def _tests_short(collected: int, required: int, end: date) -> Reason:
    return Reason(
        f"{collected} of {required} required drug test{'s' if required != 1 else ''} collected",
        topic="drug_tests",
        kind="tests_short",
        day=end,
    )


def _by_type(phase: Phase) -> list[tuple[str, int]]:
    return sorted(phase.sessions_per_week.items()) if phase.sessions_per_week else []
