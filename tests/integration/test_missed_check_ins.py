"""Not checking in on a drawn day: recorded once, for the people the draw was for, when
the day's check-in closes; counted against the week only under the program's policy
(off by default), then a violation with one notice; excused with who and why, which
withdraws it. The windows job, the API and the pages on the same rule."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pypdf import PdfReader

from compliance import audit
from compliance.disclosure import notices
from compliance.engine import caseload
from compliance.random_testing import call_in, check_ins, draws
from compliance.staff.access import program_today
from compliance.tables import (
    AuditEvent,
    CheckInSweep,
    MissedCheckIn,
    MissedCheckInExcuse,
    OutboxMessage,
    Participant,
    Program,
    Violation,
)
from tests.support.app import another_browser
from tests.support.demo import link_path, officer_browser, secure_link
from tests.support.openapi import conforms, published_schema
from tests.support.random_testing import (
    ALWAYS,
    NEVER,
    make_pin,
    open_all_day,
    principal_of,
    testing_program,
)
from tests.support.staff import csrf_token, make_world, post_form, sign_in

pytestmark = pytest.mark.db


@pytest.fixture
async def program(client: httpx.AsyncClient) -> dict:
    return await testing_program(client)


async def _closed(program_id: int) -> datetime:
    """A minute after today's check-in closes (the call-in is open all day)."""
    _, due_by = await draws.window_of(program_id, await program_today(program_id))
    return due_by + timedelta(minutes=1)


async def _week_kinds(program_id: int, participant_id: int) -> list[str]:
    person = await Participant.select().where(Participant.id == participant_id).first()
    program = await Program.select().where(Program.id == program_id).first()
    today = await program_today(program_id)
    found = await caseload.evaluate_people(
        program, [person], [participant_id], today - timedelta(days=7), today
    )
    return [r.kind for w in found[participant_id].weeks for r in w.reasons]


async def test_who_did_not_check_in_is_recorded_once_when_the_day_closes(client, program) -> None:
    """Nobody is called. Ann checks in; Bo (in Red, with a PIN) does not; Cy (in Blue)
    has no PIN, so no way to check in; Di (no group) and Ed (discharged) are not expected.
    Before the close nothing is judged; after it Bo is recorded, once however often the
    job runs; the policy is off, so he has no violation and no reason against the week."""
    a, people = program["world"].program_a, program["people"]
    await open_all_day(a)
    pins = {who: await make_pin(client, people[who]) for who in ("Ann", "Bo", "Di", "Ed")}
    await draws.draw(a, None, audit.SYSTEM, chance=NEVER)
    assert (await call_in.check_in("A", "A1", pins["Ann"], "phone")).status == "no_test"
    assert await check_ins.record_missed() == 0  # the day's check-in is still open
    assert await CheckInSweep.count() == 0
    closed = await _closed(a)
    assert await check_ins.record_missed(closed) == 1
    assert await check_ins.record_missed(closed + timedelta(minutes=5)) == 0
    rows = await MissedCheckIn.select()
    assert [r["participant"] for r in rows] == [people["Bo"]]
    event = await AuditEvent.select().where(AuditEvent.action == "testing.check_ins_judged").first()
    detail = event["detail"]
    detail = json.loads(detail) if isinstance(detail, str) else detail
    assert detail == {"expected": 2, "missed": 1}  # counts only: no names in the trail
    assert await Violation.count() == 0
    assert "missed_check_in" not in await _week_kinds(a, people["Bo"])
    listed = await client.get(f"/api/participants/{people['Bo']}/missed-check-ins")
    assert listed.status_code == 200, listed.text
    [bo] = listed.json()
    assert bo["counts"] is False and bo["excused_at"] is None
    await conforms(
        await published_schema(client),
        "GET",
        "/api/participants/{participant_id}/missed-check-ins",
        listed,
        participant_id=people["Bo"],
    )
    assert (await client.get(f"/api/participants/{people['Ann']}/missed-check-ins")).json() == []


async def test_a_participant_called_that_day_is_judged_by_the_call_not_the_check_in(
    client, program
) -> None:
    """Red and Blue are called: Ann, Bo and Cy have calls, judged by their windows (a
    specimen or a missed test), so none of them gets a missed check-in as well (one
    event, one reason), though none checked in."""
    a, people = program["world"].program_a, program["people"]
    await open_all_day(a)
    for who in ("Ann", "Bo", "Cy"):
        await make_pin(client, people[who])
    view, _ = await draws.draw(a, None, audit.SYSTEM, chance=ALWAYS)
    assert len(view.calls) == 3
    assert await check_ins.record_missed(await _closed(a)) == 0
    assert await CheckInSweep.count() == 1 and await MissedCheckIn.count() == 0


