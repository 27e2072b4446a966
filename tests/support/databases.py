"""The engine under test (``TEST_ENGINE``: sqlite, or postgres on ``TEST_DATABASE_URL``)
and the databases the tests make on it."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Coroutine
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
