"""Engine set-up: concurrent writers wait for each other instead of
failing with "database is locked" (IMMEDIATE transactions plus a busy timeout)."""

import asyncio

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
