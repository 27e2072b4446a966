"""Test harness: a real database per test, on SQLite by default or PostgreSQL when
``TEST_ENGINE=postgres`` (with ``TEST_DATABASE_URL`` naming the server).

Migrations run once per session through the real ``compliance migrate`` command into a
template database; each test then gets a fresh copy (SQLite: a copy of the file;
PostgreSQL: its own database created from the template, dropped afterwards). The demo
(``tests.staff``) is loaded once per ``now`` and copied into later tests' databases
(``DemoCopies``).
Tests that use the database are marked ``db`` so `make test` can run them again on
PostgreSQL.
"""

from __future__ import annotations

import os

# Before compliance is imported: argon2's cheapest profile (see accounts.make_hasher);
# subprocesses the tests start inherit it.
os.environ.setdefault("COMPLIANCE_TEST_FAST_HASHES", "1")
# Report workers at the server's priority: the suite's own parallel tests would starve a
# niceness-10 render a browser test waits on (the setting itself: tests/test_workers.py).
os.environ.setdefault("WORKER_NICENESS", "0")

import asyncio
import contextlib
import io
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from compliance import audit, db
from compliance.app import create_app
from compliance.demo import load_demo
from compliance.settings import Settings, load_settings, parse_database_url
from compliance.tables import AuditEvent, Program, StaffUser
from tests import staff

ENGINE = os.environ.get("TEST_ENGINE", "sqlite")
PG_SERVER_URL = os.environ.get("TEST_DATABASE_URL", "")
BIN = Path(sys.executable).parent
DB_FIXTURES = {"database_url", "settings", "client", "bound_engine", "fresh_database_url"}

if ENGINE not in ("sqlite", "postgres"):
    raise pytest.UsageError(f"TEST_ENGINE must be sqlite or postgres, not {ENGINE!r}")
if ENGINE == "postgres" and not PG_SERVER_URL:
    raise pytest.UsageError("TEST_ENGINE=postgres needs TEST_DATABASE_URL")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if DB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


def pytest_report_header() -> str:
    return f"compliance test engine: {ENGINE}"


