"""A new court client from enrolment to a sent report in one guided flow (issue 15,
point 6), in headless Debian chromium against `compliance run`.

The clinician enrolls the client, records the court mandate with the officer made a
recipient by one checkbox, records the consent from the court template as it comes
pre-filled, signs the first court report and sends it; refreshing the last page sends
nothing again. Each page is screenshotted at 1366 and 820 px wide, and at both widths
no card is wider than its box (nothing clipped). A console error or a 5xx fails it.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from compliance.core.db import Engine
from compliance.core.settings import Settings
from compliance.tables import (
    Consent,
    Mandate,
    MandatePhase,
    OutboxMessage,
    Participant,
    Recipient,
    Report,
    SecureLink,
)
from tests.support.browser import ARTIFACTS, Site, Trail, chromium, fresh
from tests.support.cli import settings_env
from tests.support.staff import PASSWORD, demo_with_clinician

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = [pytest.mark.db, pytest.mark.browser]

SHOTS = ARTIFACTS / "client-flow"
CLINICIAN = ("flow.clinician@riverbend.example", "Casey Morgan")
OFFICER = "Jordan Pike (Sangamon County Adult Probation)"
ADMITTED = date.today() - timedelta(days=21)
WIDTHS = (1366, 820)


async def _shot(page: Page, trail: Trail, name: str) -> None:
    """A full-page screenshot named by its step alone (Trail.shot numbers them)."""
    path = SHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    trail.shots.append(path)


async def _look(page: Page, trail: Trail, name: str) -> None:
    """Screenshots at both widths; at each, no card scrolls sideways (a clipped column)."""
    for width in WIDTHS:
        await page.set_viewport_size({"width": width, "height": 900})
        clipped = await page.evaluate(
            "[...document.querySelectorAll('.card')]"
            ".filter(c => c.scrollWidth > c.clientWidth + 1).length"
        )
        assert clipped == 0, f"{name} at {width} px: {clipped} card(s) wider than the page"
        assert await page.evaluate("document.documentElement.scrollWidth") <= width, name
        await _shot(page, trail, f"{name}-{width}")
    await page.set_viewport_size({"width": WIDTHS[0], "height": 900})


async def _flow(page: Page, base: str, trail: Trail) -> None:
    from playwright.async_api import expect

    main = page.locator("main")
    await page.goto(f"{base}/participants/new")
    await page.get_by_label("E-mail").fill(CLINICIAN[0])
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()

    # Step 1: the client.
    await expect(page).to_have_url(f"{base}/participants/new")
    await expect(main).to_contain_text("Step 1 of 4")
    await _look(page, trail, "1-enroll")
    await page.get_by_label("Client id").fill("RB-2042")
    await page.get_by_label("First name").fill("Nia")
    await page.get_by_label("Last name").fill("Stone")
    await page.get_by_label("Admitted on").fill(ADMITTED.isoformat())
    await page.get_by_role("button", name="Enroll and continue to the mandate").click()

    # Step 2: the mandate; the officer becomes a recipient by the ticked box.
    await expect(page).to_have_url(re.compile(r"/participants/\d+/mandates/new\?flow=new$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("The mandate for Nia Stone")
    await expect(page.locator("#starts_on")).to_have_value(ADMITTED.isoformat())
    await expect(page.get_by_label("Name of the phase").first).to_have_value("Phase 1")
    await expect(page.get_by_label("Add this person as a recipient")).to_be_checked()
    await _look(page, trail, "2-mandate")
    await page.get_by_label("Referred by").select_option("court")
    await page.get_by_label("Case number").fill("2026-CF-002042")
    await page.get_by_label("Court", exact=True).fill("Sangamon County Drug Treatment Court")
    await page.get_by_label("Referring agency").fill("Sangamon County Adult Probation")
    await page.get_by_label("Name", exact=True).fill("Jordan Pike")
    await page.get_by_label("E-mail").fill("jpike@probation.example")
    await page.get_by_label("Phone").fill("(217) 555-0190")
    await page.get_by_role("button", name="Save and continue to the consent").click()

    # Step 3: the consent from the court template, the officer already chosen.
    await expect(page).to_have_url(re.compile(r"/consents/new\?flow=new&template=court$"))
    await expect(main).to_contain_text("Step 3 of 4")
    await expect(page.locator("#recipient_id option:checked")).to_have_text(OFFICER)
    await expect(page.get_by_label("Drug-test results")).to_be_checked()
    await expect(page.get_by_label("Court supervision", exact=True)).to_be_checked()
    await expect(page.get_by_label("…or until this event")).to_have_value(
        "the final disposition of my case (2026-CF-002042)"
    )
    await _look(page, trail, "3-consent")
    await page.get_by_role("button", name="Save and continue").click()

    # Step 4: the first report, to the recipient the consent covers.
    await expect(page).to_have_url(re.compile(r"/participants/\d+/first-report$"))
    await expect(main).to_contain_text("Step 4 of 4")
    await expect(page.locator("#report-recipient option")).to_have_text([OFFICER])
    await expect(page.locator("#report-kind option")).to_have_text(["Court progress report"])
    await _look(page, trail, "4-first-report")
    await page.get_by_label("Clinician's narrative").fill("Enrolled three weeks ago; engaged.")
    await page.get_by_role("button", name="Render and sign").click()
    # Rendering and signing runs in a worker process: the one slow step.
    await expect(page).to_have_url(re.compile(r"/participants/\d+#report-\d+$"), timeout=30_000)
    report = page.locator("#reports tr[id^=report-]")
    await expect(report).to_have_count(1)
    await expect(report.locator("td").nth(1)).to_have_text("Court progress report")
    await _look(page, trail, "5-participant")

    # Send it: the e-mail waits in the outbox; the link is shown once.
    await report.get_by_role("button", name="Send to Jordan Pike").click()
    await expect(page).to_have_url(re.compile(r"/links/\d+/created$"))
    await expect(main).to_contain_text(
        "An e-mail with this link is in the outbox for jpike@probation.example"
    )
    await _look(page, trail, "6-sent")
    await page.reload()
    await expect(page.get_by_role("status")).to_contain_text("shown once")
    await expect(main).not_to_contain_text("/l/")
    await _shot(page, trail, "7-refreshed")


async def test_a_new_court_client_goes_from_enrolment_to_a_sent_report(
    bound_engine: Engine, database_url: str, settings: Settings, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    trail = Trail(fresh(SHOTS))
    async with Site(settings_env(database_url, tmp_path)) as site:
        await demo_with_clinician(CLINICIAN[0], full_name=CLINICIAN[1], credentials="LCSW")
        mail_before = await OutboxMessage.count()
        async with async_playwright() as pw:
            browser = await chromium(pw)
            base = await site.ready()
            context = await browser.new_context(viewport={"width": WIDTHS[0], "height": 900})
            context.set_default_timeout(15_000)
            page = await context.new_page()
            trail.watch(page)
            await _flow(page, base, trail)
            await browser.close()
    assert not trail.problems, "\n".join(trail.problems)

    person = await Participant.select().where(Participant.client_id == "RB-2042").first()
    mandate = await Mandate.select().where(Mandate.participant == person["id"]).first()
    phase = await MandatePhase.select().where(MandatePhase.mandate == mandate["id"]).first()
    assert phase["started_on"] == ADMITTED  # phase 1 started with the mandate
    officers = await Recipient.select().where(Recipient.name == "Jordan Pike")
    assert len(officers) == 1 and officers[0]["email"] == "jpike@probation.example"
    consent = await Consent.select().where(Consent.participant == person["id"]).first()
    assert consent["recipient"] == officers[0]["id"] and consent["is_criminal_justice"]
    # One report, one link, one e-mail: the refresh repeated nothing.
    assert await Report.count().where(Report.participant == person["id"]) == 1
    assert await SecureLink.count().where(SecureLink.participant == person["id"]) == 1
    assert await OutboxMessage.count() == mail_before + 1
