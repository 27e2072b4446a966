"""The officer's link page through the real app: the first screen answers the court's
question (case, status now, open violations) before the week list; phone numbers are
tappable; every answer from /l/ is labelled for what it is (HTML pages, redirects, PDFs
only when PDFs); staff link forms refuse in a page, not JSON; the accounting says what
the page showed."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import httpx
import pytest

from compliance.core.local_time import spoken
from compliance.core.vocabulary import REPORT_TITLES
from compliance.tables import (
    Consent,
    Disclosure,
    Mandate,
    Program,
    Recipient,
    Report,
    SecureLink,
)
from tests.support.demo import court_report, link_path, officer_browser, post_json, secure_link
from tests.support.staff import demo_up_to_now, post_form

pytestmark = pytest.mark.db

HTML = "text/html; charset=utf-8"
THIS_WEEK = {"in_progress": "On track so far", "non_compliant": "Not compliant"}
FULL_WEEK = {"compliant": "Compliant", "non_compliant": "Not compliant"}


async def _link(client: httpx.AsyncClient, pid: int, recipient: int, **extra: object) -> dict:
    response = await post_json(
        client, f"/api/participants/{pid}/links", {"recipient_id": recipient, **extra}
    )
    assert response.status_code == 201, response.text
    return response.json()


def _today(zone: str) -> date:
    return datetime.now(ZoneInfo(zone)).date()


async def _program() -> dict:
    return await Program.select().first()


def _text(html: str) -> str:
    """The page's words, tags dropped and spaces folded, for order and phrase checks."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


async def test_first_screen_has_case_status_and_open_violations_before_the_weeks(
    client, demo
) -> None:
    pid = demo["people"]["RB-1001"]
    program = await _program()
    today = _today(program["time_zone"])
    mandate = await Mandate.select().where(Mandate.participant == pid).first()
    assert mandate["case_number"] and mandate["court_name"]
    judged = await client.get(
        f"/api/participants/{pid}/compliance",
        params={"start": (today - timedelta(days=14)).isoformat(), "end": today.isoformat()},
    )
    assert judged.status_code == 200, judged.text
    weeks = [w for w in judged.json()["weeks"] if date.fromisoformat(w["start"]) <= today]
    this_week = weeks[-1]
    last_full = [w for w in weeks if date.fromisoformat(w["end"]) < today][-1]
    listed = await client.get(f"/api/participants/{pid}/violations")
    open_ones = [v for v in listed.json() if v["reviewed_at"] is None]
    assert len(open_ones) >= 2  # the demo's missed test, positive and absence

    made = await _link(client, pid, demo["recipients"]["Dana Whitfield"])
    async with officer_browser(client) as officer:
        page = await officer.get(link_path(made))
    assert page.status_code == 200 and page.headers["content-type"] == HTML
    text = _text(page.text)
    weeks_at = text.index("Compliance by week")
    first_screen = text[:weeks_at]
    assert f"Case number {mandate['case_number']}" in first_screen
    assert f"Court {mandate['court_name']}" in first_screen
    assert "This week so far" in first_screen
    assert THIS_WEEK[this_week["status"]] in first_screen.split("This week so far")[1]
    assert FULL_WEEK[last_full["status"]] in first_screen.split("Last full week")[1]
    assert f"Open violations ({len(open_ones)})" in first_screen
    zone = program["time_zone"]
    for v in open_ones:
        when = spoken(datetime.fromisoformat(v["occurred_at"]), zone)
        assert f"{when} {v['description']}" in first_screen, v
    missed = next(v for v in open_ones if v["kind"] == "missed_test")
    assert "counts as a positive test" in first_screen.split(missed["description"])[1][:40]

    # Reviewed by the program: it leaves the officer's list.
    reviewed = await post_json(
        client, f"/api/violations/{missed['id']}/review", {"note": "Told the officer by phone."}
    )
    assert reviewed.status_code == 201, reviewed.text
    async with officer_browser(client) as officer:
        again = _text((await officer.get(link_path(made))).text)
    assert f"Open violations ({len(open_ones) - 1})" in again
    assert missed["description"] not in again.split("Compliance by week")[0]


