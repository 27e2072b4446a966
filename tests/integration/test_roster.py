"""The roster (issue 15, point 2): minutes that mean what people type, "mark all
present", sessions set up before they start, Post/Redirect/Get, and corrections whose
new status brings its own minutes. Through the API and the pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from compliance.core.validation import FieldError
from compliance.core.vocabulary import AttendanceStatus
from compliance.intake.csv_files import parse_attendance_csv
from compliance.records.attendance import judge_minutes
from compliance.tables import Attendance, AuditEvent, TreatmentSession
from tests.support.records import enroll
from tests.support.staff import World, post_form, signed_in_demo, signed_in_world

CHICAGO = ZoneInfo("America/Chicago")
LATE, LEFT = AttendanceStatus.late, AttendanceStatus.left_early


@pytest.mark.parametrize(
    ("status", "given", "attended", "problems"),
    [
        (LATE, {"late": 30}, 150, []),
        (LATE, {"late": 30, "left_early": 15}, 135, []),
        (LEFT, {"left_early": 60}, 120, []),
        (LEFT, {"late": 0, "left_early": 60, "attended": 120}, 120, []),
        (AttendanceStatus.present, {"late": 0, "left_early": 0}, 180, []),
        (AttendanceStatus.absent_excused, {"late": 0, "left_early": 0}, 0, []),
        (LATE, {"attended": 150}, 150, []),  # older clients and the CSV give minutes attended
        (LATE, {"late": 0}, 180, [("minutes_late", "must be more than 0 for late")]),
        (LATE, {}, 0, [("minutes_late", "is required for late: how many minutes were missed")]),
        (LEFT, {"late": 30}, 150, [("minutes_left_early", "must be more than 0 for left early")]),
        (
            LATE,
            {"late": 120, "left_early": 60},
            0,
            [
                (
                    "minutes_late",
                    "late and left early together (180) must be less than the 180 scheduled "
                    "minutes; choose an absence if the whole session was missed",
                )
            ],
        ),
        (
            AttendanceStatus.present,
            {"late": 30},
            180,
            [("minutes_late", "must be 0 for present; choose late for someone who came late")],
        ),
        (
            AttendanceStatus.absent_unexcused,
            {"left_early": 10},
            0,
            [("minutes_left_early", "must be 0 for an absence")],
        ),
        (
            LATE,
            {"late": 30, "attended": 30},
            150,
            [
                (
                    "minutes_attended",
                    "is 30, but 180 scheduled minus 30 late and 0 left early is 150",
                )
            ],
        ),
        (
            LATE,
            {"attended": 180},
            180,
            [("minutes_attended", "must be less than 180 for late; choose present for all")],
        ),
        (
            LEFT,
            {"attended": 0},
            0,
            [("minutes_attended", "must be more than 0; choose an absence for none")],
        ),
    ],
)
def test_one_rule_for_minutes(status, given, attended, problems) -> None:
    minutes, found = judge_minutes(status, 180, **given)
    assert minutes.attended == attended
    assert found == [FieldError(f, r) for f, r in problems]


def test_the_csv_import_judges_minutes_by_the_same_rule() -> None:
    header = "client_id,date,start_time,session_type,scheduled_minutes,status,minutes_attended"
    rows = [
        "C-1,2026-03-03,18:00,group,180,late,150",
        "C-2,2026-03-03,18:00,group,180,late,180",  # late, yet every minute: refused
        "C-3,2026-03-03,18:00,group,180,left_early,0",  # left before it began: refused
    ]
    now = datetime(2026, 3, 4, tzinfo=UTC)
    result = parse_attendance_csv("\n".join([header, *rows]).encode(), tz=CHICAGO, now=now)
    assert [(r.client_id, r.minutes_attended) for r in result.records] == [("C-1", 150)]
    assert [(e.location, e.field, e.reason) for e in result.errors] == [
        ("line 3", "minutes_attended", "must be less than 180 for late; choose present for all"),
        ("line 4", "minutes_attended", "must be more than 0; choose an absence for none"),
    ]


# --- the API ----------------------------------------------------------------------


@pytest.fixture
async def world(client: httpx.AsyncClient) -> World:
    return await signed_in_world(client)


async def enroll_test(client: httpx.AsyncClient, program: int, client_id: str) -> int:
    return await enroll(client, program, client_id, client_id, "Test")


def local(moment: datetime) -> str:
    return moment.astimezone(CHICAGO).strftime("%Y-%m-%dT%H:%M")


async def session(client: httpx.AsyncClient, program: int, starts: str, **more) -> httpx.Response:
    return await client.post(
        "/api/sessions",
        json={
            "program_id": program,
            "session_type": "group",
            "starts_at": starts,
            "scheduled_minutes": 180,
            **more,
        },
    )


async def test_api_takes_minutes_late_and_left_early(client, world) -> None:
    people = [await enroll_test(client, world.program_a, f"C{n}") for n in range(3)]
    sid = (await session(client, world.program_a, "2026-11-23T18:00")).json()["id"]
    entries = [
        {"participant_id": people[0], "status": "late", "minutes_late": 30},
        {"participant_id": people[1], "status": "left_early", "minutes_left_early": 45},
        {
            "participant_id": people[2],
            "status": "late",
            "minutes_late": 10,
            "minutes_left_early": 20,
        },
    ]
    done = await client.put(f"/api/sessions/{sid}/roster", json={"entries": entries})
    assert done.status_code == 200, done.text
    stored = {
        r["participant"]: (r["status"], r["minutes_attended"])
        for r in await Attendance.select().where(Attendance.session == sid)
    }
    assert stored == {
        people[0]: ("late", 150),
        people[1]: ("left_early", 135),
        people[2]: ("late", 150),
    }
    # The same again is unchanged; minutes attended that disagree are refused, naming why.
    again = await client.put(f"/api/sessions/{sid}/roster", json={"entries": entries})
    assert again.json() == {"created": 0, "corrected": 0, "unchanged": 3}
    wrong = await client.put(
        f"/api/sessions/{sid}/roster",
        json={
            "entries": [
                {**entries[0], "minutes_attended": 30},
                {"participant_id": people[1], "status": "late"},
            ]
        },
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"] == [
        {
            "field": "entries[0].minutes_attended",
            "reason": "is 30, but 180 scheduled minus 30 late and 0 left early is 150",
        },
        {
            "field": "entries[1].minutes_late",
            "reason": "is required for late: how many minutes were missed",
        },
    ]
    assert await Attendance.count() == 3


async def test_tonights_session_is_made_before_it_starts_and_taken_once_it_has(
    client, world
) -> None:
    pid = await enroll_test(client, world.program_a, "T")
    tonight = datetime.now(UTC) + timedelta(hours=3)
    made = await session(client, world.program_a, local(tonight), participant_id=pid)
    assert made.status_code == 201, made.text
    sid = made.json()["id"]
    early = await client.put(
        f"/api/sessions/{sid}/roster",
        json={"entries": [{"participant_id": pid, "status": "present"}]},
    )
    assert early.status_code == 422
    [error] = early.json()["errors"]
    assert error["field"] == "session"
    assert error["reason"].endswith("attendance can be recorded once it has started")
    assert await Attendance.count() == 0
    # The page shows who is expected, read-only, and when it starts.
    page = await client.get(f"/sessions/{sid}")
    assert page.status_code == 200
    assert "attendance can be recorded once it has started" in page.text
    assert "T, T" not in page.text and "Test, T" in page.text
    assert 'name="status-' not in page.text
    # Once it has started it is taken (the session moved back in time stands for waiting).
    await TreatmentSession.update(
        {TreatmentSession.starts_at: datetime.now(UTC) - timedelta(minutes=5)}
    ).where(TreatmentSession.id == sid)
    taken = await client.put(
        f"/api/sessions/{sid}/roster",
        json={"entries": [{"participant_id": pid, "status": "present"}]},
    )
    assert taken.status_code == 200, taken.text
    far = await session(client, world.program_a, local(datetime.now(UTC) + timedelta(days=400)))
    assert far.status_code == 422
    assert far.json()["errors"] == [{"field": "starts_at", "reason": "is more than a year ahead"}]


async def test_an_individual_session_lists_its_one_client(client, world) -> None:
    people = [await enroll_test(client, world.program_a, f"I{n}") for n in range(3)]
    no_client = await client.post(
        "/api/sessions",
        json={
            "program_id": world.program_a,
            "session_type": "individual",
            "starts_at": "2026-11-24T10:00",
            "scheduled_minutes": 50,
        },
    )
    assert no_client.status_code == 422
    assert no_client.json()["errors"] == [{"field": "participant_id", "reason": "is required"}]
    made = await client.post(
        "/api/sessions",
        json={
            "program_id": world.program_a,
            "session_type": "individual",
            "starts_at": "2026-11-24T10:00",
            "scheduled_minutes": 50,
            "participant_id": people[1],
        },
    )
    sid = made.json()["id"]
    assert (await client.get(f"/api/sessions/{sid}")).json()["listed"] == [people[1]]
    page = (await client.get(f"/sessions/{sid}")).text
    assert re.findall(r'name="status-(\d+)"', page) == [str(people[1])]


async def test_an_ad_hoc_session_starts_empty_and_staff_add_clients(client, world) -> None:
    people = [await enroll_test(client, world.program_a, f"A{n}") for n in range(3)]
    sid = (await session(client, world.program_a, "2026-11-24T12:00")).json()["id"]
    page = await client.get(f"/sessions/{sid}")
    assert "Nobody is on this roster yet" in page.text
    assert re.findall(r'name="status-(\d+)"', page.text) == []
    added = await post_form(client, f"/sessions/{sid}/participants", {f"add-{people[2]}": "on"})
    assert added.status_code == 303 and added.headers["location"] == f"/sessions/{sid}"
    page = await client.get(f"/sessions/{sid}")
    assert re.findall(r'name="status-(\d+)"', page.text) == [str(people[2])]
    nobody = await post_form(client, f"/sessions/{sid}/participants", {})
    assert nobody.status_code == 422 and nobody.headers["content-type"].startswith("text/html")
    assert "choose at least one client" in nobody.text
    api = await client.post(
        f"/api/sessions/{sid}/participants", json={"participant_ids": [people[0], 999999]}
    )
    assert api.status_code == 422
    assert api.json()["errors"] == [
        {"field": "participant_ids", "reason": "999999 is not a client of this program"}
    ]
    api = await client.post(f"/api/sessions/{sid}/participants", json={"participant_ids": people})
    assert api.status_code == 200 and sorted(api.json()["listed"]) == sorted(people)


async def test_correction_status_brings_its_own_minutes_through_the_api(client, world) -> None:
    pid = await enroll_test(client, world.program_a, "K")
    sid = (await session(client, world.program_a, "2026-11-23T18:00")).json()["id"]
    await client.put(
        f"/api/sessions/{sid}/roster",
        json={"entries": [{"participant_id": pid, "status": "absent_unexcused"}]},
    )
    aid = (await Attendance.select(Attendance.id).first())["id"]
    # The old absence's 0 minutes come along, as a form would send them: reset, not refused.
    fixed = await client.post(
        f"/api/attendance/{aid}/corrections",
        json={"status": "present", "minutes_attended": 0, "reason": "Sign-in sheet"},
    )
    assert fixed.status_code == 201, fixed.text
    assert fixed.json()["minutes_attended"] == 180
    late = await client.post(
        f"/api/attendance/{fixed.json()['id']}/corrections",
        json={"status": "late", "minutes_late": 20, "reason": "Arrived 18:20"},
    )
    assert late.status_code == 201 and late.json()["minutes_attended"] == 160
    unsaid = await client.post(
        f"/api/attendance/{late.json()['id']}/corrections",
        json={"status": "left_early", "reason": "x"},
    )
    assert unsaid.status_code == 422
    assert unsaid.json()["errors"][0]["field"] == "minutes_left_early"


# --- the pages ----------------------------------------------------------------------


@pytest.fixture
async def demo(client: httpx.AsyncClient) -> dict:
    return await signed_in_demo(client, "roster@example.org")


async def monday_group(client: httpx.AsyncClient, demo: dict) -> int:
    """The demo group's meeting of Monday 23 November (the demo left it to be taken)."""
    made = await post_form(
        client,
        "/sessions",
        {
            "program_id": str(demo["program"]["id"]),
            "group_id": str(await demo_group()),
            "session_type": "group",
            "starts_at": "2026-11-23T18:00",
        },
    )
    assert made.status_code == 303, made.text
    return int(made.headers["location"].rsplit("/", 1)[1])


