"""The daily draw as stored: once per program and day however many ask at once, today or
tomorrow only, every member of a called group called and nobody else, audited with a
digest of what was drawn, a call for cause added without changing the draw, a SAP plan's
count met within its year, and the scheduler's job and the CLI on the same rule."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from compliance import audit
from compliance.core.validation import InvalidInput
from compliance.core.vocabulary import CallReason
from compliance.disclosure import notices
from compliance.jobs import dispatch
from compliance.random_testing import call_in, draws, groups, windows
from compliance.staff.access import NotFound, program_today
from compliance.tables import (
    AuditEvent,
    CallInCheck,
    DrugTest,
    FollowUpPlan,
    OutboxMessage,
    Program,
    TestingCall,
    TestingCallExcuse,
    TestingDraw,
    TestingGroup,
    Violation,
)
from tests.support.app import another_browser
from tests.support.cli import run_cli, settings_env
from tests.support.openapi import conforms, published_schema
from tests.support.random_testing import (
    ALWAYS,
    GROUPS_ONLY,
    NEVER,
    make_pin,
    open_all_day,
    principal_of,
    testing_program,
)
from tests.support.staff import post_form, sign_in, staff_member

pytestmark = pytest.mark.db


@pytest.fixture
async def program(client: httpx.AsyncClient) -> dict:
    return await testing_program(client)


async def test_a_day_is_drawn_once_however_many_ask_at_once(program) -> None:
    a = program["world"].program_a
    results = await asyncio.gather(*(draws.draw(a, None, audit.SYSTEM) for _ in range(6)))
    assert sum(made for _, made in results) == 1
    assert len({view.id for view, _ in results}) == 1
    assert await TestingDraw.count() == 1
    again, made = await draws.draw(a, None, audit.CLI)
    assert not made and again == results[0][0]
    events = await AuditEvent.select().where(AuditEvent.action == "testing.draw")
    assert len(events) == 1
    detail = events[0]["detail"]
    detail = json.loads(detail) if isinstance(detail, str) else detail
    assert detail["digest"] == again.digest and "Ann" not in json.dumps(detail)


async def test_every_member_of_a_called_group_is_called_and_nobody_else(program) -> None:
    a, people = program["world"].program_a, program["people"]
    view, _ = await draws.draw(a, None, audit.SYSTEM, chance=ALWAYS)
    assert {g.name: g.called for g in view.groups} == {"Red": True, "Blue": True}
    called = {c.first_name: (c.reason, c.group_name) for c in view.calls}
    assert called == {"Ann": ("group", "Red"), "Bo": ("group", "Red"), "Cy": ("group", "Blue")}
    tomorrow = await program_today(a) + timedelta(days=1)
    quiet, _ = await draws.draw(a, tomorrow, audit.SYSTEM, chance=NEVER)
    assert quiet.calls == [] and not any(g.called for g in quiet.groups)
    # Bo moves to Blue from tomorrow: today's draw stays as drawn.
    await groups.assign(
        program["staff"],
        people["Bo"],
        {"group_id": program["blue"].id, "effective_on": tomorrow.isoformat()},
    )
    assert (await draws.draw(a, None, audit.SYSTEM))[0] == view


async def test_only_today_and_tomorrow_can_be_drawn(program) -> None:
    a = program["world"].program_a
    today = await program_today(a)
    for day, words in [
        (today + timedelta(days=2), "too far ahead"),
        (today - timedelta(days=1), "has passed"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            await draws.draw(a, day, audit.SYSTEM)
        assert refused.value.errors[0].field == "date" and words in refused.value.errors[0].reason
    assert await TestingDraw.count() == 0 and await TestingCall.count() == 0
    _, made = await draws.draw(a, today + timedelta(days=1), audit.SYSTEM)
    assert made


async def test_a_call_for_cause_joins_the_draw_and_changes_nothing_drawn(program) -> None:
    a, people, staff = program["world"].program_a, program["people"], program["staff"]
    view, _ = await draws.draw(a, None, audit.SYSTEM, chance=NEVER)
    call = await draws.call_for_cause(staff, people["Di"], {"note": "smelled of alcohol"})
    assert call.reason == CallReason.for_cause and call.note == "smelled of alcohol"
    after, made = await draws.draw(a, None, audit.SYSTEM)
    assert not made and after.digest == view.digest and after.groups == view.groups
    assert [c.first_name for c in after.calls] == ["Di"]
    with pytest.raises(InvalidInput, match="already called"):
        await draws.call_for_cause(staff, people["Di"], {"note": "again"})
    with pytest.raises(InvalidInput):
        await draws.call_for_cause(staff, people["Ann"], {})  # a reason is required
    stranger = await principal_of(program["world"].clinician_b)
    with pytest.raises(NotFound):
        await draws.call_for_cause(stranger, people["Ann"], {"note": "x"})
    assert await TestingCall.count() == 1


async def test_group_names_and_rates_are_checked(program) -> None:
    staff, a = program["staff"], program["world"].program_a
    for body, field in [
        ({"name": "Red", "tests_per_week": 2}, "name"),
        ({"name": "Green", "tests_per_week": 8}, "tests_per_week"),
        ({"name": "Green", "tests_per_week": 0}, "tests_per_week"),
        ({"name": "", "tests_per_week": 2}, "name"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            await groups.create_group(staff, a, body)
        assert refused.value.errors[0].field == field, body
    today = await program_today(a)
    with pytest.raises(InvalidInput, match="already drawn"):
        await groups.assign(
            staff,
            program["people"]["Di"],
            {
                "group_id": program["red"].id,
                "effective_on": (today - timedelta(days=1)).isoformat(),
            },
        )
    listed = {g.name: g.members for g in await groups.list_groups(staff, a)}
    assert listed == {"Blue": 1, "Red": 2}  # Ed is discharged


async def _follow_up_plan(client: httpx.AsyncClient, participant: int, returned: date) -> None:
    """A DOT SAP mandate and its plan: 6 tests in the first of 12 months from ``returned``."""
    mandate = await client.post(
        f"/api/participants/{participant}/mandates",
        json={
            "source": "dot_sap",
            "contact_name": "Ellen Marsh",
            "starts_on": "2026-01-05",
            "phases": [{"name": "F", "required_hours_per_week": "1", "required_tests_per_week": 1}],
        },
    )
    assert mandate.status_code == 201, mandate.text
    plan = await client.put(
        f"/api/mandates/{mandate.json()['id']}/followup-plan",
        json={
            "return_to_duty_on": returned.isoformat(),
            "tests_first_year": 6,
            "months": 12,
            "substances": "both",
            "set_by": "Ellen Marsh",
            "set_on": (returned - timedelta(days=3)).isoformat(),
        },
    )
    assert plan.status_code in (200, 201), plan.text


async def test_a_follow_up_plan_is_met_within_its_year(client, program) -> None:
    """A DOT client returned to duty 300 days ago with no plan test yet: 6 are due in the
    year's last 65 days, and drawing each of them calls exactly 6, even on the luck that
    calls a plan only when it must."""
    a, people = program["world"].program_a, program["people"]
    today = await program_today(a)
    await _follow_up_plan(client, people["Di"], today - timedelta(days=300))
    assert await FollowUpPlan.count() == 1
    last_day = today - timedelta(days=300)
    last_day = date(last_day.year + 1, last_day.month, last_day.day) - timedelta(days=1)
    day, plan_calls = today, 0
    while day <= last_day + timedelta(days=3):
        view, _ = await draws.draw(a, day, audit.SYSTEM, chance=NEVER, today=day)
        plan_calls += sum(c.reason == "follow_up_plan" for c in view.calls)
        day += timedelta(days=1)
    assert plan_calls == 6


async def test_the_scheduled_job_draws_each_program_once_a_day(program, settings) -> None:
    world = program["world"]
    first = await dispatch.run(settings, "testing_draw")
    assert first == 2  # programs A and B, each on its own clock
    assert await dispatch.run(settings, "testing_draw") == 0
    days = {r["program"]: r["day"] for r in await TestingDraw.select()}
    assert days == {
        world.program_a: await program_today(world.program_a),
        world.program_b: await program_today(world.program_b),
    }


async def test_the_draw_command(program, database_url, tmp_path) -> None:
    env = settings_env(database_url, tmp_path)
    made = await asyncio.to_thread(run_cli, "testing", "draw", "--program", "A", env=env)
    assert made.returncode == 0, made.stderr
    assert "drawn now" in made.stdout
    again = await asyncio.to_thread(run_cli, "testing", "draw", "--program", "A", env=env)
    assert (
        "drawn already" in again.stdout
        and again.stdout.splitlines()[1:] == made.stdout.splitlines()[1:]
    )
    ahead = (await program_today(program["world"].program_a) + timedelta(days=3)).isoformat()
    late = await asyncio.to_thread(
        run_cli, "testing", "draw", "--program", "A", "--date", ahead, env=env
    )
    assert late.returncode == 1 and "too far ahead" in late.stderr
    assert await TestingDraw.count() == 1


async def test_the_api_answers_as_documented(client, program) -> None:
    """Groups, an assignment, the day's draw (201 made, 200 as stored), one day and the
    history, a call for cause, and a day too far ahead refused: each answer as the
    published schema says, and the refused one changes nothing."""
    a, people = program["world"].program_a, program["people"]
    schema = await published_schema(client)
    base = "/api/programs/{program_id}"
    today = await program_today(a)
    answers = [
        (
            "POST",
            base + "/testing-groups",
            await client.post(
                f"/api/programs/{a}/testing-groups", json={"name": "Green", "tests_per_week": 1}
            ),
            {"program_id": a},
        ),
        (
            "POST",
            base + "/testing-groups",
            await client.post(
                f"/api/programs/{a}/testing-groups", json={"name": "Green", "tests_per_week": 9}
            ),
            {"program_id": a},
        ),
        (
            "GET",
            base + "/testing-groups",
            await client.get(f"/api/programs/{a}/testing-groups"),
            {"program_id": a},
        ),
        (
            "PUT",
            "/api/participants/{participant_id}/testing-group",
            await client.put(
                f"/api/participants/{people['Di']}/testing-group",
                json={
                    "group_id": program["blue"].id,
                    "reason": "phase 2",
                    "effective_on": (today + timedelta(days=1)).isoformat(),
                },
            ),
            {"participant_id": people["Di"]},
        ),
        (
            "POST",
            base + "/draws",
            await client.post(
                f"/api/programs/{a}/draws", json={"date": (today + timedelta(days=2)).isoformat()}
            ),
            {"program_id": a},
        ),
        (
            "POST",
            base + "/draws",
            await client.post(f"/api/programs/{a}/draws", json={}),
            {"program_id": a},
        ),
        (
            "POST",
            base + "/draws",
            await client.post(f"/api/programs/{a}/draws", json={}),
            {"program_id": a},
        ),
        (
            "GET",
            base + "/draws/{day}",
            await client.get(f"/api/programs/{a}/draws/{today.isoformat()}"),
            {"program_id": a},
        ),
        ("GET", base + "/draws", await client.get(f"/api/programs/{a}/draws"), {"program_id": a}),
        (
            "POST",
            "/api/participants/{participant_id}/testing-calls",
            await client.post(
                f"/api/participants/{people['Ed']}/testing-calls", json={"note": "x"}
            ),
            {"participant_id": people["Ed"]},
        ),
        (
            "POST",
            "/api/participants/{participant_id}/testing-calls",
            await client.post(
                f"/api/participants/{people['Di']}/testing-calls",
                json={"note": "missed group, seemed impaired"},
            ),
            {"participant_id": people["Di"]},
        ),
    ]
    assert [r.status_code for _, _, r, _ in answers] == [
        201,
        422,
        200,
        200,
        422,
        201,
        200,
        200,
        200,
        422,
        201,
    ]
    assert answers[4][2].json()["errors"][0]["field"] == "date"
    assert answers[5][2].json() == answers[6][2].json() == answers[7][2].json()
    assert [d["day"] for d in answers[8][2].json()] == [today.isoformat()]
    assert "not enrolled" in answers[9][2].text  # Ed was discharged yesterday
    for method, template, response, ids in answers:
        if "{day}" in template:
            ids = {**ids, "day": today.isoformat()}
        await conforms(schema, method, template, response, **ids)
    drawn = (await client.get(f"/api/programs/{a}/draws/{today.isoformat()}")).json()
    assert {c["client_id"] for c in drawn["calls"]} >= {"D4"}
    assert await TestingDraw.count() == 1


# --- the collection window -------------------------------------------------------------


async def test_a_collection_answers_its_call_and_a_closed_window_is_a_missed_test(
    client, program
) -> None:
    """Red and Blue are called; Ann gives a specimen inside the window (recorded through
    the API, as any test); when the window closes Bo and Cy, who gave none, each get one
    missed test (no-show, called at the window's opening), once however often the job
    runs, and Ann none."""
    a, people = program["world"].program_a, program["people"]
    await open_all_day(a)
    view, _ = await draws.draw(a, None, audit.SYSTEM, chance=ALWAYS)
    ann = next(c for c in view.calls if c.first_name == "Ann")
    assert ann.state == "called"
    assert ann.window_closes_at - ann.window_opens_at == timedelta(hours=24)
    collected = max(ann.window_opens_at, datetime.now(UTC) - timedelta(seconds=1))
    answer = await client.post(
        f"/api/participants/{people['Ann']}/drug-tests",
        json={
            "collected_at": collected.isoformat(),
            "results": [{"analyte": "thc", "screen_result": "negative"}],
        },
    )
    assert answer.status_code == 201, answer.text
    assert await windows.close_windows() == 0  # nobody's window has closed yet
    after = ann.window_closes_at + timedelta(minutes=1)
    assert await windows.close_windows(after) == 2
    assert await windows.close_windows(after + timedelta(minutes=5)) == 0
    view, _ = await draws.draw(a, None, audit.SYSTEM)
    states = {c.first_name: c.state for c in view.calls}
    assert states == {"Ann": "collected", "Bo": "missed", "Cy": "missed"}
    missed = await DrugTest.select().where(DrugTest.collection_status == "no_show")
    assert sorted(m["participant"] for m in missed) == sorted([people["Bo"], people["Cy"]])
    assert all(m["called_at"] == ann.window_opens_at and m["source"] == "system" for m in missed)
    assert all(m["reason"] == "random" for m in missed)


async def test_a_missed_call_gives_a_violation_and_exactly_one_notice(
    client, demo, settings
) -> None:
    """The demo's court client, in Blue, drawn today, gives no specimen: the window's
    close records the missed test, its violation, and one notice to the probation
    officer the court consent names; running everything again sends nothing more."""
    court = demo["people"]["RB-1001"]
    program_id = demo["program"]["id"]
    await open_all_day(program_id)
    staff = await principal_of("staff@example.org")
    # The demo has the court client in Blue and the EAP client in Green: this test
    # follows the court client alone.
    await groups.assign(staff, demo["people"]["RB-1002"], {"reason": "test"})
    await notices.send_violation_notices(settings)  # the demo's own violations first
    before = (await Violation.count(), await OutboxMessage.count())
    view, _ = await draws.draw(program_id, None, audit.SYSTEM, chance=GROUPS_ONLY)
    [call] = view.calls
    assert call.participant_id == court
    after = call.window_closes_at + timedelta(minutes=1)
    assert await windows.close_windows(after) == 1
    assert await Violation.count() == before[0] + 1
    assert await notices.send_violation_notices(settings) == 1
    assert await windows.close_windows(after) == 0
    assert await notices.send_violation_notices(settings) == 0
    assert await OutboxMessage.count() == before[1] + 1
    rows = await OutboxMessage.select().order_by(OutboxMessage.id, ascending=False).limit(1)
    assert rows[0]["to_address"] == "dwhitfield@probation.example"


# --- the call-in -------------------------------------------------------------------------


async def test_draw_check_in_then_the_collection_answers_the_call(client, program) -> None:
    """Ann checks in on the page (no staff session), is told to test, gives a specimen
    recorded through the API: her call is answered and no missed test follows. Di, in no
    group, hears "No test today". Both check-ins are recorded; neither page names anyone."""
    a, people = program["world"].program_a, program["people"]
    await open_all_day(a)
    await Program.update({Program.testing_site: "Riverbend lab, 12 Main St"}).where(Program.id == a)
    pins = {who: await make_pin(client, people[who]) for who in ("Ann", "Di")}
    await draws.draw(a, None, audit.SYSTEM, chance=ALWAYS)
    async with another_browser(client) as phone:
        form = await phone.get("/call-in/A")
        assert form.status_code == 200 and 'name="pin"' in form.text
        token = phone.cookies["csrftoken"]
        told = {}
        for who, number in (("Ann", "A1"), ("Di", "D4")):
            page = await phone.post(
                "/call-in/A", data={"number": number, "pin": pins[who], "_csrf_token": token}
            )
            assert page.status_code == 200, page.text
            told[who] = page.text
            assert "Tester" not in page.text and who not in page.text
    assert "Test today at Riverbend lab, 12 Main St by" in told["Ann"]
    assert "No test today." in told["Di"]
    checks = await CallInCheck.select().order_by(CallInCheck.id)
    assert [(c["participant"], c["called"], c["channel"]) for c in checks] == [
        (people["Ann"], True, "web"),
        (people["Di"], False, "web"),
    ]
    recorded = await client.post(
        f"/api/participants/{people['Ann']}/drug-tests",
        json={
            "collected_at": (datetime.now(UTC) - timedelta(seconds=1)).isoformat(),
            "results": [{"analyte": "thc", "screen_result": "negative"}],
        },
    )
    assert recorded.status_code == 201, recorded.text
    view, _ = await draws.draw(a, None, audit.SYSTEM)
    ann = next(c for c in view.calls if c.first_name == "Ann")
    assert (ann.state, ann.drug_test_id) == ("collected", recorded.json()["id"])
    assert await windows.close_windows(ann.window_closes_at + timedelta(minutes=1)) == 2
    assert await DrugTest.count().where(DrugTest.participant == people["Ann"]) == 1


async def test_five_wrong_pins_lock_and_a_wrong_number_says_the_same(client, program) -> None:
    a, people = program["world"].program_a, program["people"]
    await open_all_day(a)
    pin = await make_pin(client, people["Ann"])
    wrong = f"{(int(pin) + 1) % 10**6:06d}"
    now = datetime.now(UTC)
    answers = [await call_in.check_in("A", "A1", wrong, "web", now) for _ in range(5)]
    assert [x.status for x in answers] == ["refused"] * 4 + ["locked"]
    assert answers[0].message == (await call_in.check_in("A", "ZZ9", pin, "web", now)).message
    assert (await call_in.check_in("B", "A1", pin, "web", now)).status == "refused"
    assert (await call_in.check_in("A", "A1", pin, "web", now)).status == "locked"
    later = now + call_in.LOCKED_FOR + timedelta(minutes=1)
    assert (await call_in.check_in("A", "A1", pin, "web", later)).status in ("test", "no_test")
    assert await CallInCheck.count() == 1  # only the answered check-in
    assert await AuditEvent.count().where(AuditEvent.action == "call_in.locked") == 1
    # A new PIN from staff replaces the old one.
    fresh = await make_pin(client, people["Ann"])
    if fresh != pin:
        assert (await call_in.check_in("A", "A1", pin, "web", later)).status == "refused"
    assert (await call_in.check_in("A", "A1", fresh, "web", later)).status in ("test", "no_test")


async def test_before_the_call_in_opens_the_calls_are_not_shown(client, program) -> None:
    a, people = program["world"].program_a, program["people"]
    pin = await make_pin(client, people["Ann"])
    today = await program_today(a)
    opens, _ = await draws.window_of(a, today)
    early = await call_in.check_in("A", "A1", pin, "web", opens - timedelta(minutes=1))
    assert early.status == "not_open" and "posted at" in early.message
    assert await TestingDraw.count() == 0 and await CallInCheck.count() == 0


async def test_the_phone_line_asks_with_its_own_key(client, program) -> None:
    a, people = program["world"].program_a, program["people"]
    await open_all_day(a)
    pin = await make_pin(client, people["Cy"])
    await draws.draw(a, None, audit.SYSTEM, chance=ALWAYS)
    key = await call_in.new_phone_line_key(a, "IVR vendor", audit.CLI)
    body = {"participant_number": "C3", "pin": pin}
    async with another_browser(client) as line:
        assert (await line.post("/api/call-in", json=body)).status_code == 401
        bad = {"authorization": "Bearer not-a-key"}
        assert (await line.post("/api/call-in", json=body, headers=bad)).status_code == 401
        good = {"authorization": f"Bearer {key}"}
        answer = await line.post("/api/call-in", json=body, headers=good)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "test" and "Test today at" in answer.json()["message"]
        wrong = await line.post("/api/call-in", json={**body, "pin": "x"}, headers=good)
        assert wrong.json()["status"] == "refused"
        schema = await published_schema(client)
        await conforms(schema, "POST", "/api/call-in", answer)
    checks = await CallInCheck.select()
    assert [(c["participant"], c["channel"], c["called"]) for c in checks] == [
        (people["Cy"], "phone", True)
    ]
    assert key not in json.dumps(
        [dict(r) for r in await AuditEvent.select(AuditEvent.detail)], default=str
    )


# --- staff pages -----------------------------------------------------------------------


async def test_the_pages_show_the_day_and_take_the_forms(client, program) -> None:
    """The day's page before and after the draw (button, groups called, each call with
    why, test-by time, check-in and specimen state), a group added from it; the
    participant's page moves them to a group, calls them for cause and shows a new PIN
    exactly once."""
    a, people = program["world"].program_a, program["people"]
    await open_all_day(a)
    assert (await client.get("/testing")).headers["location"] == f"/programs/{a}/testing"
    before = await client.get(f"/programs/{a}/testing")
    assert before.status_code == 200 and "Draw today" in before.text
    drawn = await post_form(client, f"/programs/{a}/testing/draw", {})
    assert drawn.status_code == 303
    page = (await client.get(f"/programs/{a}/testing")).text
    assert "Draw today" not in page and "Groups called" in page
    view, _ = await draws.draw(a, None, audit.SYSTEM)
    for call in view.calls:
        assert f"{call.last_name}, {call.first_name}" in page
    added = await post_form(
        client, f"/programs/{a}/testing/groups", {"name": "Green", "tests_per_week": "1"}
    )
    assert added.status_code == 303
    refused = await post_form(
        client, f"/programs/{a}/testing/groups", {"name": "Green", "tests_per_week": "9"}
    )
    assert refused.status_code == 422 and "must be at most 7" in refused.text
    mine = f"/participants/{people['Di']}/testing"
    assert (await client.get(mine)).status_code == 200
    moved = await post_form(
        client, f"{mine}/group", {"group_id": str(program["red"].id), "reason": "phase 1"}
    )
    assert moved.status_code == 303
    assert "Testing group today: <strong>Red</strong>" in (await client.get(mine)).text
    called = await post_form(client, f"{mine}/call", {"note": "missed group"})
    if any(c.participant_id == people["Di"] for c in view.calls):
        assert called.status_code == 422  # already called today by the draw
    else:
        assert called.status_code == 303
        assert "for cause: missed group" in (await client.get(f"/programs/{a}/testing")).text
    made = await post_form(client, f"{mine}/pin", {})
    assert made.status_code == 303
    shown = (await client.get(mine)).text
    pin = shown.split('class="pin">', 1)[1].split("<", 1)[0]
    assert len(pin) == 6 and pin.isdigit()
    assert "<code>http://testserver/call-in/A</code>" in shown  # the address to give out
    assert pin not in (await client.get(mine)).text  # once
    assert (await call_in.check_in("A", "D4", pin, "web")).status in ("test", "no_test")


async def test_a_plan_counts_the_tests_done_not_the_calls_made(client, program) -> None:
    """The plan's year needs 6: 6 follow-up tests already collected this year leave
    nothing due (the draw calls no more), and a missed plan call does not count as done
    (the plan calls again)."""
    a, people = program["world"].program_a, program["people"]
    today = await program_today(a)
    returned = today - timedelta(days=40)
    await _follow_up_plan(client, people["Di"], returned)
    due = await draws.plans_due(a, today)
    assert [(d.still_due, d.days_left > 300) for d in due] == [(6, True)]
    called, _ = await draws.draw(a, None, audit.SYSTEM, chance=ALWAYS)
    assert [c.reason for c in called.calls if c.first_name == "Di"] == ["follow_up_plan"]
    tomorrow = today + timedelta(days=1)
    # Today's call has no specimen: tomorrow the plan still needs all 6.
    assert [d.still_due for d in await draws.plans_due(a, tomorrow)] == [6]
    for k in range(6):
        done = await client.post(
            f"/api/participants/{people['Di']}/drug-tests",
            json={
                "collected_at": f"{(returned + timedelta(days=k + 1)).isoformat()}T09:00",
                "reason": "follow_up",
                "observed": True,
                "results": [{"analyte": "thc", "screen_result": "negative"}],
            },
        )
        assert done.status_code == 201, done.text
    assert [d.still_due for d in await draws.plans_due(a, tomorrow)] == [0]
    view, _ = await draws.draw(a, tomorrow, audit.SYSTEM, chance=ALWAYS)
    assert "Di" not in {c.first_name for c in view.calls}


async def test_an_excused_call_is_no_missed_test_and_the_draw_stays_as_drawn(
    client, program
) -> None:
    """Bo is excused (in hospital) before his window closes: no missed test when it
    closes, while Ann, not excused, has one. A call with a missed test already recorded,
    or excused twice, is refused; another program's clinician gets 404."""
    a, people = program["world"].program_a, program["people"]
    await open_all_day(a)
    view, _ = await draws.draw(a, None, audit.SYSTEM, chance=ALWAYS)
    calls = {c.first_name: c for c in view.calls}
    excused = await client.post(
        f"/api/testing-calls/{calls['Bo'].id}/excuse", json={"reason": "in hospital"}
    )
    assert excused.status_code == 200, excused.text
    assert excused.json()["state"] == "excused"
    again = await client.post(f"/api/testing-calls/{calls['Bo'].id}/excuse", json={"reason": "x"})
    assert again.status_code == 422 and "excused already" in again.text
    closed = calls["Ann"].window_closes_at + timedelta(minutes=1)
    assert await windows.close_windows(closed) == 2  # Ann and Cy, not Bo
    late = await client.post(f"/api/testing-calls/{calls['Ann'].id}/excuse", json={"reason": "x"})
    assert late.status_code == 422 and "correct that test instead" in late.text
    after, _ = await draws.draw(a, None, audit.SYSTEM)
    assert after.digest == view.digest
    assert {c.first_name: c.state for c in after.calls} == {
        "Ann": "missed",
        "Bo": "excused",
        "Cy": "missed",
    }
    assert await DrugTest.count().where(DrugTest.participant == people["Bo"]) == 0
    async with another_browser(client) as other:
        await sign_in(other, program["world"].clinician_b)
        refused = await other.post(
            f"/api/testing-calls/{calls['Cy'].id}/excuse", json={"reason": "x"}
        )
        assert refused.status_code == 404


