"""Migrations apply from empty, match the table definitions, and are all-or-nothing."""

import pytest
from piccolo.apps.migrations.tables import Migration
from piccolo.table import Table

from compliance.core import db, migration_runner
from compliance.core.settings import parse_database_url
from compliance.tables import ALL_TABLES
from compliance.tables.keys import UNIQUE_KEYS
from tests.support.databases import MIGRATIONS


async def columns(engine: db.Engine, table: type[Table]) -> dict[str, bool]:
    """The columns the database really has, each with whether it accepts NULL."""
    name = table._meta.tablename
    if engine.engine_type == "postgres":
        rows = await engine.run_ddl(
            "SELECT column_name AS name, is_nullable = 'YES' AS nullable "
            f"FROM information_schema.columns WHERE table_name = '{name}'"
        )
    else:
        rows = await engine.run_ddl(
            f"SELECT name, \"notnull\" = 0 AND pk = 0 AS nullable FROM pragma_table_info('{name}')"
        )
    return {r["name"]: bool(r["nullable"]) for r in rows}


async def test_migrations_apply_from_empty_and_match_every_table(fresh_database_url: str) -> None:
    target = parse_database_url(fresh_database_url)
    engine = db.create_engine(target)
    db.prepare_sqlite(target)
    await db.open_pool(engine, 2)
    try:
        assert len(await migration_runner.pending_migrations(engine)) == MIGRATIONS
        applied = await migration_runner.migrate(engine)
        assert len(applied) == MIGRATIONS
        assert await migration_runner.pending_migrations(engine) == []
        assert await migration_runner.migrate(engine) == []  # a second run is a no-op
        for table in ALL_TABLES:
            expected = {c._meta.db_column_name: c._meta.null for c in table._meta.columns}
            expected[table._meta.primary_key._meta.db_column_name] = False
            assert await columns(engine, table) == expected, table.__name__
        await db.ping(engine)
    finally:
        await db.close_pool(engine)


async def test_failed_migration_leaves_nothing_behind(fresh_database_url: str) -> None:
    """A clash halfway through rolls back every table and every migration record."""
    target = parse_database_url(fresh_database_url)
    engine = db.create_engine(target)
    db.prepare_sqlite(target)
    await db.open_pool(engine, 2)
    try:
        # A stray table named like one of ours makes CREATE TABLE fail part-way.
        await engine.run_ddl('CREATE TABLE "violation" ("id" INTEGER PRIMARY KEY)')
        with pytest.raises(Exception, match="violation"):
            await migration_runner.migrate(engine)
        assert await Migration.table_exists() is False or await Migration.count() == 0
        for table in ALL_TABLES:
            if table._meta.tablename != "violation":
                assert not await table.table_exists(), f"{table.__name__} was left behind"
        assert len(await migration_runner.pending_migrations(engine)) == MIGRATIONS
    finally:
        await db.close_pool(engine)


async def test_unique_keys_exist(bound_engine: db.Engine) -> None:
    if bound_engine.engine_type == "postgres":
        rows = await bound_engine.run_ddl("SELECT indexname AS name FROM pg_indexes")
    else:
        rows = await bound_engine.run_ddl("SELECT name FROM sqlite_master WHERE type = 'index'")
    present = {r["name"] for r in rows}
    assert {k.name for k in UNIQUE_KEYS} <= present


def test_the_keys_migration_creates_exactly_the_declared_keys() -> None:
    from compliance.migrations import compliance_2026_11_23t12_40_00_000000 as keys_migration

    assert keys_migration.STATEMENTS == [k.ddl() for k in UNIQUE_KEYS]
