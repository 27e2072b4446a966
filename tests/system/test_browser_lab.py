"""The lab workflow in a real browser (issue 15, point 4): a clinician records a test from
the program's panel with "all negative" and one positive, adds the lab's confirmation,
then the MRO's review, and sees each on the test's page as what it is. Headless Debian
chromium against `compliance run`; a console error or a 5xx anywhere fails the test.
The pages are screenshotted at a desktop's and a tablet's width to test-artifacts/lab/."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from compliance.core.db import Engine
from compliance.tables import AnalyteResult, DrugTest, Participant
from tests.support.browser import ARTIFACTS, Site, Trail, chromium
from tests.support.cli import settings_env
from tests.support.staff import PASSWORD, demo_with_clinician

pytestmark = [pytest.mark.db, pytest.mark.browser]

SHOTS = ARTIFACTS / "lab"
CLINICIAN = ("lab.clinician@riverbend.example", "Casey Morgan")
DESKTOP, TABLET = {"width": 1366, "height": 900}, {"width": 820, "height": 1180}
COCAINE = "Cocaine metabolite (benzoylecgonine)"


async def _shots(page, name: str, part=None) -> None:  # type: ignore[no-untyped-def]
    """The page (or the ``part`` of it that changed) at a desktop's and a tablet's width."""
    for label, size in (("1366", DESKTOP), ("820", TABLET)):
        await page.set_viewport_size(size)
        path = str(SHOTS / f"{name}-{label}.png")
        await (part.screenshot(path=path) if part else page.screenshot(path=path, full_page=True))
    await page.set_viewport_size(DESKTOP)


async def test_record_from_the_panel_then_confirmation_then_mro_review(
    bound_engine: Engine, database_url: str, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright, expect

    SHOTS.mkdir(parents=True, exist_ok=True)
    trail = Trail(SHOTS)
    # Yesterday morning on the program's clock: called at 7, collected at 9:15.
    day = datetime.now(ZoneInfo("America/Chicago")).date() - timedelta(days=1)
    async with Site(settings_env(database_url, tmp_path), tail=3000) as site:
        await demo_with_clinician(CLINICIAN[0], full_name=CLINICIAN[1])
        pid = (await Participant.select().where(Participant.client_id == "RB-1001").first())["id"]
        async with async_playwright() as pw:
            browser = await chromium(pw)
            base = await site.ready()
            page = await (await browser.new_context(viewport=DESKTOP)).new_page()
            page.set_default_timeout(15_000)
            trail.watch(page)
            await page.goto(f"{base}/login?next=/participants/{pid}")
            await page.get_by_label("E-mail").fill(CLINICIAN[0])
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            await page.get_by_role("link", name="Record a drug test").click()

            # The panel preset, "all negative", and the one exception.
            await expect(page.get_by_role("heading", level=1)).to_contain_text("Record a drug test")
            await page.get_by_label("Called to test (program time)").fill(f"{day}T07:00")
            await page.get_by_label("Collected (program time)").fill(f"{day}T09:15")
            await page.get_by_label("Lab", exact=True).fill("Prairie Toxicology Laboratory")
            await page.get_by_label("Accession number").fill("RB-LAB-0001")
            await expect(page.get_by_label("Program panel (9 analytes)")).to_be_checked()
            await expect(page.locator("#screen-hydrocodone")).to_be_hidden()
            await page.get_by_label("All negative").check()
            await page.locator("#screen-cocaine").select_option("positive")
            await page.get_by_label(f"{COCAINE} level, ng/mL").fill("310")
            await page.get_by_label("Notes", exact=True).fill("Says she handled cash at work.")
            await _shots(page, "1-drug-test-form")
            await page.get_by_role("button", name="Save test").click()

            # The test's page: pending confirmation, in the engine's words.
            await expect(page).to_have_url(re.compile(r"/drug-tests/\d+$"))
            verdict = page.locator(".verdict")
            await expect(verdict).to_contain_text(f"pending confirmation: {COCAINE}")
            await expect(verdict).to_contain_text("does not count until the lab confirms it")
            await expect(page.locator(".facts")).to_contain_text("Says she handled cash at work.")
            await _shots(page, "2-drug-test-pending")

            # The lab's confirmation, as its own action.
            confirm = page.locator("#confirm")
            await confirm.get_by_label(f"{COCAINE} confirmation").select_option("positive")
            await confirm.get_by_label(f"{COCAINE} method").fill("GC-MS")
            await confirm.get_by_label(f"{COCAINE} level, ng/mL").fill("288")
            await confirm.get_by_role("button", name="Add confirmation").click()
            await expect(verdict).to_contain_text("Positive test collected")
            history = page.locator("#history")
            await expect(history.locator(".version").first).to_contain_text("lab confirmation")
            await expect(history).to_contain_text(
                re.compile(r"Confirmed by GC-MS on \w{3} \d+ \w{3} \d{4} \(lab Prairie Toxicology")
            )

            # The MRO's review, as its own action.
            review = page.locator("#mro")
            await review.get_by_label("MRO", exact=True).fill("Dr. Lena Ortiz")
            await review.get_by_label(f"{COCAINE} MRO verdict").select_option("negative")
            await review.get_by_label(f"{COCAINE} MRO reason").fill("Valid prescription")
            await review.get_by_role("button", name="Add MRO review").click()
            await expect(verdict).to_contain_text("Negative test collected")
            await expect(history.locator(".version").first).to_contain_text("MRO review")
            await expect(history).to_contain_text(
                re.compile(
                    rf"MRO review on .+ by Dr\. Lena Ortiz: {re.escape(COCAINE)} negative, "
                    "valid prescription"
                )
            )
            await expect(history).not_to_contain_text("Corrected")
            await _shots(page, "3-drug-test-reviewed")
            await page.get_by_role("link", name="← Marcus Hale").click()
            row = page.locator("tr", has_text="Says she handled cash at work.")
            await expect(row).to_contain_text(f"{COCAINE} (confirmed, MRO negative)")
            await expect(row.get_by_role("link", name="Correct")).to_be_visible()
            tests = page.locator(".card", has=page.get_by_role("heading", name="Drug tests"))
            await _shots(page, "4-participant-tests", tests)
            await browser.close()
    assert not trail.problems, "\n".join(trail.problems)
    # Stored as shown: three versions of one test, each labelled what it is.
    versions = (
        await DrugTest.select()
        .where(DrugTest.accession_id == "RB-LAB-0001")
        .order_by(DrugTest.version)
    )
    assert [(v["version"], v["version_kind"]) for v in versions] == [
        (1, "original"),
        (2, "confirmation"),
        (3, "mro_review"),
    ]
    screened = await AnalyteResult.select().where(AnalyteResult.drug_test == versions[0]["id"])
    assert len(screened) == 9
    assert [r["analyte_code"] for r in screened if r["screen_result"] == "positive"] == ["cocaine"]
