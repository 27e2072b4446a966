"""What random-testing tests share: a program with testing groups, the call-in open all
day, a participant's PIN, and the draw's chances fixed."""

from __future__ import annotations

from datetime import timedelta

import httpx

from compliance.random_testing import groups
from compliance.staff import accounts
from compliance.staff.access import program_today
from compliance.tables import Program, StaffUser
from tests.support.records import enroll
from tests.support.staff import make_world, sign_in

ALWAYS = lambda n: 0  # noqa: E731  every group and plan day is called
NEVER = lambda n: n - 1  # noqa: E731  no group is called; a plan only when it must be
GROUPS_ONLY = lambda n: 0 if n == 7 else n - 1  # noqa: E731  every group; plans as NEVER


async def principal_of(email: str) -> accounts.Principal:
    row = await StaffUser.select(StaffUser.id).where(StaffUser.email == email).first()
    principal = await accounts.load_principal(row["id"])
    assert principal is not None
    return principal


async def testing_program(client: httpx.AsyncClient) -> dict:
    """Program A with groups Red (2 a week) and Blue (3 a week), Ann and Bo in Red, Cy
    in Blue, Di in no group, and Ed discharged while in Red; clinician A signed in."""
    world = await make_world(analytes=True)
    await sign_in(client, world.clinician_a)
    staff = await principal_of(world.clinician_a)
    a = world.program_a
    red = await groups.create_group(staff, a, {"name": "Red", "tests_per_week": 2})
    blue = await groups.create_group(staff, a, {"name": "Blue", "tests_per_week": "3"})
    people = {}
    for cid, first in [("A1", "Ann"), ("B2", "Bo"), ("C3", "Cy"), ("D4", "Di"), ("E5", "Ed")]:
        people[first] = await enroll(client, a, cid, first, "Tester")
    for first, group in [("Ann", red), ("Bo", red), ("Cy", blue), ("Ed", red)]:
        await groups.assign(staff, people[first], {"group_id": group.id, "reason": "intake"})
    answer = await client.post(
        f"/api/participants/{people['Ed']}/discharge",
        json={
            "discharged_on": (await program_today(a) - timedelta(days=1)).isoformat(),
            "reason": "completed",
        },
    )
    assert answer.status_code in (200, 201), answer.text
    return {"world": world, "staff": staff, "red": red, "blue": blue, "people": people}


async def open_all_day(program_id: int) -> None:
    """The call-in opens at 00:00 on the program's clock and the window lasts 24 hours,
    so today's window is open whenever the test runs."""
    await Program.update(
        {Program.testing_opens_at: "00:00", Program.collection_window_hours: 24}
    ).where(Program.id == program_id)


async def make_pin(client: httpx.AsyncClient, participant_id: int) -> str:
    made = await client.post(f"/api/participants/{participant_id}/call-in-pin")
    assert made.status_code == 201, made.text
    pin = made.json()["pin"]
    assert len(pin) == 6 and pin.isdigit()
    return pin
