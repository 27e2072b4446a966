"""The daily draw's odds, simulated with the service's own source of chance
(``secrets.randbelow``) over 10,000 days: each group at its rate, on every weekday,
with no day saying anything about the next; a SAP plan's count met exactly within its
year, its days spread over the year. Tolerances are 4.5 standard deviations (or a
chi-square of 20 on one degree of freedom): a correct draw fails one of these about
once in 100,000 runs, a wrong rate fails them every time."""

from __future__ import annotations

import itertools
import math
import secrets
from datetime import date, timedelta

import pytest

from compliance.core.vocabulary import CallReason
from compliance.random_testing import odds
from compliance.random_testing.draws import PlanDue, choose

DAYS = 10_000
SIGMAS = 4.5
GROUPS = [{"id": k, "name": f"G{k}", "tests_per_week": k} for k in range(1, 8)] + [
    {"id": 8, "name": "Blue", "tests_per_week": 2}
]
MEMBERS = {100 + g["id"]: g["id"] for g in GROUPS}  # one member per group


def _within(count: int, trials: int, p: float) -> bool:
    expected = trials * p
    spread = math.sqrt(trials * p * (1 - p)) or 1.0
    return abs(count - expected) <= SIGMAS * spread


@pytest.fixture(scope="module")
def simulated() -> list[set[int]]:
    """The groups called on each of 10,000 days, through ``choose`` as the service calls it."""
    days = []
    for _ in range(DAYS):
        drawn, calls = choose(GROUPS, MEMBERS, [], secrets.randbelow)
        called = {g.id for g in drawn if g.called}
        assert {p for p, (reason, _) in calls.items()} == {100 + g for g in called}
        assert all(reason == CallReason.group for reason, _ in calls.values())
        days.append(called)
    return days


def test_each_group_is_called_at_its_rate(simulated) -> None:
    for group in GROUPS:
        p = group["tests_per_week"] / 7
        count = sum(group["id"] in day for day in simulated)
        assert _within(count, DAYS, p), (group["name"], count, DAYS * p)
        weekly = count / DAYS * 7
        assert abs(weekly - group["tests_per_week"]) < 0.15, (group["name"], weekly)


def test_every_weekday_weekends_included_is_as_likely(simulated) -> None:
    """Day i of the simulation is weekday i % 7: Saturdays and Sundays get their share."""
    for group in GROUPS:
        p = group["tests_per_week"] / 7
        for weekday in range(7):
            days = simulated[weekday::7]
            count = sum(group["id"] in day for day in days)
            assert _within(count, len(days), p), (group["name"], weekday, count)


def test_no_day_depends_on_the_day_before(simulated) -> None:
    """A chi-square test of independence on (called today, called tomorrow) per group."""
    for group in GROUPS:
        if group["tests_per_week"] == 7:
            continue  # called every day: nothing to depend on
        g = group["id"]
        table = [[0, 0], [0, 0]]
        for today, tomorrow in itertools.pairwise(simulated):
            table[g in today][g in tomorrow] += 1
        total = sum(map(sum, table))
        rows = [sum(r) for r in table]
        cols = [table[0][c] + table[1][c] for c in range(2)]
        chi2 = sum(
            (table[r][c] - rows[r] * cols[c] / total) ** 2 / (rows[r] * cols[c] / total)
            for r in range(2)
            for c in range(2)
        )
        assert chi2 < 20, (group["name"], table, chi2)


def test_two_groups_of_one_rate_are_drawn_apart(simulated) -> None:
    """G2 and Blue both test twice a week: they are called together about 4/49 of days,
    as independent draws are, not always together."""
    together = sum(2 in day and 8 in day for day in simulated)
    assert _within(together, DAYS, (2 / 7) ** 2), together


def test_a_rate_outside_one_to_seven_is_refused() -> None:
    for rate in (0, 8, -1):
        with pytest.raises(ValueError):
            odds.group_called(rate)


def _plan_year(tests: int, days: int) -> list[int]:
    """The days (0-based) a plan with ``tests`` due over ``days`` is called, day by day."""
    called: list[int] = []
    for day in range(days):
        plan = PlanDue(1, tests - len(called), days - day)
        _, calls = choose([], {}, [plan], secrets.randbelow)
        if calls:
            called.append(day)
    return called


def test_a_plan_year_gets_exactly_its_tests_spread_over_the_year() -> None:
    runs = 400
    first_half = 0
    positions = []
    for _ in range(runs):
        days = _plan_year(6, 365)
        assert len(days) == 6, days
        first_half += sum(d < 182 for d in days)
        positions += days
    # Each test falls in the first half with probability 182/365.
    assert _within(first_half, runs * 6, 182 / 365), first_half
    mean = sum(positions) / len(positions)
    spread = math.sqrt((365**2 - 1) / 12 / len(positions))
    assert abs(mean - 182) <= SIGMAS * spread, mean


def test_a_plan_left_late_still_meets_its_count() -> None:
    """Five tests still due with five days left: every day is a test day."""
    assert _plan_year(5, 5) == [0, 1, 2, 3, 4]
    assert odds.plan_day_called(0, 30) is False


def test_plan_years_for_the_draw_follow_the_sap_report() -> None:
    """The draw reads plan years from the one function the SAP report uses."""
    from types import SimpleNamespace

    from compliance.records.followup_plans import plan_years

    plan = SimpleNamespace(
        return_to_duty_on=date(2026, 2, 28),
        months=18,
        tests_first_year=6,
        tests_per_later_year=4,
    )
    years = plan_years(plan, date(2027, 3, 1))
    assert [(y.number, y.start, y.end, y.tests_required) for y in years] == [
        (1, date(2026, 2, 28), date(2027, 2, 27), 6),
        (2, date(2027, 2, 28), date(2027, 8, 27), 4),
    ]
    assert plan_years(plan, date(2026, 2, 27)) == []
    assert years[-1].end - years[-1].start < timedelta(days=183)