async def demo_group() -> int:
    from compliance.tables import TreatmentGroup

    return (await TreatmentGroup.select(TreatmentGroup.id).first())["id"]


def roster_form(page: str) -> dict[str, str]:
    """What the browser would send back untouched: every row's fields as shown."""
    names = re.findall(r'name="((?:status|late|left|note)-\d+)"', page)
    form = {n: "" for n in names}
    for name, value in re.findall(
        r'name="((?:late|left|note)-\d+)"[^>]*?value="([^"]*)"', page, re.S
    ):
        form[name] = value
    for name, value in re.findall(
        r'name="(status-\d+)".*?<option value="(\w*)" selected', page, re.S
    ):
        form[name] = value
    return form


async def test_roster_page_takes_minutes_late_and_answers_in_the_page(client, demo) -> None:
    sid = await monday_group(client, demo)
    page = await client.get(f"/sessions/{sid}")
    assert page.status_code == 200
    for name in ("Boyd, Terrence", "Gomez, Alicia", "Hale, Marcus"):
        assert name in page.text
    assert "Minutes late" in page.text and "Minutes left early" in page.text
    marcus = demo["people"]["RB-1001"]
    form = {k: v for k, v in roster_form(page.text).items()}
    for pid in demo["people"].values():
        form[f"status-{pid}"] = "present"
    form[f"status-{marcus}"] = "late"  # and no minutes late: refused beside that field
    refused = await post_form(client, f"/sessions/{sid}/roster", form)
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("text/html")
    assert "Nothing was saved" in refused.text
    row = re.search(
        rf'<tr[^>]*>(?:(?!</tr>).)*name="late-{marcus}"(?:(?!</tr>).)*</tr>', refused.text, re.S
    )
    assert row and 'class="row-error"' in refused.text
    assert "Minutes late must be more than 0 for late." in row.group(0)
    assert await Attendance.count().where(Attendance.session == sid) == 0
    # What was typed is kept: the statuses stay as chosen.
    assert f'name="status-{marcus}"' in refused.text
    form[f"late-{marcus}"] = "30"
    saved = await post_form(client, f"/sessions/{sid}/roster", form)
    assert saved.status_code == 303 and saved.headers["location"] == f"/sessions/{sid}"
    stored = (
        await Attendance.select()
        .where((Attendance.session == sid) & (Attendance.participant == marcus))
        .first()
    )
    assert (stored["status"], stored["minutes_attended"]) == ("late", 150)
    shown = await client.get(f"/sessions/{sid}")
    assert "Saved: 3 recorded, 0 corrected, 0 unchanged." in shown.text
    assert "150 of 180" in shown.text and "180 of 180" in shown.text
    assert re.search(rf'name="late-{marcus}"[^>]*value="30"', shown.text)
    # A refresh is a GET: nothing is stored again and the message is not shown twice.
    events = await AuditEvent.count()
    again = await client.get(f"/sessions/{sid}")
    assert "Saved:" not in again.text
    assert await Attendance.count().where(Attendance.session == sid) == 3
    assert await AuditEvent.count() == events


