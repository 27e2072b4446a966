"""Test harness: a real database per test, on SQLite by default or PostgreSQL when
``TEST_ENGINE=postgres`` (with ``TEST_DATABASE_URL`` naming the server).

Migrations run once per session through the real ``compliance migrate`` command into a
template database; each test then gets a fresh copy (SQLite: a copy of the file;
PostgreSQL: its own database created from the template, dropped afterwards).
Tests that use the database are marked ``db`` so `make test` can run them again on
PostgreSQL. Only fixtures and hooks live here; what tests share otherwise is in
tests/support/.
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
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from compliance.core import db
from compliance.core.settings import Settings, load_settings
from tests.support.app import app_client
from tests.support.cli import run_cli, settings_env
from tests.support.databases import ENGINE, PG_SERVER_URL, Databases
from tests.support.routes import records_of_every_kind
from tests.support.staff import World, bound, load_demo_into, signed_in_demo

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


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    dbs = Databases(tmp_path_factory.mktemp("databases"))
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def template_url(databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database migrated once by the real ``compliance migrate`` command."""
    url = databases.new()
    var = tmp_path_factory.mktemp("template-var")
    done = run_cli(
        "migrate",
        env={"DATABASE_URL": url, "VAR_DIR": str(var), "REPORTS_DIR": str(var / "reports")},
    )
    assert done.returncode == 0, done.stderr
    return url


@pytest.fixture(scope="session")
def demo_template_url(
    template_url: str, databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """The template with the demo loaded once per run (at ``DEMO_NOW``): a test asking
    for ``demo`` gets a copy instead of building it again (half a second to a second and
    a half each, for about ninety tests)."""
    folder = tmp_path_factory.mktemp("demo-template")
    url = _copy(template_url, databases, folder / "demo.sqlite3")
    asyncio.run(load_demo_into(url, folder))
    return url


def _copy(template: str, databases: Databases, target: Path) -> str:
    if ENGINE == "postgres":
        return databases.new(template=urlsplit(template).path.lstrip("/"))
    source = Path(urlsplit(template).path)
    assert not Path(f"{source}-wal").exists(), "the template was left with a write-ahead log"
    shutil.copyfile(source, target)
    return f"sqlite:///{target}"


@pytest.fixture
def database_url(
    request: pytest.FixtureRequest, template_url: str, databases: Databases, tmp_path: Path
) -> str:
    """A fresh, migrated database for this test; with the demo in it for a test that
    asks for ``demo`` (``demo_with_clinician`` then finds it there), unless the test
    builds the demo at a moment of its own (marked ``own_demo``)."""
    if "demo" in request.fixturenames and not request.node.get_closest_marker("own_demo"):
        return _copy(request.getfixturevalue("demo_template_url"), databases, tmp_path / "t.db")
    return _copy(template_url, databases, tmp_path / "test.sqlite3")


@pytest.fixture
def fresh_database_url(databases: Databases) -> str:
    """An empty database with no migrations applied."""
    return databases.new()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(settings_env(database_url, tmp_path))


@pytest.fixture
async def bound_engine(settings: Settings) -> AsyncIterator[db.Engine]:
    """Tables bound to this test's database, for service-level tests."""
    async with bound(settings) as engine:
        yield engine


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real app over ASGI for this test's database (see ``app_client``)."""
    async with app_client(settings) as c:
        yield c


@pytest.fixture
async def demo(client: httpx.AsyncClient) -> dict:
    """The demo signed in on ``client`` as a clinician who signs reports (see
    ``signed_in_demo``); tests that read the signer in a PDF bring their own."""
    return await signed_in_demo(
        client, "staff@example.org", full_name="Sam Staff", credentials="LCSW"
    )


@pytest.fixture
async def program_a_records(client: httpx.AsyncClient) -> tuple[World, dict[str, int]]:
    """One record of every kind in program A, clinician A signed in (the access matrix)."""
    return await records_of_every_kind(client)
