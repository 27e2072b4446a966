"""Batch throughput through the job queue (issue 20): the same batch of court reports
(the demo's court client and copies of him, ``BATCH`` in all) made three ways, each on a
database of its own:

- the embedded default: SQLite, no queue; the batch renders in its own process's worker
  processes, as on ``make run``'s machine;
- PostgreSQL with 1 ``compliance worker``: the queue is SAQ's, in the same database; the
  batch submits each report as a job and waits, the worker renders;
- the same with 2 workers.

The batch is ``reporting.batch.run``, the code ``compliance reports batch`` runs, in this
process inside ``jobs.serving.running`` taking no jobs: with a queue only the workers
render, so 1 and 2 workers are measured as such (the command itself also takes jobs
while it waits). Timed around ``batch.run``: a command's start-up (imports; in the
embedded default also starting its render processes) is a constant, not throughput. A
figure is reports made / wall time, the median of ``RUNS`` batches, each over a 4-week
period of its own, after one warm-up batch (every render process started, the database
warm). The ratio 2 workers / 1 worker says what a second worker on the same machine
adds; on 2 cores one worker already has a render process per core, so the gain to look
for is with workers on machines of their own.

PostgreSQL is BENCH_POSTGRES_URL's server (default the local one), a database per
configuration, dropped afterwards; "not measured" when no server answers. Quick mode
(BENCH_QUICK=1): batches of 8, one run after the warm-up.

Alone: ``.venv/bin/python -m bench.jobs``; ``make bench`` runs it after the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.figures import Figure, sized

BIN = Path(sys.executable).parent
BATCH = sized(48, 8)
RUNS = sized(3, 1)
POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SIGNER = "bench.jobs@example.org"
# The demo as bench/reports lays it out (NOW), eight weeks up to Sunday 2026-11-22: the
# warm-up's period and each run's are the 4 weeks ending on one of its last Sundays.
LAST_SUNDAY = date(2026, 11, 22)
PERIODS = [
    (end - timedelta(days=27), end)
    for end in (LAST_SUNDAY - timedelta(weeks=k) for k in range(RUNS + 1))
]


async def _seed(env: dict[str, str]) -> None:
    """The demo, a signer, and copies of the court client up to ``BATCH`` court clients."""
    from bench.reports import NOW
    from compliance import audit
    from compliance.core import db
    from compliance.core.settings import load_settings
    from compliance.core.vocabulary import Role
    from compliance.ops.demo import load_demo
    from compliance.staff import accounts
    from compliance.tables import Program
    from tests.support.staff import clone_court_client

    settings = load_settings(env)
    engine = db.create_engine(settings.database)
    await db.open_pool(engine, 2)
    db.bind(engine)
    audit.configure(settings)
    try:
        await load_demo(now=NOW)
        program = await Program.select().where(Program.code == "DEMO").first()
        await accounts.create_staff_user(
            email=SIGNER,
            full_name="Bench Signer",
            password="bench-password-1234",
            role=Role.clinician,
            program_ids=[program["id"]],
        )
        await clone_court_client(BATCH - 1)
    finally:
        await db.close_pool(engine)


def _prepare(env: dict[str, str]) -> None:
    subprocess.run(
        [str(BIN / "compliance"), "migrate"], env=env, check=True, stdout=subprocess.DEVNULL
    )
    asyncio.run(_seed(env))


async def _rate(env: dict[str, str]) -> float:
    """The warm-up batch, then the median of RUNS, each over its own period."""
    from compliance import audit
    from compliance.core import db, workers
    from compliance.core.settings import load_settings
    from compliance.jobs import serving
    from compliance.reporting import batch
    from compliance.staff.accounts import load_principal
    from compliance.tables import Program, StaffUser

    settings = load_settings(env)
    engine = db.create_engine(settings.database, must_exist=True)
    db.bind(engine)
    audit.configure(settings)
    await db.open_pool(engine, settings.database_pool_size)
    try:
        program = await Program.select().where(Program.code == "DEMO").first()
        user = await StaffUser.select().where(StaffUser.email == SIGNER).first()
        principal = await load_principal(user["id"])
        assert principal is not None

        async def one(period: tuple[date, date]) -> float:
            began = time.perf_counter()
            result = await batch.run(principal, settings, program["id"], "court_progress", *period)
            took = time.perf_counter() - began
            # The demo's EAP and SAP clients are refused (no consent for a court report);
            # any other failure is printed, and the figure counts what was made.
            lost = [f"{c}: {why}" for c, why in result.failed if c == "RB-1001" or c[:4] == "RB-9"]
            if lost:
                print(f"  a batch made {len(result.made)} of {BATCH}: " + "; ".join(lost))
            return len(result.made) / took

        # Submitting only: the workers (or, with no queue, this process) make the reports.
        async with serving.running(settings, take_jobs=False, periodic=False):
            await one(PERIODS[-1])
            rates = [await one(period) for period in PERIODS[:RUNS]]
    finally:
        await db.close_pool(engine)
        await asyncio.to_thread(workers.close_shared, True)
    return statistics.median(rates)


async def _live_workers(url: str) -> int:
    from compliance.jobs.queued import make_queue

    queue = make_queue(url)
    await queue.connect()
    try:
        return len((await queue.info())["workers"])
    finally:
        await queue.disconnect()


@contextlib.contextmanager
def _workers(env: dict[str, str], count: int, log: Path) -> Iterator[None]:
    """``count`` workers taking jobs: started, and seen by the queue (a batch that finds
    no live worker renders its reports itself)."""
    processes = []
    with log.open("ab") as out:
        for _ in range(count):
            processes.append(
                subprocess.Popen(
                    [str(BIN / "compliance"), "worker"], env=env, stdout=out, stderr=out
                )
            )
    try:
        deadline = time.monotonic() + 60
        while asyncio.run(_live_workers(env["DATABASE_URL"])) < count:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise SystemExit(f"workers did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _postgres(name: str, create: bool) -> None:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES, timeout=5)
    try:
        if create:
            await connection.execute(f'CREATE DATABASE "{name}"')
        else:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def _environment(tmp: str, database_url: str) -> dict[str, str]:
    """One machine's settings: the command and its workers share VAR_DIR (one secret
    key, one development certificate) and REPORTS_DIR."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "VAR_DIR": f"{tmp}/var",
        "REPORTS_DIR": f"{tmp}/reports",
        "BACKGROUND_JOBS": "0",
    }


