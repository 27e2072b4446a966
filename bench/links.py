"""The officer link page under load, on a real server: requests per second, p50 and p99
latency with 8 concurrent clients, first alone and then while `compliance reports batch`
renders a caseload in the background (measured from its first stored report until it
ends), in the same run; on SQLite and again on
PostgreSQL (a database of its own on BENCH_POSTGRES_URL's server, default the local one,
dropped afterwards; "not measured" when no server answers). Rate limits are raised for
the measurement (they would otherwise answer 429 after 30 requests a minute).
Quick mode (BENCH_QUICK=1): 2 s of load each, and the quick batch size of bench/reports."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from bench.figures import Figure, sized
from bench.reports import BATCH, NOW, PERIOD
from bench.server import free_port, start

BIN = Path(sys.executable).parent
CLIENTS = 8
SECONDS = sized(8.0, 2.0)
POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SIGNER = "bench.links@example.org"


async def _load(
    url: str, seconds: float, until: Callable[[], bool] = lambda: False
) -> tuple[list[float], float]:
    """8 officers' browsers, each already connected (a browser keeps its connection):
    making a client costs this process ~20 ms (its TLS context), which would otherwise
    land on the first requests of the run as a stall of the load generator's own. Runs
    for ``seconds`` or until ``until()``; returns the latencies and the time it ran."""
    latencies: list[float] = []
    clients = [httpx.AsyncClient(timeout=30) for _ in range(CLIENTS)]

    async def get(http: httpx.AsyncClient) -> float:
        t = time.perf_counter()
        response = await http.get(url)
        if response.status_code != 200:
            raise SystemExit(f"link page answered {response.status_code}")
        return time.perf_counter() - t

    async def client(http: httpx.AsyncClient) -> None:
        while time.perf_counter() < deadline and not until():
            latencies.append(await get(http))

    try:
        await asyncio.gather(*(get(http) for http in clients))  # connected, not timed
        began = time.perf_counter()
        deadline = began + seconds
        await asyncio.gather(*(client(http) for http in clients))
        ran = time.perf_counter() - began
    finally:
        await asyncio.gather(*(http.aclose() for http in clients))
    return latencies, ran


@dataclass(frozen=True)
class Load:
    rps: float
    p50_ms: float
    p99_ms: float


def _figures(measured: tuple[list[float], float]) -> Load:
    latencies, seconds = measured
    latencies.sort()
    n = len(latencies)
    return Load(n / seconds, latencies[n // 2] * 1000, latencies[int(n * 0.99) - 1] * 1000)


async def _prepare(env: dict[str, str]) -> str:
    """Demo data, copies of the court client for the batch, a signer, one officer link."""
    from compliance import audit
    from compliance.core import db
    from compliance.core.settings import load_settings
    from compliance.core.vocabulary import Role
    from compliance.disclosure import links
    from compliance.ops.demo import load_demo
    from compliance.staff import accounts
    from compliance.tables import Participant, Recipient
    from tests.support.staff import clone_court_client

    settings = load_settings(env)
    engine = db.create_engine(settings.database)
    await db.open_pool(engine, 2)
    db.bind(engine)
    audit.configure(settings)
    try:
        await load_demo(now=NOW)
        person = await Participant.select().where(Participant.client_id == "RB-1001").first()
        user = await accounts.create_staff_user(
            email=SIGNER,
            full_name="Bench Signer",
            password="bench-password-1234",
            role=Role.clinician,
            program_ids=[person["program"]],
        )
        principal = await accounts.load_principal(user.id)
        assert principal is not None
        await clone_court_client(BATCH - 1)
        officer = await Recipient.select().where(Recipient.name == "Dana Whitfield").first()
        made = await links.create_link(principal, settings, person["id"], officer["id"])
    finally:
        await db.close_pool(engine)
    return "/l/" + made.url.rsplit("/", 1)[1]


def _batch(env: dict[str, str]) -> subprocess.Popen:
    start_day, end_day = PERIOD
    return subprocess.Popen(
        [
            str(BIN / "compliance"),
            "reports",
            "batch",
            "--program",
            "DEMO",
            "--signer",
            SIGNER,
            "--start",
            start_day.isoformat(),
            "--end",
            end_day.isoformat(),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _first_pdf(folder: Path, batch: subprocess.Popen) -> None:
    """Wait until the batch has stored its first report: its workers are up and it is
    rendering (starting them is not what the officer's page competes with)."""
    while batch.poll() is None and not any(folder.rglob("*.pdf")):
        time.sleep(0.02)


def _run(database_url: str, tmp: str) -> tuple[Load, Load, bool]:
    """(alone, during the batch, whether the load ran 2 s or more of the batch).

    During the batch the load runs from its first stored report until it exits (at
    most SECONDS): every request measured competes with the batch, on a fast machine
    as on a slow one."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "VAR_DIR": f"{tmp}/var",
        "REPORTS_DIR": f"{tmp}/reports",
        "BACKGROUND_JOBS": "0",
        "LINK_RATE_PER_CLIENT": "10000000",
        "LINK_RATE_PER_TOKEN": "10000000",
    }
    subprocess.run(
        [str(BIN / "compliance"), "migrate"], env=env, check=True, stdout=subprocess.DEVNULL
    )
    url_path = asyncio.run(_prepare(env))
    port = free_port()
    server, _ = start([str(BIN / "compliance"), "run", "--port", str(port)], env, port)
    try:
        url = f"http://127.0.0.1:{port}{url_path}"
        for _ in range(20):  # warm: imports, templates, the view's cache
            httpx.get(url).raise_for_status()
        alone = _figures(asyncio.run(_load(url, SECONDS)))
        batch = _batch(env)
        _first_pdf(Path(env["REPORTS_DIR"]), batch)
        latencies, ran = asyncio.run(_load(url, SECONDS, lambda: batch.poll() is not None))
        busy = _figures((latencies, ran))
        long_enough = ran >= 2.0
        batch.wait(timeout=600)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=15)
    return alone, busy, long_enough


async def _postgres(admin_url: str, name: str, create: bool) -> None:
    import asyncpg

    connection = await asyncpg.connect(admin_url, timeout=5)
    try:
        if create:
            await connection.execute(f'CREATE DATABASE "{name}"')
        else:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def _engine_figures(prefix: str, engine: str, alone: Load, busy: Load, note: str) -> list[Figure]:
    key = "links" if prefix == "" else f"links.{prefix}"
    during = f"link page, {CLIENTS} clients, {engine}, during a {BATCH}-report batch{note}"
    base = f"link page, {CLIENTS} clients, {engine}, alone"
    ratio = busy.p99_ms / alone.p99_ms
    return [
        Figure(
            f"{key}.alone_rps",
            f"{engine}: alone, requests/s",
            alone.rps,
            "/s",
            name=f"{base}: requests/s",
        ),
        Figure(
            f"{key}.alone_p50_ms",
            "  p50 latency, alone (ms)",
            alone.p50_ms,
            "ms",
            name=f"{base}: p50 latency",
        ),
        Figure(
            f"{key}.alone_p99_ms",
            "  p99 latency, alone (ms)",
            alone.p99_ms,
            "ms",
            name=f"{base}: p99 latency",
        ),
        Figure(
            f"{key}.busy_rps",
            f"{engine}: during the batch, requests/s{note}",
            busy.rps,
            "/s",
            note=f"({busy.rps / alone.rps:.2f}x alone)",
            name=f"{during}: requests/s",
            compare=((f"{key}.alone_rps", "alone"),),
        ),
        Figure(
            f"{key}.busy_p50_ms",
            "  p50 latency during the batch (ms)",
            busy.p50_ms,
            "ms",
            name=f"{during}: p50 latency",
        ),
        Figure(
            f"{key}.busy_p99_ms",
            "  p99 latency during the batch (ms)",
            busy.p99_ms,
            "ms",
            note=f"({ratio:.2f}x alone)",
            name=f"{during}: p99 latency",
            compare=((f"{key}.alone_p99_ms", "alone"),),
        ),
        Figure(
            f"{key}.busy_p99_ratio",
            "  p99 during the batch / p99 alone",
            ratio,
            "x",
            name=f"{during}: p99 / p99 alone",
        ),
    ]


def measure() -> list[Figure]:
    """Issue 18's goals: >= 300 requests/s, p50 <= 15 ms, p99 <= 50 ms alone on SQLite;
    during the batch p99 no more than 2x; PostgreSQL beside it."""
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        alone, busy, rendering = _run(f"sqlite:///{tmp}/links.sqlite3", tmp)
    note = "" if rendering else " (the batch rendered for less than 2 s)"
    figures += _engine_figures("", "SQLite", alone, busy, note)
    name = f"bench_links_{secrets.token_hex(4)}"
    parts = urlsplit(POSTGRES)
    try:
        asyncio.run(_postgres(POSTGRES, name, create=True))
    except Exception as exc:  # no server here: say so, measure the rest
        print(f"PostgreSQL not measured ({exc.__class__.__name__}: {exc})")
        return figures
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = urlunsplit(parts._replace(path=f"/{name}"))
            alone, busy, rendering = _run(url, tmp)
    finally:
        asyncio.run(_postgres(POSTGRES, name, create=False))
    note = "" if rendering else " (the batch rendered for less than 2 s)"
    figures += _engine_figures("pg", "PostgreSQL", alone, busy, note)
    return figures


if __name__ == "__main__":
    for figure in measure():
        print(f"{figure.label:<66} {figure.value or 0.0:>8.1f}  {figure.note}")