async def test_a_retired_group_is_not_drawn_until_reinstated(client, program) -> None:
    """Red retired on the day's page is left out of today's draw (its members with it);
    reinstated through the API, it is drawn again from tomorrow's draw on, and today's
    stays as drawn. Both changes are audited."""
    a, red = program["world"].program_a, program["red"]
    retired = await post_form(client, f"/programs/{a}/testing/groups/{red.id}/retire", {})
    assert retired.status_code == 303
    page = (await client.get(f"/programs/{a}/testing")).text
    assert f"/testing/groups/{red.id}/reinstate" in page and "retired" in page
    today, _ = await draws.draw(a, None, audit.SYSTEM, chance=ALWAYS)
    assert [g.name for g in today.groups] == ["Blue"]
    assert {c.first_name for c in today.calls} == {"Cy"}
    back = await client.post(f"/api/testing-groups/{red.id}/reinstate")
    assert back.status_code == 200 and back.json()["retired"] is False
    tomorrow = await program_today(a) + timedelta(days=1)
    later, _ = await draws.draw(a, tomorrow, audit.SYSTEM, chance=ALWAYS)
    assert sorted(g.name for g in later.groups) == ["Blue", "Red"]
    assert (await draws.draw(a, None, audit.SYSTEM))[0] == today
    actions = [
        e["action"]
        for e in await AuditEvent.select(AuditEvent.action)
        .where(AuditEvent.action.is_in(["testing_group.retire", "testing_group.reinstate"]))
        .order_by(AuditEvent.id)
    ]
    assert actions == ["testing_group.retire", "testing_group.reinstate"]