def run_cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the installed ``compliance`` command as an operator would."""
    return subprocess.run(
        [str(BIN / "compliance"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# --- PostgreSQL helpers ---------------------------------------------------------------


def pg_url(database: str) -> str:
    return urlunsplit(urlsplit(PG_SERVER_URL)._replace(path=f"/{database}"))


async def pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_SERVER_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def _sync(coro) -> None:
    asyncio.run(coro)


class EmptyDatabases:
    """Creates empty databases (not migrated) and removes them at the end."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.pg_names: list[str] = []

    def new(self, template: str | None = None) -> str:
        if ENGINE == "postgres":
            name = unique_name("compliance_test")
            tmpl = f' TEMPLATE "{template}"' if template else ""
            _sync(pg_admin(f'CREATE DATABASE "{name}"{tmpl}'))
            self.pg_names.append(name)
            return pg_url(name)
        path = self.tmp / f"{uuid.uuid4().hex[:12]}.sqlite3"
        return f"sqlite:///{path}"

    def drop_all(self) -> None:
        for name in self.pg_names:
            _sync(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmptyDatabases]:
    dbs = EmptyDatabases(tmp_path_factory.mktemp("databases"))
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def template_url(databases: EmptyDatabases, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database migrated once by the real ``compliance migrate`` command."""
    url = databases.new()
    var = tmp_path_factory.mktemp("template-var")
    done = run_cli(
        "migrate",
        env={"DATABASE_URL": url, "VAR_DIR": str(var), "REPORTS_DIR": str(var / "reports")},
    )
    assert done.returncode == 0, done.stderr
    return url


# --- the demo, loaded once per run and copied per test ------------------------------


def sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup API: ``target`` becomes a copy of ``source`` even while
    the test's own connections have it open (they see the new content afterwards)."""
    src = sqlite3.connect(source, timeout=db.SQLITE_BUSY_TIMEOUT_S)
    dst = sqlite3.connect(target, timeout=db.SQLITE_BUSY_TIMEOUT_S)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def pg_copy(source: str, target: str) -> None:
    """Every table's rows and every sequence's position from ``source`` into ``target``
    (both migrated alike), in one transaction on ``target``. A database cannot be made
    from a TEMPLATE while connections to it are open, and the test's app has its pool
    open on ``target`` by the time a test loads the demo; binary COPY takes ~0.1 s."""
    src, dst = await asyncpg.connect(source), await asyncpg.connect(target)
    try:
        columns = await src.fetch(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND is_generated = 'NEVER' "
            "ORDER BY table_name, ordinal_position"
        )
        tables: dict[str, list[str]] = {}
        for row in columns:
            tables.setdefault(row["table_name"], []).append(row["column_name"])
        sequences = await src.fetch(
            "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"
        )
        async with dst.transaction():
            # No foreign-key checks while the tables fill in any order (superuser only).
            await dst.execute("SET LOCAL session_replication_role = replica")
            await dst.execute("TRUNCATE " + ", ".join(_quoted(t) for t in tables))
            for table, names in tables.items():
                rows = io.BytesIO()
                await src.copy_from_table(table, columns=names, output=rows, format="binary")
                rows.seek(0)
                await dst.copy_to_table(table, columns=names, source=rows, format="binary")
            for seq in sequences:
                called = seq["last_value"] is not None
                await dst.execute(
                    "SELECT setval($1::regclass, $2, $3)",
                    _quoted(seq["sequencename"]),
                    seq["last_value"] if called else 1,
                    called,
                )
    finally:
        await dst.close()
        await src.close()


def _files(folder: Path) -> dict[str, bytes]:
    if not folder.is_dir():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _changed(before: dict[str, bytes], after: dict[str, bytes]) -> dict[str, bytes]:
    return {name: data for name, data in after.items() if before.get(name) != data}


def _write_files(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@dataclass(frozen=True)
class DemoCopy:
    """A database holding the demo as ``load_demo`` left it, and the files it wrote
    beside the database (the audit head in VAR_DIR), by path under VAR_DIR/REPORTS_DIR."""

    url: str
    var_files: dict[str, bytes]
    report_files: dict[str, bytes]


class DemoCopies:
    """The demo built by the real ``load_demo`` once per ``now`` (and audit key) in this
    process, then copied into each test's database: 0.02-0.2 s instead of 1.6-5.6 s.

    The first test asking for a ``now`` loads the demo into its own database; that
    database is then copied aside with the files the load wrote (the audit head file,
    which must match the chain's MACs). Later tests get the copy restored into their
    freshly migrated database, with those files in their own VAR_DIR, so rows, ids and
    the audit chain are exactly what ``load_demo`` would have made. A database that is
    no longer as migrated (a program, a user or an audit event already in it) gets the
    real ``load_demo``, as before.
    """

    def __init__(self, template_url: str, databases: EmptyDatabases, tmp: Path) -> None:
        self.template_url = template_url
        self.databases = databases
        self.tmp = tmp
        self.copies: dict[tuple[datetime, bytes], DemoCopy] = {}

    async def load(self, now: datetime) -> None:
        if not await _as_migrated():
            await load_demo(now=now)
            return
        trail = audit.trail()
        var_dir, reports_dir = trail.var_dir, trail.settings.reports_dir
        key = (now, trail.mac_key)
        copy = self.copies.get(key)
        if copy is not None:
            await copy_database(copy.url, db.current_url())
            _write_files(var_dir, copy.var_files)
            _write_files(reports_dir, copy.report_files)
            return
        var_before, reports_before = _files(var_dir), _files(reports_dir)
        await load_demo(now=now)
        self.copies[key] = DemoCopy(
            await self._keep(db.current_url()),
            _changed(var_before, _files(var_dir)),
            _changed(reports_before, _files(reports_dir)),
        )

    async def _keep(self, url: str) -> str:
        """A copy of the database at ``url`` that lasts the session."""
        if ENGINE == "postgres":
            template = urlsplit(self.template_url).path.lstrip("/")
            kept = await asyncio.to_thread(self.databases.new, template)
            await pg_copy(url, kept)
            return kept
        kept = f"sqlite:///{self.tmp / uuid.uuid4().hex[:12]}.sqlite3"
        await copy_database(url, kept)
        return kept


async def _as_migrated() -> bool:
    """Nothing written yet to the bound database beyond what migrations put there."""
    for table in (Program, StaffUser, AuditEvent):
        if await table.count() > 0:
            return False
    return True


async def copy_database(source: str, target: str) -> None:
    """Overwrite ``target``'s content with ``source``'s (same engine, same migrations)."""
    if ENGINE == "postgres":
        await pg_copy(source, target)
        return
    paths = [parse_database_url(url).sqlite_path for url in (source, target)]
    assert paths[0] is not None and paths[1] is not None
    await asyncio.to_thread(sqlite_copy, paths[0], paths[1])


@pytest.fixture(scope="session")
def demo_copies(
    template_url: str, databases: EmptyDatabases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoCopies]:
    """Installed where ``tests.staff`` loads the demo; its PostgreSQL databases are
    ``databases``' and dropped with them at the session's end. ``TEST_DEMO_COPIES=0``
    leaves it out (every test runs ``load_demo``), to compare or to rule it out."""
    copies = DemoCopies(template_url, databases, tmp_path_factory.mktemp("demo-copies"))
    if os.environ.get("TEST_DEMO_COPIES", "1") != "0":
        staff.DEMO_COPIES = copies
    yield copies
    staff.DEMO_COPIES = None


@pytest.fixture
def database_url(
    template_url: str, databases: EmptyDatabases, tmp_path: Path, demo_copies: DemoCopies
) -> str:
    """A fresh, migrated database for this test."""
    if ENGINE == "postgres":
        return databases.new(template=urlsplit(template_url).path.lstrip("/"))
    source = Path(urlsplit(template_url).path)
    target = tmp_path / "test.sqlite3"
    shutil.copyfile(source, target)
    return f"sqlite:///{target}"


@pytest.fixture
def fresh_database_url(databases: EmptyDatabases) -> str:
    """An empty database with no migrations applied."""
    return databases.new()


def settings_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "VAR_DIR": str(tmp_path / "var"),
        "REPORTS_DIR": str(tmp_path / "reports"),
        "SECRET_KEY": "test-secret-key-" + "x" * 40,
        "BASE_URL": "http://testserver",
        "BACKGROUND_JOBS": "0",  # tests run notices and delivery themselves
    }


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(settings_env(database_url, tmp_path))


@pytest.fixture
async def bound_engine(settings: Settings) -> AsyncIterator[db.Engine]:
    """Tables bound to this test's database, for service-level tests."""
    engine = db.create_engine(settings.database)
    db.bind(engine)
    audit.configure(settings)
    db.prepare_sqlite(settings.database)
    await db.open_pool(engine, 2)
    yield engine
    await db.close_pool(engine)


@contextlib.asynccontextmanager
async def app_client(
    settings: Settings, extra_routes: tuple[Any, ...] = ()
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app over ASGI, its lifespan run in the caller's own event loop.

    Litestar's AsyncTestClient runs the app in a portal thread with its own loop; a
    PostgreSQL pool opened there cannot serve the queries a test makes to check what
    the app wrote. The lifespan runs here in one background task (its task group must
    be entered and left by the same task), so app and test share one loop.
    """
    app = create_app(settings)
    for route in extra_routes:  # a test's own probe, beside the real routes
        app.register(route)
    started, stop = asyncio.Event(), asyncio.Event()

    async def lifespan() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(lifespan())
    await asyncio.wait(
        [task, asyncio.create_task(started.wait())], return_when=asyncio.FIRST_COMPLETED
    )
    if task.done():
        task.result()  # start-up failed: raise its error
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c
    finally:
        stop.set()
        await task


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real app over ASGI for this test's database (see ``app_client``)."""
    async with app_client(settings) as c:
        yield c