async def test_an_employers_page_shows_only_the_violations_its_consent_covers(client, demo) -> None:
    """Attendance and compliance only: the unexcused absence, never a test, and no court
    case number for an employer."""
    pid = demo["people"]["RB-1001"]
    program = await _program()
    employer = Recipient(
        program=program["id"],
        kind="employer_contact",
        name="Pat Lane",
        organisation="Midstate Logistics",
        email="plane@midstate.example",
    )
    await employer.save()
    court_consent = await Consent.select().where(Consent.participant == pid).first()
    await Consent.insert(
        Consent(
            **{
                k: v
                for k, v in court_consent.items()
                if k not in ("id", "recipient", "mandate", "recipient_organisation")
            }
            | {
                "recipient": employer.id,
                "information_categories": ["attendance", "compliance_status"],
                "purposes": ["employment"],
                "is_criminal_justice": False,
                "revocable_after": None,
                "irrevocable_until_event": "",
            }
        )
    )
    listed = (await client.get(f"/api/participants/{pid}/violations")).json()
    absences = [v["description"] for v in listed if v["kind"] == "unexcused_absence"]
    tests = [v["description"] for v in listed if v["kind"] != "unexcused_absence"]
    assert absences and tests
    made = await _link(client, pid, employer.id)
    async with officer_browser(client) as officer:
        page = await officer.get(link_path(made))
    assert page.status_code == 200
    text = _text(page.text)
    assert f"Open violations ({len(absences)})" in text
    assert all(a in text for a in absences)
    assert not any(t in text for t in tests)
    assert "Recent drug tests" not in text
    mandate = await Mandate.select().where(Mandate.participant == pid).first()
    assert mandate["case_number"] not in text and "Case number" not in text


async def test_phone_numbers_are_tel_links_and_email_mailto(client, demo) -> None:
    pid = demo["people"]["RB-1001"]
    program = await _program()
    mandate = await Mandate.select().where(Mandate.participant == pid).first()
    made = await _link(client, pid, demo["recipients"]["Dana Whitfield"])
    async with officer_browser(client) as officer:
        page = (await officer.get(link_path(made))).text
    hrefs = re.findall(r'href="(tel:[^"]*)"', page)
    assert all(re.fullmatch(r"tel:\d+", h) for h in hrefs), hrefs
    for phone in (program["phone"], mandate["contact_phone"]):
        digits = re.sub(r"\D", "", phone)
        assert f'<a href="tel:{digits}">{unescape(phone)}</a>' in unescape(page), phone
    assert f'href="mailto:{program["contact_email"]}"' in page
    assert f'href="mailto:{mandate["contact_email"]}"' in page


async def test_access_code_pages_are_html_and_the_code_redirects(client, demo) -> None:
    made = await _link(
        client, demo["people"]["RB-1001"], demo["recipients"]["Dana Whitfield"], access_code=True
    )
    async with officer_browser(client) as officer:
        form = await officer.get(link_path(made))
        assert form.status_code == 200 and form.headers["content-type"] == HTML
        token = officer.cookies["csrftoken"]
        wrong = await officer.post(
            f"{link_path(made)}/code", data={"code": "00000000", "_csrf_token": token}
        )
        assert wrong.status_code == 401
        assert wrong.headers["content-type"] == HTML
        assert "4 attempts left" in _text(wrong.text) and "<form" in wrong.text
        no_csrf = await officer.post(f"{link_path(made)}/code", data={"code": "00000000"})
        assert no_csrf.status_code == 403 and no_csrf.headers["content-type"] == HTML
        right = await officer.post(
            f"{link_path(made)}/code", data={"code": made["access_code"], "_csrf_token": token}
        )
        assert right.status_code == 303 and right.headers["location"] == link_path(made)
        assert "pdf" not in right.headers.get("content-type", "")
        assert not right.content
    async with officer_browser(client) as stranger:
        await stranger.get(link_path(made))
        token = stranger.cookies["csrftoken"]
        for _ in range(4):
            last = await stranger.post(
                f"{link_path(made)}/code", data={"code": "11111111", "_csrf_token": token}
            )
        assert last.status_code == 410 and last.headers["content-type"] == HTML
        assert "locked" in last.text


