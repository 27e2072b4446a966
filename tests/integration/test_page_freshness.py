"""Staff pages kept between loads (issue 18) still show every change on the very next
load, and never show one principal what their programs do not hold.

The caseload, the participant page, the sessions page and the roster keep what they
read from the records until the records change (``db.records_version``); these tests
load a page, change the records through the API as a clinician would, and load it
again. The demo is laid out to today, so this week's caseload holds the changes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from compliance.engine import caseload
from compliance.ops.demo import DEMO_TZ
from compliance.staff import accounts
from compliance.tables import DrugTest, Participant, Program, StaffUser, TreatmentSession
from tests.support.staff import demo_with_clinician, sign_in, staff_member

pytestmark = pytest.mark.own_demo  # the demo laid out up to now

EMAIL = "fresh@example.org"


@pytest.fixture
async def demo(client: httpx.AsyncClient) -> dict:
    now = datetime.now(ZoneInfo(DEMO_TZ))
    program = await demo_with_clinician(EMAIL, now=now)
    await sign_in(client, EMAIL)
    marcus = await Participant.select().where(Participant.client_id == "RB-1001").first()
    latest_group = (
        await TreatmentSession.select()
        .where(
            (TreatmentSession.session_type == "group")
            & (TreatmentSession.starts_at <= datetime.now(UTC))
        )
        .order_by(TreatmentSession.starts_at, ascending=False)
        .first()
    )
    return {"program": program, "marcus": marcus, "session": latest_group, "now": now}


async def _absent(client: httpx.AsyncClient, session_id: int, pid: int) -> None:
    """Marcus was marked present at the session; the clinician corrects it to absent."""
    answer = await client.put(
        f"/api/sessions/{session_id}/roster",
        json={
            "entries": [{"participant_id": pid, "status": "absent_unexcused"}],
            "reason": "Signed in by mistake; was not there.",
        },
    )
    assert answer.status_code in (200, 201), answer.text


async def test_caseload_shows_a_correction_on_the_next_load(client, demo) -> None:
    pid, session = demo["marcus"]["id"], demo["session"]
    before = await client.get("/caseload")
    assert before.status_code == 200
    assert (await client.get("/caseload")).text.count("Unexcused absence") == before.text.count(
        "Unexcused absence"
    )
    await _absent(client, session["id"], pid)
    after = await client.get("/caseload")
    when = session["starts_at"].astimezone(ZoneInfo(DEMO_TZ))
    words = f"Unexcused absence from group session {when:%a} {when.day} {when:%b}"
    assert words not in before.text and words in after.text
    api = (await client.get("/api/caseload")).json()
    marcus = next(r for r in api if r["participant_id"] == pid)
    assert any(words in text for text in marcus["reasons_this_week"] + marcus["reasons_last_week"])


async def test_participant_page_shows_a_new_meeting_on_the_next_load(client, demo) -> None:
    pid = demo["marcus"]["id"]
    page = f"/participants/{pid}"
    assert (await client.get(page)).status_code == 200
    when = (demo["now"] - timedelta(days=1)).replace(hour=6, minute=17, second=0, microsecond=0)
    shown = when.strftime("%Y-%m-%d %H:%M")
    assert shown not in (await client.get(page)).text
    answer = await client.post(
        f"/api/participants/{pid}/outside-meetings",
        json={
            "occurred_at": when.strftime("%Y-%m-%dT%H:%M"),
            "scheduled_minutes": 60,
            "meeting_name": "Early Risers (AA)",
            "proof": "Signed slip",
        },
    )
    assert answer.status_code == 201, answer.text
    assert shown in (await client.get(page)).text


async def test_roster_and_sessions_show_changes_on_the_next_load(client, demo) -> None:
    pid, session = demo["marcus"]["id"], demo["session"]
    roster = f"/sessions/{session['id']}"
    assert (
        'title="The record and its history; correct it there">v1</a>'
        in (await client.get(roster)).text
    )
    await _absent(client, session["id"], pid)
    assert (
        'title="The record and its history; correct it there">v2</a>'
        in (await client.get(roster)).text
    )

    assert "Freshness check" not in (await client.get("/sessions")).text
    starts = (demo["now"] + timedelta(days=2)).strftime("%Y-%m-%dT10:00")
    made = await client.post(
        "/api/sessions",
        json={
            "program_id": demo["program"]["id"],
            "starts_at": starts,
            "session_type": "individual",
            "scheduled_minutes": 50,
            "participant_id": pid,
            "title": "Freshness check",
        },
    )
    assert made.status_code == 201, made.text
    assert "Freshness check" in (await client.get("/sessions")).text


async def test_kept_pages_are_not_shown_to_another_program(client, demo) -> None:
    """A clinician of another program, after the demo's clinician filled the caches:
    the participant and the roster are not found, the caseload and sessions hold none of
    the demo's."""
    pid, session = demo["marcus"]["id"], demo["session"]
    for path in ("/caseload", f"/participants/{pid}", "/sessions", f"/sessions/{session['id']}"):
        assert (await client.get(path)).status_code == 200
    other = Program(code="OTHER", name="Other program", time_zone="America/New_York")
    await other.save()
    await staff_member("other@example.org", [other.id], full_name="Otto Other")
    await sign_in(client, "other@example.org")
    assert (await client.get(f"/participants/{pid}")).status_code == 404
    assert (await client.get(f"/sessions/{session['id']}")).status_code == 404
    caseload_page = (await client.get("/caseload")).text
    assert "RB-1001" not in caseload_page and "Showing 0 of 0" in caseload_page
    assert session["title"] not in (await client.get("/sessions")).text


