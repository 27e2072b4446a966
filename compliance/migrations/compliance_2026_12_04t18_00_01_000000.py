"""Issue 18: the change counter's one row, at 0."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import BigInt
from piccolo.table import Table

ID = "2026-12-04T18:00:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "record_version: its one row"


class RecordVersion(Table, tablename="record_version", schema=None):
    version = BigInt(default=0)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="compliance", description=DESCRIPTION)

    async def first_row() -> None:
        await RecordVersion.raw('INSERT INTO "record_version" ("version") VALUES (0)')

    manager.add_raw(first_row)
    return manager