def _embedded() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = _environment(tmp, f"sqlite:///{tmp}/jobs.sqlite3")
        _prepare(env)
        return asyncio.run(_rate(env))


def _queued(count: int) -> float | None:
    """The rate with ``count`` workers, or None when no PostgreSQL server answers."""
    name = f"bench_jobs_{secrets.token_hex(4)}"
    try:
        asyncio.run(_postgres(name, create=True))
    except Exception as exc:  # no server here: say so, measure the rest
        print(f"PostgreSQL not measured ({exc.__class__.__name__}: {exc})")
        return None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = urlunsplit(urlsplit(POSTGRES)._replace(path=f"/{name}"))
            env = _environment(tmp, url)
            _prepare(env)
            with _workers(env, count, Path(tmp) / "workers.log"):
                return asyncio.run(_rate(env))
    finally:
        asyncio.run(_postgres(name, create=False))


def measure() -> list[Figure]:
    """The three rates and the ratio 2 workers / 1 worker."""
    embedded = _embedded()
    one = _queued(1)
    two = _queued(2) if one is not None else None
    what = f"batch of {BATCH} court reports"
    ratio = two / one if one and two else None
    return [
        Figure(
            "jobs.batch.embedded_rate",
            "embedded default: SQLite, in process (reports/s)",
            embedded,
            "reports/s",
            name=f"{what}: embedded default (SQLite, in process)",
        ),
        Figure(
            "jobs.batch.pg1_rate",
            "PostgreSQL queue, 1 compliance worker (reports/s)",
            one,
            "reports/s",
            note="" if one is None else f"({one / embedded:.2f}x embedded)",
            name=f"{what}: PostgreSQL queue, 1 worker",
            compare=(("jobs.batch.embedded_rate", "embedded default"),),
        ),
        Figure(
            "jobs.batch.pg2_rate",
            "PostgreSQL queue, 2 compliance workers (reports/s)",
            two,
            "reports/s",
            note="" if two is None else f"({two / embedded:.2f}x embedded)",
            name=f"{what}: PostgreSQL queue, 2 workers",
            compare=(("jobs.batch.pg1_rate", "1 worker"),),
        ),
        Figure(
            "jobs.batch.pg2_vs_pg1",
            "  2 workers / 1 worker (ratio)",
            ratio,
            "x",
            name=f"{what}: 2 workers / 1 worker",
        ),
    ]


def main() -> None:
    """The section as `make bench` prints the others: a heading, then a line a figure."""
    began = time.perf_counter()
    figures = measure()
    heading = f"job queue: batch of {BATCH} court reports, median of {RUNS} (reports/s)"
    print(f"\n{heading:<66} {'value':>8}")
    for figure in figures:
        value = "-" if figure.value is None else f"{figure.value:.2f}"
        print(f"{figure.label:<66} {value:>8}  {figure.note}".rstrip())
    print(f"  (section took {time.perf_counter() - began:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
