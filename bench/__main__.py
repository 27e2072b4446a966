"""`make bench`: every figure the issues asked for, then one table of them all.

First the detail, section by section as each is measured: start-up time and /health
latency with ratios to a bare Litestar app (bench/baseline_app.py) measured in the same
run; imports (bench/imports.py); the caseload engine (bench/caseload.py); signed reports
(bench/reports.py); the officer link page (bench/links.py); the staff pages of a
clinician's day (bench/pages.py). Medians over repeated runs; p99 from all requests.

Last, one table (issue 7): each figure, its ratio to its baseline, its goal and whether
it was met. Goals live in bench/goals.py with the issue each comes from. The table is
also written to bench/results.md (header: date, commit, machine, runs) so runs can be
compared with `git diff`. A full run takes an estimated 5 to 8 minutes on 2 quiet
cores, mostly seeding and judging the 5,000-participant caseload and rendering reports;
each section's wall time goes to stderr.

`BENCH_QUICK=1 .venv/bin/python -m bench` checks the plumbing: smaller inputs, fewer
runs, same code paths (1.4 min of CPU; 3.7 min of wall time on 2 cores shared with test
runs). It writes bench/results-quick.md (git-ignored) instead, so a quick run never
overwrites the real figures; its numbers are not comparable with the goals.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.figures import Figure, sized
from bench.goals import goal
from bench.results import publish
from bench.server import free_port, start, stop

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STARTS = sized(5, 1)
REQUESTS = sized(500, 100)


def latencies(port: int) -> list[float]:
    out = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        for _ in range(20):
            client.get("/health")
        for _ in range(REQUESTS):
            t = time.perf_counter()
            client.get("/health").raise_for_status()
            out.append(time.perf_counter() - t)
    return out


def measure(
    name: str, launcher: Callable[[int], tuple[list[str], dict[str, str]]]
) -> dict[str, Any]:
    starts, lat = [], []
    for i in range(STARTS):
        port = free_port()
        command, env = launcher(port)
        proc, seconds = start(command, env, port)
        try:
            starts.append(seconds)
            if i == 0:
                lat = latencies(port)
        finally:
            stop(proc)
    lat.sort()
    return {
        "name": name,
        "start_median_s": statistics.median(starts),
        "health_median_ms": statistics.median(lat) * 1000,
        "health_p99_ms": lat[int(len(lat) * 0.99) - 1] * 1000,
    }


def main() -> None:
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "VAR_DIR": f"{tmp}/var",
            "REPORTS_DIR": f"{tmp}/reports",
            "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
        }
        subprocess.run(
            [str(BIN / "compliance"), "migrate"], env=env, check=True, stdout=subprocess.DEVNULL
        )
        subprocess.run(
            [str(BIN / "compliance"), "demo"], env=env, check=True, stdout=subprocess.DEVNULL
        )

        ours = measure(
            "compliance run (SQLite, demo data)",
            lambda port: ([str(BIN / "compliance"), "run", "--port", str(port)], env),
        )
        base = measure(
            "baseline: bare Litestar under uvicorn",
            lambda port: (
                [
                    str(BIN / "uvicorn"),
                    "bench.baseline_app:app",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                ],
                {**os.environ, "PYTHONPATH": str(ROOT)},
            ),
        )

    print(f"\n{'figure':<50} {'compliance':>12} {'baseline':>12} {'ratio':>7}")
    for label, key, unit in [
        (f"start-up to first healthy /health (median of {STARTS})", "start_median_s", "s"),
        (f"/health latency, median of {REQUESTS}", "health_median_ms", "ms"),
        (f"/health latency, p99 of {REQUESTS}", "health_p99_ms", "ms"),
    ]:
        a, b = ours[key], base[key]
        print(f"{label:<50} {a:>10.3f}{unit:>2} {b:>10.3f}{unit:>2} {a / b:>6.2f}x")
    print("\nbaseline: a bare Litestar app returning constant JSON, no database, same machine.")
    figures = _startup_figures(ours, base)
    print(f"  (section took {time.perf_counter() - began:.0f} s)", file=sys.stderr)

    from bench import caseload, imports, jobs, links, pages, reports

    heading = f"import (SQLite, service level, median of {imports.RUNS} fresh databases)"
    figures += _details(heading, "seconds", imports.measure, 62, 2)
    heading = f"compliance engine (SQLite, median of {caseload.RUNS} runs after a warm-up)"
    figures += _details(heading, "seconds", caseload.measure, 62, 2)
    heading = "signed reports (reference 12-week court report)"
    figures += _details(heading, "value", reports.measure, 66, 3)
    heading = "officer link page (SQLite, then PostgreSQL; real server)"
    figures += _details(heading, "value", links.measure, 66, 1, goals=False)
    heading = "staff pages, warm, as browsers (SQLite, real server, 8 clinicians at once)"
    figures += _details(heading, "ms", pages.measure, 66, 1)
    heading = f"job queue: batch of {jobs.BATCH} court reports, median of {jobs.RUNS}"
    figures += _details(heading, "value", jobs.measure, 66, 2)

    runs = [
        f"start-up median of {STARTS} starts per server",
        f"/health {REQUESTS} requests",
        f"imports median of {imports.RUNS} fresh databases",
        f"caseload median of {caseload.RUNS} after a warm-up",
        f"render + sign and WeasyPrint medians of {reports.RUNS}",
        f"Chromium median of {reports.CHROMIUM_RUNS}",
        "each batch once",
        f"link page {links.CLIENTS} clients for {links.SECONDS:g} s, alone and during a batch",
        f"staff pages {pages.STAFF} clinicians for {pages.SECONDS:g} s per page, "
        f"{pages.ALONE} requests by one alone",
        f"job queue batches median of {jobs.RUNS} per setting",
    ]
    path = publish(figures, runs, time.perf_counter() - began)
    print(f"written to {path.relative_to(ROOT)}")


def _startup_figures(ours: dict[str, Any], base: dict[str, Any]) -> list[Figure]:
    """Issue 2's figures, each compared with the bare Litestar app of the same run."""
    out = []
    for key, base_key, name, field, unit in [
        (
            "startup.ours_s",
            "startup.bare_s",
            "start-up to first healthy /health (median)",
            "start_median_s",
            "s",
        ),
        (
            "health.median_ms",
            "health.bare_median_ms",
            "/health latency (median)",
            "health_median_ms",
            "ms",
        ),
        ("health.p99_ms", "health.bare_p99_ms", "/health latency (p99)", "health_p99_ms", "ms"),
    ]:
        out.append(Figure(base_key, f"bare Litestar: {name}", base[field], unit))
        out.append(Figure(key, name, ours[field], unit, compare=((base_key, "bare Litestar"),)))
    return out


def _details(
    heading: str,
    column: str,
    measure: Callable[[], list[Figure]],
    width: int,
    digits: int,
    goals: bool = True,
) -> list[Figure]:
    """Measure a section and print its detail lines as the modules have always printed
    them (label, value, then the goal and ok / MISSED from bench/goals.py, or the
    module's note); hand the figures on for the summary table. The section's wall time
    goes to stderr, to show where a slow run spends it."""
    began = time.perf_counter()
    figures = measure()
    took = time.perf_counter() - began
    print(f"\n{heading:<{width}} {column:>8}" + ("  goal" if goals else ""))
    for figure in figures:
        value = "-" if figure.value is None else f"{figure.value:.{digits}f}"
        target = goal(figure.key)
        met = target.met(figure.value)
        mark = "" if met is None else "ok" if met else "MISSED"
        tail = f"{target.text} {mark}" if goals else figure.note
        print(f"{figure.label:<{width}} {value:>8}  {tail}".rstrip())
    print(f"  (section took {took:.0f} s)", file=sys.stderr)
    return figures


if __name__ == "__main__":
    main()
