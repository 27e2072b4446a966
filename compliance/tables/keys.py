"""Composite and partial unique keys.

Piccolo adds multi-column constraints with ``ALTER TABLE ... ADD CONSTRAINT``, which
SQLite does not support, so these are unique indexes created by raw SQL in the
migrations; both engines enforce them the same way. This list is what the migrations
must have created; tests check each one exists and rejects a duplicate.
"""

from typing import NamedTuple


class UniqueKey(NamedTuple):
    name: str
    table: str
    columns: tuple[str, ...]
    where: str = ""  # a partial index condition, e.g. only the current version

    def ddl(self) -> str:
        cols = ", ".join(f'"{c}"' for c in self.columns)
        where = f" WHERE {self.where}" if self.where else ""
        return f'CREATE UNIQUE INDEX "{self.name}" ON "{self.table}" ({cols}){where}'


UNIQUE_KEYS: tuple[UniqueKey, ...] = (
    UniqueKey("program_membership_user_program_key", "program_membership", ("user", "program")),
    UniqueKey("analyte_program_key_key", "analyte", ("program", "key")),
    UniqueKey(
        "analyte_code_program_system_code_key", "analyte_code", ("program", "coding_system", "code")
    ),
    UniqueKey("participant_program_client_id_key", "participant", ("program", "client_id")),
    UniqueKey("mandate_phase_mandate_sequence_key", "mandate_phase", ("mandate", "sequence")),
    UniqueKey(
        "phase_session_requirement_phase_type_key",
        "phase_session_requirement",
        ("phase", "session_type"),
    ),
    UniqueKey("attendance_record_version_key", "attendance", ("record_uid", "version")),
    UniqueKey(
        "attendance_one_current_version_key", "attendance", ("record_uid",), '"is_current" = true'
    ),
    # One current attendance per participant and scheduled session.
    UniqueKey(
        "attendance_one_current_per_session_key",
        "attendance",
        ("session", "participant"),
        '"is_current" = true AND "session" IS NOT NULL',
    ),
    UniqueKey("drug_test_record_version_key", "drug_test", ("record_uid", "version")),
    UniqueKey(
        "drug_test_one_current_version_key", "drug_test", ("record_uid",), '"is_current" = true'
    ),
    # A lab's accession number names one specimen: re-importing it is a duplicate.
    UniqueKey(
        "drug_test_one_current_accession_key",
        "drug_test",
        ("participant", "lab_name", "accession_id"),
        '"is_current" = true AND "accession_id" <> \'\'',
    ),
    UniqueKey(
        "violation_participant_source_kind_key", "violation", ("participant", "source_key", "kind")
    ),
    UniqueKey(
        "report_series_version_key",
        "report",
        ("participant", "kind", "period_start", "period_end", "version"),
    ),
    # Each audit event follows exactly one other: the hash chain cannot fork.
    UniqueKey("audit_event_prev_hash_key", "audit_event", ("prev_hash",)),
)
