"""The officer's phone: headless Debian chromium driven by Playwright at a phone-sized
viewport opens a secure link on a real server, reads the status, downloads the PDF,
and the downloaded file's signature validates."""

from __future__ import annotations

import asyncio
import signal

import pytest

from compliance.reporting import signing
from tests.support.browser import ARTIFACTS, CHROMIUM, PHONE, serve
from tests.support.cli import settings_env
from tests.support.live import free_port
from tests.support.staff import csrf_token, signed_in_demo

pytestmark = [pytest.mark.db, pytest.mark.browser]


async def test_officer_opens_link_on_a_phone_and_downloads_a_valid_pdf(
    client, database_url, tmp_path, settings
) -> None:
    from playwright.async_api import async_playwright

    demo = await signed_in_demo(client, "staff@example.org", full_name="Sam Staff")
    pid = demo["people"]["RB-1001"]
    officer = demo["recipients"]["Dana Whitfield"]
    headers = {"x-csrftoken": await csrf_token(client)}
    report = await client.post(
        f"/api/participants/{pid}/reports",
        json={
            "kind": "court_progress",
            "recipient_id": officer,
            "period_start": "2026-09-28",
            "period_end": "2026-11-22",
        },
        headers=headers,
    )
    assert report.status_code == 201, report.text
    made = await client.post(
        f"/api/participants/{pid}/links", json={"recipient_id": officer}, headers=headers
    )
    path = made.json()["url"].removeprefix("http://testserver")
    port = free_port()
    server = serve(settings_env(database_url, tmp_path), port)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=[
                    "--disable-gpu",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            context = await browser.new_context(
                viewport=PHONE, is_mobile=True, has_touch=True, accept_downloads=True
            )
            page = await context.new_page()
            response = await page.goto(f"http://127.0.0.1:{port}{path}")
            assert response is not None and response.status == 200
            assert response.headers["cache-control"] == "no-store"
            body = await page.inner_text("body")
            assert "Marcus Hale" in body and "this week" in body
            assert "42 CFR" in body
            # Fits a phone: nothing wider than the screen.
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"]
            await page.screenshot(path=str(ARTIFACTS / "officer-link-phone.png"), full_page=True)
            async with page.expect_download() as info:
                await page.click("text=Download PDF")
            download = await info.value
            saved = tmp_path / "downloaded.pdf"
            await download.save_as(saved)
            await browser.close()
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=15)
    content = saved.read_bytes()
    check = await asyncio.to_thread(
        signing.check_signature, content, signing.signing_config(settings)
    )
    assert check.ok and check.no_changes_allowed, check
