"""Issue 18, a participant's views kept while only other participants change: the
count of changes not declared as one participant's, and each participant's own count.
Written by hand in the auto generator's form."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import BigInt, Integer
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-12-04T22:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "record_version.shared and participant_version: per-participant change counts"


class ParticipantVersion(Table, tablename="participant_version", schema=None):
    participant = Integer(unique=True)
    version = BigInt(default=0)


def _params(default: int, unique: bool = False) -> dict:
    return {
        "default": default,
        "null": False,
        "primary_key": False,
        "unique": unique,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
    }


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="compliance", description=DESCRIPTION)

    manager.add_column(
        table_class_name="RecordVersion",
        tablename="record_version",
        column_name="shared",
        db_column_name="shared",
        column_class_name="BigInt",
        column_class=BigInt,
        params=_params(0),
        schema=None,
    )
    manager.add_table(
        class_name="ParticipantVersion", tablename="participant_version", schema=None, columns=None
    )
    manager.add_column(
        table_class_name="ParticipantVersion",
        tablename="participant_version",
        column_name="participant",
        db_column_name="participant",
        column_class_name="Integer",
        column_class=Integer,
        params=_params(0, unique=True),
        schema=None,
    )
    manager.add_column(
        table_class_name="ParticipantVersion",
        tablename="participant_version",
        column_name="version",
        db_column_name="version",
        column_class_name="BigInt",
        column_class=BigInt,
        params=_params(0),
        schema=None,
    )
    return manager