async def test_the_pdf_route_labels_application_pdf_only_a_pdf(client, demo) -> None:
    report = await court_report(client, demo)
    made = await _link(
        client, demo["people"]["RB-1001"], demo["recipients"]["Dana Whitfield"], access_code=True
    )
    pdf_path = f"{link_path(made)}/reports/{report['id']}/pdf"
    async with officer_browser(client) as officer:
        before = await officer.get(pdf_path)  # the code is not entered yet: its prompt
        assert before.status_code == 200 and before.headers["content-type"] == HTML
        assert "Access code" in before.text and not before.content.startswith(b"%PDF")
        for path, status in [
            ("/l/" + "x" * 43 + f"/reports/{report['id']}/pdf", 404),  # no such link
            (f"{link_path(made)}/reports/{2**40}/pdf", 404),  # an id no record can have
        ]:
            answer = await officer.get(path)
            assert answer.status_code == status, path
            assert answer.headers["content-type"] == HTML, path
            assert "Not a valid link" in answer.text
        token = (await officer.get(link_path(made))) and officer.cookies["csrftoken"]
        await officer.post(
            f"{link_path(made)}/code", data={"code": made["access_code"], "_csrf_token": token}
        )
        other = await officer.get(f"{link_path(made)}/reports/999/pdf")  # not this link's
        assert other.status_code == 404 and other.headers["content-type"] == HTML
        pdf = await officer.get(pdf_path)
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF-")
        page = _text((await officer.get(link_path(made))).text)
        title = REPORT_TITLES["court_progress"]
        assert f"{title}, 28 Sep to 22 Nov 2026 (report {report['public_id']}, version 1)" in page
        await post_json(client, f"/api/links/{made['link']['id']}/revoke", {})
        gone = await officer.get(pdf_path)
        assert gone.status_code == 410 and gone.headers["content-type"] == HTML
        assert "withdrawn" in gone.text and "Marcus" not in gone.text
        assert 'href="tel:2175550140"' in gone.text


async def test_a_damaged_stored_pdf_is_a_503_page_not_a_pdf(client, demo, settings) -> None:
    report = await court_report(client, demo)
    made = await _link(client, demo["people"]["RB-1001"], demo["recipients"]["Dana Whitfield"])
    row = await Report.select(Report.stored_path).where(Report.id == report["id"]).first()
    stored = settings.reports_dir / row["stored_path"]
    stored.chmod(0o644)
    stored.write_bytes(stored.read_bytes()[:-10] + b"tampered!!")
    before = await Disclosure.count()
    async with officer_browser(client) as officer:
        answer = await officer.get(f"{link_path(made)}/reports/{report['id']}/pdf")
    assert answer.status_code == 503 and answer.headers["content-type"] == HTML
    assert "Not available just now" in answer.text and not answer.content.startswith(b"%PDF")
    assert await Disclosure.count() == before  # nothing disclosed


async def test_rate_limited_link_answers_an_html_429(client, demo) -> None:
    made = await _link(client, demo["people"]["RB-1001"], demo["recipients"]["Dana Whitfield"])
    async with officer_browser(client) as officer:
        answers = [await officer.get(f"{link_path(made)}/reports/999/pdf") for _ in range(31)]
    assert [a.status_code for a in answers[:30]] == [404] * 30
    limited = answers[30]
    assert limited.status_code == 429 and limited.headers["content-type"] == HTML
    assert limited.headers["retry-after"] == "60"
    assert limited.headers["cache-control"] == "no-store"
    assert "Too many requests" in limited.text and "Wait a minute" in limited.text


async def test_staff_link_form_refuses_in_a_page(client, demo) -> None:
    pid = demo["people"]["RB-1001"]
    refused = await post_form(
        client,
        f"/participants/{pid}/links",
        {"recipient_id": str(demo["recipients"]["Renee Cho"]), "days": "30"},
    )
    assert refused.status_code == 422 and refused.headers["content-type"] == HTML
    text = _text(refused.text)
    assert "No link created" in text and "no consent names Renee Cho" in text
    assert f'href="/participants/{pid}#links"' in refused.text and "Back to Marcus Hale" in text
    missing = await post_form(client, f"/participants/{pid}/links", {"days": "500"})
    assert missing.status_code == 422 and missing.headers["content-type"] == HTML
    text = _text(missing.text)
    assert "Recipient:" in text and "Days valid:" in text
    assert await SecureLink.count() == 0
    assert await Disclosure.count() == 0


async def test_sending_a_report_without_consent_refuses_in_a_page(client, demo) -> None:
    report = await court_report(client, demo)
    await Consent.update({Consent.revoked_at: datetime.now(UTC)}).where(
        Consent.id == report["consent_id"]
    )
    before = await Disclosure.count()
    refused = await post_form(client, f"/reports/{report['id']}/send", {})
    assert refused.status_code == 422 and refused.headers["content-type"] == HTML
    text = _text(refused.text)
    assert "No link sent" in text and "was revoked on" in text
    assert f'href="/participants/{report["participant_id"]}#links"' in refused.text
    assert await SecureLink.count() == 0 and await Disclosure.count() == before


