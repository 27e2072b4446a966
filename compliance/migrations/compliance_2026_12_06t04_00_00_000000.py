"""Issue 21, missed check-ins: who did not check in on a drawn day, excuses beside them,
the days judged, the program's policy on counting them, and the violation kind
(compliance/tables/random_testing.py). Written by hand in the auto generator's form; the
unique key follows in the next migration."""

from enum import Enum
from typing import Any

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import (
    Boolean,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-12-06T04:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "missed check-ins, their excuses and the policy that counts them"


def _stub(class_name: str, tablename: str) -> type[Table]:
    """A referenced table as this migration knows it: its name and primary key."""
    key = Serial(
        null=False,
        primary_key=True,
        unique=False,
        index=False,
        index_method=IndexMethod.btree,
        choices=None,
        db_column_name="id",
        secret=False,
    )
    return type(class_name, (Table,), {"id": key}, tablename=tablename, schema=None)


StaffUser = _stub("StaffUser", "staff_user")
Participant = _stub("Participant", "participant")
TestingDraw = _stub("TestingDraw", "testing_draw")
MissedCheckIn = _stub("MissedCheckIn", "missed_check_in")


def _params(default: Any, **given: Any) -> dict[str, Any]:
    return {
        "default": default,
        "null": False,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
        **given,
    }


def _key(
    references: type[Table], on_delete: OnDelete, *, null: bool, index: bool, unique: bool = False
) -> Any:
    return (
        ForeignKey,
        _params(
            None,
            references=references,
            on_delete=on_delete,
            on_update=OnUpdate.cascade,
            target_column=None,
            null=null,
            index=index,
            unique=unique,
        ),
    )


KINDS_BEFORE = (
    "missed_test",
    "refused_test",
    "confirmed_positive",
    "adulterated_specimen",
    "substituted_specimen",
    "dilute_specimen",
    "unexcused_absence",
    "presumptive_positive",
)
KINDS_AFTER = (*KINDS_BEFORE, "missed_check_in")

TABLES: list[tuple[str, str, list[tuple[str, Any]]]] = [
    (
        "MissedCheckIn",
        "missed_check_in",
        [
            ("draw", _key(TestingDraw, OnDelete.restrict, null=False, index=True)),
            ("participant", _key(Participant, OnDelete.restrict, null=False, index=True)),
            ("due_by", (Timestamptz, _params(TimestamptzNow()))),
            ("recorded_at", (Timestamptz, _params(TimestamptzNow()))),
        ],
    ),
    (
        "MissedCheckInExcuse",
        "missed_check_in_excuse",
        [
            (
                "missed",
                _key(MissedCheckIn, OnDelete.restrict, null=False, index=False, unique=True),
            ),
            ("reason", (Text, _params(""))),
            ("excused_by", _key(StaffUser, OnDelete.restrict, null=False, index=False)),
            ("excused_at", (Timestamptz, _params(TimestamptzNow()))),
        ],
    ),
    (
        "CheckInSweep",
        "check_in_sweep",
        [
            ("draw", _key(TestingDraw, OnDelete.restrict, null=False, index=False, unique=True)),
            ("swept_at", (Timestamptz, _params(TimestamptzNow()))),
            ("missed", (Integer, _params(0))),
        ],
    ),
]
PROGRAM_COLUMNS: list[tuple[str, Any]] = [("missed_check_in_counts", (Boolean, _params(False)))]


def _add_columns(
    manager: MigrationManager, class_name: str, tablename: str, columns: list[tuple[str, Any]]
) -> None:
    for name, (column_class, params) in columns:
        manager.add_column(
            table_class_name=class_name,
            tablename=tablename,
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="compliance", description=DESCRIPTION)
    for class_name, tablename, columns in TABLES:
        manager.add_table(class_name=class_name, tablename=tablename, schema=None, columns=None)
        _add_columns(manager, class_name, tablename, columns)
    _add_columns(manager, "Program", "program", PROGRAM_COLUMNS)
    manager.alter_column(
        table_class_name="Violation",
        tablename="violation",
        column_name="kind",
        db_column_name="kind",
        params={"choices": Enum("ViolationKind", {k: k for k in KINDS_AFTER})},
        old_params={"choices": Enum("ViolationKind", {k: k for k in KINDS_BEFORE})},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )
    return manager
