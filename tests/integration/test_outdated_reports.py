"""A report already signed goes out of date when a record of its period is corrected or
entered afterwards (issue 15, point 7): the participant page and the API say so, with
the records, and "make a new version" signs the same report again from the records as
they are now."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest

from compliance.tables import Attendance, Report
from tests.support.staff import csrf_token, post_form, signed_in_demo

pytestmark = pytest.mark.db
PERIOD = ("2026-10-05", "2026-11-22")
EARLIER = ("2026-09-28", "2026-10-04")  # the week before: the correction is not in it


def _rows(html: str, report_id: int) -> str:
    """What the participant page shows of one report: its row, and its notice."""
    rows = re.findall(r'<(?:tr|div) id="report-(\d+)(?:-outdated)?"(.*?)</(?:tr|div)>', html, re.S)
    return "".join(text for rid, text in rows if int(rid) == report_id)


async def _report(client: httpx.AsyncClient, demo: dict, period: tuple[str, str]) -> dict:
    made = await client.post(
        f"/api/participants/{demo['people']['RB-1001']}/reports",
        json={
            "kind": "court_progress",
            "recipient_id": demo["recipients"]["Dana Whitfield"],
            "period_start": period[0],
            "period_end": period[1],
            "narrative": "Engaged in group.",
        },
    )
    assert made.status_code == 201, made.text
    return made.json()


async def test_a_correction_outdates_the_report_until_a_new_version(
    client: httpx.AsyncClient,
) -> None:
    demo = await signed_in_demo(client, "staff@example.org")
    client.headers["x-csrftoken"] = await csrf_token(client)
    pid = demo["people"]["RB-1001"]
    report = await _report(client, demo, PERIOD)
    earlier = await _report(client, demo, EARLIER)
    assert report["outdated"] is False and report["outdated_by"] == []
    # The demo's unexcused absence (inside the period) is excused after signing.
    absence = (
        await Attendance.select()
        .where(
            (Attendance.participant == pid)
            & (Attendance.status == "absent_unexcused")
            & Attendance.is_current.eq(True)
        )
        .first()
    )
    assert absence["occurred_at"] >= datetime(2026, 10, 5, tzinfo=UTC)
    corrected = await client.post(
        f"/api/attendance/{absence['id']}/corrections",
        json={"status": "absent_excused", "reason": "Doctor's note arrived"},
    )
    assert corrected.status_code == 201, corrected.text
    now = (await client.get(f"/api/reports/{report['id']}")).json()
    assert now["outdated"] is True
    assert [(c["record"], c["kind"], c["change"], c["reason"]) for c in now["outdated_by"]] == [
        (
            f"attendance:{corrected.json()['id']}",
            "attendance",
            "correction",
            "Doctor's note arrived",
        )
    ]
    # A report whose period the correction is not in stays as it was.
    assert (await client.get(f"/api/reports/{earlier['id']}")).json()["outdated"] is False
    page = await client.get(f"/participants/{pid}")
    row = _rows(page.text, report["id"])
    assert "is out of date: corrected since it was signed" in row
    assert "Doctor&#39;s note arrived" in row
    assert f'action="/reports/{report["id"]}/new-version"' in row
    other = _rows(page.text, earlier["id"])
    assert "Out of date" not in other and "new-version" not in other

    remade = await post_form(client, f"/reports/{report['id']}/new-version", {})
    assert remade.status_code == 303, remade.text
    old = await Report.select().where(Report.id == report["id"]).first()
    new = await Report.select().where(Report.supersedes == report["id"]).first()
    assert old["status"] == "superseded" and new["status"] == "current"
    assert remade.headers["location"] == f"/participants/{pid}#report-{new['id']}"
    assert (new["kind"], new["recipient"], new["version"], new["narrative"]) == (
        "court_progress",
        demo["recipients"]["Dana Whitfield"],
        2,
        "Engaged in group.",
    )
    assert (str(new["period_start"]), str(new["period_end"])) == PERIOD
    fresh = (await client.get(f"/api/reports/{new['id']}")).json()
    assert fresh["outdated"] is False
    # The superseded version cannot be remade again, and is no longer flagged.
    assert (await client.get(f"/api/reports/{report['id']}")).json()["outdated"] is False
    again = await client.post(f"/api/reports/{report['id']}/new-version")
    assert again.status_code == 422 and "only the current version" in again.text
    assert await Report.count() == 3

    # A record entered late (an outside meeting inside the period) outdates it too.
    meeting = await client.post(
        f"/api/participants/{pid}/outside-meetings",
        json={
            # Not 10:00: the demo has that meeting already, and the same one twice is refused.
            "occurred_at": "2026-11-14T12:00",
            "scheduled_minutes": 60,
            "meeting_name": "Saturday AA",
            "proof": "signed slip",
        },
    )
    assert meeting.status_code == 201, meeting.text
    late = (await client.get(f"/api/reports/{new['id']}")).json()
    assert [(c["kind"], c["change"]) for c in late["outdated_by"]] == [("attendance", "late entry")]
    page = await client.get(f"/participants/{pid}")
    row = _rows(page.text, new["id"])
    assert "is out of date: records entered since it was signed" in row
