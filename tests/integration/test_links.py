"""Secure links through the real app: create, open, download, revoke then 410; expiry
never past the consent; consent revocation cutting off an open link; access codes;
rate limits; the headers; tokens absent from the database, logs and audit trail."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from datetime import UTC, date, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import httpx
import pytest

from compliance.disclosure.links import RECENT_TEST_DAYS
from compliance.reporting import signing
from compliance.tables import AuditEvent, Consent, Disclosure, SecureLink
from tests.support.demo import (
    court_report,
    link_path,
    officer_browser,
    post_json,
    secure_link,
)
from tests.support.staff import demo_up_to_now, period_up_to_now

pytestmark = pytest.mark.db


@pytest.fixture
async def demo_now(client: httpx.AsyncClient) -> dict:
    return await demo_up_to_now(client)


async def _compliance(client: httpx.AsyncClient, pid: int, days: int) -> dict:
    """The compliance API's judgement of the last ``days`` days, as the officer's page
    reads them."""
    today = datetime.now(ZoneInfo("America/Chicago")).date()
    period = {"start": str(today - timedelta(days=days)), "end": str(today)}
    response = await client.get(f"/api/participants/{pid}/compliance", params=period)
    assert response.status_code == 200, response.text
    return response.json()


async def test_link_life_cycle_open_download_revoke_then_410(client, demo_now, settings) -> None:
    """The demo laid out up to now: the page's recent tests are those of the last four
    weeks by the real clock."""
    demo = demo_now
    report = await court_report(client, demo, narrative=None, **period_up_to_now())
    made = await secure_link(client, demo)
    token = link_path(made).removeprefix("/l/")
    assert len(token) >= 43  # 32 bytes of randomness, base64url
    async with officer_browser(client) as officer:
        page = await officer.get(link_path(made))
        assert page.status_code == 200
        assert "Marcus Hale" in page.text
        assert "42 CFR" in page.text and "Federal confidentiality" in page.text
        assert report["public_id"] in page.text
        assert "this week" in page.text
        # Each test once, in the engine's words (the date was said twice before): the
        # lines are the compliance API's details for the same weeks, newest first.
        tests = page.text.split("Recent drug tests", 1)[1].split("</ul>", 1)[0]
        lines = re.findall(r"<li>(.*?)</li>", tests)
        judged = await _compliance(client, demo["people"]["RB-1001"], RECENT_TEST_DAYS)
        details = [t["detail"] for w in judged["weeks"] for t in w["tests"]][::-1]
        assert lines and [unescape(line) for line in lines] == details
        assert "negative (" not in tests and "missed (" not in tests
        for name, value in {
            "cache-control": "no-store",
            "referrer-policy": "no-referrer",
            "x-robots-tag": "noindex, nofollow",
            "x-frame-options": "DENY",
        }.items():
            assert page.headers[name] == value
        assert "default-src 'none'" in page.headers["content-security-policy"]
        pdf = await officer.get(f"{link_path(made)}/reports/{report['id']}/pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
        check = await asyncio.to_thread(
            signing.check_signature, pdf.content, signing.signing_config(settings)
        )
        assert check.ok
        kinds = [d["kind"] for d in await Disclosure.select().order_by(Disclosure.id)]
        assert kinds == ["link_created", "link_opened", "report_downloaded"]
        revoked = await post_json(client, f"/api/links/{made['link']['id']}/revoke", {})
        assert revoked.json()["state"] == "revoked"
        gone = await officer.get(link_path(made))
        assert gone.status_code == 410
        assert "withdrawn" in gone.text and "Marcus" not in gone.text
        assert "(217) 555-0140" in gone.text  # the program's contact
        again = await officer.get(f"{link_path(made)}/reports/{report['id']}/pdf")
        assert again.status_code == 410
    assert len(await Disclosure.select()) == 3  # nothing disclosed after revocation


async def test_consent_revocation_cuts_off_an_open_link(client, demo) -> None:
    made = await secure_link(client, demo)
    async with officer_browser(client) as officer:
        assert (await officer.get(link_path(made))).status_code == 200
        await Consent.update({Consent.revoked_at: datetime.now(UTC)}).where(
            Consent.id == made["link"]["consent_id"]
        )
        gone = await officer.get(link_path(made))
        assert gone.status_code == 410
        assert "consent no longer allows" in gone.text


async def test_expiry_never_passes_the_consents(client, demo) -> None:
    consent_id = (
        await Consent.select(Consent.id)
        .where(Consent.participant == demo["people"]["RB-1001"])
        .first()
    )["id"]
    soon = date.today() + timedelta(days=5)
    await Consent.update({Consent.expires_on: soon}).where(Consent.id == consent_id)
    made = await secure_link(client, demo, days=30)
    expires = datetime.fromisoformat(made["link"]["expires_at"])
    assert expires <= datetime.combine(soon + timedelta(days=2), datetime.min.time(), UTC)
    await SecureLink.update(
        {SecureLink.expires_at: datetime.now(UTC) - timedelta(seconds=1)}
    ).where(SecureLink.id == made["link"]["id"])
    async with officer_browser(client) as officer:
        gone = await officer.get(link_path(made))
        assert gone.status_code == 410 and "expired" in gone.text


async def test_access_code_attempts_lock_the_link(client, demo) -> None:
    made = await secure_link(client, demo, access_code=True)
    code = made["access_code"]
    assert code and len(code) == 8 and code.isdigit()
    async with officer_browser(client) as officer:
        form = await officer.get(link_path(made))
        assert form.status_code == 200 and "Access code" in form.text
        assert "Marcus" not in form.text
        token = officer.cookies["csrftoken"]
        wrong = await officer.post(
            f"{link_path(made)}/code", data={"code": "00000000", "_csrf_token": token}
        )
        assert wrong.status_code == 401 and "4 attempts left" in wrong.text
        right = await officer.post(
            f"{link_path(made)}/code", data={"code": code, "_csrf_token": token}
        )
        assert right.status_code == 303
        assert (await officer.get(link_path(made))).status_code == 200
    async with officer_browser(client) as stranger:  # another browser still needs the code
        await stranger.get(link_path(made))
        token = stranger.cookies["csrftoken"]
        for _ in range(4):
            last = await stranger.post(
                f"{link_path(made)}/code", data={"code": "11111111", "_csrf_token": token}
            )
        assert last.status_code == 410 and "locked" in last.text
        assert (await stranger.get(link_path(made))).status_code == 410


async def test_rate_limit_per_token(client, demo) -> None:
    made = await secure_link(client, demo)
    async with officer_browser(client) as officer:
        codes = [(await officer.get(link_path(made))).status_code for _ in range(31)]
    assert codes[:30] == [200] * 30
    assert codes[30] == 429
    bogus = [(await client.get("/l/" + "x" * 43)).status_code for _ in range(2)]
    assert bogus == [404, 404]


async def test_tokens_never_reach_the_database_logs_or_audit(client, demo, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    made = await secure_link(client, demo)
    token = link_path(made).removeprefix("/l/")
    async with officer_browser(client) as officer:
        await officer.get(link_path(made))
        await officer.get(f"/l/{token}/reports/999/pdf")
    stored = await SecureLink.select().where(SecureLink.id == made["link"]["id"]).first()
    assert stored["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    values = []
    for table in (SecureLink, Disclosure, AuditEvent):
        values += [str(v) for row in await table.select() for v in row.values()]
    assert token not in " ".join(values)
    server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert any("secure link #" in r.getMessage() for r in server_side)  # logged, by id
    assert not [r for r in server_side if token in r.getMessage()]
    listed = await client.get(f"/api/participants/{demo['people']['RB-1001']}/links")
    assert token not in listed.text


async def test_no_link_without_consent_for_the_recipient(client, demo) -> None:
    pid = demo["people"]["RB-1001"]
    response = await post_json(
        client,
        f"/api/participants/{pid}/links",
        {"recipient_id": demo["recipients"]["Renee Cho"]},
    )
    assert response.status_code == 422
    assert "no consent names Renee Cho" in response.text
    assert await SecureLink.count() == 0


def test_access_log_lines_have_the_token_redacted() -> None:
    """uvicorn's access log passes the path as an argument; the filter rewrites it."""
    from compliance.core.redact import RedactLinks

    token = "A" * 43
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/l/{token}/reports/3/pdf", "1.1", 200),
        None,
    )
    assert RedactLinks().filter(record)
    assert token not in record.getMessage()
    assert "/l/[redacted]/reports/3/pdf" in record.getMessage()
