"""The reference 12-week court report (the demo's court client): the median time to
render and sign it in a warm worker, and three baselines measured in turn in the same
workers and run (issue 18): the frozen reference HTML (bench/fixtures/, the report as it
was on 2026-12-04) through WeasyPrint's defaults, which makes the figure a ratio that
holds across machines; today's HTML through WeasyPrint's defaults; and today's HTML
printed by an already-running headless Chromium (Playwright, a new page per report),
the way a service printing with a browser would. Chromium started per report is kept as
a detail line. Then throughput of a batch of such reports (render, sign, store) against
the worker pool's own rate. Quick mode (BENCH_QUICK=1): 2 timed renders, 3 warm and 1
cold Chromium prints, batches of 4.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.figures import Figure, sized
from compliance import audit
from compliance.core import db, workers
from compliance.core.settings import load_settings
from compliance.core.vocabulary import Role
from compliance.ops.demo import load_demo
from compliance.reporting import batch, service, store
from compliance.reporting.pdf import TEMPLATES, render_and_sign, render_html
from compliance.staff import accounts
from compliance.tables import (
    Participant,
    Recipient,
)
from tests.support.staff import clone_court_client

BIN = Path(sys.executable).parent
RUNS = sized(15, 2)
CHROMIUM_RUNS = sized(5, 1)
WARM_CHROMIUM_RUNS = sized(15, 3)
BATCH = sized(24, 4)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=ZoneInfo("America/Chicago"))
PERIOD = (date(2026, 8, 31), date(2026, 11, 22))  # 12 weeks
# The reference HTML frozen on 2026-12-04 (bench/fixtures/README.md): the yardstick our
# render + sign is divided by, so the figure holds across machines and template changes.
FIXTURE = Path(__file__).parent / "fixtures" / "court_report_12w.html"


def _weasyprint_default(html: str) -> bytes:
    """WeasyPrint's defaults: no PDF/A, no font cache of ours, no signature. The base URL
    is the templates' folder, where the reference HTML and the frozen fixture both find
    their fonts (`../fonts/`)."""
    from weasyprint import HTML

    return HTML(string=html, base_url=str(TEMPLATES) + "/").write_pdf()


def _pages(pdf: bytes) -> int:
    from io import BytesIO

    from pypdf import PdfReader

    return len(PdfReader(BytesIO(pdf)).pages)


def _median_seconds(fn, runs: int = RUNS) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _for_browser(html: str, folder: Path) -> Path:
    """The HTML as a file a browser can open, its fonts at absolute file:// URLs."""
    page = folder / "report.html"
    fonts = (TEMPLATES.parent / "fonts").as_uri()
    page.write_text(html.replace('url("../fonts/', f'url("{fonts}/'))
    return page


def _chromium(html_path: Path, out: Path) -> None:
    """Chromium started for this one report, as a command-line print would."""
    subprocess.run(
        [
            shutil.which("chromium") or "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={out.parent / 'chromium-profile'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={out}",
            html_path.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )


def _warm_chromium(html_path: Path) -> float | None:
    """Median seconds to print the report through an already-running headless Chromium,
    one new page per report, as a service printing with a browser would (issue 18): the
    page size and margins are the ones the CSS asks for (`@page`), backgrounds printed.
    None when Playwright or Chromium is missing."""
    executable = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if executable is None:
        return None

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        try:

            def one() -> bytes:
                page = browser.new_page()
                try:
                    page.goto(html_path.as_uri(), wait_until="load")
                    return page.pdf(prefer_css_page_size=True, print_background=True)
                finally:
                    page.close()

            for _ in range(3):  # warm: the renderer process, fonts, caches
                one()
            return _median_seconds(one, runs=WARM_CHROMIUM_RUNS)
        finally:
            browser.close()


async def _reference_job(tmp: str):  # type: ignore[no-untyped-def]
    settings = load_settings(
        {
            "DATABASE_URL": f"sqlite:///{tmp}/reports.sqlite3",
            "VAR_DIR": f"{tmp}/var",
            "REPORTS_DIR": f"{tmp}/reports",
        }
    )
    db.bind(db.create_engine(settings.database))
    audit.configure(settings)
    await load_demo(now=NOW)
    person = await Participant.select().where(Participant.client_id == "RB-1001").first()
    user = await accounts.create_staff_user(
        email="bench@example.org",
        full_name="Bench Signer",
        password="bench-password-1234",
        role=Role.clinician,
        program_ids=[person["program"]],
    )
    principal = await accounts.load_principal(user.id)
    assert principal is not None
    recipient = await Recipient.select().where(Recipient.name == "Dana Whitfield").first()
    request = service.ReportRequest(
        "court_progress",
        recipient["id"],
        *PERIOD,
        narrative="Engaged in group; working on a relapse-prevention plan. " * 4,
    )
    planned = await service.plan(principal, person["id"], request)
    _, job = await service.render_job(settings, planned, None, "R-BENC-H000-00001")
    program_id = await clone_court_client(BATCH - 1)
    return settings, job, principal, program_id


async def _batch(settings, principal, program_id: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    result = await batch.run(principal, settings, program_id, "court_progress", *PERIOD)
    wall = time.perf_counter() - t
    assert not [f for f in result.failed if f[0].startswith("RB-9")], result.failed
    return len(result.made) / wall, len(result.made)


@dataclass
class _Timings:
    """Medians of runs taken in turn in the same worker pool (ours, the fixture, the
    same HTML), so a change in the machine's load weighs on all three alike."""

    ours: float
    fixture: float
    plain: float
    pool_rate: float
    workers: int


async def _in_workers(job, settings, html: str, fixture: str) -> _Timings:  # type: ignore[no-untyped-def]
    pool = workers.shared(None)
    await asyncio.to_thread(pool.warm)
    # Several at once, so every worker has rendered before timing starts.
    await asyncio.gather(
        *(pool.run(render_and_sign, job, time_limit=120) for _ in range(pool.size * 3))
    )
    # The baselines run in the same warm workers as ours: this process holds the demo's
    # data, and Python's garbage collector alone makes WeasyPrint slower here.
    for _ in range(pool.size):
        await pool.run(_weasyprint_default, fixture, time_limit=120)
        await pool.run(_weasyprint_default, html, time_limit=120)
    ours, frozen, plain = [], [], []
    for _ in range(RUNS):
        for fn, arg, times in (
            (render_and_sign, job, ours),
            (_weasyprint_default, fixture, frozen),
            (_weasyprint_default, html, plain),
        ):
            t = time.perf_counter()
            await pool.run(fn, arg, time_limit=120)
            times.append(time.perf_counter() - t)

    async def one() -> None:
        pdf = await pool.run(render_and_sign, job, time_limit=120)
        await asyncio.to_thread(store.put, settings.reports_dir, pdf)

    t = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(BATCH)))
    wall = time.perf_counter() - t
    return _Timings(
        statistics.median(ours),
        statistics.median(frozen),
        statistics.median(plain),
        BATCH / wall,
        pool.size,
    )


