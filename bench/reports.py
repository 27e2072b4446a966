"""The reference 12-week court report (the demo's court client): the median time to
render and sign it in a warm worker; in the same run the same HTML through WeasyPrint
with default settings and through headless Chromium's print-to-PDF (when installed);
and throughput of a batch of such reports (render, sign, store) across all workers.
Quick mode (BENCH_QUICK=1): 2 timed renders, 1 Chromium print, batches of 4."""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.figures import Figure, sized
from compliance import accounts, audit, db, workers
from compliance.demo import load_demo
from compliance.reporting import batch, service, store
from compliance.reporting.pdf import TEMPLATES, render_and_sign, render_html
from compliance.settings import load_settings
from compliance.tables import (
    Participant,
    Recipient,
)
from compliance.vocabulary import Role
from tests.staff import clone_court_client

BIN = Path(sys.executable).parent
RUNS = sized(15, 2)
CHROMIUM_RUNS = sized(5, 1)
BATCH = sized(24, 4)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=ZoneInfo("America/Chicago"))
PERIOD = (date(2026, 8, 31), date(2026, 11, 22))  # 12 weeks


def _weasyprint_default(html: str) -> bytes:
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


def _chromium(html_path: Path, out: Path) -> None:
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
    _, job = await service.render_job(principal, settings, planned, None, "R-BENC-H000-00001")
    program_id = await clone_court_client(BATCH - 1)
    return settings, job, principal, program_id


async def _batch(settings, principal, program_id: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    result = await batch.run(principal, settings, program_id, "court_progress", *PERIOD)
    wall = time.perf_counter() - t
    assert not [f for f in result.failed if f[0].startswith("RB-9")], result.failed
    return len(result.made) / wall, len(result.made)


async def _in_workers(job, settings) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
    pool = workers.shared(None)
    await asyncio.to_thread(pool.warm)
    # Several at once, so every worker has rendered before timing starts.
    await asyncio.gather(
        *(pool.run(render_and_sign, job, time_limit=120) for _ in range(pool.size * 3))
    )
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        await pool.run(render_and_sign, job, time_limit=120)
        times.append(time.perf_counter() - t)

    async def one() -> None:
        pdf = await pool.run(render_and_sign, job, time_limit=120)
        await asyncio.to_thread(store.put, settings.reports_dir, pdf)

    t = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(BATCH)))
    wall = time.perf_counter() - t
    return statistics.median(times), BATCH / wall, pool.size


def measure() -> list[Figure]:
    """Render + sign median with its baselines, and batch throughput; goals in
    bench/goals.py."""
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
        pages = _pages(render_and_sign(job))
        ours, per_second, cores = asyncio.run(_in_workers(job, settings))
        batch_rate, made = asyncio.run(_batch(settings, principal, program_id))
        workers.close_shared(everything=True)
        html = render_html(job.context)
        _weasyprint_default(html)  # warm: fonts, caches
        plain = _median_seconds(lambda: _weasyprint_default(html))
        rows = [
            Figure(
                "report.pages",
                "court report, 12 weeks: pages",
                pages,
                "pages",
            ),
            Figure(
                "report.render_sign_s",
                "court report, 12 weeks: render + sign, warm worker (median)",
                ours,
                "s",
                compare=(
                    ("report.weasyprint_s", "WeasyPrint defaults"),
                    ("report.chromium_s", "Chromium print-to-PDF"),
                ),
            ),
            Figure(
                "report.weasyprint_s",
                f"  same HTML, WeasyPrint defaults, no signature ({ours / plain:.2f}x)",
                plain,
                "s",
            ),
        ]
        if shutil.which("chromium"):
            page = Path(tmp) / "report.html"
            page.write_text(
                html.replace('src: url("../fonts/', f'src: url("{TEMPLATES.parent}/fonts/')
            )
            out = Path(tmp) / "chromium.pdf"
            _chromium(page, out)
            chrome = _median_seconds(lambda: _chromium(page, out), runs=CHROMIUM_RUNS)
            rows.append(
                Figure(
                    "report.chromium_s",
                    f"  same HTML, headless Chromium print-to-PDF ({ours / chrome:.2f}x)",
                    chrome,
                    "s",
                )
            )
        else:
            rows.append(
                Figure(
                    "report.chromium_s",
                    "  headless Chromium: not installed, not measured",
                    None,
                    "s",
                )
            )
        rows.append(
            Figure(
                "report.batch_rate",
                f"compliance reports batch, {made} court reports, {cores} workers (reports/s)",
                batch_rate,
                "reports/s",
                name=f"compliance reports batch, {made} court reports, {cores} workers",
                compare=(("report.pool_rate", "render + sign + store alone"),),
            )
        )
        rows.append(
            Figure(
                "report.pool_rate",
                f"  render + sign + store alone, {BATCH} at once (reports/s)",
                per_second,
                "reports/s",
            )
        )
        return rows


if __name__ == "__main__":
    for figure in measure():
        print(f"{figure.label:<66} {figure.value or 0.0:>8.3f}")
