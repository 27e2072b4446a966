"""Scheduled sessions and attendance. Attendance rows are versioned: a correction is a
new row that ``corrects`` the one before, with who, when and why; the old row stays."""

from piccolo.columns import UUID, Boolean, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from compliance.core.vocabulary import AttendanceStatus, RecordSource, SessionType
from compliance.tables.groups import TreatmentGroup
from compliance.tables.people import Participant
from compliance.tables.programs import Program, StaffUser
from compliance.tables.testing import ImportBatch


class TreatmentSession(Table, tablename="treatment_session"):
    program = ForeignKey(references=Program, on_delete=OnDelete.restrict, index=True, null=False)
    session_type = Varchar(length=20, choices=SessionType)
    title = Varchar(length=200, default="")
    starts_at = Timestamptz(index=True)
    scheduled_minutes = Integer()
    facilitator = ForeignKey(references=StaffUser, on_delete=OnDelete.set_null, null=True)
    facilitator_name = Varchar(length=200, default="")
    location = Varchar(length=200, default="")
    # The standing group it is a meeting of (its members are the roster), if any.
    treatment_group = ForeignKey(
        references=TreatmentGroup, on_delete=OnDelete.restrict, null=True, index=True
    )
    cancelled_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class Attendance(Table):
    """One participant at one session, or at an outside meeting (``session`` null, with proof)."""

    record_uid = UUID(index=True)  # the same for every version of one attendance record
    version = Integer(default=1)
    corrects = ForeignKey(references="self", on_delete=OnDelete.restrict, null=True)
    is_current = Boolean(default=True, index=True)
    participant = ForeignKey(
        references=Participant, on_delete=OnDelete.restrict, index=True, null=False
    )
    session = ForeignKey(
        references=TreatmentSession, on_delete=OnDelete.restrict, null=True, index=True
    )
    session_type = Varchar(length=20, choices=SessionType)
    occurred_at = Timestamptz(index=True)
    scheduled_minutes = Integer()
    status = Varchar(length=20, choices=AttendanceStatus)
    minutes_attended = Integer(default=0)
    meeting_name = Varchar(length=200, default="")  # outside meetings
    proof = Text(default="")  # e.g. "signed attendance slip, chair J. Doe"
    proof_document_sha256 = Varchar(length=64, default="")
    note = Text(default="")
    source = Varchar(length=10, choices=RecordSource, default=RecordSource.manual.value)
    import_batch = ForeignKey(references=ImportBatch, on_delete=OnDelete.restrict, null=True)
    recorded_by = ForeignKey(references=StaffUser, on_delete=OnDelete.restrict, null=True)
    recorded_at = Timestamptz(default=TimestamptzNow())
    correction_reason = Text(default="")
