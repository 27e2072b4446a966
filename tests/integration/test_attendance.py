"""Sessions, rosters, outside meetings and versioned corrections, through the API."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from compliance.tables import Attendance, AuditEvent, TreatmentSession
from tests.support.records import enroll, group_session
from tests.support.staff import World, make_world, sign_in


@pytest.fixture
async def world(client: httpx.AsyncClient) -> World:
    return await make_world()


async def enroll_test(
    client, program_id: int, client_id: str, admitted="2026-01-05", **extra
) -> int:
    return await enroll(client, program_id, client_id, client_id, "Test", admitted, **extra)


async def new_session(client, program_id: int, starts_at="2026-03-03T18:00", minutes=180) -> int:
    return await group_session(client, program_id, starts_at, minutes, title="Relapse prevention")


async def test_roster_records_a_whole_group_then_corrects_with_a_reason(client, world) -> None:
    await sign_in(client, world.clinician_a)
    people = [await enroll_test(client, world.program_a, f"C{i}") for i in range(3)]
    sid = await new_session(client, world.program_a)
    entries = [
        {"participant_id": people[0], "status": "present"},
        {"participant_id": people[1], "status": "late", "minutes_attended": 150, "note": "bus"},
        {"participant_id": people[2], "status": "absent_unexcused"},
    ]
    done = await client.put(f"/api/sessions/{sid}/roster", json={"entries": entries})
    assert done.status_code == 200 and done.json() == {"created": 3, "corrected": 0, "unchanged": 0}
    roster = (await client.get(f"/api/sessions/{sid}")).json()["roster"]
    assert [(r["status"], r["minutes_attended"]) for r in roster] == [
        ("present", 180),
        ("late", 150),
        ("absent_unexcused", 0),
    ]

    same = await client.put(f"/api/sessions/{sid}/roster", json={"entries": entries})
    assert same.json() == {"created": 0, "corrected": 0, "unchanged": 3}
    entries[2] = {"participant_id": people[2], "status": "absent_excused", "note": "court date"}
    no_reason = await client.put(f"/api/sessions/{sid}/roster", json={"entries": entries})
    assert no_reason.status_code == 422
    assert no_reason.json()["errors"] == [
        {"field": "entries[2].status", "reason": "is already recorded; give a reason to correct it"}
    ]
    fixed = await client.put(
        f"/api/sessions/{sid}/roster",
        json={"entries": entries, "reason": "Letter from the court received"},
    )
    assert fixed.json() == {"created": 0, "corrected": 1, "unchanged": 2}
    current = next(
        r
        for r in (await client.get(f"/api/sessions/{sid}")).json()["roster"]
        if r["participant_id"] == people[2]
    )
    history = (await client.get(f"/api/attendance/{current['id']}/history")).json()
    assert [(h["version"], h["status"], h["is_current"]) for h in history] == [
        (1, "absent_unexcused", False),
        (2, "absent_excused", True),
    ]
    assert history[1]["correction_reason"] == "Letter from the court received"
    assert history[1]["recorded_by"] == "A" and history[1]["corrects"] == history[0]["id"]


@pytest.mark.parametrize(
    ("entry", "field", "reason"),
    [
        ({"status": "late"}, "minutes_late", "is required for late: how many minutes were missed"),
        (
            {"status": "absent_excused", "minutes_attended": 30},
            "minutes_attended",
            "must be 0 for an absence",
        ),
        (
            {"status": "present", "minutes_attended": 100},
            "minutes_attended",
            "present means all 180 minutes; use late or left early for fewer",
        ),
        (
            {"status": "left_early", "minutes_attended": 200},
            "minutes_attended",
            "must be at most 180",
        ),
    ],
)
async def test_a_bad_entry_rejects_the_whole_roster(client, world, entry, field, reason) -> None:
    await sign_in(client, world.clinician_a)
    good, bad = (
        await enroll_test(client, world.program_a, "G"),
        await enroll_test(client, world.program_a, "B"),
    )
    sid = await new_session(client, world.program_a)
    response = await client.put(
        f"/api/sessions/{sid}/roster",
        json={
            "entries": [
                {"participant_id": good, "status": "present"},
                {"participant_id": bad, **entry},
            ]
        },
    )
    assert response.status_code == 422
    assert {"field": f"entries[1].{field}", "reason": reason} in response.json()["errors"]
    assert await Attendance.count() == 0


async def test_an_unknown_status_is_a_400_naming_the_field(client, world) -> None:
    await sign_in(client, world.clinician_a)
    pid = await enroll_test(client, world.program_a, "X")
    sid = await new_session(client, world.program_a)
    response = await client.put(
        f"/api/sessions/{sid}/roster",
        json={"entries": [{"participant_id": pid, "status": "sleeping"}]},
    )
    assert response.status_code == 400
    assert "sleeping" in response.text and "status" in response.text
    assert await Attendance.count() == 0


async def test_roster_refuses_other_programs_and_people_not_enrolled(client, world) -> None:
    await sign_in(client, world.clinician_b)
    stranger = await enroll_test(client, world.program_b, "S")
    await sign_in(client, world.clinician_a)
    late_joiner = await enroll_test(client, world.program_a, "L", admitted="2026-03-10")
    sid = await new_session(client, world.program_a)
    response = await client.put(
        f"/api/sessions/{sid}/roster",
        json={
            "entries": [
                {"participant_id": stranger, "status": "present"},
                {"participant_id": late_joiner, "status": "present"},
            ]
        },
    )
    errors = response.json()["errors"]
    assert errors[0] == {
        "field": "entries[0].participant_id",
        "reason": f"{stranger} is not a participant of this program",
    }
    assert errors[1]["reason"] == "L Test was not enrolled on 2026-03-03"
    await sign_in(client, world.clinician_b)
    assert (await client.get(f"/api/sessions/{sid}")).status_code == 404
    assert (
        await client.put(
            f"/api/sessions/{sid}/roster",
            json={"entries": [{"participant_id": stranger, "status": "present"}]},
        )
    ).status_code == 404


async def test_session_times_are_local_to_the_program_across_dst(client, world) -> None:
    await sign_in(client, world.clinician_a)  # Program A is America/Chicago
    sid = await new_session(client, world.program_a, starts_at="2026-03-08T23:30")
    starts = datetime.fromisoformat(
        (await client.get(f"/api/sessions/{sid}")).json()["session"]["starts_at"]
    )
    assert starts.astimezone(UTC) == datetime(2026, 3, 9, 4, 30, tzinfo=UTC)  # CDT, UTC-5
    gap = await client.post(
        "/api/sessions",
        json={
            "program_id": world.program_a,
            "session_type": "group",
            "starts_at": "2026-03-08T02:30",
            "scheduled_minutes": 60,
        },
    )
    assert gap.status_code == 422
    assert gap.json()["errors"][0]["field"] == "starts_at"
    assert "does not exist" in gap.json()["errors"][0]["reason"]


async def test_outside_meeting_needs_proof_and_corrections_need_reasons(client, world) -> None:
    await sign_in(client, world.clinician_a)
    pid = await enroll_test(client, world.program_a, "M")
    url = f"/api/participants/{pid}/outside-meetings"
    meeting = {
        "occurred_at": "2026-03-07T10:00",
        "scheduled_minutes": 60,
        "meeting_name": "Saturday AA",
        "proof": "",
    }
    missing = await client.post(url, json=meeting)
    assert missing.status_code == 422
    assert missing.json()["errors"] == [{"field": "proof", "reason": "is required"}]
    made = await client.post(url, json={**meeting, "proof": "signed slip"})
    assert made.status_code == 201 and made.json()["session_type"] == "twelve_step"
    aid = made.json()["id"]
    no_reason = await client.post(
        f"/api/attendance/{aid}/corrections",
        json={"status": "left_early", "minutes_attended": 30, "reason": ""},
    )
    assert no_reason.status_code == 422
    fixed = await client.post(
        f"/api/attendance/{aid}/corrections",
        json={"status": "left_early", "minutes_attended": 30, "reason": "Slip shows 30 minutes"},
    )
    assert fixed.status_code == 201 and fixed.json()["version"] == 2
    stale = await client.post(
        f"/api/attendance/{aid}/corrections", json={"status": "present", "reason": "again"}
    )
    assert stale.status_code == 422
    assert "a newer version exists" in stale.text
    original = await Attendance.select().where(Attendance.id == aid).first()
    assert original["status"] == "present" and original["is_current"] is False
    assert await AuditEvent.count().where(AuditEvent.action == "attendance.correct") == 1
    await sign_in(client, world.clinician_b)
    assert (await client.get(f"/api/attendance/{aid}/history")).status_code == 404
    assert (
        await client.post(
            f"/api/attendance/{aid}/corrections", json={"status": "present", "reason": "x"}
        )
    ).status_code == 404


async def test_sessions_page_pages_back_through_every_session(client, world) -> None:
    """A busy program holds thousands of sessions: the page shows 100 at a time, newest
    first, and "Older sessions" reaches every one, even two at the same moment across
    a page boundary."""
    await sign_in(client, world.clinician_a)
    base = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    starts = [base + timedelta(hours=n) for n in range(229)]
    starts.insert(129, starts[129])  # two groups at one moment, either side of page 1's end
    await TreatmentSession.insert(
        *[
            TreatmentSession(
                program=world.program_a,
                session_type="group",
                starts_at=at,
                scheduled_minutes=90,
                title=f"Group {n}",
            )
            for n, at in enumerate(starts)
        ]
    )
    pages: list[list[str]] = []
    url = "/sessions"
    while url:
        page = await client.get(url)
        assert page.status_code == 200, page.text
        titles = re.findall(r"<td>(Group \d+)</td>", page.text)
        assert titles and len(titles) <= 100
        pages.append(titles)
        older = re.search(r'href="(/sessions\?before=[^"]+)">Older sessions', page.text)
        url = html.unescape(older.group(1)) if older else ""
    seen = [title for page_titles in pages for title in page_titles]
    assert len(seen) == len(set(seen)) == 230  # every session once
    assert (pages[0][-1], pages[1][0]) == ("Group 130", "Group 129")  # the tie, split
    assert seen[0] == "Group 229" and seen[-1] == "Group 0"  # newest first
    # The API pages the same way (500 at a time): from the 100th newest session on.
    newest = (await client.get("/api/sessions")).json()
    hundredth = newest[99]
    rest = await client.get(
        "/api/sessions", params={"before": hundredth["starts_at"], "before_id": hundredth["id"]}
    )
    assert [s["title"] for s in newest[100:]] == [s["title"] for s in rest.json()]
    for query in (
        "before=yesterday&before_id=1",
        "before=2026-03-05T10:00:00%2B00:00&before_id=99999999999999999999",
        "before=2026-03-05T10:00:00&before_id=-1",
    ):
        odd = await client.get(f"/sessions?{query}")
        assert odd.status_code in (200, 400, 404), (query, odd.status_code)
        api = await client.get(f"/api/sessions?{query}")
        assert api.status_code in (200, 400, 404), (query, api.status_code)
