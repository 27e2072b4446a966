"""Several instances on one machine, as issue 20 deploys them: a PostgreSQL database and a
Redis database number of their own, app servers (``compliance run``) and workers
(``compliance worker``) that share only DATABASE_URL, REDIS_URL, SECRET_KEY, SIGNING_P12
(with its passphrase) and REPORTS_DIR; each keeps its own VAR_DIR. The job queue lives
in Redis then (REDIS_URL wins over the database)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import redis

from tests.support.cli import BIN, run_cli
from tests.support.live import Server, serve

ROOT = Path(__file__).resolve().parents[2]
# The servers this machine runs (CI's too); TEST_DATABASE_URL names the PostgreSQL one.
PG_SERVER_URL = (
    os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_SERVER_URL = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379"
CLAIM = "compliance-test:claimed-by"
SIGNER = "instances.signer@riverbend.example"


def pg_url(database: str) -> str:
    return urlunsplit(urlsplit(PG_SERVER_URL)._replace(path=f"/{database}"))


async def _pg_admin(sql: str) -> None:
    connection = await asyncpg.connect(PG_SERVER_URL, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def pg_fetch(url: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    connection = await asyncpg.connect(url, timeout=5)
    try:
        return [dict(row) for row in await connection.fetch(sql, *args)]
    finally:
        await connection.close()


def unreachable() -> str | None:
    """Why the servers these tests need cannot be used here, or None."""
    try:
        asyncio.run(_pg_admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError) as exc:
        return f"no PostgreSQL at {PG_SERVER_URL}: {exc.__class__.__name__}"
    try:
        redis.Redis.from_url(REDIS_SERVER_URL, socket_timeout=5).ping()
    except redis.RedisError as exc:
        return f"no Redis at {REDIS_SERVER_URL}: {exc.__class__.__name__}"
    return None


@contextmanager
def postgres_database() -> Iterator[str]:
    """A database of its own on the PostgreSQL server, dropped afterwards."""
    name = f"compliance_instances_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield pg_url(name)
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def redis_database() -> Iterator[str]:
    """A Redis database number nobody uses (1 to 15; 0 is everyone's default), claimed
    with a key set only if absent, so two runs at once never share one; emptied before
    and after."""
    base = urlsplit(REDIS_SERVER_URL)
    count = int(redis.Redis.from_url(REDIS_SERVER_URL).config_get("databases")["databases"])
    me = f"{os.getpid()}:{uuid.uuid4().hex}"
    for number in range(1, count):
        url = urlunsplit(base._replace(path=f"/{number}"))
        client = redis.Redis.from_url(url)
        if not client.set(CLAIM, me, nx=True):
            client.close()
            continue
        if client.dbsize() != 1:  # someone's data, without our claim key: not ours
            client.delete(CLAIM)
            client.close()
            continue
        try:
            client.flushdb()
            client.set(CLAIM, me)
            yield url
        finally:
            client.flushdb()
            client.close()
        return
    raise RuntimeError(f"every Redis database number on {REDIS_SERVER_URL} is in use")


def signing_material(folder: Path) -> dict[str, str]:
    """A PKCS#12 key of the test's own, and its passphrase, as the operator sets them."""
    from compliance.reporting import signing

    p12, passphrase = signing.ensure_development_certificate(folder)
    return {"SIGNING_P12": str(p12), "SIGNING_P12_PASSPHRASE": passphrase}


@dataclass
class Worker:
    """A ``compliance worker`` process and the id it announced."""

    process: subprocess.Popen
    log: Path
    id: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no shutdown; its running jobs are left active until swept."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Cluster:
    """Instances started from ``shared`` settings, each with a folder of its own."""

    root: Path
    shared: dict[str, str]
    apps: list[Server] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)

    def env(self, name: str, **extra: str) -> dict[str, str]:
        own = self.root / name
        return {
            **self.shared,
            "VAR_DIR": str(own / "var"),
            "WORKER_IN_APP": "0",
            "BACKGROUND_JOBS": "0",
            **extra,
        }

    def app(self, name: str, **extra: str) -> Server:
        server = serve(self.env(name, **extra), self.root / f"{name}.log")
        self.apps.append(server)
        return server

    def worker(self, name: str, wait: float = 40) -> Worker:
        """Start a worker; back once it has said which queue it takes jobs from."""
        log = self.root / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [str(BIN / "compliance"), "worker"],
                env={**os.environ, **self.env(name)},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and process.poll() is None:
            found = re.search(r"worker (\S+) taking jobs from", log.read_text(errors="replace"))
            if found:
                made = Worker(process, log, found.group(1))
                self.workers.append(made)
                return made
            time.sleep(0.1)
        process.kill()
        process.wait()
        raise AssertionError(f"worker did not start:\n{log.read_text(errors='replace')[-3000:]}")

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return run_cli(*args, env=self.env("cli"), timeout=timeout)

    def close(self) -> None:
        for server in self.apps:
            server.stop()
        for worker in self.workers:
            worker.stop()


