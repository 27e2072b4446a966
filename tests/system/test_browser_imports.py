"""A lab's CSV through the import pages in a real browser (issue 15, point 5): Debian
chromium, driven by Playwright against `compliance run`, uploads the file without
saying what kind it is, reads the clients' names and results in the preview, commits,
and refreshes the result: nothing is stored twice; the help is a link away. The form,
the preview and the result are screenshotted at 1366 and 820 px to
test-artifacts/imports/; a console error or a 5xx anywhere fails."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from compliance.core.db import Engine
from compliance.tables import DrugTest
from tests.support.browser import ARTIFACTS, Site, Trail, chromium, fresh
from tests.support.cli import settings_env
from tests.support.lab_files import LAB_CSV
from tests.support.staff import PASSWORD, demo_with_clinician

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = [pytest.mark.db, pytest.mark.browser]

SHOTS = ARTIFACTS / "imports"
CLINICIAN = "imports.browser@riverbend.example"
WIDTHS = (1366, 820)


async def _shots(page: Page, shots: list[Path], name: str) -> None:
    """The page at each width, the desktop one last so the flow goes on as it was."""
    for width in reversed(WIDTHS):
        await page.set_viewport_size({"width": width, "height": 900})
        path = SHOTS / f"{len(shots) + 1:02d}-{name}-{width}.png"
        await page.screenshot(path=str(path), full_page=True)
        shots.append(path)


async def test_a_lab_csv_is_recognized_previewed_with_names_and_committed_once(
    bound_engine: Engine, database_url: str, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright, expect

    trail, shots = Trail(fresh(SHOTS)), []
    async with Site(settings_env(database_url, tmp_path)) as site:
        await demo_with_clinician(CLINICIAN)
        tests_before = await DrugTest.count()
        async with async_playwright() as pw:
            browser = await chromium(pw)
            base = await site.ready()
            context = await browser.new_context(viewport={"width": 1366, "height": 900})
            context.set_default_timeout(15_000)
            page = await context.new_page()
            trail.watch(page)

            await page.goto(f"{base}/imports")
            await page.get_by_label("E-mail").fill(CLINICIAN)
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            await expect(page).to_have_url(f"{base}/imports")
            # The kind is left as it is: recognized from the file.
            await expect(page.get_by_label("Kind of file")).to_have_value("")
            await _shots(page, shots, "form")
            await page.get_by_label("File", exact=True).set_input_files(
                {"name": "prairie-tox.csv", "mimeType": "text/csv", "buffer": LAB_CSV}
            )
            await page.get_by_role("button", name="Preview").click()
            await expect(page).to_have_url(re.compile(rf"{base}/imports/\d+$"))
            preview_url = page.url
            main = page.locator("main")
            await expect(main).to_contain_text("Drug tests (CSV)")
            await expect(main).to_contain_text("Committing would create 2 drug tests.")
            hale = page.locator("tbody tr", has_text="RB-1001")
            await expect(hale).to_contain_text("Marcus Hale")
            await expect(hale).to_contain_text("Tue 24 Nov 2026 08:15 CST")
            await expect(hale).to_contain_text(
                "positive, confirmed GC-MS 42 ng/mL; others negative"
            )
            gomez = page.locator("tbody tr", has_text="RB-1002")
            await expect(gomez).to_contain_text("Alicia Gomez")
            await expect(gomez).to_contain_text("presumptive positive (screen only, not confirmed)")
            await _shots(page, shots, "preview")
            assert await DrugTest.count() == tests_before

            await page.get_by_role("button", name="Commit 2 drug tests").click()
            await expect(page.get_by_role("status")).to_contain_text("Stored: 2 created")
            assert page.url == preview_url  # the batch's page, reached by a redirect
            await expect(page.locator("tbody tr", has_text="RB-1001")).to_contain_text(
                "Marcus Hale"
            )
            await _shots(page, shots, "result")
            assert await DrugTest.count() == tests_before + 2

            # A refresh reads the result again and stores nothing.
            await page.reload()
            await expect(page.get_by_role("status")).to_contain_text("Stored: 2 created")
            assert await DrugTest.count() == tests_before + 2

            await page.get_by_role("link", name="Import another file").click()
            await page.get_by_role("link", name="What the files must look like").click()
            await expect(page.get_by_role("heading", name="Drug-test CSV")).to_be_visible()
            await context.close()
            await browser.close()
    assert not trail.problems, "\n".join(trail.problems)
    assert len(shots) == 2 * 3, [p.name for p in shots]
