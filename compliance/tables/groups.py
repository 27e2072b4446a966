"""Standing groups (a weekly schedule and its members) and who a session expects.

A group is how a program runs its evening groups: the same people, the same days and
time. Sessions are scheduled from it, and a session's roster lists its members; an
individual or ad-hoc session lists the clients named for it (``SessionParticipant``).
Membership is never deleted: a member who leaves gets ``removed_at``, so the roster of
a session held before still lists them.
"""

from piccolo.columns import Array, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from compliance.core.vocabulary import SessionType
from compliance.tables.people import Participant
from compliance.tables.programs import Program, StaffUser


class TreatmentGroup(Table, tablename="treatment_group"):
    program = ForeignKey(references=Program, on_delete=OnDelete.restrict, index=True, null=False)
    name = Varchar(length=200)
    session_type = Varchar(length=20, choices=SessionType, default=SessionType.group.value)
    scheduled_minutes = Integer()
    weekdays = Array(base_column=Varchar(length=3))  # Weekday values, Monday first
    start_time = Varchar(length=5)  # "18:00" on the program's clock
    location = Varchar(length=200, default="")
    facilitator_name = Varchar(length=200, default="")
    created_by = ForeignKey(references=StaffUser, on_delete=OnDelete.set_null, null=True)
    created_at = Timestamptz(default=TimestamptzNow())


class GroupMember(Table, tablename="group_member"):
    treatment_group = ForeignKey(
        references=TreatmentGroup, on_delete=OnDelete.restrict, index=True, null=False
    )
    participant = ForeignKey(
        references=Participant, on_delete=OnDelete.restrict, index=True, null=False
    )
    added_by = ForeignKey(references=StaffUser, on_delete=OnDelete.set_null, null=True)
    added_at = Timestamptz(default=TimestamptzNow())
    removed_at = Timestamptz(null=True, default=None)


class SessionParticipant(Table, tablename="session_participant"):
    """A client a session expects besides its group's members: the client of an
    individual session, or one added to an ad-hoc session."""

    session = ForeignKey(
        references="compliance.tables.attendance.TreatmentSession",
        on_delete=OnDelete.restrict,
        index=True,
        null=False,
    )
    participant = ForeignKey(
        references=Participant, on_delete=OnDelete.restrict, index=True, null=False
    )
    added_by = ForeignKey(references=StaffUser, on_delete=OnDelete.set_null, null=True)
    added_at = Timestamptz(default=TimestamptzNow())
