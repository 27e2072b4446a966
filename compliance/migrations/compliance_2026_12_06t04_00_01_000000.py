"""Issue 21: one missed check-in per participant and draw (raw SQL, as
compliance/tables/keys.py explains; a separate migration because Piccolo runs a
migration's raw statements before its tables).

The statements are written out here, not imported, so this migration never changes.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-06T04:00:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "one missed check-in per participant and draw"

STATEMENTS = [
    'CREATE UNIQUE INDEX "missed_check_in_draw_participant_key" '
    'ON "missed_check_in" ("draw", "participant")',
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="compliance", description=DESCRIPTION)

    async def create_keys():
        for statement in STATEMENTS:
            await engine_finder().run_ddl(statement)

    async def drop_keys():
        for statement in STATEMENTS:
            name = statement.split('"')[1]
            await engine_finder().run_ddl(f'DROP INDEX IF EXISTS "{name}"')

    manager.add_raw(create_keys)
    manager.add_raw_backwards(drop_keys)
    return manager
