"""Issue 21: one draw per program and day, one call per participant and draw, one group
of a name per program (raw SQL, as compliance/tables/keys.py explains; a separate
migration because Piccolo runs a migration's raw statements before its tables).

The statements are written out here, not imported, so this migration never changes.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-06T01:00:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "random testing and report schedule keys"

STATEMENTS = [
    'CREATE UNIQUE INDEX "testing_draw_program_day_key" ON "testing_draw" ("program", "day")',
    'CREATE UNIQUE INDEX "testing_call_draw_participant_key" '
    'ON "testing_call" ("draw", "participant")',
    'CREATE UNIQUE INDEX "testing_group_program_name_key" ON "testing_group" ("program", "name")',
    'CREATE INDEX "testing_assignment_participant_day" '
    'ON "testing_assignment" ("participant", "effective_on")',
    'CREATE UNIQUE INDEX "report_schedule_run_period_key" '
    'ON "report_schedule_run" ("schedule", "period_start")',
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
