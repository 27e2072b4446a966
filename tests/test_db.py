"""Engine set-up: concurrent writers wait for each other instead of
failing with "database is locked" (IMMEDIATE transactions plus a busy timeout)."""

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from compliance import db
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
