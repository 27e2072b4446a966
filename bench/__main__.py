"""`make bench`: start-up time and /health latency, with ratios to a bare Litestar app
measured in the same run. Medians over repeated runs; p99 from all requests."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.server import free_port, start, stop

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STARTS = 5
REQUESTS = 500


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


def measure(name: str, launcher: Callable[[int], tuple[list[str], dict[str, str]]]) -> dict:
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

    rows = [
        ("start-up to first healthy /health (median of 5)", "start_median_s", "s"),
        (f"/health latency, median of {REQUESTS}", "health_median_ms", "ms"),
        (f"/health latency, p99 of {REQUESTS}", "health_p99_ms", "ms"),
    ]
    print(f"\n{'figure':<50} {'compliance':>12} {'baseline':>12} {'ratio':>7}")
    for label, key, unit in rows:
        a, b = ours[key], base[key]
        print(f"{label:<50} {a:>10.3f}{unit:>2} {b:>10.3f}{unit:>2} {a / b:>6.2f}x")
    print("\nbaseline: a bare Litestar app returning constant JSON, no database, same machine.")

    from bench.imports import measure as measure_imports

    heading = "import (SQLite, service level, median of 3 fresh databases)"
    print(f"\n{heading:<62} {'seconds':>8}  goal")
    for label, seconds, goal, limit in measure_imports():
        mark = "ok" if seconds < limit else "MISSED"
        print(f"{label:<62} {seconds:>8.2f}  {goal} {mark}")

    from bench.caseload import measure as measure_caseload

    heading = "compliance engine (SQLite, median of 3 runs after a warm-up)"
    print(f"\n{heading:<62} {'seconds':>8}  goal")
    for label, seconds, goal, limit in measure_caseload():
        mark = "" if not goal else "ok" if seconds < limit else "MISSED"
        print(f"{label:<62} {seconds:>8.2f}  {goal} {mark}")

    from bench.reports import measure as measure_reports

    heading = "signed reports (reference 12-week court report)"
    print(f"\n{heading:<66} {'value':>8}  goal")
    for label, value, goal, limit in measure_reports():
        met = value < limit if limit > 0 else value > -limit
        mark = "" if not goal else "ok" if met else "MISSED"
        print(f"{label:<66} {value:>8.3f}  {goal} {mark}")

    from bench.links import measure as measure_links

    heading = "officer link page (SQLite, real server)"
    print(f"\n{heading:<66} {'value':>8}")
    for label, value, note, _ in measure_links():
        print(f"{label:<66} {value:>8.1f}  {note}")


if __name__ == "__main__":
    main()
