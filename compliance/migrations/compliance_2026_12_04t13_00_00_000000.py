"""Issue 17, the keyed audit chain: each event's sequence number in the chain. Events
written before this migration keep 0 and their plain SHA-256 chain (compliance/audit.py
verifies them as the legacy segment). Written by hand in the auto generator's form."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T13:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "audit chain: sequence numbers for the keyed (HMAC) chain"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="compliance", description=DESCRIPTION)

    manager.add_column(
        table_class_name="AuditEvent",
        tablename="audit_event",
        column_name="seq",
        db_column_name="seq",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": 0,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": True,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
