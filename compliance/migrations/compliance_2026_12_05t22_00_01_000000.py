"""One report per job key (raw SQL, as compliance/tables/keys.py explains; a separate
migration because Piccolo runs a migration's raw statements before its other steps).

The statement is written out here, not imported, so this migration never changes.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-05T22:00:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "report job key"

STATEMENT = 'CREATE UNIQUE INDEX "report_job_key" ON "report" ("job_key") WHERE "job_key" IS NOT NULL'


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="compliance", description=DESCRIPTION)

    async def create_key():
        await engine_finder().run_ddl(STATEMENT)

    async def drop_key():
        await engine_finder().run_ddl('DROP INDEX IF EXISTS "report_job_key"')

    manager.add_raw(create_key)
    manager.add_raw_backwards(drop_key)
    return manager
