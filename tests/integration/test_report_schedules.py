"""Reports on a schedule: the due period (weekly on a weekday, monthly on a day, a missed
run caught up once), a schedule refused for a recipient no consent covers, one signed
report a week sent through the outbox however often the job runs, and a run skipped
(and saying so) once the consent has lapsed."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from compliance.core.validation import InvalidInput
from compliance.disclosure import schedules
from compliance.jobs import dispatch
from compliance.staff import accounts
from compliance.tables import (
    Consent,
    OutboxMessage,
    Report,
    ReportSchedule,
    ReportScheduleRun,
    StaffUser,
)
from tests.support.app import another_browser
from tests.support.cli import run_cli, settings_env
from tests.support.staff import demo_up_to_now, post_form, sign_in, staff_member

pytestmark = pytest.mark.db

MONDAY = 0


def test_a_week_is_due_on_its_weekday_after_it_ends() -> None:
    # Weeks start Monday. On Wed 9 Dec the week of 30 Nov-6 Dec is due for Monday and
    # Wednesday sends, not yet for Thursday's (which falls back to the week before).
    wednesday = date(2026, 12, 9)
    week = (date(2026, 11, 30), date(2026, 12, 6))
    before = (date(2026, 11, 23), date(2026, 11, 29))
    assert schedules.due_period("weekly", 0, wednesday, 0) == week
    assert schedules.due_period("weekly", 2, wednesday, 0) == week
    assert schedules.due_period("weekly", 3, wednesday, 0) == before
    # A server down for three weeks sends the latest due week, once.
    assert schedules.due_period("weekly", 0, date(2026, 12, 28), 0) == (
        date(2026, 12, 21),
        date(2026, 12, 27),
    )


def test_a_month_is_due_on_its_day_after_it_ends() -> None:
    november = (date(2026, 11, 1), date(2026, 11, 30))
    assert schedules.due_period("monthly", 1, date(2026, 12, 1), 0) == november
    assert schedules.due_period("monthly", 5, date(2026, 12, 3), 0) == (
        date(2026, 10, 1),
        date(2026, 10, 31),
    )
    assert schedules.due_period("monthly", 5, date(2026, 12, 5), 0) == november


async def _staff() -> accounts.Principal:
    row = await StaffUser.select(StaffUser.id).where(StaffUser.email == "staff@example.org").first()
    principal = await accounts.load_principal(row["id"])
    assert principal is not None
    return principal


async def _schedule(
    client: httpx.AsyncClient, participant: int, recipient: int, kind: str, **when: object
) -> httpx.Response:
    body = {"recipient_id": recipient, "kind": kind, "frequency": "weekly", "send_day": MONDAY}
    return await client.post(
        f"/api/participants/{participant}/report-schedules", json={**body, **when}
    )


async def test_a_schedule_for_a_recipient_no_consent_covers_is_refused(client, demo) -> None:
    eap = demo["people"]["RB-1002"]
    answer = await _schedule(client, eap, demo["recipients"]["Dana Whitfield"], "court_progress")
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "recipient_id"
    for body, field in [
        ({"frequency": "daily", "send_day": 1}, "frequency"),
        ({"frequency": "weekly", "send_day": 7}, "send_day"),
        ({"frequency": "monthly", "send_day": 29}, "send_day"),
    ]:
        refused = await _schedule(
            client, eap, demo["recipients"]["Renee Cho"], "eap_status", **body
        )
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == field
    assert await ReportSchedule.count() == 0


async def test_a_weekly_schedule_sends_one_signed_report_a_week(client, demo, settings) -> None:
    """Run as the scheduler would, twice at each moment, two weeks apart (in the past, so
    each week is over): two reports, two e-mails, two runs recorded as sent."""
    court = demo["people"]["RB-1001"]
    made = await _schedule(client, court, demo["recipients"]["Dana Whitfield"], "court_progress")
    assert made.status_code == 201, made.text
    assert made.json()["when"] == "weekly on Monday"
    before = await OutboxMessage.count()
    start = datetime.now(UTC) - timedelta(days=15)
    for week in range(2):
        moment = start + timedelta(weeks=week)
        assert await schedules.run_due(settings, moment) == {"sent": 1, "skipped": 0}
        assert await schedules.run_due(settings, moment + timedelta(hours=1)) == {
            "sent": 0,
            "skipped": 0,
        }
    runs = await ReportScheduleRun.select().order_by(ReportScheduleRun.period_start)
    assert [r["outcome"] for r in runs] == ["sent", "sent"]
    assert runs[1]["period_start"] - runs[0]["period_start"] == timedelta(days=7)
    reports = await Report.select().where(Report.participant == court)
    assert len(reports) == 2 and {r["kind"] for r in reports} == {"court_progress"}
    assert await OutboxMessage.count() == before + 2
    listed = (await client.get(f"/api/participants/{court}/report-schedules")).json()
    assert [r["outcome"] for r in listed[0]["runs"]] == ["sent", "sent"]


@pytest.fixture
async def demo_now(client: httpx.AsyncClient) -> dict:
    """The demo laid out up to now: its EAP client's twelve-week consent is still valid
    today (at ``DEMO_NOW`` it ran out on 21 Dec 2026)."""
    return await demo_up_to_now(client)


async def test_a_lapsed_consent_skips_the_run_and_says_so(client, demo_now, settings) -> None:
    demo = demo_now
    eap = demo["people"]["RB-1002"]
    made = await _schedule(client, eap, demo["recipients"]["Renee Cho"], "eap_status")
    assert made.status_code == 201, made.text
    consent = await Consent.select().where(Consent.participant == eap).first()
    revoked = await client.post(f"/api/consents/{consent['id']}/revoke", json={"note": "client"})
    assert revoked.status_code == 200, revoked.text
    before = (await Report.count(), await OutboxMessage.count())
    moment = datetime.now(UTC) - timedelta(days=8)
    assert await dispatch.run(settings, "scheduled_reports") in (
        {"sent": 0, "skipped": 1},
        {"sent": 0, "skipped": 0},  # this week's is not due yet on the real clock
    )
    await schedules.run_due(settings, moment)
    runs = await ReportScheduleRun.select()
    assert runs and all(r["outcome"] == "skipped" for r in runs)
    assert "revoked" in runs[0]["reason"]
    assert (await Report.count(), await OutboxMessage.count()) == before
    page = await client.get(f"/participants/{eap}")
    assert "revoked" in page.text and "Scheduled reports" in page.text


async def test_an_ended_schedule_sends_nothing(client, demo, settings) -> None:
    court = demo["people"]["RB-1001"]
    made = await _schedule(
        client,
        court,
        demo["recipients"]["Dana Whitfield"],
        "court_progress",
        frequency="monthly",
        send_day=1,
    )
    ended = await client.post(f"/api/report-schedules/{made.json()['id']}/end")
    assert ended.status_code == 200 and ended.json()["ended_at"] is not None
    assert await schedules.run_due(settings) == {"sent": 0, "skipped": 0}
    with pytest.raises(InvalidInput):
        await schedules.create_schedule(await _staff(), court, {"kind": "discharge_letter"})


async def test_the_schedules_command_lists_them(client, demo, database_url, tmp_path) -> None:
    court = demo["people"]["RB-1001"]
    made = await _schedule(client, court, demo["recipients"]["Dana Whitfield"], "court_progress")
    assert made.status_code == 201
    listed = await asyncio.to_thread(
        run_cli, "reports", "schedules", env=settings_env(database_url, tmp_path)
    )
    assert listed.returncode == 0, listed.stderr
    assert "RB-1001: court_progress to Dana Whitfield, weekly on Monday; not run yet" in (
        listed.stdout
    )


async def test_the_page_form_sets_one_up_from_a_single_when_choice(client, demo) -> None:
    """The participant page offers "every Wednesday" or "monthly on day 5" as one choice;
    the form's schedule is the API's weekly on day 2, and a choice the page does not
    offer is refused whole, by name."""
    court = demo["people"]["RB-1001"]
    page = (await client.get(f"/participants/{court}")).text
    assert '<option value="weekly:2">every Wednesday</option>' in page
    assert '<option value="monthly:5">monthly on day 5</option>' in page
    body = {"recipient_id": str(demo["recipients"]["Dana Whitfield"]), "kind": "court_progress"}
    made = await post_form(
        client, f"/participants/{court}/report-schedules", {**body, "when": "weekly:2"}
    )
    assert made.status_code == 303, made.text
    [listed] = (await client.get(f"/api/participants/{court}/report-schedules")).json()
    assert (listed["frequency"], listed["send_day"]) == ("weekly", 2)
    refused = await post_form(
        client, f"/participants/{court}/report-schedules", {**body, "when": "monthly:31"}
    )
    assert refused.status_code == 422 and "when: must be at most 28" in refused.text
    assert await ReportSchedule.count() == 1


async def test_another_clinician_takes_a_schedule_over_without_sending_a_week_twice(
    client, demo, settings
) -> None:
    """Sam's weekly schedule sends a week; Kim, a clinician of the same program, takes it
    over from the client's page: Sam's ends, Kim's begins with the same recipient, report
    and day, and the week Sam's sent is not sent again; the next week goes out signed by
    Kim. Taking over one's own is refused."""
    court = demo["people"]["RB-1001"]
    made = await _schedule(client, court, demo["recipients"]["Dana Whitfield"], "court_progress")
    assert made.status_code == 201, made.text
    moment = datetime.now(UTC) - timedelta(days=15)
    assert await schedules.run_due(settings, moment) == {"sent": 1, "skipped": 0}
    await staff_member("kim@example.org", [demo["program"]["id"]], full_name="Kim Second")
    async with another_browser(client) as kim:
        await sign_in(kim, "kim@example.org")
        page = (await kim.get(f"/participants/{court}")).text
        assert "signed as Sam Staff" in page and "Sign these as me" in page
        taken = await post_form(kim, f"/report-schedules/{made.json()['id']}/take-over", {})
        assert taken.status_code == 303, taken.text
        again = await kim.post(f"/api/report-schedules/{made.json()['id']}/take-over")
        assert again.status_code == 422  # ended
    old, new = await ReportSchedule.select().order_by(ReportSchedule.id)
    assert old["ended_at"] is not None and new["ended_at"] is None
    assert {k: new[k] for k in ("recipient", "kind", "frequency", "send_day")} == {
        k: old[k] for k in ("recipient", "kind", "frequency", "send_day")
    }
    assert await schedules.run_due(settings, moment + timedelta(hours=1)) == {
        "sent": 0,
        "skipped": 0,
    }
    assert await schedules.run_due(settings, moment + timedelta(weeks=1)) == {
        "sent": 1,
        "skipped": 0,
    }
    reports = await Report.select(Report.signer_name).order_by(Report.id)
    assert [r["signer_name"] for r in reports] == ["Sam Staff", "Kim Second"]
    mine = await client.post(f"/api/report-schedules/{new['id']}/take-over")
    assert mine.status_code == 201  # a new schedule: Sam takes it back, Kim's ends
    refused = await client.post(f"/api/report-schedules/{mine.json()['id']}/take-over")
    assert refused.status_code == 422 and "signed as you already" in refused.text