@contextmanager
def cluster(root: Path, clones: int) -> Iterator[Cluster]:
    """A migrated PostgreSQL database with the demo, ``clones`` copies of its court client
    and a clinician who signs (``SIGNER``); a Redis database; no instance started yet."""
    with postgres_database() as database_url, redis_database() as redis_url:
        shared = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "instances-secret-key-" + uuid.uuid4().hex * 2,
            "REPORTS_DIR": str(root / "shared-reports"),
            **signing_material(root / "signing"),
        }
        made = Cluster(root, shared)
        try:
            done = made.cli("migrate")
            assert done.returncode == 0, done.stderr
            seeded = subprocess.run(
                [sys.executable, "-c", _SEED, str(clones)],
                env={**os.environ, **made.env("seed")},
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert seeded.returncode == 0, seeded.stderr[-3000:]
            yield made
        finally:
            made.close()


# In a process of its own: binding the database is process-wide, and the test's process
# must stay free for the tests that run after it.
_SEED = f"""
import asyncio, sys
from compliance import audit
from compliance.core import db
from compliance.core.settings import load_settings
from tests.support.staff import clone_court_client, demo_with_clinician

async def main(clones):
    settings = load_settings()
    engine = db.create_engine(settings.database)
    db.bind(engine)
    audit.configure(settings)
    await db.open_pool(engine, 2)
    try:
        await demo_with_clinician({SIGNER!r}, full_name="Instance Signer", credentials="LCSW")
        await clone_court_client(clones)
    finally:
        await db.close_pool(engine)

asyncio.run(main(int(sys.argv[1])))
"""


def children(pid: int) -> list[int]:
    """The processes ``pid`` started and that still run (its render workers, if any)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out += [int(p) for p in text]
    return out


def cli_batch(made: Cluster, start: str, end: str) -> subprocess.Popen:
    """``compliance reports batch`` for the demo program's court reports, as an operator
    runs it beside the instances, with their settings."""
    return _background(
        made,
        "batch-cli",
        [
            str(BIN / "compliance"),
            *("reports", "batch", "--program", "DEMO", "--signer", SIGNER),
            *("--kind", "court_progress", "--start", start, "--end", end),
        ],
    )


def _background(made: Cluster, name: str, command: list[str]) -> subprocess.Popen:
    log = made.root / f"{name}.log"
    with log.open("ab") as out:
        return subprocess.Popen(
            command,
            env={**os.environ, **made.env(name)},
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def queue_jobs(queue_url: str, keys: list[str]) -> dict[str, Any]:
    """The queue's record of each job key (None: the queue never had that job): its
    status, attempts and the worker that ran it last."""
    from compliance.jobs.queued import make_queue

    async def read() -> dict[str, Any]:
        queue = make_queue(queue_url)
        await queue.connect()
        try:
            return dict(zip(keys, await queue.jobs(keys), strict=True))
        finally:
            await queue.disconnect()

    return asyncio.run(read())
