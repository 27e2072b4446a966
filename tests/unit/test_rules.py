"""The compliance engine, rule by rule (shared/DOMAIN.md), and its properties."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.engine.rules import (
    AnalyteFact,
    AttendanceFact,
    CheckInMissFact,
    DrugTestFact,
    Phase,
    Policy,
    WeekResult,
    evaluate,
)

TZ = ZoneInfo("America/Chicago")
CHICAGO = Policy(time_zone="America/Chicago")
MONDAY = date(2026, 3, 2)
PHASE1 = Phase(1, "Phase 1", MONDAY, Decimal("9"), 2, {"group": 3, "individual": 1})
NEG = (AnalyteFact("thc", "THC", "negative"), AnalyteFact("cocaine", "Cocaine", "negative"))
_ids = iter(range(1, 10**9))


def at(day: date, hour: int = 18, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def session(
    day_offset: int,
    kind: str = "group",
    status: str = "present",
    minutes: int | None = None,
    scheduled: int = 180,
    start: date = MONDAY,
    hour: int = 18,
) -> AttendanceFact:
    attended = {"present": scheduled, "absent_excused": 0, "absent_unexcused": 0}.get(
        status, minutes
    )
    return AttendanceFact(
        next(_ids),
        at(start + timedelta(days=day_offset), hour),
        kind,
        status,
        scheduled,
        attended if minutes is None else minutes,
    )


def drug_test(
    day_offset: int,
    status: str = "collected",
    analytes=NEG,
    reason: str = "random",
    start: date = MONDAY,
) -> DrugTestFact:
    moment = at(start + timedelta(days=day_offset), 8)
    collected = None if status in ("no_show", "refused", "unable_to_provide") else moment
    return DrugTestFact(next(_ids), status, reason, collected, moment, tuple(analytes))


FULL_WEEK = [session(0), session(2), session(3), session(1, "individual", scheduled=60)]
TWO_TESTS = [drug_test(1), drug_test(4)]


def week(
    attendance=FULL_WEEK,
    tests=TWO_TESTS,
    policy=CHICAGO,
    admitted=MONDAY - timedelta(days=7),
    phases=(PHASE1,),
):
    result = evaluate(
        admitted_on=admitted,
        discharged_on=None,
        phases=phases,
        attendance=attendance,
        tests=tests,
        policy=policy,
        period_start=MONDAY,
        period_end=MONDAY + timedelta(days=6),
        as_of=MONDAY + timedelta(days=7),  # the week is over
    )
    return result.weeks[-1]


def texts(w) -> list[str]:
    return [r.text for r in w.reasons]


def test_a_full_week_is_compliant() -> None:
    w = week()
    assert (w.status, w.attended_hours, w.required_hours) == ("compliant", Decimal("10.00"), 9)
    assert w.sessions_attended == {"group": 3, "individual": 1} and w.reasons == ()


@pytest.mark.parametrize(
    ("change", "status", "reasons"),
    [
        (
            [
                session(0),
                session(2, status="left_early", minutes=60),
                session(3),
                session(1, "individual", scheduled=60),
            ],
            "non_compliant",
            ["Attended 8:00 of 9:00 required hours"],
        ),
        (
            [
                session(0),
                session(2, status="absent_unexcused"),
                session(3),
                session(1, "individual", scheduled=60),
            ],
            "non_compliant",
            # One event, one reason: the hours and the group session it cost are not
            # reasons of their own.
            ["Unexcused absence from group session Wed 4 Mar"],
        ),
        (
            [
                session(0),
                session(2, status="late", minutes=150),
                session(3),
                session(1, "individual", scheduled=60),
            ],
            "compliant",
            [],
        ),
        (
            [session(0), session(2), session(3)],
            "non_compliant",
            ["Attended 0 of 1 required individual session"],
        ),
    ],
)
def test_hours_sessions_and_absences(change, status, reasons) -> None:
    w = week(attendance=change)
    assert w.status == status
    assert texts(w) == reasons


def test_excused_absence_counts_toward_hours_only_if_policy_says_so() -> None:
    attendance = [
        session(0),
        session(2, status="absent_excused"),
        session(3),
        session(1, "individual", scheduled=60),
        session(5, "education", scheduled=60),
    ]
    strict = week(attendance=attendance)
    assert strict.status == "non_compliant" and strict.excused_absences == 1
    # One event, one reason: the hours and the session the excused absence cost.
    assert texts(strict) == [
        "Attended 8:00 of 9:00 required hours and 2 of 3 required group sessions "
        "(1 excused absence)"
    ]
    lenient = week(
        attendance=attendance,
        policy=Policy(time_zone="America/Chicago", excused_absence_counts_toward_hours=True),
    )
    assert lenient.status == "compliant"


COCAINE_CONFIRMED = (AnalyteFact("cocaine", "Cocaine", "positive", "positive", "GC-MS"),)
THC_SCREEN = (AnalyteFact("thc", "THC", "positive"),)
CODEINE_MRO_NEG = (
    AnalyteFact("codeine", "Codeine", "positive", "positive", "LC-MS/MS", "negative"),
)


@pytest.mark.parametrize(
    ("tests", "outcomes", "reasons"),
    [
        (
            [drug_test(1, "no_show"), drug_test(4)],
            ["missed", "negative"],
            ["Missed random test called for Tue 3 Mar"],
        ),
        (
            [drug_test(1, "refused"), drug_test(4)],
            ["refused", "negative"],
            ["Refused random test called for Tue 3 Mar"],
        ),
        (
            [drug_test(1, analytes=COCAINE_CONFIRMED), drug_test(4)],
            ["positive", "negative"],
            ["Positive test collected Tue 3 Mar: Cocaine (confirmed by GC-MS)"],
        ),
        # Pending confirmation: by default it counts for nothing yet (see the policy below).
        ([drug_test(1, analytes=THC_SCREEN), drug_test(4)], ["presumptive", "negative"], []),
        ([drug_test(1, analytes=CODEINE_MRO_NEG), drug_test(4)], ["negative", "negative"], []),
        (
            [drug_test(1, "adulterated"), drug_test(4)],
            ["adulterated", "negative"],
            ["Adulterated specimen collected Tue 3 Mar"],
        ),
        (
            [drug_test(1, "substituted"), drug_test(4)],
            ["substituted", "negative"],
            ["Substituted specimen collected Tue 3 Mar"],
        ),
        ([drug_test(1, "dilute"), drug_test(4)], ["dilute", "negative"], []),
        ([drug_test(1)], ["negative"], ["1 of 2 required drug tests collected"]),
    ],
)
def test_drug_test_outcomes(tests, outcomes, reasons) -> None:
    w = week(tests=tests)
    assert [t.outcome for t in w.tests] == outcomes
    assert texts(w) == reasons
    assert w.status == ("non_compliant" if reasons else "compliant")
    assert all(r.refs for r in w.reasons if "test" in r.text and "required" not in r.text)


def test_dilute_counts_as_positive_when_the_program_says_so() -> None:
    w = week(
        tests=[drug_test(1, "dilute"), drug_test(4)],
        policy=Policy(time_zone="America/Chicago", dilute_counts_as_positive=True),
    )
    assert texts(w) == [
        "Dilute specimen collected Tue 3 Mar (counts as positive under program policy)"
    ]


COUNTING = Policy(time_zone="America/Chicago", presumptive_counts_before_confirmation=True)
PRESUMPTIVE = "Presumptive positive collected Tue 3 Mar, pending confirmation: THC"


def test_a_presumptive_positive_is_pending_unless_the_program_counts_it() -> None:
    """Off (the default): the week is judged without it and it is listed as pending,
    neither negative nor positive. On: a reason and a violation of its own kind, in the
    same words, until the lab confirms it or an MRO reviews it."""
    tests = [drug_test(1, analytes=THC_SCREEN), drug_test(4)]
    pending = run(FULL_WEEK, tests)
    first = pending.weeks[0]
    assert first.status == "compliant" and texts(first) == []
    assert [(o.outcome, o.counts_positive, o.detail) for o in pending.pending] == [
        ("presumptive", False, PRESUMPTIVE)
    ]
    assert pending.violations == () and pending.last_positive is None
    assert pending.negative_share == Decimal("1.000")  # the one judged test, negative
    counting = run(FULL_WEEK, tests, COUNTING)
    first = counting.weeks[0]
    assert first.status == "non_compliant" and texts(first) == [PRESUMPTIVE]
    assert [r.kind for r in first.reasons] == ["presumptive"]
    assert [(v.kind, v.description) for v in counting.violations] == [
        ("presumptive_positive", PRESUMPTIVE)
    ]
    assert counting.pending == () and counting.negative_share == Decimal("0.500")
    # Confirmed, it is a positive under either policy; confirmed negative, a negative.
    confirmed = (AnalyteFact("thc", "THC", "positive", "positive", "GC-MS"),)
    cleared = (AnalyteFact("thc", "THC", "positive", "negative", "GC-MS"),)
    for policy in (CHICAGO, COUNTING):
        done = run(FULL_WEEK, [drug_test(1, analytes=confirmed), drug_test(4)], policy)
        assert [v.kind for v in done.violations] == ["confirmed_positive"] and not done.pending
        clean = run(FULL_WEEK, [drug_test(1, analytes=cleared), drug_test(4)], policy)
        assert clean.weeks[0].status == "compliant" and not clean.violations


def test_a_missed_check_in_counts_only_when_the_program_says_so() -> None:
    """Off (the default): a compliant week stays compliant. On: one reason and one
    violation per day not checked in on, in the drug-testing topic; a miss after the day
    judged on is not known yet."""
    misses = [
        CheckInMissFact(7, MONDAY + timedelta(days=2), at(MONDAY + timedelta(days=2), 14)),
        CheckInMissFact(8, MONDAY + timedelta(days=9), at(MONDAY + timedelta(days=9), 14)),
    ]

    off = _evaluation_on(7, FULL_WEEK, TWO_TESTS, CHICAGO, misses)
    assert off.weeks[0].status == "compliant" and off.violations == ()
    counting = Policy(time_zone="America/Chicago", missed_check_in_counts=True)
    on = _evaluation_on(7, FULL_WEEK, TWO_TESTS, counting, misses)
    [reason] = on.weeks[0].reasons
    assert on.weeks[0].status == "non_compliant"
    assert (reason.text, reason.kind, reason.topic, reason.refs) == (
        "Did not check in for testing on Wed 4 Mar",
        "missed_check_in",
        "drug_tests",
        ("missed_check_in:7",),
    )
    assert [(v.kind, v.ref) for v in on.violations] == [("missed_check_in", "missed_check_in:7")]
    before = _evaluation_on(1, FULL_WEEK, TWO_TESTS, counting, misses)  # Tuesday: not yet
    # Discharged on the Tuesday: the Wednesday miss is after the enrolment, never judged.
    tuesday = MONDAY + timedelta(days=1)
    discharged = _evaluation_on(7, FULL_WEEK, TWO_TESTS, counting, misses, tuesday)
    assert discharged.violations == ()
    assert before.weeks[0].status == "in_progress" and before.violations == ()


def test_partial_weeks_and_weeks_without_a_requirement() -> None:
    assert week(admitted=MONDAY + timedelta(days=2)).status == "partial"
    later = replace(PHASE1, started_on=MONDAY + timedelta(days=14))
    assert week(phases=(later,)).status == "no_requirement"


def test_a_late_sunday_session_belongs_to_its_local_week_across_dst() -> None:
    # DST began Sun 8 Mar 2026 in Chicago; 23:30 that Sunday is 05:30 UTC Monday.
    sunday_late = session(6, "education", scheduled=60, hour=23)
    result = evaluate(
        admitted_on=MONDAY,
        discharged_on=None,
        phases=(PHASE1,),
        attendance=[sunday_late],
        tests=[],
        policy=Policy(time_zone="America/Chicago"),
        period_start=MONDAY,
        period_end=MONDAY + timedelta(days=13),
        as_of=MONDAY + timedelta(days=14),
    )
    first, second = result.weeks
    assert first.sessions_attended == {"education": 1} and second.sessions_attended == {}
    assert first.end == date(2026, 3, 8)
    sunday_first = Policy(time_zone="America/Chicago", week_starts_on=6)
    shifted = evaluate(
        admitted_on=MONDAY,
        discharged_on=None,
        phases=(PHASE1,),
        attendance=[sunday_late],
        tests=[],
        policy=sunday_first,
        period_start=MONDAY,
        period_end=MONDAY + timedelta(days=13),
        as_of=MONDAY + timedelta(days=14),
    )
    assert shifted.weeks[1].start == date(2026, 3, 8) and shifted.weeks[1].sessions_attended


def test_period_summary_and_step_down() -> None:
    weeks = 5
    attendance = [
        s
        for n in range(weeks)
        for s in [
            session(0, start=MONDAY + timedelta(weeks=n)),
            session(2, start=MONDAY + timedelta(weeks=n)),
            session(3, start=MONDAY + timedelta(weeks=n)),
            session(1, "individual", scheduled=60, start=MONDAY + timedelta(weeks=n)),
        ]
    ]
    tests = [drug_test(d, start=MONDAY + timedelta(weeks=n)) for n in range(weeks) for d in (1, 4)]
    tests[1] = drug_test(4, analytes=COCAINE_CONFIRMED)
    result = evaluate(
        admitted_on=MONDAY,
        discharged_on=None,
        phases=(PHASE1,),
        attendance=attendance,
        tests=tests,
        policy=Policy(time_zone="America/Chicago"),
        period_start=MONDAY,
        period_end=MONDAY + timedelta(weeks=weeks) - timedelta(days=1),
        as_of=MONDAY + timedelta(weeks=weeks),
    )
    assert [w.status for w in result.weeks] == ["non_compliant"] + ["compliant"] * 4
    assert result.attendance_rate == Decimal("1.111")
    assert result.negative_share == Decimal("0.900")
    assert result.days_since_last_positive == 30  # Fri 6 Mar to Sun 5 Apr
    assert result.longest_negative_streak == 8
    assert result.current_phase == "Phase 1" and result.meets_stepdown is True


# --- properties -----------------------------------------------------------------------

statuses = st.sampled_from(["present", "late", "left_early", "absent_excused", "absent_unexcused"])
kinds = st.sampled_from(["group", "individual", "family", "education"])
collection = st.sampled_from(
    ["collected", "collected", "no_show", "refused", "dilute", "adulterated"]
)


@st.composite
def records(draw: st.DrawFn) -> tuple[list[AttendanceFact], list[DrugTestFact]]:
    att = [
        session(
            draw(st.integers(0, 27)),
            draw(kinds),
            s := draw(statuses),
            draw(st.integers(0, 180)) if s in ("late", "left_early") else None,
            hour=draw(st.integers(0, 23)),
        )
        for _ in range(draw(st.integers(0, 20)))
    ]
    tst = [
        drug_test(
            draw(st.integers(0, 27)),
            draw(collection),
            draw(st.sampled_from([NEG, COCAINE_CONFIRMED, THC_SCREEN, CODEINE_MRO_NEG])),
        )
        for _ in range(draw(st.integers(0, 10)))
    ]
    return att, tst


def run(att, tst, policy=CHICAGO):
    return evaluate(
        admitted_on=MONDAY,
        discharged_on=None,
        phases=(PHASE1,),
        attendance=att,
        tests=tst,
        policy=policy,
        period_start=MONDAY,
        period_end=MONDAY + timedelta(days=27),
        as_of=MONDAY + timedelta(days=28),
    )


RANK = {"non_compliant": 0, "partial": 1, "in_progress": 1, "compliant": 2, "no_requirement": 2}


@settings(max_examples=150, deadline=None)
@given(records(), st.randoms())
def test_record_order_does_not_matter(data, rnd: random.Random) -> None:
    att, tst = data
    shuffled_att, shuffled_tst = att[:], tst[:]
    rnd.shuffle(shuffled_att)
    rnd.shuffle(shuffled_tst)
    assert run(att, tst) == run(shuffled_att, shuffled_tst)


@settings(max_examples=150, deadline=None)
@given(records(), st.integers(0, 27), kinds)
def test_another_attended_session_never_lowers_compliance(data, day, kind) -> None:
    att, tst = data
    before, after = run(att, tst), run([*att, session(day, kind)], tst)
    for b, a in zip(before.weeks, after.weeks, strict=True):
        assert RANK[a.status] >= RANK[b.status]
        assert a.attended_hours >= b.attended_hours


@settings(max_examples=150, deadline=None)
@given(records(), st.integers(0, 27), st.sampled_from(["no_show", "refused", "positive"]))
def test_a_positive_or_missed_test_never_raises_compliance(data, day, kind) -> None:
    att, tst = data
    extra = (
        drug_test(day, analytes=COCAINE_CONFIRMED) if kind == "positive" else drug_test(day, kind)
    )
    before, after = run(att, tst), run(att, [*tst, extra])
    for b, a in zip(before.weeks, after.weeks, strict=True):
        assert RANK[a.status] <= RANK[b.status]


def _evaluation_on(  # type: ignore[no-untyped-def]
    day_offset: int, attendance, tests, policy: Policy = CHICAGO, missed=(), discharged=None
):
    return evaluate(
        admitted_on=MONDAY - timedelta(days=7),
        discharged_on=discharged,
        phases=(PHASE1,),
        attendance=attendance,
        tests=tests,
        missed_check_ins=missed,
        policy=policy,
        period_start=MONDAY,
        period_end=MONDAY + timedelta(days=min(day_offset, 6)),
        as_of=MONDAY + timedelta(days=day_offset),
    )


def _judged_on(day_offset: int, attendance, tests) -> WeekResult:  # type: ignore[no-untyped-def]
    return _evaluation_on(day_offset, attendance, tests).weeks[-1]


def test_a_week_not_over_is_in_progress_not_short() -> None:
    """Judged on Wednesday with one group attended: nothing is due yet."""
    w = _judged_on(2, [session(0)], [])
    assert w.status == "in_progress"
    assert texts(w) == []
    assert w.attended_hours == Decimal("3.00")
    # The same records once the week is over: short of everything, with reasons.
    done = _judged_on(7, [session(0)], [])
    assert done.status == "non_compliant"
    assert any("required hours" in t for t in texts(done))


def test_a_violation_makes_a_week_in_progress_non_compliant_at_once() -> None:
    w = _judged_on(2, [session(0, status="absent_unexcused")], [drug_test(1, "no_show")])
    assert w.status == "non_compliant"
    assert texts(w) == [
        "Unexcused absence from group session Mon 2 Mar",
        "Missed random test called for Tue 3 Mar",
    ]


# --- only what has happened is judged (DOMAIN.md, "Time") -----------------------------


def _as_of(as_of: date, attendance, tests, weeks: int = 4):  # type: ignore[no-untyped-def]
    return evaluate(
        admitted_on=MONDAY,
        discharged_on=None,
        phases=(PHASE1,),
        attendance=attendance,
        tests=tests,
        policy=CHICAGO,
        period_start=MONDAY,
        period_end=MONDAY + timedelta(weeks=weeks, days=-1),
        as_of=as_of,
    )


def test_a_period_reaching_past_today_never_judges_a_week_to_come() -> None:
    """Judged on the second week's Wednesday, a four-week period: week 1 is judged,
    week 2 is in progress, weeks 3 and 4 are not yet due and count nowhere."""
    full = [s for n in range(2) for s in _shifted(FULL_WEEK, n)]
    tests = [drug_test(1), drug_test(4), drug_test(8, analytes=COCAINE_CONFIRMED)]
    today = MONDAY + timedelta(days=9)
    result = _as_of(today, full, tests)
    assert [w.status for w in result.weeks] == [
        "compliant",
        "non_compliant",  # the positive on day 8 is known already
        "not_yet_due",
        "not_yet_due",
    ]
    assert all(not w.reasons and not w.tests for w in result.weeks[2:])
    # Only the week that is over counts: the second is already non-compliant, not full.
    assert result.counts.weeks_judged == 1 and result.counts.required_minutes == 9 * 60
    assert result.days_since_last_positive == 1  # to today, not to the period's end
    assert result.as_of == today


def test_the_weeks_last_day_is_not_over_until_it_ends() -> None:
    """Judged on the Sunday that ends a week (the program's today), the week is still in
    progress: a Sunday session may yet be attended, so hours short are no reason yet, and
    the week is not counted among the judged ones; the next day it is judged whole. Found
    on a Sunday, when the current week read "compliant" on the compliance API."""
    sunday = MONDAY + timedelta(days=6)
    short = [session(0)]
    on_sunday = _as_of(sunday, short, [], weeks=1)
    assert [w.status for w in on_sunday.weeks] == ["in_progress"]
    assert on_sunday.counts.weeks_judged == 0 and on_sunday.weeks[0].reasons == ()
    assert on_sunday.as_of == sunday and on_sunday.over_by == sunday - timedelta(days=1)
    with_positive = _as_of(sunday, FULL_WEEK, [drug_test(6, analytes=COCAINE_CONFIRMED)], 1)
    assert with_positive.weeks[0].status == "non_compliant"  # known already
    assert with_positive.counts.weeks_judged == 0  # but not a full week yet
    monday = _as_of(sunday + timedelta(days=1), short, [], weeks=1)
    assert [w.status for w in monday.weeks] == ["non_compliant"]
    assert monday.counts.weeks_judged == 1 and monday.over_by == sunday
    met = _as_of(sunday + timedelta(days=1), FULL_WEEK, TWO_TESTS, weeks=1)
    assert [w.status for w in met.weeks] == ["compliant"]


def test_records_after_the_day_judged_on_are_not_known_yet() -> None:
    late = [drug_test(20, "no_show"), session(20, status="absent_unexcused")]
    result = _as_of(MONDAY + timedelta(days=13), FULL_WEEK, [late[0]])
    assert not result.violations and result.counts.outcomes == {}
    assert [w.status for w in result.weeks][2:] == ["not_yet_due", "not_yet_due"]
    assert _as_of(MONDAY + timedelta(days=13), [*FULL_WEEK, late[1]], []).violations == ()


def test_hours_short_beyond_what_an_absence_cost_is_its_own_reason() -> None:
    attendance = [
        session(0, status="absent_unexcused"),
        session(2, status="left_early", minutes=60),
        session(3),
        session(1, "individual", scheduled=60),
    ]
    assert texts(week(attendance=attendance)) == [
        "Attended 5:00 of 9:00 required hours",
        "Unexcused absence from group session Mon 2 Mar",
    ]


def test_period_counts_and_step_down_criteria_in_words() -> None:
    full = [s for n in range(3) for s in _shifted(FULL_WEEK, n)]
    tests = [drug_test(d + 7 * n) for n in range(3) for d in (1, 4)]
    tests[3] = drug_test(11, "no_show")
    result = _as_of(MONDAY + timedelta(weeks=3), full, tests, weeks=3)  # the day after
    c = result.counts
    assert (c.weeks_judged, c.weeks_compliant) == (3, 2)
    assert (c.attended_minutes, c.required_minutes) == (3 * 600, 3 * 540)
    assert c.sessions_attended == {"group": 9, "individual": 3}
    assert (c.tests_required, c.tests_collected) == (6, 5)
    assert c.outcomes == {"negative": 5, "missed": 1}
    assert result.stepdown_unmet == (
        "4 compliant weeks in a row (1 so far)",
        "6 negative tests in a row (2 so far)",
    )
    assert result.meets_stepdown is False


def _shifted(records, weeks: int):  # type: ignore[no-untyped-def]
    return [replace(r, occurred_at=r.occurred_at + timedelta(weeks=weeks)) for r in records]


@settings(max_examples=150, deadline=None)
@given(records(), st.integers(0, 27))
def test_nothing_after_the_day_judged_on_changes_the_judgement(data, day) -> None:
    """Whatever lies after ``as_of`` — records or weeks — the judgement up to it is the
    same as for a period that ends that day."""
    att, tst = data
    today = MONDAY + timedelta(days=day)
    long = _as_of(today, att, tst)
    short = evaluate(
        admitted_on=MONDAY,
        discharged_on=None,
        phases=(PHASE1,),
        attendance=[a for a in att if a.occurred_at.date() <= today],
        tests=[t for t in tst if (t.collected_at or t.called_at).date() <= today],
        policy=CHICAGO,
        period_start=MONDAY,
        period_end=today,
        as_of=today,
    )
    judged = [w for w in long.weeks if w.status != "not_yet_due"]
    assert judged == list(short.weeks)
    assert long.violations == short.violations
    assert long.days_since_last_positive == short.days_since_last_positive
    assert all(w.start > today for w in long.weeks if w.status == "not_yet_due")


@settings(max_examples=150, deadline=None)
@given(records())
def test_one_event_gives_one_reason(data) -> None:
    """No record is behind two reasons, and hours short only by what unexcused absences
    cost give no hours reason (the absence is the reason)."""
    att, tst = data
    for w in run(att, tst).weeks:
        refs = [ref for r in w.reasons for ref in r.refs]
        assert len(refs) == len(set(refs))
        if w.status not in ("compliant", "non_compliant"):
            continue
        absent = sum(
            a.scheduled_minutes
            for a in att
            if a.status == "absent_unexcused" and w.start <= a.occurred_at.date() <= w.end
        )
        short = w.attended_minutes + absent < w.required_minutes
        assert any(r.kind == "hours" for r in w.reasons) == short


@settings(max_examples=150, deadline=None)
@given(records(), st.booleans())
def test_weeks_and_violations_say_the_same_of_every_test(data, counts) -> None:
    """Whatever the presumptive policy: a test is a reason in its week exactly when it
    is a violation, and a presumptive positive is either that (counted) or pending,
    never both and never neither."""
    att, tst = data
    policy = COUNTING if counts else CHICAGO
    result = run(att, tst, policy)
    reasons = {ref for w in result.weeks for r in w.reasons for ref in r.refs if "drug" in ref}
    assert reasons == {v.ref for v in result.violations if v.ref.startswith("drug_test:")}
    outcomes = [o for w in result.weeks for o in w.tests]
    presumptive = {f"drug_test:{o.test_id}" for o in outcomes if o.outcome == "presumptive"}
    pending = {f"drug_test:{o.test_id}" for o in result.pending}
    assert pending == (set() if counts else presumptive)
    assert (presumptive & reasons) == (presumptive if counts else set())


@settings(max_examples=150, deadline=None)
@given(records())
def test_counting_presumptives_never_raises_compliance(data) -> None:
    att, tst = data
    before, after = run(att, tst), run(att, tst, COUNTING)
    for b, a in zip(before.weeks, after.weeks, strict=True):
        assert RANK[a.status] <= RANK[b.status]
    assert len(after.violations) >= len(before.violations)
