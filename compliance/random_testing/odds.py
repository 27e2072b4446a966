"""Who a day's draw calls, as pure functions of the odds and a source of chance.

Two rules, each unpredictable to a participant and exact on average:

- **A testing group** is called each day with probability ``tests_per_week / 7``, drawn
  afresh every day for every group: weekends and holidays are days like any other, and
  no day's draw says anything about the next (a group called today is as likely to be
  called tomorrow as on any day).
- **An SAP follow-up plan** (49 CFR 40.307) must be met, not met on average: with ``n``
  tests still due in the plan year and ``d`` days left in it (today included), today is
  a test day with probability ``n / d``. Every day of the year is then equally likely to
  be one of the ``n`` (selection sampling, Knuth's Algorithm S), and the count is met
  exactly by the year's last day, provided each day is drawn.

``chance(n)`` is a uniform integer in ``[0, n)``: ``secrets.randbelow`` (the operating
system's CSPRNG) in service; the simulations in the tests pass the same function.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

Chance = Callable[[int], int]
DAYS_PER_WEEK = 7
MAX_TESTS_PER_WEEK = 7  # one call a day, every day


def group_called(tests_per_week: int, chance: Chance = secrets.randbelow) -> bool:
    """One group, one day: called with probability tests_per_week / 7."""
    if not 1 <= tests_per_week <= MAX_TESTS_PER_WEEK:
        raise ValueError(f"tests_per_week must be 1 to 7, not {tests_per_week}")
    return chance(DAYS_PER_WEEK) < tests_per_week


def plan_day_called(still_due: int, days_left: int, chance: Chance = secrets.randbelow) -> bool:
    """One follow-up plan, one day: ``still_due`` tests over ``days_left`` days."""
    if still_due <= 0:
        return False
    if still_due >= days_left:
        return True  # every remaining day must be a test day (or days were missed)
    return chance(days_left) < still_due
