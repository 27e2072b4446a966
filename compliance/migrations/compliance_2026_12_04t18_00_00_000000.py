"""Issue 18, views cached until the records change: the change counter's table (its one row
is the next migration's: Piccolo runs a migration's raw steps before its new tables).
Written by hand in the auto generator's form."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import BigInt
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-12-04T18:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "record_version: the change counter behind cached views"


class RecordVersion(Table, tablename="record_version", schema=None):
    version = BigInt(default=0)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="compliance", description=DESCRIPTION)

    manager.add_table(
        class_name="RecordVersion", tablename="record_version", schema=None, columns=None
    )
    manager.add_column(
        table_class_name="RecordVersion",
        tablename="record_version",
        column_name="version",
        db_column_name="version",
        column_class_name="BigInt",
        column_class=BigInt,
        params={
            "default": 0,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )
    return manager
