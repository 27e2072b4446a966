"""A call's collection window: answered by a specimen, or a missed test once it closes.

A call is answered by any current drug test of the participant collected inside its
window, however it was recorded (staff's entry, the API, a lab's CSV or HL7 file), so
every path attaches a collection the same way and the call itself is never edited.
When the window has closed with no such test, ``close_windows`` records the missed test
(a no-show, called at the window's opening, with the call's reason) through the same
write path as staff's entry: its violation follows, and the officer's notice with it,
as for any missed test. Only a closed window is judged: a call whose window is still
open is "called", never missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from compliance import audit
from compliance.core import db
from compliance.core.local_time import spoken
from compliance.core.vocabulary import CallReason, CollectionStatus, TestReason
from compliance.records import drug_tests
from compliance.staff import access
from compliance.tables import DrugTest, Participant, TestingCall, TestingCallExcuse

# Windows closed longer ago than this are not looked at again (the job runs every minute;
# a server down for longer has its calls' missed tests recorded by hand).
LOOK_BACK = timedelta(days=14)
# What a call's reason makes of the missed test it leads to.
TEST_REASONS = {
    CallReason.group: TestReason.random,
    CallReason.follow_up_plan: TestReason.follow_up,
    CallReason.for_cause: TestReason.for_cause,
}


@dataclass(frozen=True)
class CallState:
    """``called`` (window open or not yet open), ``collected``, ``missed`` or
    ``excused`` (by staff, before a missed test was recorded)."""

    state: str
    drug_test_id: int | None


async def states(calls: list[dict[str, Any]], now: datetime | None = None) -> list[CallState]:
    """Each call's state, read from the participants' current drug tests."""
    now = now or datetime.now(UTC)
    excused = {
        r["call"]
        for r in await TestingCallExcuse.select(TestingCallExcuse.call).where(
            TestingCallExcuse.call.is_in([c["id"] for c in calls] or [0])
        )
    }
    people = sorted({c["participant"] for c in calls})
    tests = (
        await DrugTest.select(
            DrugTest.id,
            DrugTest.participant,
            DrugTest.collected_at,
            DrugTest.called_at,
            DrugTest.collection_status,
        ).where(DrugTest.participant.is_in(people or [0]) & (DrugTest.is_current == True))  # noqa: E712
        if people
        else []
    )
    out = []
    for call in calls:
        mine = [t for t in tests if t["participant"] == call["participant"]]
        state = _state(call, mine, now)
        if call["id"] in excused and state.state != "collected":
            state = CallState("excused", state.drug_test_id)
        out.append(state)
    return out


def _state(call: dict[str, Any], tests: list[dict[str, Any]], now: datetime) -> CallState:
    opens, closes = call["window_opens_at"], call["window_closes_at"]
    for test in tests:
        collected = test["collected_at"]
        if collected is not None and opens <= collected <= closes:
            return CallState("collected", test["id"])
    for test in tests:  # a missed test recorded for this call (or by staff for it)
        if test["collected_at"] is None and test["called_at"] == opens:
            return CallState("missed", test["id"])
    return CallState("missed" if now > closes else "called", None)


async def close_windows(now: datetime | None = None) -> int:
    """Record a missed test for each call whose window has closed with no specimen and
    no missed test yet; how many. Safe on every worker at once: one runs at a time, and a
    call already answered or already recorded is left alone."""
    now = now or datetime.now(UTC)
    recorded = 0
    async with db.transaction():
        await db.serialize("testing_windows")
        due = await TestingCall.select(
            TestingCall.all_columns(), TestingCall.draw.day.as_alias("day")
        ).where(
            (TestingCall.window_closes_at < now) & (TestingCall.window_closes_at > now - LOOK_BACK)
        )
        if not due:
            return 0
        found = await states(due, now)
        for call, state in zip(due, found, strict=True):
            if state.state == "missed" and state.drug_test_id is None:
                recorded += await _record_missed(call) is not None
    return recorded


async def _record_missed(call: dict[str, Any]) -> int | None:
    person = await Participant.select().where(Participant.id == call["participant"]).first()
    if not access.enrolled_on(person, call["day"]):
        return None  # discharged before the day of the call
    zone = await access.program_tz(person["program"])
    data = {
        "collection_status": CollectionStatus.no_show.value,
        "called_at": call["window_opens_at"],
        "reason": TEST_REASONS[CallReason(call["reason"])].value,
        "notes": (
            f"Called to test by the draw; no specimen by {spoken(call['window_closes_at'], zone)}."
        ),
        "results": [],
    }
    return await drug_tests.store_one(person, data, audit.SYSTEM, None)
