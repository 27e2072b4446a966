"""Standing groups (issue 15, point 2): a weekly schedule and members, sessions made
ahead from it (never twice), rosters that list the members as they were, and the
demo's evening group. Through the service, the API and the pages."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from compliance.records import groups
from compliance.staff.accounts import Principal
from compliance.tables import (
    AuditEvent,
    GroupMember,
    Participant,
    TreatmentGroup,
    TreatmentSession,
)
from tests.support.records import enroll
from tests.support.staff import (
    World,
    make_world,
    post_form,
    sign_in,
    signed_in_demo,
    signed_in_world,
)

GROUP = {
    "name": "Evening IOP",
    "scheduled_minutes": 180,
    "weekdays": ["thu", "mon", "wed"],
    "start_time": "18:00",
    "location": "Room B",
    "facilitator_name": "Casey Morgan, LCSW",
}


@pytest.fixture
async def world(client: httpx.AsyncClient) -> World:
    return await signed_in_world(client)


async def member(client: httpx.AsyncClient, program: int, n: int) -> int:
    return await enroll(client, program, f"G{n}", f"First{n}", f"Last{n:02d}")


async def test_a_group_with_members_schedules_its_week_once(client, world) -> None:
    people = [await member(client, world.program_a, n) for n in range(4)]
    made = await client.post("/api/groups", json={**GROUP, "program_id": world.program_a})
    assert made.status_code == 201, made.text
    group = made.json()
    assert group["weekdays"] == ["mon", "wed", "thu"] and group["members"] == []
    gid = group["id"]
    joined = await client.post(f"/api/groups/{gid}/members", json={"participant_ids": people[:3]})
    assert joined.status_code == 200
    assert [m["participant_id"] for m in joined.json()["members"]] == people[:3]
    # Joining twice changes nothing.
    again = await client.post(f"/api/groups/{gid}/members", json={"participant_ids": people[:2]})
    assert len(again.json()["members"]) == 3
    assert await GroupMember.count() == 3

    week = await client.post(f"/api/groups/{gid}/sessions", json={"week_of": "2026-11-25"})
    assert week.status_code == 200, week.text
    assert week.json()["created"] == 3
    starts = [s["starts_at"] for s in week.json()["sessions"]]
    assert [datetime.fromisoformat(s).astimezone(UTC).isoformat() for s in starts] == [
        "2026-11-24T00:00:00+00:00",  # Mon 23 Nov 18:00 CST
        "2026-11-26T00:00:00+00:00",
        "2026-11-27T00:00:00+00:00",
    ]
    twice = await client.post(f"/api/groups/{gid}/sessions", json={"week_of": "2026-11-23"})
    assert twice.json()["created"] == 0
    assert [s["id"] for s in twice.json()["sessions"]] == [s["id"] for s in week.json()["sessions"]]
    assert await TreatmentSession.count() == 3
    monday = week.json()["sessions"][0]
    assert monday["group_id"] == gid and monday["title"] == "Evening IOP"
    assert monday["location"] == "Room B" and monday["scheduled_minutes"] == 180

    # The Monday roster lists the members; after one leaves (on Wednesday's morning,
    # say), Monday's still lists them and later meetings do not.
    listed = (await client.get(f"/api/sessions/{monday['id']}")).json()["listed"]
    assert sorted(listed) == sorted(people[:3])
    await client.put(
        f"/api/sessions/{monday['id']}/roster",
        json={"entries": [{"participant_id": p, "status": "present"} for p in people[:3]]},
    )
    left = await client.delete(f"/api/groups/{gid}/members/{people[0]}")
    assert left.status_code == 200
    assert [m["participant_id"] for m in left.json()["members"]] == people[1:3]
    await GroupMember.update(
        {GroupMember.removed_at: datetime(2026, 11, 25, 15, tzinfo=UTC)}
    ).where(GroupMember.participant == people[0])
    wednesday = week.json()["sessions"][1]["id"]
    assert sorted((await client.get(f"/api/sessions/{monday['id']}")).json()["listed"]) == sorted(
        people[:3]
    )
    assert sorted((await client.get(f"/api/sessions/{wednesday}")).json()["listed"]) == sorted(
        people[1:3]
    )
    gone = await client.delete(f"/api/groups/{gid}/members/{people[0]}")
    assert gone.status_code == 404


async def test_group_input_is_checked_and_other_programs_see_nothing(client, world) -> None:
    bad = await client.post(
        "/api/groups",
        json={**GROUP, "program_id": world.program_a, "weekdays": [], "start_time": "6pm"},
    )
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        {"field": "weekdays", "reason": "choose at least one day"},
        {"field": "start_time", "reason": "'6pm' is not a time of day (HH:MM, 24-hour)"},
    ]
    assert await TreatmentGroup.count() == 0
    gid = (await client.post("/api/groups", json={**GROUP, "program_id": world.program_a})).json()[
        "id"
    ]
    await sign_in(client, world.clinician_b)
    stranger = await member(client, world.program_b, 9)
    assert (await client.get(f"/api/groups/{gid}")).status_code == 404
    assert (await client.get("/api/groups")).json() == []
    assert (await client.post(f"/api/groups/{gid}/sessions", json={})).status_code == 404
    await sign_in(client, world.clinician_a)
    refused = await client.post(f"/api/groups/{gid}/members", json={"participant_ids": [stranger]})
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"field": "participant_ids", "reason": f"{stranger} is not a client of this program"}
    ]
    changed = await client.put(
        f"/api/groups/{gid}", json={**GROUP, "weekdays": ["tue"], "start_time": "9:30"}
    )
    assert changed.status_code == 200
    assert (changed.json()["weekdays"], changed.json()["start_time"]) == (["tue"], "09:30")


async def test_todays_meeting_and_tonights_session_from_the_group(bound_engine) -> None:
    """The sessions page leads with today's meetings; "on" makes tonight's session
    before it starts, once."""
    world = await make_world()
    user = Principal(1, "a@example.org", "A", "clinician", frozenset({world.program_a}))
    group = await groups.create_group(
        user, {**GROUP, "program_id": world.program_a, "weekdays": ["thu"]}, "test"
    )
    thursday_noon = datetime(2026, 11, 26, 18, tzinfo=UTC)  # 12:00 in Chicago
    [meeting] = await groups.meetings_on(user, thursday_noon)
    assert meeting.group.id == group.id and meeting.session_id is None
    assert meeting.starts_at.astimezone(UTC) == datetime(2026, 11, 27, 0, tzinfo=UTC)
    assert await groups.meetings_on(user, datetime(2026, 11, 25, 18, tzinfo=UTC)) == []
    made = await groups.schedule_sessions(
        user, group.id, {"on": date(2026, 11, 26)}, "test", now=thursday_noon
    )
    assert made.created == 1
    [meeting] = await groups.meetings_on(user, thursday_noon)
    assert meeting.session_id == made.sessions[0].id
    again = await groups.schedule_sessions(
        user, group.id, {"on": date(2026, 11, 26)}, "test", now=thursday_noon
    )
    assert again.created == 0 and again.sessions[0].id == made.sessions[0].id
    assert await AuditEvent.count().where(AuditEvent.action == "group.schedule") == 1


async def test_group_pages_make_a_group_add_members_and_schedule(client, world) -> None:
    people = [await member(client, world.program_a, n) for n in range(3)]
    index = await client.get("/groups")
    assert index.status_code == 200 and 'href="/groups/new"' in index.text
    form = {
        "program_id": str(world.program_a),
        "name": "Tuesday aftercare",
        "session_type": "group",
        "scheduled_minutes": "90",
        "start_time": "17:30",
    }
    no_days = await post_form(client, "/groups", form)
    assert no_days.status_code == 422 and no_days.headers["content-type"].startswith("text/html")
    assert "Days: choose at least one day." in no_days.text
    assert 'value="Tuesday aftercare"' in no_days.text  # what was typed is kept
    made = await post_form(client, "/groups", {**form, "weekday-tue": "on"})
    assert made.status_code == 303
    url = made.headers["location"]
    gid = int(url.rsplit("/", 1)[1])
    page = await client.get(url)
    assert "Tue 17:30" in page.text and "No members yet." in page.text
    added = await post_form(
        client, f"{url}/members", {f"add-{people[0]}": "on", f"add-{people[2]}": "on"}
    )
    assert added.status_code == 303
    page = await client.get(url)
    assert "Last00, First0" in page.text and "Last02, First2" in page.text
    assert re.findall(r'name="add-(\d+)"', page.text) == [str(people[1])]
    removed = await post_form(client, f"{url}/members/{people[0]}/remove", {})
    assert removed.status_code == 303
    assert [
        m["participant"] for m in await GroupMember.select().where(GroupMember.removed_at.is_null())
    ] == [people[2]]
    week = await post_form(client, f"{url}/sessions", {})
    assert week.status_code == 303 and week.headers["location"] == f"{url}#sessions"
    told = (await client.get(url)).text
    assert "Created 1 session this week; 0 were there already." in told
    assert "Tuesday aftercare" in told.split("This week and ahead")[1]  # listed, even if past
    again = await post_form(client, f"{url}/sessions", {})
    assert "Created 0 sessions this week; 1 was there already." in (await client.get(url)).text
    assert "Created" not in (await client.get(again.headers["location"])).text  # shown once
    # A meeting a week ahead: it lists the members from now on, read-only until it starts.
    ahead = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
    one = await post_form(client, f"{url}/sessions", {"kind": "day", "on": ahead})
    assert one.status_code == 303 and one.headers["location"].startswith("/sessions/")
    roster = await client.get(one.headers["location"])
    listed = roster.text.split("Add clients to this session")[0]
    assert "Last02, First2" in listed and "Last00" not in listed
    assert "attendance can be recorded once it has started" in roster.text
    missing = await post_form(client, f"{url}/sessions", {"kind": "day", "on": ""})
    assert missing.status_code == 422 and "Choose the day of the meeting." in missing.text
    renamed = await post_form(client, url, {**form, "name": "", "weekday-wed": "on"})
    assert renamed.status_code == 422 and "Name is required." in renamed.text
    assert (await TreatmentGroup.select().where(TreatmentGroup.id == gid).first())[
        "name"
    ] == "Tuesday aftercare"


async def test_the_demo_group_is_its_evening_group(client) -> None:
    demo = await signed_in_demo(client, "groups@example.org")
    [group] = await TreatmentGroup.select()
    assert (group["name"], group["weekdays"], group["start_time"]) == (
        "Relapse prevention group",
        ["mon", "wed", "thu"],
        "18:00",
    )
    members = {m["participant"] for m in await GroupMember.select()}
    assert members == set(demo["people"].values())
    groups_sessions = await TreatmentSession.count().where(
        TreatmentSession.treatment_group == group["id"]
    )
    assert groups_sessions == await TreatmentSession.count().where(
        TreatmentSession.session_type == "group"
    )
    assert groups_sessions > 20
    assert await Participant.count() == 3
