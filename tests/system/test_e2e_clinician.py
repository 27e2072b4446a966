"""A clinician's week and an officer's phone, end to end in a real browser (issue 7).

Headless Debian chromium, driven by Playwright against `compliance run` on a free port,
does what people do, only through the pages: the clinician signs in, takes a group
roster, imports a lab's HL7 file, reads the caseload and the participant's weeks,
signs a court report and makes a secure link with an access code; then the officer,
with nothing but that link and code, opens it on a phone and downloads the PDF, whose
signature and text are checked. Every page is screenshotted to test-artifacts/e2e/ so
a reviewer can see what people saw; a console error or a 5xx anywhere fails the test.

The demo is laid out for a fixed Monday (DEMO_NOW) while the server's clock is real,
so every period the test looks at is given explicitly and lies wholly in the past.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pypdf import PdfReader

from compliance.core.db import Engine
from compliance.core.settings import Settings
from compliance.reporting import signing
from tests.support.browser import ARTIFACTS, PHONE, Site, Trail, chromium, fresh
from tests.support.cli import settings_env
from tests.support.staff import PASSWORD, demo_with_clinician

if TYPE_CHECKING:
    from playwright.async_api import Browser, Locator, Page

pytestmark = [pytest.mark.db, pytest.mark.browser]

SHOTS = ARTIFACTS / "e2e"
# The demo skipped that evening's group (it was still to come): the clinician takes it.
GROUP_STARTS = "2026-11-23T18:00"
PERIOD = ("2026-09-28", "2026-11-29")  # the demo's first Monday to the Sunday after
CLINICIAN = ("e2e.clinician@riverbend.example", "Casey Morgan")
OFFICER = "Dana Whitfield (Sangamon County Adult Probation)"  # with the court client's consent
CASE_NUMBER = "2026-CF-001432"  # the demo court client's mandate
NARRATIVE = "Engaged in group; attends reliably since the October relapse."
# A lab result for the demo court client, collected the morning after the group.
HL7_RESULT = "\r".join(
    [
        "MSH|^~\\&|LABSYS|PRAIRIE TOX|COMPLIANCE|RIVERBEND|20261125143000-0600||ORU^R01|E1|P|2.5.1",
        "PID|1||RB-1001^^^RB^MR||HALE^MARCUS||19880412|M",
        "OBR|1|PL-E2E|RB-E2E-0001|DOA^Drug panel^L|||20261124081500-0600",
        "OBX|1|ST|THC^Cannabinoids screen^L||NEGATIVE|ng/mL|50|N|||F|||20261125|||EIA^EIA^L",
        "OBX|2|ST|COC^Cocaine screen^L||NEGATIVE|ng/mL|150|N|||F|||20261125|||EIA^EIA^L",
        "OBX|3|ST|OXY^Oxycodone screen^L||NEGATIVE|ng/mL|100|N|||F|||20261125|||EIA^EIA^L",
        "OBX|4|NM|CREA^Creatinine^L||96.0|mg/dL|20-400||||F",
        "",
    ]
).encode()


@dataclass
class Link:
    """What the clinician passes on: the URL by e-mail, the code by phone."""

    url: str
    code: str


def _open_violations(page: Page, client_id: str) -> Locator:
    """The caseload's 'Open violations' cell of one participant's row."""
    return page.locator("tbody tr", has_text=client_id).locator("td").nth(3)


async def _clinician(browser: Browser, base: str, trail: Trail) -> Link:
    """Steps 1-6, as a clinician at a desktop: returns the link and code read off the page."""
    from playwright.async_api import expect

    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = await context.new_page()
    trail.watch(page)

    # 1. The dashboard needs an account: the browser is sent to sign in, then back.
    await page.goto(f"{base}/caseload")
    await expect(page).to_have_url(re.compile(r"/login\?next=/caseload$"))
    await trail.shot(page, "login")
    await page.get_by_label("E-mail").fill(CLINICIAN[0])
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{base}/caseload")
    await expect(page.locator("header")).to_contain_text(CLINICIAN[1])
    # Before the roster the DOT client has nothing open (his codeine was MRO-negative).
    await expect(_open_violations(page, "RB-1003")).to_have_text("none")
    await trail.shot(page, "caseload-signed-in")

    # 2. Monday's group: create the group's session, then one form for the whole roster.
    await page.get_by_role("link", name="Sessions", exact=True).click()
    await page.get_by_role("link", name="New session").click()
    await expect(page.get_by_role("heading", name="New session")).to_be_visible()
    await trail.shot(page, "sessions")
    await page.get_by_label("Group", exact=True).select_option(
        label="Relapse prevention group (Mon, Wed, Thu 18:00)"
    )
    await page.get_by_label("Type").select_option("group")
    await page.get_by_label("Starts (program's local time)").fill(GROUP_STARTS)
    await page.get_by_label("Scheduled minutes").fill("180")
    await page.get_by_label("Title").fill("Relapse prevention group")
    await page.get_by_label("Facilitator").fill("Casey Morgan, LCSW")
    await page.get_by_label("Location").fill("Group room B")
    await page.get_by_role("button", name="Create and take attendance").click()
    await expect(page).to_have_url(re.compile(r"/sessions/\d+$"))
    await expect(page.locator("main")).to_contain_text("Monday 23 November 2026, 18:00")
    await trail.shot(page, "roster-blank")
    for person, status in [("Marcus Hale", "present"), ("Alicia Gomez", "late")]:
        await page.get_by_label(f"Status for {person}").select_option(status)
    await page.get_by_label("Minutes late for Alicia Gomez").fill("30")  # 150 of 180 attended
    await page.get_by_label("Status for Terrence Boyd").select_option("absent_unexcused")
    await page.locator("tr", has_text="Boyd, Terrence").get_by_label("Note").fill("No call.")
    await page.get_by_role("button", name="Save attendance").click()
    await expect(page.get_by_role("status")).to_have_text(
        "Saved: 3 recorded, 0 corrected, 0 unchanged."
    )
    for person, status in [("Hale", "present"), ("Gomez", "late"), ("Boyd", "absent_unexcused")]:
        row = page.locator("tr", has_text=person)
        await expect(row.locator("select")).to_have_value(status)
        await expect(row).to_contain_text("v1")
    await expect(page.get_by_label("Minutes late for Alicia Gomez")).to_have_value("30")
    await expect(page.locator("tr", has_text="Gomez").locator("[data-attended]")).to_have_text(
        "150 of 180"
    )
    hale_record = (
        await page.locator("tr", has_text="Hale").get_by_role("link").get_attribute("href")
    )
    assert hale_record and hale_record.startswith("/attendance/"), hale_record
    await trail.shot(page, "roster-saved")

    # 3. The lab's HL7 file: upload, see what would be stored, commit.
    await page.get_by_role("link", name="Import", exact=True).click()
    await trail.shot(page, "import-form")
    await page.get_by_label("Kind of file").select_option("hl7_oru")
    await page.get_by_label("File", exact=True).set_input_files(
        {"name": "prairie-tox.hl7", "mimeType": "application/hl7-v2", "buffer": HL7_RESULT}
    )
    await page.get_by_role("button", name="Preview").click()
    await expect(page.locator("main")).to_contain_text("Nothing has been stored yet")
    await expect(page.locator("main")).to_contain_text("Committing would create 1 drug test.")
    await expect(page.locator("table")).to_contain_text("RB-1001")
    await trail.shot(page, "import-preview")
    await page.get_by_role("button", name="Commit 1 drug test").click()
    await expect(page.get_by_role("status")).to_contain_text("Stored: 1 created, 0 corrected")
    await expect(page.locator("table")).to_contain_text("RB-1001")
    await trail.shot(page, "import-committed")

    # 4. The caseload, then the court client's weeks over a period given explicitly.
    await page.get_by_role("link", name="Caseload", exact=True).click()
    for name, client_id in [  # last name first, as the caseload sorts
        ("Hale, Marcus", "RB-1001"),
        ("Gomez, Alicia", "RB-1002"),
        ("Boyd, Terrence", "RB-1003"),
    ]:
        await expect(page.locator("tr", has_text=client_id)).to_contain_text(name)
    await expect(page.locator("tr", has_text="RB-1001")).to_contain_text("Phase 1: Stabilization")
    # Monday's no-show is now an open violation.
    await expect(_open_violations(page, "RB-1003")).to_have_text("1")
    await trail.shot(page, "caseload")
    await page.get_by_role("link", name="Hale, Marcus").click()
    await expect(page.get_by_role("heading", name="Marcus Hale")).to_be_visible()
    await page.locator("#c-start").fill(PERIOD[0])
    await page.locator("#c-end").fill(PERIOD[1])
    await page.get_by_role("button", name="Show").click()
    await expect(page).to_have_url(re.compile(rf"start={PERIOD[0]}&end={PERIOD[1]}"))
    week = page.locator("table.weeks tr", has_text="Mon 23 Nov")
    # Monday's group (3 of the phase's 9 hours) and the imported test (1 of 2).
    await expect(week.locator("td").nth(2)).to_have_text("3:00 of 9:00")
    await expect(week.locator("td").nth(4)).to_have_text("1 of 2")
    await expect(week.locator("td").nth(1)).to_have_text("Not compliant")
    # The roster's record for him is listed, as recorded.
    group = page.locator("tr", has=page.locator(f'a[href="{hale_record}"]'))
    await expect(group).to_contain_text("group")
    await expect(group).to_contain_text("present")
    await expect(group).to_contain_text("180/180")
    # The only test of 24 Nov (08:15 there, 14:15 UTC) is the imported one: open it to be
    # sure. Found by date, not position: the engines order a no-show's empty time apart.
    tests_table = page.locator("h2:text-is('Drug tests') + .scroll table tbody tr")
    newest = tests_table.filter(has_text="2026-11-24")
    await expect(newest).to_contain_text("collected")
    await expect(newest.locator("td").nth(2)).to_have_text("none")
    await trail.shot(page, "participant")
    await newest.get_by_role("link", name="Correct").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Drug test RB-E2E-0001")
    for analyte in ("THC", "Cocaine", "Oxycodone"):
        row = page.locator("table").first.locator("tr", has_text=analyte)
        await expect(row).to_contain_text("negative")
    await trail.shot(page, "drug-test")
    await page.get_by_role("link", name="← Marcus Hale").click()
    await expect(page.get_by_role("heading", name="Marcus Hale")).to_be_visible()

    # 5. Sign a court report for the officer over the same period.
    await page.get_by_label("Kind").select_option("court_progress")
    await page.locator("#report-recipient").select_option(label=OFFICER)
    await page.locator("#report-start").fill(PERIOD[0])
    await page.locator("#report-end").fill(PERIOD[1])
    await page.get_by_label("Clinician's narrative").fill(NARRATIVE)
    await page.get_by_role("button", name="Render and sign").click()
    await expect(page).to_have_url(re.compile(r"/participants/\d+#report-\d+$"))
    report = page.locator("#reports tr[id^=report-]")
    await expect(report).to_have_count(1)
    cells = report.locator("td")
    await expect(cells.nth(1)).to_have_text("Court progress report")
    await expect(cells.nth(2)).to_have_text(f"{PERIOD[0]} to {PERIOD[1]}")
    await expect(cells.nth(3)).to_have_text("Dana Whitfield")
    await expect(cells.nth(4)).to_have_text("1")
    await expect(cells.nth(5)).to_have_text("current")
    await expect(cells.nth(6)).to_contain_text(f"by {CLINICIAN[1]}")
    await trail.shot(page, "report-signed")

    # 6. A secure link for the officer, with an access code given to them by phone.
    await page.locator("#link-recipient").select_option(label=OFFICER)
    await page.get_by_label("Require an access code").check()
    await page.get_by_role("button", name="Create link").click()
    await expect(page.get_by_role("heading")).to_have_text("Secure link for Dana Whitfield")
    url = await page.locator("#link-url").input_value()
    code = await page.locator("p", has_text="Access code:").locator("strong").inner_text()
    await trail.shot(page, "link-created")
    await context.close()
    assert url.startswith(f"{base}/l/"), url
    assert code.strip(), "no access code shown"
    return Link(url, code.strip())


async def _officer(browser: Browser, link: Link, trail: Trail, saved: Path) -> None:
    """Step 7, on a phone with no account and no cookies: code, status, PDF."""
    from playwright.async_api import expect

    context = await browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, accept_downloads=True
    )
    context.set_default_timeout(15_000)
    page = await context.new_page()
    trail.watch(page)
    response = await page.goto(link.url)
    assert response is not None and response.status == 200
    await expect(page.get_by_role("heading", name="Access code")).to_be_visible()
    # A field and a button a thumb can hit, not a browser-default sliver.
    field_box = await page.get_by_label("Access code").bounding_box()
    button_box = await page.get_by_role("button", name="Open").bounding_box()
    assert field_box and field_box["width"] >= 300, field_box
    assert button_box and button_box["height"] >= 36, button_box
    await trail.shot(page, "officer-code")
    await page.get_by_label("Access code").fill(link.code)
    await page.get_by_role("button", name="Open").click()
    await expect(page.get_by_role("heading", name="Marcus Hale")).to_be_visible()
    body = page.locator("main")
    await expect(body).to_contain_text("for Dana Whitfield")
    # This week's status (the real clock's week: its figures are not the test's to fix).
    await expect(page.get_by_role("heading", name="Compliance")).to_be_visible()
    await expect(body).to_contain_text("(this week)")
    report = page.locator("ul.reports li")
    await expect(report).to_contain_text("Court progress report, 28 Sep to 29 Nov 2026")
    await expect(report).to_contain_text("version 1")
    await expect(body).to_contain_text("42 CFR")
    # Fits a phone: nothing wider than the screen.
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await trail.shot(page, "officer-status")
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Download PDF").click()
    download = await info.value
    assert download.suggested_filename.endswith("-v1.pdf"), download.suggested_filename
    await download.save_as(saved)
    await context.close()


def _text(pdf: bytes) -> str:
    """The PDF's words with line breaks folded, so a phrase can be found across lines."""
    return " ".join(" ".join(p.extract_text() for p in PdfReader(BytesIO(pdf)).pages).split())