async def test_mark_all_present_without_the_script(client, demo) -> None:
    sid = await monday_group(client, demo)
    page = await client.get(f"/sessions/{sid}")
    assert "data-mark-all" in page.text and "Mark all present" in page.text
    marked = await client.get(f"/sessions/{sid}?mark=present")
    statuses = roster_form(marked.text)
    assert {v for k, v in statuses.items() if k.startswith("status-")} == {"present"}
    assert await Attendance.count().where(Attendance.session == sid) == 0  # shown, not saved
    script = await client.get("/sessions/minutes.js")
    assert script.status_code == 200 and "text/javascript" in script.headers["content-type"]
    assert "data-mark-all" in script.text


async def test_sessions_page_puts_new_session_first_and_touch_sized(client, demo) -> None:
    page = (await client.get("/sessions")).text
    assert page.index('href="/sessions/new"') < page.index("<table")
    new = await client.get("/sessions/new")
    assert new.status_code == 200 and "Relapse prevention group" in new.text
    bad = await post_form(
        client,
        "/sessions/new".removesuffix("/new"),
        {"program_id": str(demo["program"]["id"]), "session_type": "individual", "starts_at": ""},
    )
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")
    assert "Client (individual session) is required." in bad.text
    assert "Starts (program&#39;s local time) is required." in bad.text


