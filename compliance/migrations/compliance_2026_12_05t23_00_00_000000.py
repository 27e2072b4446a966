"""Issue 20, no local state an instance depends on: an import's file waits for its
commit in the database (staged_upload), and signed consent documents are kept there
(consent_document), so any instance reads what another was sent. Written by hand in
the auto generator's form."""

from typing import Any

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import Bytea, ForeignKey, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-12-05T23:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "staged_upload and consent_document: uploaded files in the database"


class ImportBatch(Table, tablename="import_batch", schema=None):
    id = Serial(
        null=False,
        primary_key=True,
        unique=False,
        index=False,
        index_method=IndexMethod.btree,
        choices=None,
        db_column_name="id",
        secret=False,
    )


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


def _file_columns(manager: MigrationManager, class_name: str, tablename: str) -> None:
    """sha256, size_bytes, content and created_at: what both tables keep of a file."""
    columns: list[tuple[str, Any, dict[str, Any]]] = [
        ("sha256", Varchar, _params("", length=64, unique=tablename == "consent_document")),
        ("size_bytes", Integer, _params(0)),
        ("content", Bytea, _params(b"")),
        ("created_at", Timestamptz, _params(TimestamptzNow())),
    ]
    for name, column_class, params in columns:
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

    manager.add_table(
        class_name="StagedUpload", tablename="staged_upload", schema=None, columns=None
    )
    manager.add_column(
        table_class_name="StagedUpload",
        tablename="staged_upload",
        column_name="import_batch",
        db_column_name="import_batch",
        column_class_name="ForeignKey",
        column_class=ForeignKey,
        params={
            "references": ImportBatch,
            "on_delete": OnDelete.cascade,
            "on_update": OnUpdate.cascade,
            "target_column": None,
            "null": False,
            "primary_key": False,
            "unique": True,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )
    _file_columns(manager, "StagedUpload", "staged_upload")

    manager.add_table(
        class_name="ConsentDocument", tablename="consent_document", schema=None, columns=None
    )
    _file_columns(manager, "ConsentDocument", "consent_document")
    return manager
