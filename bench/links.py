"""The officer link page under load, on a real server: requests per second and p99
latency with 8 concurrent clients, first alone and then while `compliance reports
batch` renders a caseload in the background, in the same run. Rate limits are raised
for the measurement (they would otherwise answer 429 after 30 requests a minute).
Quick mode (BENCH_QUICK=1): 2 s of load each, and the quick batch size of bench/reports."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.figures import Figure, sized
from bench.reports import BATCH, _reference_job
from bench.server import free_port, start

BIN = Path(sys.executable).parent
CLIENTS = 8
SECONDS = sized(8.0, 2.0)


async def _load(url: str, seconds: float) -> list[float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                response = await http.get(url)
                if response.status_code != 200:
                    raise SystemExit(f"link page answered {response.status_code}")
                latencies.append(time.perf_counter() - t)

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return latencies


def _figures(latencies: list[float], seconds: float) -> tuple[float, float]:
    latencies.sort()
    return len(latencies) / seconds, latencies[int(len(latencies) * 0.99) - 1] * 1000


def measure() -> list[Figure]:
    """Requests/s and p99 alone and during the batch; issue 6 set no goal for them."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp}/reports.sqlite3",
            "VAR_DIR": f"{tmp}/var",
            "REPORTS_DIR": f"{tmp}/reports",
            "BACKGROUND_JOBS": "0",
            "LINK_RATE_PER_CLIENT": "10000000",
            "LINK_RATE_PER_TOKEN": "10000000",
        }
        subprocess.run(
            [str(BIN / "compliance"), "migrate"], env=env, check=True, stdout=subprocess.DEVNULL
        )
        url_path = asyncio.run(_prepare(tmp))
        port = free_port()
        server, _ = start([str(BIN / "compliance"), "run", "--port", str(port)], env, port)
        try:
            url = f"http://127.0.0.1:{port}{url_path}"
            httpx.get(url).raise_for_status()
            alone_rps, alone_p99 = _figures(asyncio.run(_load(url, SECONDS)), SECONDS)
            batch = subprocess.Popen(
                [
                    str(BIN / "compliance"),
                    "reports",
                    "batch",
                    "--program",
                    "DEMO",
                    "--signer",
                    "bench@example.org",
                    "--start",
                    "2026-08-31",
                    "--end",
                    "2026-11-22",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(3)  # workers started and rendering
            busy_rps, busy_p99 = _figures(asyncio.run(_load(url, SECONDS)), SECONDS)
            still_rendering = batch.poll() is None
            batch.wait(timeout=600)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=15)
    note = "" if still_rendering else " (the batch ended early)"
    during = f"link page, {CLIENTS} clients, during a batch of {BATCH} reports{note}"
    return [
        Figure(
            "links.alone_rps", f"link page, {CLIENTS} clients, alone: requests/s", alone_rps, "/s"
        ),
        Figure("links.alone_p99_ms", "  p99 latency, alone (ms)", alone_p99, "ms"),
        Figure(
            "links.busy_rps",
            f"link page during a {BATCH}-report batch: requests/s{note}",
            busy_rps,
            "/s",
            note=f"({busy_rps / alone_rps:.2f}x alone)",
            name=f"{during}: requests/s",
            compare=(("links.alone_rps", "alone"),),
        ),
        Figure(
            "links.busy_p99_ms",
            "  p99 latency during the batch (ms)",
            busy_p99,
            "ms",
            note=f"({busy_p99 / alone_p99:.2f}x alone)",
            name=f"{during}: p99 latency",
            compare=(("links.alone_p99_ms", "alone"),),
        ),
    ]


async def _prepare(tmp: str) -> str:
    """Demo data, copies of the court client for the batch, and one officer link."""
    from compliance.disclosure import links
    from compliance.tables import Participant, Recipient

    settings, _, principal, _ = await _reference_job(tmp)
    person = await Participant.select().where(Participant.client_id == "RB-1001").first()
    officer = await Recipient.select().where(Recipient.name == "Dana Whitfield").first()
    made = await links.create_link(principal, settings, person["id"], officer["id"])
    return "/l/" + made.url.rsplit("/", 1)[1]


if __name__ == "__main__":
    for figure in measure():
        print(f"{figure.label:<66} {figure.value or 0.0:>8.1f}  {figure.note}")
