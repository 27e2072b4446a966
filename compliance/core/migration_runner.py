"""Applying the migrations in compliance/migrations (``compliance migrate``), all of
them or none. Piccolo's runner finds its engine through ``piccolo_conf.DB``, which is
pointed at ours first; this module imports both, so neither imports the other."""

from __future__ import annotations

import os
import sys

from piccolo.apps.migrations.tables import Migration

from compliance.core.db import APP_NAME, DatabaseUnavailable, Engine, bind


def _point_piccolo_at(engine: Engine) -> None:
    """Piccolo's migration runner finds its engine through ``piccolo_conf.DB``."""
    os.environ["PICCOLO_CONF"] = "compliance.piccolo_conf"
    from compliance import piccolo_conf

    piccolo_conf.DB = engine
    bind(engine)


async def pending_migrations(engine: Engine) -> list[str]:
    from piccolo.apps.migrations.commands.base import BaseMigrationManager

    _point_piccolo_at(engine)
    manager = BaseMigrationManager()
    app_config = manager.get_app_config(APP_NAME)
    modules = manager.get_migration_modules(app_config.resolved_migrations_folder_path)
    known = set(manager.get_migration_ids(modules))
    if not await Migration.table_exists():
        return sorted(known)
    ran = set(await Migration.get_migrations_which_ran(app_name=APP_NAME))
    return sorted(known - ran)


async def migrate(engine: Engine) -> list[str]:
    """Apply every pending migration in one transaction: all of them or none.

    Piccolo wraps each migration in its own transaction and records it afterwards;
    the outer transaction here makes the whole run, records included, atomic, so a
    failure leaves the database exactly as it was.
    """
    from piccolo.apps.migrations.commands.forwards import ForwardsMigrationManager

    if not await pending_migrations(engine):
        return []
    async with engine.transaction() as transaction:
        transaction.counts_changes = False  # the counter's table may not exist yet
        await engine.serialize("compliance.migrate")
        todo = await pending_migrations(engine)  # again, now that we hold the lock
        if not todo:
            return []
        if not await Migration.table_exists():
            await Migration.create_table()
        manager = ForwardsMigrationManager(app_name=APP_NAME, migration_id="all")
        stdout = sys.stdout
        try:
            sys.stdout = _Quiet()
            result = await manager.run_migrations(manager.get_app_config(APP_NAME))
        finally:
            sys.stdout = stdout
        if not result.success:
            raise DatabaseUnavailable(f"migration failed: {result.message}")
    return todo


class _Quiet:
    """Swallows Piccolo's emoji progress lines; we print our own summary."""

    def write(self, _text: str) -> int:
        return len(_text)

    def flush(self) -> None:
        pass
