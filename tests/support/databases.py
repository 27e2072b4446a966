"""The engine under test (``TEST_ENGINE``: sqlite, or postgres on ``TEST_DATABASE_URL``)
and the databases the tests make on it."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

ENGINE = os.environ.get("TEST_ENGINE", "sqlite")
PG_SERVER_URL = os.environ.get("TEST_DATABASE_URL", "")
MIGRATIONS = len(
    list((Path(__file__).parents[2] / "compliance" / "migrations").glob("compliance_*.py"))
)


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


def _sync(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


class Databases:
    """Creates databases for tests and drops them all at the end.

    On PostgreSQL the copy of a template a test will get is made while the test before
    it runs (one thread per worker), so no test waits the tens of milliseconds (more on
    a loaded machine) that CREATE DATABASE takes. Drops are left to the end, many at a
    time: dropped in batches during the run they left more for the end, not less (a
    worker's last test waited 30 s for the batches behind, against 10-19 s)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.pg_names: list[str] = []
        self._ahead: dict[str, Future[str]] = {}  # template -> its next copy, being made
        self._maker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="make-databases")

    def new(self, template: str | None = None) -> str:
        """An empty database, or a copy of ``template``: a SQLite URL to a file not yet
        made, or a PostgreSQL database of its own."""
        if ENGINE != "postgres":
            return f"sqlite:///{self.tmp / f'{uuid.uuid4().hex[:12]}.sqlite3'}"
        if template is None:
            return pg_url(self._create(None))
        made = self._ahead.pop(template, None) or self._maker.submit(self._create, template)
        self._ahead[template] = self._maker.submit(self._create, template)
        return pg_url(made.result())

    def _create(self, template: str | None) -> str:
        """FILE_COPY, not PostgreSQL 15's default WAL_LOG: a copy written through the WAL
        fills shared buffers with its pages, and dropping it then cost 0.12-0.15 s a
        database (eight at a time) against 0.03 s; the run's closing drops went from
        27.6 s to 14.3 s on the slower worker, the whole PostgreSQL run 331 s to 301 s."""
        name = unique_name("compliance_test")
        tmpl = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
        _sync(pg_admin(f'CREATE DATABASE "{name}"{tmpl}'))
        self.pg_names.append(name)
        return name

    def drop_all(self) -> None:
        """Every database made (the copy made ahead and the template too), eight at a
        time: one by one, each drop waits on its own checkpoint-like file removal, about
        0.1 s idle and over 1 s on a loaded machine."""
        self._maker.shutdown(wait=True)
        _sync(_drop_databases(self.pg_names))


async def _drop_databases(names: list[str]) -> None:
    gate = asyncio.Semaphore(8)

    async def drop(name: str) -> None:
        async with gate:
            await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    await asyncio.gather(*(drop(n) for n in names))
