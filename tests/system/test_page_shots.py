"""Every staff page in a real browser at a desktop (1366 px) and a tablet (820 px).

Issue 15 asks that every changed page be looked at on both; this test opens each page
the app serves as HTML to staff, on the demo's records, and fails on a status other
than 200, a console or script error, a page wider than the window (sideways
scrolling) or an element reaching past its card. The screenshots go to
test-artifacts/pages/ for a person to look at. A new page is visited without editing
this file; a page that cannot be opened here must be named in SKIPPED with the
reason, so none is forgotten."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from compliance.app import create_app
from compliance.core.db import Engine
from compliance.core.settings import Settings
from compliance.core.vocabulary import Role
from compliance.staff import accounts
from compliance.tables import (
    Attendance,
    DrugTest,
    Mandate,
    Participant,
    Program,
    StaffUser,
    TreatmentGroup,
    TreatmentSession,
)
from tests.support.browser import ARTIFACTS, Site, Trail, chromium, fresh
from tests.support.cli import settings_env
from tests.support.staff import PASSWORD, demo_with_clinician

if TYPE_CHECKING:
    from playwright.async_api import Browser

pytestmark = [pytest.mark.db, pytest.mark.browser]

SHOTS = ARTIFACTS / "pages"
CLINICIAN = "pages.clinician@example.org"
ADMIN = "pages.admin@example.org"
WIDTHS = {"1366": {"width": 1366, "height": 900}, "820": {"width": 820, "height": 1180}}
ADMIN_ONLY = re.compile(r"^/admin|/analytes$|/outbox$")
SKIPPED = {
    "/health": "not a page",
    "/sessions/minutes.js": "a script",
    "/reports/{report_id:int}/pdf": "a PDF",
    "/participants/{participant_id:int}/disclosures.csv": "a CSV file",
    "/l/{token:str}": "the officer's page, tests/integration/test_officer_page.py",
    "/l/{token:str}/reports/{report_id:int}/pdf": "a PDF through a link",
    "/verify": "public, tests/system/test_verification_verdicts.py",
    "/verify/{public_id:str}": "public, tests/system/test_verification_verdicts.py",
    "/links/{link_id:int}/created": "shown once after creating, integration/test_staff_forms.py",
    "/set-password/{token:str}": "needs an invitation, tests/system/test_admin_browser.py",
    "/set-password/done": "after setting a password, tests/system/test_admin_browser.py",
    "/admin/staff/invites/{invite_id:int}": "shown after inviting, system/test_admin_browser.py",
    "/imports/{batch_id:int}": "needs an upload, tests/system/test_browser_imports.py",
    "/missed-check-ins/{missed_id:int}": "a redirect to the participant's testing page, "
    "tests/integration/test_missed_check_ins.py",
}
# Whole trees of routes that are not staff pages.
SKIPPED_TREES = {
    "/admin/queue": "SAQ's own queue page (litestar-saq), only where there is a queue: "
    "tests/integration/test_queue_view.py",
}


# Elements reaching past the card they sit in, unless inside a box that scrolls: the analytes
# table once pushed its buttons past the card's edge while the page still fit.
SPILLS = """() => [...document.querySelectorAll('.card *')].filter(e => {
    const card = e.closest('.card');
    for (let a = e.parentElement; a && a !== card; a = a.parentElement) {
        if (getComputedStyle(a).overflowX !== 'visible') return false;  // it scrolls
    }
    if (e.closest('details:not([open])')) return false;
    const r = e.getBoundingClientRect(), box = card.getBoundingClientRect();
    return r.width > 0 && r.right > box.right + 1;
}).slice(0, 3)
  .map(e => `${e.tagName.toLowerCase()} "${(e.textContent || '').trim().slice(0, 30)}"`)"""


def staff_pages(settings: Settings) -> list[str]:
    """Every GET route that answers HTML to staff, as declared by the app itself."""
    app = create_app(settings)
    paths = []
    for route in app.routes:
        if "GET" not in getattr(route, "methods", ()) or route.path.startswith("/api"):
            continue
        if route.path.startswith("/schema") or route.path in SKIPPED:
            continue
        if any(route.path.startswith(tree) for tree in SKIPPED_TREES):
            continue
        paths.append(route.path)
    return paths


async def _ids() -> dict[str, Any]:
    person = await Participant.select().where(Participant.client_id == "RB-1001").first()
    program = await Program.select().first()
    mandate = (
        await Mandate.select().where(Mandate.participant == person["id"]).order_by(Mandate.id)
    )[0]
    session = (
        await TreatmentSession.select()
        .where(TreatmentSession.program == program["id"])
        .order_by(TreatmentSession.starts_at, ascending=False)
        .first()
    )
    attendance = await Attendance.select().where(Attendance.participant == person["id"]).first()
    test = await DrugTest.select().where(DrugTest.participant == person["id"]).first()
    group = await TreatmentGroup.select().where(TreatmentGroup.program == program["id"]).first()
    clinician = await StaffUser.select().where(StaffUser.email == CLINICIAN).first()
    return {
        "participant_id": person["id"],
        "program_id": program["id"],
        "program_code": program["code"],
        "mandate_id": mandate["id"],
        "session_id": session["id"],
        "attendance_id": attendance["id"],
        "test_id": test["id"],
        "group_id": group["id"] if group else None,
        "user_id": clinician["id"],
    }


def _fill(path: str, ids: dict[str, Any]) -> str:
    def one(match: re.Match[str]) -> str:
        value = ids.get(match.group(1))
        assert value is not None, f"no {match.group(1)} in the demo for {path}"
        return str(value)

    return re.sub(r"\{(\w+):\w+\}", one, path)


def _name(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"


async def _visit(
    browser: Browser, base: str, email: str, paths: list[str], trail: Trail
) -> list[str]:
    """Each page at both widths; returns what was wrong with any of them."""
    from playwright.async_api import expect

    wrong = []
    context = await browser.new_context(viewport=WIDTHS["1366"])
    context.set_default_timeout(15_000)
    page = await context.new_page()
    trail.watch(page)
    await page.goto(f"{base}/login")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(r"/caseload$"))
    for path in paths:
        for label, size in WIDTHS.items():
            await page.set_viewport_size(size)
            response = await page.goto(base + path)
            status = response.status if response else 0
            if status != 200:
                wrong.append(f"{path}: {status}")
                continue
            page_width, room = await page.evaluate(
                "() => [document.documentElement.scrollWidth, window.innerWidth]"
            )
            if page_width > room:
                wrong.append(f"{path} at {label} px is {page_width} px wide")
            for spill in await page.evaluate(SPILLS):
                wrong.append(f"{path} at {label} px: {spill} reaches past its card")
            await page.screenshot(path=str(SHOTS / f"{_name(path)}-{label}.png"), full_page=True)
    await context.close()
    return wrong


async def test_every_staff_page_fits_a_desktop_and_a_tablet(
    bound_engine: Engine, database_url: str, tmp_path: Path, settings: Settings
) -> None:
    from playwright.async_api import async_playwright

    trail = Trail(fresh(SHOTS))
    routes = staff_pages(settings)
    async with Site(settings_env(database_url, tmp_path), base_url=False, tail=3000) as site:
        program = await demo_with_clinician(CLINICIAN)
        await accounts.create_staff_user(
            email=ADMIN,
            full_name="Pat Admin",
            password=PASSWORD,
            role=Role.admin,
            program_ids=[program["id"]],
        )
        ids = await _ids()
        paths = {route: _fill(route, ids) for route in routes}
        admin = [paths[r] for r in routes if ADMIN_ONLY.search(r)]
        staff = [paths[r] for r in routes if not ADMIN_ONLY.search(r)]
        async with async_playwright() as pw:
            browser = await chromium(pw)
            base = await site.ready()
            wrong = await _visit(browser, base, CLINICIAN, staff, trail)
            wrong += await _visit(browser, base, ADMIN, admin, trail)
            await browser.close()
    assert not wrong, "\n".join(wrong)
    assert not trail.problems, "\n".join(trail.problems)
    # Every page seen, at both widths: the caseload, a participant, the roster, admin.
    shots = {p.name for p in SHOTS.glob("*.png")}
    assert len(shots) == 2 * len(routes) >= 2 * 30, sorted(shots)
    for must in ("caseload-", "sessions-", "participants-", "admin-staff-", "groups-"):
        assert any(s.startswith(must) for s in shots), must