async def test_correcting_absent_to_present_on_the_record_page(client, demo) -> None:
    marcus = demo["people"]["RB-1001"]
    record = (
        await Attendance.select()
        .where((Attendance.participant == marcus) & (Attendance.status == "absent_unexcused"))
        .first()
    )
    person = await client.get(f"/participants/{marcus}")
    assert f'href="/attendance/{record["id"]}"' in person.text
    assert re.search(rf'href="/attendance/{record["id"]}"[^>]*>Correct</a>', person.text)
    page = await client.get(f"/attendance/{record['id']}")
    assert 'name="minutes_late"' in page.text and 'value="0"' in page.text
    # The browser sends the form as it stood for the absence (0 and 0), status changed.
    done = await post_form(
        client,
        f"/attendance/{record['id']}/correct",
        {
            "status": "present",
            "minutes_late": "0",
            "minutes_left_early": "0",
            "note": "",
            "reason": "Sign-in sheet found",
        },
    )
    assert done.status_code == 303, done.text
    newest = (
        await Attendance.select()
        .where((Attendance.record_uid == record["record_uid"]) & Attendance.is_current.eq(True))
        .first()
    )
    assert (newest["status"], newest["minutes_attended"]) == ("present", 180)
    history = (await client.get(done.headers["location"])).text
    assert "Sign-in sheet found" in history and "180 / 180" in history
    refused = await post_form(
        client,
        f"/attendance/{newest['id']}/correct",
        {"status": "late", "minutes_late": "0", "minutes_left_early": "0", "reason": "x"},
    )
    assert refused.status_code == 422 and refused.headers["content-type"].startswith("text/html")
    assert "Minutes late must be more than 0 for late." in refused.text