async def test_clinician_flow_ends_in_a_signed_pdf_on_the_officers_phone(
    bound_engine: Engine, database_url: str, settings: Settings, tmp_path: Path
) -> None:
    """Issue 7: every step a person takes, through the pages only, ends in a PDF that an
    officer's phone downloads and whose signature and notice hold."""
    from playwright.async_api import async_playwright

    trail = Trail(fresh(SHOTS))
    saved = tmp_path / "officer.pdf"
    # Links are made from BASE_URL, this server's, so the officer can open one; it takes
    # seconds to start: let it, while the demo loads and chromium starts.
    async with Site(settings_env(database_url, tmp_path)) as site:
        # An account is the one thing the pages cannot make: an administrator creates it.
        await demo_with_clinician(CLINICIAN[0], full_name=CLINICIAN[1], credentials="LCSW")
        async with async_playwright() as pw:
            browser = await chromium(pw)
            base = await site.ready()
            link = await _clinician(browser, base, trail)
            await _officer(browser, link, trail, saved)
            await browser.close()
    assert not trail.problems, "\n".join(trail.problems)
    assert len(trail.shots) == 15, [p.name for p in trail.shots]

    content = saved.read_bytes()
    assert content.startswith(b"%PDF-")
    check = await asyncio.to_thread(
        signing.check_signature, content, signing.signing_config(settings)
    )
    assert check.ok and check.no_changes_allowed, check
    text = _text(content)
    assert "Marcus Hale" in text and CASE_NUMBER in text
    assert "protected by Federal confidentiality rules (42 CFR part 2)" in text
    assert NARRATIVE in text
