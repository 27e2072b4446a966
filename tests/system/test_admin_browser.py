"""Administration in a real browser (issue 15, point 8): headless Debian chromium against
`compliance run`. An administrator invites a clinician; the clinician, on a tablet,
sets a password from the link and signs in. And the API docs load with every host but
this server blocked: nothing of theirs comes from a CDN."""

from __future__ import annotations

import re
import signal
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.support.browser import ARTIFACTS, Trail, chromium, serve
from tests.support.cli import settings_env
from tests.support.live import free_port
from tests.support.staff import PASSWORD, make_world

if TYPE_CHECKING:
    from playwright.async_api import Route

pytestmark = [pytest.mark.db, pytest.mark.browser]

SHOTS = ARTIFACTS / "admin"
DESKTOP = {"width": 1366, "height": 900}
TABLET = {"width": 820, "height": 1180}
NEW_PASSWORD = "harbor quilt meadow 2026"


async def test_admin_invites_a_clinician_who_sets_a_password_and_signs_in(
    client: httpx.AsyncClient, database_url, tmp_path
) -> None:
    from playwright.async_api import async_playwright, expect

    world = await make_world()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve({**settings_env(database_url, tmp_path), "BASE_URL": base}, port)
    SHOTS.mkdir(parents=True, exist_ok=True)
    trail = Trail(SHOTS)
    try:
        async with async_playwright() as pw:
            browser = await chromium(pw)
            admin = await (await browser.new_context(viewport=DESKTOP)).new_page()
            admin.set_default_timeout(15_000)
            trail.watch(admin)
            await admin.goto(f"{base}/login")
            await admin.get_by_label("E-mail").fill(world.admin_a)
            await admin.get_by_label("Password").fill(PASSWORD)
            await admin.get_by_role("button", name="Sign in").click()
            await admin.get_by_role("link", name="Admin", exact=True).click()
            await admin.get_by_role("link", name="Staff accounts").click()
            await admin.get_by_role("link", name="Invite a staff member").click()
            await admin.get_by_label("Full name").fill("Casey Morgan")
            await admin.get_by_label("E-mail").fill("casey@example.org")
            await admin.get_by_label("Role").select_option("clinician")
            await admin.get_by_label("Program A").check()
            await trail.shot(admin, "invite-form")
            await admin.get_by_role("button", name="Send the invitation").click()
            await expect(admin.get_by_role("heading")).to_have_text("Invitation for Casey Morgan")
            link = await admin.get_by_label("Set-password link").input_value()
            assert re.fullmatch(rf"{base}/set-password/[A-Za-z0-9_\-]{{43}}", link), link
            await trail.shot(admin, "invited")
            await admin.reload()  # shown once: a refresh shows it no more
            assert await admin.get_by_label("Set-password link").count() == 0
            await admin.goto(f"{base}/admin/staff")
            row = admin.locator("tr", has_text="casey@example.org")
            await expect(row).to_contain_text("Invited")

            # The clinician, on a tablet, with nothing but the link.
            tablet = await browser.new_context(viewport=TABLET, is_mobile=True, has_touch=True)
            casey = await tablet.new_page()
            casey.set_default_timeout(15_000)
            trail.watch(casey)
            await casey.goto(link)
            await expect(casey.get_by_role("heading")).to_have_text("Choose your password")
            await casey.get_by_label("New password").fill(NEW_PASSWORD)
            await casey.get_by_label("The same password again").fill(NEW_PASSWORD)
            await trail.shot(casey, "set-password")
            await casey.get_by_role("button", name="Set my password").click()
            await expect(casey.get_by_role("heading")).to_have_text("Your password is set")
            await casey.get_by_role("link", name="Sign in").click()
            await casey.get_by_label("E-mail").fill("casey@example.org")
            await casey.get_by_label("Password").fill(NEW_PASSWORD)
            await casey.get_by_role("button", name="Sign in").click()
            await expect(casey.locator("header")).to_contain_text("Casey Morgan")
            await expect(casey.get_by_role("link", name="Outbox")).to_be_visible()
            assert await casey.get_by_role("link", name="Admin", exact=True).count() == 0
            await trail.shot(casey, "signed-in")
            await admin.reload()
            await expect(row).to_contain_text("Active")
            await browser.close()
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=15)
    assert not trail.problems, trail.problems


async def test_api_docs_load_with_every_other_host_blocked(database_url, tmp_path) -> None:
    from playwright.async_api import async_playwright, expect

    port = free_port()
    server = serve(settings_env(database_url, tmp_path), port)
    base = f"http://127.0.0.1:{port}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    trail = Trail(SHOTS)
    elsewhere: list[str] = []

    async def only_this_server(route: Route) -> None:
        if route.request.url.startswith(base + "/"):
            await route.continue_()
        else:
            elsewhere.append(route.request.url)
            await route.abort()

    try:
        async with async_playwright() as pw:
            browser = await chromium(pw)
            context = await browser.new_context(viewport=DESKTOP)
            await context.route("**/*", only_this_server)
            page = await context.new_page()
            page.set_default_timeout(15_000)
            trail.watch(page)
            await page.goto(f"{base}/schema")
            await expect(page.locator(".opblock").first).to_be_visible()
            await expect(page.get_by_text("/api/admin/invites").first).to_be_visible()
            assert await page.locator(".opblock").count() > 50
            await page.screenshot(path=str(SHOTS / "api-docs.png"))
            await browser.close()
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=15)
    assert elsewhere == [], elsewhere
    assert not trail.problems, trail.problems
