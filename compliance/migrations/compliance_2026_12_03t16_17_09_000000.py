"""One row per follow-up plan version, so two changes made at once cannot both become
version 2 (raw SQL, as compliance/tables/keys.py explains; a separate migration because
Piccolo runs a migration's raw statements before it creates its tables).

The statement is written out here, not imported, so this migration never changes.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-03T16:17:09:000000"
VERSION = "1.38.0"
DESCRIPTION = "follow-up plan version key"

STATEMENT = (
    'CREATE UNIQUE INDEX "followup_plan_mandate_version_key" '
    'ON "followup_plan" ("mandate", "version")'
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="compliance", description=DESCRIPTION)

    async def create_key():
        await engine_finder().run_ddl(STATEMENT)

    async def drop_key():
        await engine_finder().run_ddl('DROP INDEX IF EXISTS "followup_plan_mandate_version_key"')

    manager.add_raw(create_key)
    manager.add_raw_backwards(drop_key)
    return manager
