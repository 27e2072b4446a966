"""Issue 16, identity check on lab results: an import batch keeps the clinicians'
confirmations of rows whose name or date of birth differs from the client's record.
Written by hand in the auto generator's form."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import JSON
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T11:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "import batches keep identity confirmations"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="compliance", description=DESCRIPTION)

    manager.add_column(
        table_class_name="ImportBatch",
        tablename="import_batch",
        column_name="identity_confirmations",
        db_column_name="identity_confirmations",
        column_class_name="JSON",
        column_class=JSON,
        params={
            "default": "[]",
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