async def test_when_the_program_counts_it_a_missed_check_in_is_a_violation_and_one_notice(
    client, demo, settings
) -> None:
    """The program's policy counts missed check-ins. The demo's court client does not
    check in: his week has the reason, a violation follows, and the probation officer
    gets exactly one notice; the page his link opens lists it. Excused through the API
    (the phone line was down), the violation is withdrawn and a second excuse is
    refused."""
    program_id = demo["program"]["id"]
    court = demo["people"]["RB-1001"]
    for client_id in ("RB-1001", "RB-1002"):
        await make_pin(client, demo["people"][client_id])
    await open_all_day(program_id)
    await Program.update({Program.missed_check_in_counts: True}).where(Program.id == program_id)
    await notices.send_violation_notices(settings)  # the demo's own violations first
    before = (await Violation.count(), await OutboxMessage.count())
    await draws.draw(program_id, None, audit.SYSTEM, chance=NEVER)
    recorded = await check_ins.record_missed(await _closed(program_id))
    assert recorded == 2  # the court and EAP clients; the DOT client has no PIN
    mine = await Violation.select().where(
        (Violation.participant == court) & (Violation.kind == "missed_check_in")
    )
    assert len(mine) == 1 and mine[0]["description"].startswith("Did not check in for testing")
    assert "missed_check_in" in await _week_kinds(program_id, court)
    assert await Violation.count() == before[0] + recorded
    officer = OutboxMessage.to_address == "dwhitfield@probation.example"
    told_before = await OutboxMessage.count().where(officer)
    sent = await notices.send_violation_notices(settings)
    assert await OutboxMessage.count().where(officer) == told_before + 1
    assert await OutboxMessage.count() == before[1] + sent  # the EAP client's: no court
    assert await notices.send_violation_notices(settings) == 0
    made = await secure_link(client, demo)
    async with officer_browser(client) as phone:
        page = await phone.get(link_path(made))
    assert page.status_code == 200
    listed = page.text.split('<ol class="violations">', 1)[1].split("</ol>", 1)[0]
    assert "Did not check in for testing" in listed  # among the open violations
    made = await client.post(
        f"/api/participants/{court}/reports",
        json={"kind": "court_progress", "recipient_id": demo["recipients"]["Dana Whitfield"]},
        headers={"x-csrftoken": await csrf_token(client)},
    )
    assert made.status_code == 201, made.text
    pdf = await client.get(f"/api/reports/{made.json()['id']}/pdf")
    text = " ".join(PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text().split())
    assert "Did not check in for testing" in text  # the report's events, as the engine says
    # The drug-test timeline marks it too (a cross, named in the legend), on the report
    # and on the client's page.
    assert "missed check-in" in " ".join(
        page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages
    )
    staff_page = (await client.get(f"/participants/{court}")).text
    timeline = staff_page.split('aria-labelledby="tt-title"', 1)[1].split("</svg>", 1)[0]
    assert "<title>Did not check in for testing" in timeline
    assert ">missed check-in</text>" in timeline
    [missed] = await MissedCheckIn.select().where(MissedCheckIn.participant == court)
    link = await client.get(f"/missed-check-ins/{missed['id']}", follow_redirects=False)
    assert link.status_code == 303
    assert link.headers["location"] == f"/participants/{court}/testing#check-ins"
    excused = await client.post(
        f"/api/missed-check-ins/{missed['id']}/excuse", json={"reason": "phone line down"}
    )
    assert excused.status_code == 200, excused.text
    assert excused.json()["counts"] is False and excused.json()["excused_by"] == "Sam Staff"
    [after] = await Violation.select().where(Violation.id == mine[0]["id"])
    assert after["withdrawn_at"] is not None
    assert "missed_check_in" not in await _week_kinds(program_id, court)
    # The signed report still lists it: the excuse marks the report out of date.
    signed = (await client.get(f"/api/reports/{made.json()['id']}")).json()
    assert signed["outdated"] is True
    assert [(c["record"], c["change"], c["reason"]) for c in signed["outdated_by"]] == [
        (f"missed_check_in:{missed['id']}", "excused", "phone line down")
    ]
    again = await client.post(
        f"/api/missed-check-ins/{missed['id']}/excuse", json={"reason": "twice"}
    )
    assert again.status_code == 422 and "excused already" in again.text
    assert await MissedCheckInExcuse.count() == 1


