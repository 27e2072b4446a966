"""Engine set-up: concurrent writers wait for each other instead of
failing with "database is locked" (IMMEDIATE transactions plus a busy timeout)."""

import asyncio
import gc
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from compliance.core import db
from compliance.core.settings import parse_database_url
from compliance.tables import Program


async def test_concurrent_read_then_write_transactions_all_commit(bound_engine: db.Engine) -> None:
    """Each writer reads the count, then inserts; with deferred SQLite transactions two of
    them would deadlock on the upgrade to a write lock and one would fail."""

    async def writer(n: int) -> None:
        async with db.transaction():
            seen = await Program.count()
            await asyncio.sleep(0.01)  # hold the transaction open while others arrive
            await Program.insert(Program(code=f"P{n}", name=f"Program {n} after {seen}"))

    await asyncio.gather(*(writer(n) for n in range(12)))
    assert await Program.count() == 12


async def test_rows_reads_the_same_values_as_piccolo(bound_engine: db.Engine) -> None:
    """``db.rows`` (tuples, for caseload-sized reads) must agree with Piccolo's own select,
    inside and outside a transaction, on both engines: UTC datetimes, ints, Decimals."""
    program = Program(code="ROWS", name="Rows", time_zone="America/Chicago")
    await program.save()
    await Program.update({Program.dilute_creatinine_mg_dl: Decimal("19.50")}).where(
        Program.id == program.id
    )
    query = Program.select(
        Program.id, Program.code, Program.created_at, Program.dilute_creatinine_mg_dl
    ).where(Program.id == program.id)
    expected = [tuple(r.values()) for r in await query]
    assert await db.rows(query) == expected
    async with db.transaction():
        assert [tuple(r) for r in await db.rows(query)] == expected
    pid, code, created, creatinine = expected[0]
    assert isinstance(pid, int) and code == "ROWS" and creatinine == Decimal("19.50")
    assert created.utcoffset() == timedelta(0)
    assert abs(created - datetime.now(UTC)) < timedelta(minutes=5)


async def test_pooled_reuses_connections_for_a_command_and_leaves_the_app_pool_alone(
    bound_engine: db.Engine,
) -> None:
    """A batch from the shell reuses connections inside ``db.pooled`` and closes them at
    its end; inside the app (already pooling) it neither opens nor closes anything."""
    async with db.pooled():  # the fixture pools, as the app's lifespan does
        await Program.count()
    assert db._pooling(bound_engine)
    await db.close_pool(bound_engine)
    assert not db._pooling(bound_engine)
    async with db.pooled():
        assert db._pooling(bound_engine)
        await asyncio.gather(*(Program.count() for _ in range(8)))
    assert not db._pooling(bound_engine)
    assert await Program.count() == 0  # and queries still work unpooled
    await db.open_pool(bound_engine, 2)  # as the fixture expects to close it


_NEW_PROGRAM = db.Prepared(
    lambda: Program.insert(
        Program(code=db.Param("code"), name=db.Param("name"), time_zone="UTC")  # type: ignore[arg-type]
    )
)


async def test_writes_together_commit_each_all_or_none_however_many_arrive_at_once(
    bound_engine: db.Engine,
) -> None:
    """Officers' views record their disclosures with ``write_together``; when many
    arrive at once SQLite commits them as a group. Each is still all or none: a write
    that fails (here a duplicate program code in its second statement) leaves no trace
    and fails only its own caller, and every other one is committed when it returns."""
    before = await db.records_version()

    async def one(n: int) -> None:
        second = "DUP" if n in (3, 11) else f"B{n}"
        await db.write_together(
            _NEW_PROGRAM.bind(code=f"A{n}", name=f"first of {n}"),
            _NEW_PROGRAM.bind(code=second, name=f"second of {n}"),
        )

    await _NEW_PROGRAM.run(code="DUP", name="already there")
    outcomes = await asyncio.gather(*(one(n) for n in range(16)), return_exceptions=True)
    failed = [n for n, o in enumerate(outcomes) if isinstance(o, Exception)]
    assert failed == [3, 11]
    codes = {r["code"] for r in await Program.select(Program.code)}
    for n in range(16):
        assert (f"A{n}" in codes) == (n not in failed)
    assert await Program.count() == 1 + 2 * 14
    assert await db.records_version() > before  # counted, at least once


async def test_a_write_waits_for_another_process_and_gives_up_at_the_busy_timeout(
    bound_engine: db.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite: while another process holds the write lock, a write waits (polling, not
    SQLite's back-off) and goes through once it is free; held past the busy timeout, it
    fails with "database is locked", writes nothing, and the connection keeps its busy
    timeout for what follows."""
    if not isinstance(bound_engine, db.ImmediateSQLiteEngine):
        pytest.skip("the write lock between processes is SQLite's")
    path = bound_engine.connection_kwargs["database"]
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    waiting = asyncio.ensure_future(_NEW_PROGRAM.run(code="LATE", name="waited"))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    other.execute("COMMIT")
    await waiting
    assert await Program.count() == 1

    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_S", 0.2)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await db.write_together(_NEW_PROGRAM.bind(code="NEVER", name="never"))
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            async with db.transaction():
                await Program.update({Program.name: "never"})
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert {r["code"] for r in await Program.select(Program.code)} == {"LATE"}
    connection = await bound_engine.get_connection()
    try:
        found = await connection.execute_fetchall("PRAGMA busy_timeout")
    finally:
        await bound_engine.put_connection(connection)
    assert list(found[0].values()) == [int(db.SQLITE_BUSY_TIMEOUT_S * 1000)]


def test_preparing_a_sqlite_file_leaves_no_connection_open(tmp_path: Path) -> None:
    """A sqlite3 connection is freed only by the cycle collector (its statement cache
    points back at it): one left open kept the demo template's WAL file until a
    collection happened to run, and a copy taken then was refused."""
    path = tmp_path / "new.sqlite3"
    target = parse_database_url(f"sqlite:///{path}")
    gc.collect()
    gc.disable()
    try:
        db.prepare_sqlite(target)
        still_open = [o for o in gc.get_objects() if isinstance(o, sqlite3.Connection)]
    finally:
        gc.enable()
    assert still_open == []
    assert not path.with_name("new.sqlite3-wal").exists()
