"""Jobs through the app's own dispatcher: in this process on SQLite, through SAQ's queue
in the test's PostgreSQL database (taken by the app's own worker) on PostgreSQL. The
same job code answers the same way either way; a job run twice does its work once."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from compliance.core.settings import Settings
from compliance.core.validation import InvalidInput
from compliance.disclosure import notices
from compliance.jobs import dispatch, queued, reports, tasks
from compliance.jobs.dispatch import InProcess
from compliance.reporting.service import ConsentRefused, ReportRequest
from compliance.staff import accounts
from compliance.tables import OutboxMessage, Report, StaffUser, Violation
from tests.support.databases import ENGINE

pytestmark = pytest.mark.db

PERIOD = (date(2026, 9, 28), date(2026, 11, 22))


async def _clinician() -> accounts.Principal:
    row = await StaffUser.select(StaffUser.id).where(StaffUser.email == "staff@example.org").first()
    principal = await accounts.load_principal(row["id"])
    assert principal is not None
    return principal


def test_the_dispatcher_follows_the_database(settings: Settings) -> None:
    """SQLite without REDIS_URL: jobs in process; PostgreSQL: the queue in that database."""
    expected = settings.database.url if ENGINE == "postgres" else None
    assert queued.queue_url(settings) == expected


async def test_a_report_job_run_twice_under_one_key_makes_one_report(client, demo, settings):
    """A batch resumed, or a job swept from a dead worker and run again: same key, one
    report, the same id both times, and no second version."""
    principal = await _clinician()
    court = demo["people"]["RB-1001"]
    request = ReportRequest("court_progress", demo["recipients"]["Dana Whitfield"], *PERIOD)
    first = await reports.sign(principal, settings, court, request, key="test:one-key")
    again = await reports.sign(principal, settings, court, request, key="test:one-key")
    assert first == again
    rows = await Report.select(Report.version, Report.job_key).where(Report.participant == court)
    assert rows == [{"version": 1, "job_key": "test:one-key"}]
    other = await reports.sign(principal, settings, court, request, key="test:another-key")
    assert other.report_id != first.report_id  # a new key is a new piece of work
    assert await Report.count().where(Report.participant == court) == 2


async def test_a_refusal_comes_back_as_the_callers_exception(client, demo, settings):
    """No consent names this recipient for a court report: the job answers with the
    refusal and the caller gets ConsentRefused, with its reasons, whichever dispatcher."""
    principal = await _clinician()
    eap_client = demo["people"]["RB-1002"]
    request = ReportRequest("court_progress", demo["recipients"]["Dana Whitfield"], *PERIOD)
    with pytest.raises(ConsentRefused) as refused:
        await reports.sign(principal, settings, eap_client, request)
    assert refused.value.missing and all(isinstance(m, str) for m in refused.value.missing)
    late = ReportRequest(
        "court_progress", demo["recipients"]["Dana Whitfield"], date(2026, 9, 28), date(2099, 1, 4)
    )
    with pytest.raises(InvalidInput) as invalid:
        await reports.sign(principal, settings, demo["people"]["RB-1001"], late)
    assert any(e.field.startswith("period") for e in invalid.value.errors)
    assert await Report.count() == 0


async def test_two_deliveries_at_once_send_each_notice_once(client, demo, settings):
    """Two workers taking the periodic delivery at the same moment (SAQ runs it once per
    schedule; a second run can still overlap one that ran long): each violation is
    claimed once, so each notice is queued once."""
    court = demo["people"]["RB-1001"]
    open_violations = await Violation.count().where(Violation.participant == court)
    assert open_violations > 0
    one, other = InProcess(settings), InProcess(settings)
    results = await asyncio.gather(one.run("deliver"), other.run("deliver"))
    assert sum(r["notices"] for r in results) == open_violations
    assert await OutboxMessage.count() == open_violations
    assert (await one.run("deliver"))["notices"] == 0
    assert await notices.send_violation_notices(settings) == 0


async def test_the_job_table_names_every_periodic_job() -> None:
    assert {name for name, _ in tasks.PERIODIC} <= set(tasks.JOBS)
    assert dispatch.new_key("report").startswith("report:")
