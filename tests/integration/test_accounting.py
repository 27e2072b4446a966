"""The accounting of disclosures (42 CFR §2.24) through the real app: disclosures made
by creating, opening and sending links; the readable page and every event in the CSV;
the PDF signed like any report, read back with pdftotext, checked with pdfsig,
``compliance verify`` and /api/verify, and superseded by a second one the same day."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import subprocess
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from pypdf import PdfReader

from compliance.disclosure.accounting import Accounting, DisclosureLine, readable
from compliance.tables import AuditEvent, Consent, Disclosure, Participant, Program, Report
from tests.support.cli import run_cli, settings_env
from tests.support.demo import PERIOD, officer_browser, post_json, secure_link
from tests.support.openapi import conforms, published_schema
from tests.support.staff import post_form

pytestmark = pytest.mark.db

CHICAGO = ZoneInfo("America/Chicago")
PDF_ROWS = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">')


async def _signed_pdf(client: httpx.AsyncClient, pid: int) -> httpx.Response:
    """The staff page's button: a form POST (CSRF-checked, since it signs and stores a
    report) answered with the signed PDF."""
    return await post_form(client, f"/participants/{pid}/disclosures.pdf", {})


def _path(url: str) -> str:
    return url.removeprefix("http://testserver")


async def _open(client: httpx.AsyncClient, url: str, times: int) -> None:
    async with officer_browser(client) as officer:
        for _ in range(times):
            assert (await officer.get(_path(url))).status_code == 200


async def _send_report(client: httpx.AsyncClient, demo: dict) -> tuple[dict, dict]:
    """A court report e-mailed to the officer, who opens the link and downloads it."""
    body = {"kind": "court_progress", "recipient_id": demo["recipients"]["Dana Whitfield"]}
    pid = demo["people"]["RB-1001"]
    report = (await post_json(client, f"/api/participants/{pid}/reports", body | PERIOD)).json()
    sent = await post_json(client, f"/api/reports/{report['id']}/send")
    assert sent.status_code == 201, sent.text
    url = sent.json()["link"]["url"]
    async with officer_browser(client) as officer:
        assert (await officer.get(_path(url))).status_code == 200
        pdf = await officer.get(f"{_path(url)}/reports/{report['id']}/pdf")
        assert pdf.status_code == 200
    return report, sent.json()


async def _spread(opens: int, day: date) -> None:
    """The last ``opens`` disclosures happened on ``day`` from 09:02 on, hours apart, as
    an officer checking in through the day (the app records the real moment)."""
    fresh = await Disclosure.select().order_by(Disclosure.id, ascending=False).limit(opens)
    for n, row in enumerate(reversed(fresh)):
        moment = datetime.combine(day, time(9, 2), CHICAGO) + timedelta(minutes=278 * n)
        await Disclosure.update({Disclosure.occurred_at: moment}).where(Disclosure.id == row["id"])


def _text(pdf: bytes, tmp_path: Path, *options: str) -> str:
    path = tmp_path / "accounting.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdftotext", *options, str(path), "-"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _squash(text: str) -> str:
    return " ".join(text.split())


def _collisions(pdf: bytes, tmp_path: Path) -> list[str]:
    """Words whose boxes overlap on a page, or that run past the page's margins: two
    columns running together ("employmentconsent") show up here."""
    html = _text(pdf, tmp_path, "-bbox")
    problems = []
    for number, page in enumerate(html.split("<page ")[1:], start=1):
        width = float(re.search(r'width="([\d.]+)"', page).group(1))
        words = [
            (tuple(float(v) for v in m.groups()), page[m.end() : page.index("<", m.end())])
            for m in PDF_ROWS.finditer(page)
        ]
        for i, ((x1, y1, x2, y2), word) in enumerate(words):
            if x1 < 0 or x2 > width:
                problems.append(f"page {number}: {word!r} runs off the page")
            for (a1, b1, a2, b2), other in words[i + 1 :]:
                if x1 < a2 - 0.5 and a1 < x2 - 0.5 and y1 < b2 - 0.5 and b1 < y2 - 0.5:
                    problems.append(f"page {number}: {word!r} overlaps {other!r}")
    return problems


async def _verify(client: httpx.AsyncClient, pdf: bytes) -> dict:
    answer = await client.post("/api/verify", files={"file": ("a.pdf", pdf, "application/pdf")})
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_signed_accounting_groups_opens_and_verifies(
    client, demo, database_url, tmp_path
) -> None:
    pid = demo["people"]["RB-1001"]
    made = await secure_link(client, demo)
    await _open(client, made["url"], 5)
    report, _ = await _send_report(client, demo)
    assert await Disclosure.count() == 1 + 5 + 2 + 2  # created, opens, sent, opened+downloaded

    response = await _signed_pdf(client, pid)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "no-store"
    pdf = response.content
    text = _squash(_text(pdf, tmp_path))
    link = made["link"]["id"]
    # Five opens on one day are one line with the count and the first and last time.
    assert f"secure link #{link} opened 5 times" in text
    assert "10 disclosures in 6 lines" in text
    assert "Dana Whitfield, Sangamon County Adult Probation" in text
    assert f"report downloaded through secure link #{link + 1}" in text
    assert report["public_id"] in text
    # Purpose and consent each in their own column, whole and apart.
    lines = _text(pdf, tmp_path).splitlines()
    assert "court supervision" in lines or ("court" in lines and "supervision" in lines), lines
    assert any(s.startswith("consent #") for s in lines), lines
    consent = await Consent.select().where(Consent.participant == pid).first()
    assert f"consent #{consent['id']}, signed {consent['signed_on'].day} " in text
    assert _collisions(pdf, tmp_path) == []
    # The letterhead, and no consent asked: the client's own request says so instead.
    assert "Accounting of disclosures" in text and "RB-1001" in text
    assert "Made at the client's request (42 CFR §2.24)" in text
    assert "the client, at their request" in text
    assert "Prepared and signed by Sam Staff, LCSW" in text
    assert "42 CFR part 2 prohibits unauthorized use or disclosure" in text

    row = await Report.select().where(Report.kind == "disclosure_accounting").first()
    assert row["recipient"] is None and row["consent"] is None and row["mandate"] is None
    assert row["status"] == "current" and row["version"] == 1
    assert row["size_bytes"] == len(pdf) and row["certificate_sha256"]
    assert row["signer_name"] == "Sam Staff" and row["signed_at"] is not None
    today = datetime.now(CHICAGO).date()
    assert row["period_end"] == today
    assert row["period_start"] == today.replace(year=today.year - 3)
    assert f"Report {row['public_id']} · page 1 of" in text
    flat = "".join(text.split()).replace("-", "")  # the QR caption wraps, dropping a hyphen
    assert f"http://testserver/verify/{row['public_id']}".replace("-", "") in flat
    signed = await AuditEvent.select().where(
        (AuditEvent.action == "report.signed") & (AuditEvent.object_id == str(row["id"]))
    )
    assert len(signed) == 1 and signed[0]["actor"] == f"user:{row['signer']}"

    assert len(PdfReader(io.BytesIO(pdf)).pages) >= 1
    path = tmp_path / "signed.pdf"
    path.write_bytes(pdf)
    sig = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True)
    assert sig.returncode == 0, sig.stdout + sig.stderr
    assert "Signature is Valid." in sig.stdout and "Total document signed" in sig.stdout

    done = await asyncio.to_thread(
        run_cli, "verify", str(path), env=settings_env(database_url, tmp_path)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Authentic and current" in done.stdout and row["public_id"] in done.stdout
    verdict = await _verify(client, pdf)
    assert verdict["status"] == "authentic_current"
    assert verdict["kind"] == "disclosure_accounting"
    assert verdict["report_id"] == row["public_id"]
    # The staff download of reports serves it too, byte for byte.
    served = await client.get(f"/api/reports/{row['id']}/pdf")
    assert served.status_code == 200 and served.content == pdf


async def test_a_second_accounting_the_same_day_supersedes_the_first(client, demo) -> None:
    pid = demo["people"]["RB-1001"]
    await _open(client, (await secure_link(client, demo))["url"], 2)
    first = await post_json(client, f"/api/participants/{pid}/disclosures/report")
    assert first.status_code == 201, first.text
    first = first.json()
    assert first["kind"] == "disclosure_accounting" and first["version"] == 1
    assert first["recipient_id"] is None and first["consent_id"] is None
    assert first["signer_name"] == "Sam Staff"
    first_pdf = (await client.get(f"/api/reports/{first['id']}/pdf")).content
    assert (await _verify(client, first_pdf))["status"] == "authentic_current"

    second = (await _signed_pdf(client, pid)).content
    again = await _verify(client, second)
    assert again["status"] == "authentic_current" and again["version"] == 2
    old = await _verify(client, first_pdf)
    assert old["status"] == "authentic_superseded"
    assert old["current_report_id"] == again["report_id"]
    rows = await Report.select().where(Report.kind == "disclosure_accounting").order_by(Report.id)
    assert [r["status"] for r in rows] == ["superseded", "current"]
    assert rows[1]["supersedes"] == rows[0]["id"]
    schema = (await client.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/api/participants/{participant_id}/disclosures/report"]["post"]
    assert operation["operationId"] == "signAccountingOfDisclosures"


async def test_page_groups_like_the_pdf_and_the_csv_keeps_every_event(client, demo) -> None:
    pid = demo["people"]["RB-1001"]
    made = await secure_link(client, demo)
    await _open(client, made["url"], 3)
    await _spread(4, datetime.now(CHICAGO).date() - timedelta(days=1))  # created and opens
    page = await client.get(f"/participants/{pid}/disclosures")
    assert page.status_code == 200
    link = made["link"]["id"]
    assert f'<td class="count">secure link #{link} opened 3 times</td>' in page.text
    assert page.text.count('class="count"') == 1
    assert "4 disclosures in 2 lines" in page.text
    assert re.search(r"\w{3} \d+ \w{3} \d{4}<br>13:40\N{EN DASH}22:56 C[SD]T", page.text)
    assert "Dana Whitfield, Sangamon County Adult Probation" in page.text
    assert f'action="/participants/{pid}/disclosures.pdf"' in page.text
    api = (await client.get(f"/api/participants/{pid}/disclosures")).json()
    assert [line["kind"] for line in api["lines"]] == ["secure link created"] + [
        "secure link opened"
    ] * 3
    assert api["lines"][1]["purpose"] == "court supervision"
    assert api["lines"][1]["consent"].startswith("consent #")
    exported = await client.get(f"/participants/{pid}/disclosures.csv")
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["disclosure"] for r in rows] == ["secure link created"] + ["secure link opened"] * 3
    stored = await Disclosure.select().order_by(Disclosure.id)
    assert [r["date_time_utc"] for r in rows] == [
        d["occurred_at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") for d in stored
    ]
    assert all(r["recipient"] and r["consent"] and r["purpose"] for r in rows)


async def test_accounting_needs_no_consent_and_refuses_what_is_not_the_clients(
    client, demo, tmp_path
) -> None:
    """RB-1002 has had nothing disclosed: the accounting still is made and says so. Bad
    ids and missing CSRF get their 4xx and store nothing."""
    pid = demo["people"]["RB-1002"]
    response = await _signed_pdf(client, pid)
    assert response.status_code == 200
    assert "No disclosure of these records was recorded" in _squash(
        _text(response.content, tmp_path)
    )
    assert (await _verify(client, response.content))["status"] == "authentic_current"
    before = await Report.count()
    other = Program(code="B", name="Program B", time_zone="America/New_York")
    await other.save()
    theirs = Participant(
        program=other.id, client_id="B1", first_name="Bo", last_name="B", admitted_on=date.today()
    )
    await theirs.save()
    for someone in (theirs.id, 999999):  # another program's client, and nobody
        signed = await post_json(client, f"/api/participants/{someone}/disclosures/report")
        assert signed.status_code == 404, signed.text
        assert (await _signed_pdf(client, someone)).status_code == 404
        assert (await client.get(f"/participants/{someone}/disclosures")).status_code == 404
    forged = await client.post(
        f"/api/participants/{pid}/disclosures/report", headers={"x-csrftoken": "nope"}
    )
    assert forged.status_code == 403
    async with officer_browser(client) as stranger:
        signed_out = await post_form(stranger, f"/participants/{pid}/disclosures.pdf", {})
        assert signed_out.status_code in (303, 401)
        api = await stranger.post(f"/api/participants/{pid}/disclosures/report")
        assert api.status_code in (401, 403)  # no session; no CSRF token either
    assert await Report.count() == before


async def test_a_realistic_history_fits_the_columns(client, demo, settings, tmp_path) -> None:
    """Weeks of an officer checking in, a report sent and downloaded: 20+ lines over
    more than one page, with no word running into another column or off the page."""
    pid = demo["people"]["RB-1001"]
    links = [await secure_link(client, demo), await secure_link(client, demo)]
    today = datetime.now(CHICAGO).date()
    await _spread(2, today - timedelta(days=15))
    for k in range(14):  # one round a day, back from yesterday
        opens = 1 + k % 3
        await _open(client, links[k % 2]["url"], opens)
        await _spread(opens, today - timedelta(days=14 - k))
    await _send_report(client, demo)
    response = await _signed_pdf(client, pid)
    assert response.status_code == 200
    pdf = response.content
    text = _squash(_text(pdf, tmp_path))
    assert "33 disclosures in 20 lines" in text
    assert text.count("opened 3 times") == 4 and text.count("opened 2 times") == 5
    assert "09:02\N{EN DASH}18:18 C" in text  # three opens: first and last time
    assert _collisions(pdf, tmp_path) == []
    assert len(PdfReader(io.BytesIO(pdf)).pages) >= 2


def test_repeats_group_by_link_and_program_day_across_a_clock_change() -> None:
    """Pure: the grouping on its own, on the day Chicago leaves daylight time."""

    def line(moment: datetime, link: int = 2, what: str = "status page") -> DisclosureLine:
        return DisclosureLine(
            occurred_at=moment.astimezone(UTC),
            recipient="Dana Whitfield, Sangamon County Adult Probation",
            what=what,
            kind="secure link opened",
            purpose="court supervision",
            consent="consent #1, signed 2 Nov 2026",
            event="link_opened",
            link_id=link,
        )

    night = datetime(2026, 11, 1, 0, 30, tzinfo=CHICAGO)  # 01:00 CDT comes twice that night
    events = [
        line(night),
        line(night + timedelta(hours=3)),  # 02:30 CST
        line(datetime(2026, 11, 1, 23, 50, tzinfo=CHICAGO), link=3),
        line(datetime(2026, 11, 1, 23, 55, tzinfo=CHICAGO)),
        line(datetime(2026, 11, 2, 0, 5, tzinfo=CHICAGO)),  # UTC's same day, not Chicago's
        line(datetime(2026, 11, 2, 9, 0, tzinfo=CHICAGO), what="attendance, drug tests"),
    ]
    account = Accounting("Marcus Hale", "RB-1001", "IOP", date(2023, 11, 2), date(2026, 11, 2), [])
    account.lines, account.time_zone = events, "America/Chicago"
    lines = readable(account)
    assert [(x.day, x.time, x.disclosure) for x in lines] == [
        ("Sun 1 Nov 2026", "00:30 CDT\N{EN DASH}23:55 CST", "secure link #2 opened 3 times"),
        ("Sun 1 Nov 2026", "23:50 CST", "secure link #3 opened"),
        ("Mon 2 Nov 2026", "00:05 CST", "secure link #2 opened"),
        ("Mon 2 Nov 2026", "09:00 CST", "secure link #2 opened"),
    ]
    assert [x.count for x in lines] == [3, 1, 1, 1]


async def test_sign_answers_match_the_published_schema(client, demo) -> None:
    """The new operation's real answers (made, not found, signed out) are documented."""
    schema = await published_schema(client)
    path = "/api/participants/{participant_id}/disclosures/report"
    pid = demo["people"]["RB-1003"]
    made = await post_json(client, f"/api/participants/{pid}/disclosures/report")
    assert made.status_code == 201
    await conforms(schema, "POST", path, made, participant_id=pid)
    missing = await post_json(client, "/api/participants/999999/disclosures/report")
    await conforms(schema, "POST", path, missing, participant_id=999999)
    async with officer_browser(client) as stranger:
        await stranger.get("/login")
        token = stranger.cookies["csrftoken"]
        signed_out = await stranger.post(
            f"/api/participants/{pid}/disclosures/report", headers={"x-csrftoken": token}
        )
        assert signed_out.status_code == 401
        await conforms(schema, "POST", path, signed_out, participant_id=pid)
