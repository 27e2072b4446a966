"""Composite and partial unique keys (see compliance/tables/keys.py for why raw SQL).

The statements are written out here, not imported, so this migration never changes.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T12:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique keys"

STATEMENTS = [
    'CREATE UNIQUE INDEX "program_membership_user_program_key" ON "program_membership" ("user", "program")',
    'CREATE UNIQUE INDEX "analyte_program_key_key" ON "analyte" ("program", "key")',
    'CREATE UNIQUE INDEX "analyte_code_program_system_code_key" ON "analyte_code" ("program", "coding_system", "code")',
    'CREATE UNIQUE INDEX "participant_program_client_id_key" ON "participant" ("program", "client_id")',
    'CREATE UNIQUE INDEX "mandate_phase_mandate_sequence_key" ON "mandate_phase" ("mandate", "sequence")',
    'CREATE UNIQUE INDEX "phase_session_requirement_phase_type_key" ON "phase_session_requirement" ("phase", "session_type")',
    'CREATE UNIQUE INDEX "attendance_record_version_key" ON "attendance" ("record_uid", "version")',
    'CREATE UNIQUE INDEX "attendance_one_current_version_key" ON "attendance" ("record_uid") WHERE "is_current" = true',
    'CREATE UNIQUE INDEX "attendance_one_current_per_session_key" ON "attendance" ("session", "participant") WHERE "is_current" = true AND "session" IS NOT NULL',
    'CREATE UNIQUE INDEX "drug_test_record_version_key" ON "drug_test" ("record_uid", "version")',
    'CREATE UNIQUE INDEX "drug_test_one_current_version_key" ON "drug_test" ("record_uid") WHERE "is_current" = true',
    'CREATE UNIQUE INDEX "drug_test_one_current_accession_key" ON "drug_test" ("participant", "lab_name", "accession_id") WHERE "is_current" = true AND "accession_id" <> \'\'',
    'CREATE UNIQUE INDEX "violation_participant_source_kind_key" ON "violation" ("participant", "source_key", "kind")',
    'CREATE UNIQUE INDEX "report_series_version_key" ON "report" ("participant", "kind", "period_start", "period_end", "version")',
    'CREATE UNIQUE INDEX "audit_event_prev_hash_key" ON "audit_event" ("prev_hash")',
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="compliance", description=DESCRIPTION)

    async def create_keys():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    async def drop_keys():
        engine = engine_finder()
        for statement in STATEMENTS:
            name = statement.split('"')[1]
            await engine.run_ddl(f'DROP INDEX IF EXISTS "{name}"')

    manager.add_raw(create_keys)
    manager.add_raw_backwards(drop_keys)
    return manager
