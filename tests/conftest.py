"""Test harness: a real database per test, on SQLite by default or PostgreSQL when
``TEST_ENGINE=postgres`` (with ``TEST_DATABASE_URL`` naming the server).

Migrations run once per session through the real ``compliance migrate`` command into a
template database; each test then gets a fresh copy (SQLite: a copy of the file;
PostgreSQL: its own database created from the template, dropped afterwards).
Tests that use the database are marked ``db`` so `make test` can run them again on
PostgreSQL.
"""

from __future__ import annotations

import os

# Before compliance is imported: argon2's cheapest profile (see accounts.make_hasher);
# subprocesses the tests start inherit it.
os.environ.setdefault("COMPLIANCE_TEST_FAST_HASHES", "1")
# Report workers at the server's priority: the suite's own parallel tests would starve a
# niceness-10 render a browser test waits on (the setting itself: tests/system/test_workers.py).
os.environ.setdefault("WORKER_NICENESS", "0")

import asyncio
import contextlib
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from compliance import audit
from compliance.app import create_app
from compliance.core import db
from compliance.core.settings import Settings, load_settings

ENGINE = os.environ.get("TEST_ENGINE", "sqlite")
PG_SERVER_URL = os.environ.get("TEST_DATABASE_URL", "")
BIN = Path(sys.executable).parent
DB_FIXTURES = {"database_url", "settings", "client", "bound_engine", "fresh_database_url"}

if ENGINE not in ("sqlite", "postgres"):
    raise pytest.UsageError(f"TEST_ENGINE must be sqlite or postgres, not {ENGINE!r}")
if ENGINE == "postgres" and not PG_SERVER_URL:
    raise pytest.UsageError("TEST_ENGINE=postgres needs TEST_DATABASE_URL")


SYSTEM = Path(__file__).parent / "system"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if DB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)
        if SYSTEM in item.path.parents:
            item.add_marker(pytest.mark.slow)


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
        """All at once (eight at a time): one by one, each drop waits on its own
        checkpoint-like file removal, about 0.1 s idle and over 1 s on a loaded machine,
        which made the PostgreSQL run spend most of a minute per worker after its tests."""
        _sync(_drop_databases(self.pg_names))


async def _drop_databases(names: list[str]) -> None:
    gate = asyncio.Semaphore(8)

    async def drop(name: str) -> None:
        async with gate:
            await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    await asyncio.gather(*(drop(n) for n in names))


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


@pytest.fixture
def database_url(template_url: str, databases: EmptyDatabases, tmp_path: Path) -> str:
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