async def test_the_accounting_names_what_the_page_and_the_pdf_showed(client, demo) -> None:
    pid = demo["people"]["RB-1001"]
    report = await court_report(client, demo)
    made = await _link(client, pid, demo["recipients"]["Dana Whitfield"])
    async with officer_browser(client) as officer:
        await officer.get(link_path(made))
        await officer.get(f"{link_path(made)}/reports/{report['id']}/pdf")
    program = await _program()
    person = (await client.get(f"/api/participants/{pid}")).json()
    today = _today(program["time_zone"])
    first = max(date.fromisoformat(person["admitted_on"]), today - timedelta(days=28))
    first_week = first - timedelta(days=first.weekday())  # the demo's weeks start on Monday
    this_week = today - timedelta(days=today.weekday())
    weeks = f"{first_week.day} {first_week:%b} to {this_week.day} {this_week:%b %Y}"
    zone = ZoneInfo(program["time_zone"])
    listed = (await client.get(f"/api/participants/{pid}/violations")).json()
    days = {datetime.fromisoformat(v["occurred_at"]).astimezone(zone).date() for v in listed}
    assert days and all(v["reviewed_at"] is None for v in listed)
    rows = {r["kind"]: r["description"] for r in await Disclosure.select()}
    opened = rows["link_opened"]
    assert "open violations of " in opened
    assert all(f"{d.day} {d:%b %Y}" in opened for d in days), opened
    assert opened.startswith("status page: attendance, drug-test results and compliance status")
    assert f"weeks of {weeks}" in opened, opened
    assert f"signed report listed: {report['public_id']}" in opened
    assert f"secure link #{made['link']['id']}" in opened
    assert "token" not in opened and made["url"] not in opened
    assert rows["report_downloaded"] == (
        f"signed PDF of report {report['public_id']} (Court progress report, "
        f"28 Sep to 22 Nov 2026, version 1), through secure link #{made['link']['id']}"
    )


@pytest.fixture
async def demo_now(client: httpx.AsyncClient) -> dict:
    return await demo_up_to_now(client)


async def test_a_sap_link_is_judged_as_dot_follow_up_testing(client, demo_now) -> None:
    """The SAP's view needs drug tests (the plan against the tests done): a consent
    without them is refused, where an EAP status view would have gone out. The demo is
    laid out up to now: the page lists the tests of the last four weeks."""
    demo = demo_now
    pid = demo["people"]["RB-1003"]
    sap = demo["recipients"]["Ellen Marsh"]
    made = await _link(client, pid, sap)
    assert made["purpose"] == "dot_return_to_duty"
    async with officer_browser(client) as officer:
        page = await officer.get(link_path(made))
    assert page.status_code == 200 and "Recent drug tests" in page.text
    await Consent.update(
        {Consent.information_categories: ["attendance", "compliance_status"]}
    ).where(Consent.participant == pid)
    refused = await post_json(client, f"/api/participants/{pid}/links", {"recipient_id": sap})
    assert refused.status_code == 422
    assert "does not cover drug-test results" in refused.text


async def test_every_link_route_answers_the_officer_with_a_page(client, demo) -> None:
    """The PDF address of a link with an access code, opened before the code, raised
    "application/pdf media type is not supported" (a redirect inside a PDF handler).
    Now it is the code prompt; a withdrawn link's PDF is the withdrawn page; a missing
    link's PDF the not-found page: each labelled text/html, never application/pdf."""
    report = await court_report(client, demo)
    coded = await secure_link(client, demo, access_code=True)
    path = httpx.URL(coded["url"]).path
    pdf = f"{path}/reports/{report['id']}/pdf"
    async with officer_browser(client) as officer:
        prompt = await officer.get(pdf)
        assert prompt.status_code == 200, prompt.text
        assert prompt.headers["content-type"].startswith("text/html")
        assert "Access code" in prompt.text and "Marcus" not in prompt.text
        assert not prompt.content.startswith(b"%PDF")
        missing = await officer.get(f"/l/{'x' * 43}/reports/{report['id']}/pdf")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("text/html")
        unlocked = await officer.post(
            f"{path}/code",
            data={"code": coded["access_code"], "_csrf_token": officer.cookies["csrftoken"]},
        )
        assert unlocked.status_code == 303
        got = await officer.get(pdf)
        assert got.status_code == 200 and got.content.startswith(b"%PDF-")
        assert got.headers["content-type"] == "application/pdf"
        revoked = await post_json(client, f"/api/links/{coded['link']['id']}/revoke", {})
        assert revoked.status_code == 200
        gone = await officer.get(pdf)
        assert gone.status_code == 410
        assert gone.headers["content-type"].startswith("text/html")
        assert "withdrawn" in gone.text
