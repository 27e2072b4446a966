"""Issue 21, random testing: testing groups, who is in which from when, each day's draw
and the calls it made (compliance/tables/random_testing.py). Written by hand in the
auto generator's form; the unique keys follow in the next migration."""

from enum import Enum
from typing import Any

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import (
    JSON,
    Boolean,
    Date,
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

ID = "2026-12-06T01:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "random testing (groups, draws, calls, the call-in) and scheduled reports"


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


Program = _stub("Program", "program")
StaffUser = _stub("StaffUser", "staff_user")
Participant = _stub("Participant", "participant")
TestingGroup = _stub("TestingGroup", "testing_group")
TestingDraw = _stub("TestingDraw", "testing_draw")
TestingCall = _stub("TestingCall", "testing_call")
Recipient = _stub("Recipient", "recipient")
Report = _stub("Report", "report")
ReportSchedule = _stub("ReportSchedule", "report_schedule")


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


REPORT_KINDS = Enum(
    "ReportKind",
    {
        k: k
        for k in (
            "court_progress",
            "eap_status",
            "sap_followup",
            "discharge_letter",
            "disclosure_accounting",
        )
    },
)
CALL_REASONS = Enum(
    "CallReason", {"group": "group", "follow_up_plan": "follow_up_plan", "for_cause": "for_cause"}
)

TABLES: list[tuple[str, str, list[tuple[str, Any]]]] = [
    (
        "TestingGroup",
        "testing_group",
        [
            ("program", _key(Program, OnDelete.restrict, null=False, index=True)),
            ("name", (Varchar, _params("", length=80))),
            ("tests_per_week", (Integer, _params(0))),
            ("created_by", _key(StaffUser, OnDelete.set_null, null=True, index=False)),
            ("created_at", (Timestamptz, _params(TimestamptzNow()))),
            ("retired_at", (Timestamptz, _params(None, null=True))),
        ],
    ),
    (
        "TestingAssignment",
        "testing_assignment",
        [
            ("participant", _key(Participant, OnDelete.restrict, null=False, index=True)),
            ("testing_group", _key(TestingGroup, OnDelete.restrict, null=True, index=False)),
            ("effective_on", (Date, _params(None))),
            ("reason", (Text, _params(""))),
            ("assigned_by", _key(StaffUser, OnDelete.set_null, null=True, index=False)),
            ("assigned_at", (Timestamptz, _params(TimestamptzNow()))),
        ],
    ),
    (
        "TestingDraw",
        "testing_draw",
        [
            ("program", _key(Program, OnDelete.restrict, null=False, index=True)),
            ("day", (Date, _params(None))),
            ("drawn_at", (Timestamptz, _params(TimestamptzNow()))),
            ("drawn_by", (Varchar, _params("", length=40))),
            ("groups", (JSON, _params("[]"))),
            ("digest", (Varchar, _params("", length=64))),
        ],
    ),
    (
        "TestingCall",
        "testing_call",
        [
            ("draw", _key(TestingDraw, OnDelete.restrict, null=False, index=True)),
            ("participant", _key(Participant, OnDelete.restrict, null=False, index=True)),
            ("reason", (Varchar, _params("", length=20, choices=CALL_REASONS))),
            ("testing_group", _key(TestingGroup, OnDelete.restrict, null=True, index=False)),
            ("note", (Text, _params(""))),
            ("called_by", (Varchar, _params("", length=40))),
            ("created_at", (Timestamptz, _params(TimestamptzNow()))),
            ("window_opens_at", (Timestamptz, _params(TimestamptzNow()))),
            ("window_closes_at", (Timestamptz, _params(TimestamptzNow(), index=True))),
        ],
    ),
    (
        "TestingCallExcuse",
        "testing_call_excuse",
        [
            (
                "call",
                _key(TestingCall, OnDelete.restrict, null=False, index=False, unique=True),
            ),
            ("reason", (Text, _params(""))),
            ("excused_by", _key(StaffUser, OnDelete.restrict, null=False, index=False)),
            ("excused_at", (Timestamptz, _params(TimestamptzNow()))),
        ],
    ),
    (
        "CallInPin",
        "call_in_pin",
        [
            (
                "participant",
                _key(Participant, OnDelete.restrict, null=False, index=False, unique=True),
            ),
            ("pin_hash", (Varchar, _params("", length=200))),
            ("failed_attempts", (Integer, _params(0))),
            ("locked_until", (Timestamptz, _params(None, null=True))),
            ("set_by", _key(StaffUser, OnDelete.set_null, null=True, index=False)),
            ("set_at", (Timestamptz, _params(TimestamptzNow()))),
        ],
    ),
    (
        "CallInCheck",
        "call_in_check",
        [
            ("participant", _key(Participant, OnDelete.restrict, null=False, index=True)),
            ("day", (Date, _params(None))),
            ("checked_at", (Timestamptz, _params(TimestamptzNow()))),
            ("channel", (Varchar, _params("", length=10))),
            ("called", (Boolean, _params(False))),
        ],
    ),
    (
        "PhoneLineKey",
        "phone_line_key",
        [
            ("program", _key(Program, OnDelete.restrict, null=False, index=True)),
            ("key_hash", (Varchar, _params("", length=64, unique=True))),
            ("label", (Varchar, _params("", length=200))),
            ("created_at", (Timestamptz, _params(TimestamptzNow()))),
            ("revoked_at", (Timestamptz, _params(None, null=True))),
        ],
    ),
    (
        "ReportSchedule",
        "report_schedule",
        [
            ("participant", _key(Participant, OnDelete.restrict, null=False, index=True)),
            ("recipient", _key(Recipient, OnDelete.restrict, null=False, index=False)),
            ("kind", (Varchar, _params("", length=20, choices=REPORT_KINDS))),
            ("frequency", (Varchar, _params("", length=10))),
            ("send_day", (Integer, _params(0))),
            ("created_by", _key(StaffUser, OnDelete.restrict, null=False, index=False)),
            ("created_at", (Timestamptz, _params(TimestamptzNow()))),
            ("ended_at", (Timestamptz, _params(None, null=True))),
            ("ended_by", _key(StaffUser, OnDelete.set_null, null=True, index=False)),
        ],
    ),
    (
        "ReportScheduleRun",
        "report_schedule_run",
        [
            ("schedule", _key(ReportSchedule, OnDelete.restrict, null=False, index=True)),
            ("period_start", (Date, _params(None))),
            ("period_end", (Date, _params(None))),
            ("started_at", (Timestamptz, _params(TimestamptzNow()))),
            ("outcome", (Varchar, _params("", length=10))),
            ("reason", (Text, _params(""))),
            ("report", _key(Report, OnDelete.restrict, null=True, index=False)),
        ],
    ),
]
PROGRAM_COLUMNS: list[tuple[str, Any]] = [
    ("testing_opens_at", (Varchar, _params("06:00", length=5))),
    ("testing_site", (Text, _params(""))),
]


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
    return manager