def measure() -> list[Figure]:
    """Render + sign median with its baselines, and batch throughput; goals in
    bench/goals.py."""
    fixture = FIXTURE.read_text()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp}/reports.sqlite3",
            "VAR_DIR": f"{tmp}/var",
        }
        subprocess.run(
            [str(BIN / "compliance"), "migrate"], env=env, check=True, stdout=subprocess.DEVNULL
        )
        settings, job, principal, program_id = asyncio.run(_reference_job(tmp))
        html = render_html(job.context)
        pages = _pages(render_and_sign(job))
        timed = asyncio.run(_in_workers(job, settings, html, fixture))
        batch_rate, made = asyncio.run(_batch(settings, principal, program_id))
        workers.close_shared(everything=True)
        ours = timed.ours
        # Chromium after the workers are gone: nothing else of ours is running.
        page = _for_browser(html, Path(tmp))
        warm = _warm_chromium(page)
        cold = None
        if shutil.which("chromium"):
            out = Path(tmp) / "chromium.pdf"
            _chromium(page, out)
            cold = _median_seconds(lambda: _chromium(page, out), runs=CHROMIUM_RUNS)
        rows = [
            Figure("report.pages", "court report, 12 weeks: pages", pages, "pages"),
            Figure(
                "report.render_sign_s",
                "court report, 12 weeks: render + sign, warm worker (median)",
                ours,
                "s",
                compare=(
                    ("report.fixture_s", "frozen reference HTML, WeasyPrint defaults"),
                    ("report.weasyprint_s", "same HTML, WeasyPrint defaults"),
                    ("report.chromium_warm_s", "same HTML, running Chromium"),
                ),
            ),
            Figure(
                "report.fixture_s",
                f"  frozen reference HTML (bench/fixtures), WeasyPrint defaults "
                f"({ours / timed.fixture:.2f}x)",
                timed.fixture,
                "s",
            ),
            Figure(
                "report.weasyprint_s",
                f"  same HTML, WeasyPrint defaults, no signature ({ours / timed.plain:.2f}x)",
                timed.plain,
                "s",
            ),
            Figure(
                "report.chromium_warm_s",
                "  same HTML, running headless Chromium, new page per report"
                + (f" ({ours / warm:.2f}x)" if warm else ": not installed, not measured"),
                warm,
                "s",
            ),
            Figure(
                "report.chromium_s",
                "  same HTML, Chromium started per report (--print-to-pdf)"
                + (f" ({ours / cold:.2f}x)" if cold else ": not installed, not measured"),
                cold,
                "s",
            ),
            Figure(
                "report.vs_fixture",
                "  render + sign / frozen reference HTML in WeasyPrint (ratio)",
                ours / timed.fixture,
                "x",
                name="court report, 12 weeks: render + sign / frozen reference HTML "
                "in WeasyPrint, same run",
            ),
            Figure(
                "report.vs_chromium_warm",
                "  render + sign / running Chromium, same HTML (ratio)",
                ours / warm if warm else None,
                "x",
                name="court report, 12 weeks: render + sign / running Chromium, same HTML",
            ),
            Figure(
                "report.batch_rate",
                f"compliance reports batch, {made} court reports, {timed.workers} workers "
                "(reports/s)",
                batch_rate,
                "reports/s",
                name=f"compliance reports batch, {made} court reports, {timed.workers} workers",
                compare=(("report.pool_rate", "render + sign + store alone"),),
            ),
            Figure(
                "report.pool_rate",
                f"  render + sign + store alone, {BATCH} at once (reports/s)",
                timed.pool_rate,
                "reports/s",
            ),
            Figure(
                "report.batch_vs_pool",
                "  batch / render + sign + store alone (ratio)",
                batch_rate / timed.pool_rate,
                "x",
                name=f"compliance reports batch / the worker pool's own rate, {made} reports",
            ),
        ]
        return rows


if __name__ == "__main__":
    for figure in measure():
        print(f"{figure.label:<66} {figure.value or 0.0:>8.3f}")