async def test_turning_the_policy_on_is_previewed_and_counts_what_was_recorded(
    client, program
) -> None:
    """Missed check-ins recorded while the policy was off count once an administrator
    turns it on: the preview names the new violations, and saving makes them."""
    world, a, people = program["world"], program["world"].program_a, program["people"]
    await open_all_day(a)
    for who in ("Ann", "Bo", "Cy"):
        await make_pin(client, people[who])
    await draws.draw(a, None, audit.SYSTEM, chance=NEVER)
    assert await check_ins.record_missed(await _closed(a)) == 3  # Ann, Bo, Cy
    await sign_in(client, world.admin_a)
    url = f"/api/admin/programs/{a}"
    change = {"missed_check_in_counts": True}
    preview = await client.post(f"{url}/policy-preview", json=change)
    assert preview.status_code == 200, preview.text
    assert preview.json()["changes"][0]["name"] == "missed_check_in_counts"
    new = preview.json()["new_violations"]
    assert sorted(v["client_id"] for v in new) == ["A1", "B2", "C3"]
    assert all(v["description"].startswith("Did not check in for testing") for v in new)
    saved = await client.patch(url, json={**change, "confirmation": preview.json()["confirmation"]})
    assert saved.status_code == 200, saved.text
    kinds = await Violation.select(Violation.kind, Violation.participant)
    assert sorted(k["participant"] for k in kinds if k["kind"] == "missed_check_in") == sorted(
        people[p] for p in ("Ann", "Bo", "Cy")
    )


async def test_the_pages_list_them_and_excuse_one(client, program) -> None:
    """The program's day and the participant's testing page list the missed check-in and
    what the policy makes of it; the page's form excuses it; another program's clinician
    can neither see nor excuse it."""
    world, a, people = program["world"], program["world"].program_a, program["people"]
    await open_all_day(a)
    await make_pin(client, people["Bo"])
    await draws.draw(a, None, audit.SYSTEM, chance=NEVER)
    await check_ins.record_missed(await _closed(a))
    day = await client.get(f"/programs/{a}/testing")
    assert day.status_code == 200
    assert "Missed check-ins" in day.text and "recorded only" in day.text
    assert "Tester, Bo" in day.text
    [bo] = await MissedCheckIn.select().where(MissedCheckIn.participant == people["Bo"])
    async with another_browser(client) as other:
        await sign_in(other, world.clinician_b)
        refused = await other.post(
            f"/api/missed-check-ins/{bo['id']}/excuse", json={"reason": "not mine"}
        )
        assert refused.status_code == 404
        assert (await other.get(f"/missed-check-ins/{bo['id']}")).status_code == 404
    page = await client.get(f"/participants/{people['Bo']}/testing")
    assert f"/testing/missed-check-ins/{bo['id']}/excuse" in page.text
    elsewhere = await post_form(
        client,
        f"/participants/{people['Ann']}/testing/missed-check-ins/{bo['id']}/excuse",
        {"reason": "asked from Ann's page"},
    )
    assert elsewhere.status_code == 404  # Bo's miss, not Ann's
    blank = await post_form(
        client,
        f"/participants/{people['Bo']}/testing/missed-check-ins/{bo['id']}/excuse",
        {"reason": ""},
    )
    assert blank.status_code == 422 and await MissedCheckInExcuse.count() == 0
    done = await post_form(
        client,
        f"/participants/{people['Bo']}/testing/missed-check-ins/{bo['id']}/excuse",
        {"reason": "in hospital"},
    )
    assert done.status_code == 303
    page = await client.get(f"/participants/{people['Bo']}/testing")
    assert "excused" in page.text and "in hospital" in page.text
    staff = await principal_of(world.clinician_a)
    [view] = await check_ins.of_participant(staff, people["Bo"])
    assert view.excused_at is not None and view.excuse_reason == "in hospital"
    assert view.excused_at <= datetime.now(UTC)


async def test_nobody_is_expected_on_a_day_without_groups_or_plans(client) -> None:
    """A program that has set up no random testing is drawn every day with nobody in it:
    its closed days record no missed check-ins."""
    world = await make_world()
    await sign_in(client, world.clinician_a)
    await open_all_day(world.program_a)
    await draws.draw(world.program_a, None, audit.SYSTEM)
    assert await check_ins.record_missed(await _closed(world.program_a)) == 0
    assert await CheckInSweep.count() == 1 and await MissedCheckIn.count() == 0