async def test_a_page_acts_only_on_its_own_programs_group_or_call(client, program) -> None:
    """A clinician of both programs, on program B's day page, cannot retire, reinstate
    or excuse program A's group or call through it: 404, nothing changed or recorded.
    From program A's own page the same retire goes through."""
    world = program["world"]
    a, b, red = world.program_a, world.program_b, program["red"]
    await open_all_day(a)
    view, _ = await draws.draw(a, None, audit.SYSTEM, chance=ALWAYS)
    bo = next(c for c in view.calls if c.first_name == "Bo")
    await staff_member("both@example.org", [a, b])
    async with another_browser(client) as both:
        await sign_in(both, "both@example.org")
        for action in ("retire", "reinstate"):
            asked = await post_form(both, f"/programs/{b}/testing/groups/{red.id}/{action}", {})
            assert asked.status_code == 404, (action, asked.status_code)
        excused = await post_form(
            both, f"/programs/{b}/testing/calls/{bo.id}/excuse", {"reason": "asked from B"}
        )
        assert excused.status_code == 404
        assert (await TestingGroup.select().where(TestingGroup.id == red.id).first())[
            "retired_at"
        ] is None
        assert await TestingCallExcuse.count() == 0
        changes = ["testing_group.retire", "testing_group.reinstate", "testing.call_excused"]
        assert await AuditEvent.count().where(AuditEvent.action.is_in(changes)) == 0
        retired = await post_form(both, f"/programs/{a}/testing/groups/{red.id}/retire", {})
        assert retired.status_code == 303
