"""Issue 20, jobs safe to run twice: a report made by a queued job keeps the job's key,
so the job run again (its worker killed after the report was recorded) finds that report
instead of making a second version. Written by hand in the auto generator's form."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-05T22:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "report.job_key: the job that made the report"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="compliance", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Report",
        tablename="report",
        column_name="job_key",
        db_column_name="job_key",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 100,
            "default": None,
            "null": True,
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