async def test_a_called_test_turns_overdue_without_a_new_record(client, demo) -> None:
    """The kept caseload holds only until a called test's collection window closes:
    then the same records show it overdue."""
    pid = demo["marcus"]["id"]
    window = demo["program"]["collection_window_hours"]
    called = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    await DrugTest(
        participant=pid,
        called_at=called,
        collection_status="collected",  # called; no specimen recorded yet
        reason="random",
        lab_name="Prairie Toxicology Laboratory",
        source="manual",
    ).save()
    user = await StaffUser.select(StaffUser.id).where(StaffUser.email == EMAIL).first()
    principal = await accounts.load_principal(user["id"])
    assert principal is not None
    rows, stamp = await caseload.current(principal)
    tz = ZoneInfo(DEMO_TZ)
    midnight = datetime.combine(datetime.now(tz).date() + timedelta(days=1), time(0), tz)
    # Recomputed from then on (or from the program's midnight, if that comes first).
    assert stamp[-1] == min(called + timedelta(hours=window), midnight)
    assert next(r for r in rows if r.participant_id == pid).tests_overdue == 0


async def test_kept_participant_page_carries_this_session_and_live_links(client, demo) -> None:
    """The participant page is kept as HTML per principal and records version; each load
    still carries its own session's form token, and the secure links as they are now (a
    link's creation and use are not changes to the records)."""
    pid = demo["marcus"]["id"]
    page = f"/participants/{pid}"
    first = (await client.get(page)).text
    again = (await client.get(page)).text
    token = client.cookies["csrftoken"]
    assert f'name="_csrf_token" value="{token}"' in again and "<!--form-token-" not in again
    assert again == first

    officer = next(
        r for r in (await client.get("/api/recipients")).json() if r["name"] == "Dana Whitfield"
    )
    made = await client.post(f"/api/participants/{pid}/links", json={"recipient_id": officer["id"]})
    assert made.status_code == 201, made.text
    link = made.json()["link"]["id"]
    assert f"<td>#{link}</td>" in (await client.get(page)).text

    program = demo["program"]["id"]
    await staff_member("second@example.org", [program], full_name="Sam Second")
    await sign_in(client, "second@example.org")
    theirs = (await client.get(page)).text
    assert client.cookies["csrftoken"] != token
    assert f'value="{client.cookies["csrftoken"]}"' in theirs and token not in theirs
    assert "Sam Second" in theirs and "Fresh" not in theirs.split("<main")[0]


async def test_concurrent_loads_after_a_change_judge_the_caseload_once(client, demo) -> None:
    """Eight clinicians reloading after a change wait for one judgement: they all get
    the very same rows, made after the change."""
    user = await StaffUser.select(StaffUser.id).where(StaffUser.email == EMAIL).first()
    principal = await accounts.load_principal(user["id"])
    assert principal is not None
    before, _ = await caseload.current(principal)
    await _absent(client, demo["session"]["id"], demo["marcus"]["id"])
    found = await asyncio.gather(*(caseload.current(principal) for _ in range(8)))
    rows = found[0][0]
    assert rows is not before and all(r is rows for r, _ in found)
    marcus = next(r for r in rows if r.participant_id == demo["marcus"]["id"])
    assert "absence" in marcus.kinds_this_week + marcus.kinds_last_week
