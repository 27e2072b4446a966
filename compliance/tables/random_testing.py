"""Random drug testing: testing groups, who is in which, and each day's draw.

Nothing here is edited after it is written, and a call has no state to edit: what
answered it (a specimen collected in its window) or that nothing did (the missed test
recorded when the window closed) is read from the drug tests. A participant changing group is a new
``TestingAssignment`` from a day on; a draw is made once per program and day (a unique
index holds it) and its calls stay as drawn; a call for cause is a call of its own,
added to the day's draw with who made it and why.
"""

from piccolo.columns import JSON, Boolean, Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from compliance.core.vocabulary import CallReason
from compliance.tables.people import Participant
from compliance.tables.programs import Program, StaffUser


class TestingGroup(Table, tablename="testing_group"):
    """A colour or number. Each day it is called with probability tests_per_week / 7,
    weekends and holidays alike, independently of every other day and group."""

    __test__ = False  # a table, not a test class, to pytest

    program = ForeignKey(references=Program, on_delete=OnDelete.restrict, index=True, null=False)
    name = Varchar(length=80)  # unique per program (raw index in the migration)
    tests_per_week = Integer()  # 1..7
    created_by = ForeignKey(references=StaffUser, on_delete=OnDelete.set_null, null=True)
    created_at = Timestamptz(default=TimestamptzNow())
    retired_at = Timestamptz(null=True, default=None)  # no longer drawn from then on


class TestingAssignment(Table, tablename="testing_assignment"):
    """A participant's testing group from ``effective_on`` until their next assignment;
    no group (null) takes them out of the group draw."""

    __test__ = False  # a table, not a test class, to pytest

    participant = ForeignKey(
        references=Participant, on_delete=OnDelete.restrict, index=True, null=False
    )
    testing_group = ForeignKey(references=TestingGroup, on_delete=OnDelete.restrict, null=True)
    effective_on = Date()
    reason = Text(default="")
    assigned_by = ForeignKey(references=StaffUser, on_delete=OnDelete.set_null, null=True)
    assigned_at = Timestamptz(default=TimestamptzNow())


class TestingDraw(Table, tablename="testing_draw"):
    """One program's draw for one day (unique: raw index in the migration). ``groups``
    is every group considered, its odds and whether it was called, as drawn."""

    __test__ = False  # a table, not a test class, to pytest

    program = ForeignKey(references=Program, on_delete=OnDelete.restrict, index=True, null=False)
    day = Date()
    drawn_at = Timestamptz(default=TimestamptzNow())
    drawn_by = Varchar(length=40)  # the audit actor: "system", "cli", "user:12"
    groups = JSON(default="[]")
    digest = Varchar(length=64)  # SHA-256 of the draw as stored; the audit event holds it


class TestingCall(Table, tablename="testing_call"):
    """A participant called to test on the draw's day: by their group, by their SAP
    follow-up plan, or for cause (unique per draw and participant: raw index)."""

    __test__ = False  # a table, not a test class, to pytest

    draw = ForeignKey(references=TestingDraw, on_delete=OnDelete.restrict, index=True, null=False)
    participant = ForeignKey(
        references=Participant, on_delete=OnDelete.restrict, index=True, null=False
    )
    reason = Varchar(length=20, choices=CallReason)
    testing_group = ForeignKey(references=TestingGroup, on_delete=OnDelete.restrict, null=True)
    note = Text(default="")  # why, for a call for cause
    called_by = Varchar(length=40)  # the audit actor
    created_at = Timestamptz(default=TimestamptzNow())
    # When the specimen is due: from the call-in opening (or the call, for cause) for the
    # program's collection_window_hours. A specimen collected in it answers the call;
    # none by its close is a missed test (random_testing/windows.py).
    window_opens_at = Timestamptz()
    window_closes_at = Timestamptz(index=True)


class TestingCallExcuse(Table, tablename="testing_call_excuse"):
    """A call excused by staff before its window closed (in hospital, in court), with who
    and why: the correction of a draw, added beside it. An excused call is not a missed
    test; a missed test already recorded is corrected as a drug test instead."""

    __test__ = False  # a table, not a test class, to pytest

    call = ForeignKey(references=TestingCall, on_delete=OnDelete.restrict, unique=True, null=False)
    reason = Text()
    excused_by = ForeignKey(references=StaffUser, on_delete=OnDelete.restrict, null=False)
    excused_at = Timestamptz(default=TimestamptzNow())


class MissedCheckIn(Table, tablename="missed_check_in"):
    """A participant expected to check in on a drawn day (in one of the draw's groups, on
    a follow-up plan, or called) who had not by the close of the day's collection window
    (unique per draw and participant: raw index). Written once by the windows job; a
    program counts it against the week only under its policy
    (``Program.missed_check_in_counts``)."""

    __test__ = False  # a table, not a test class, to pytest

    draw = ForeignKey(references=TestingDraw, on_delete=OnDelete.restrict, index=True, null=False)
    participant = ForeignKey(
        references=Participant, on_delete=OnDelete.restrict, index=True, null=False
    )
    due_by = Timestamptz()  # the day's check-in closed then
    recorded_at = Timestamptz(default=TimestamptzNow())


class MissedCheckInExcuse(Table, tablename="missed_check_in_excuse"):
    """A missed check-in excused by staff (the phone line was down, in hospital), with
    who and why: added beside it, never an edit. An excused miss counts for nothing."""

    __test__ = False  # a table, not a test class, to pytest

    missed = ForeignKey(
        references=MissedCheckIn, on_delete=OnDelete.restrict, unique=True, null=False
    )
    reason = Text()
    excused_by = ForeignKey(references=StaffUser, on_delete=OnDelete.restrict, null=False)
    excused_at = Timestamptz(default=TimestamptzNow())


class CheckInSweep(Table, tablename="check_in_sweep"):
    """A draw whose day's check-ins have been judged (its misses recorded), so the job
    that runs every minute looks at each day once."""

    __test__ = False  # a table, not a test class, to pytest

    draw = ForeignKey(references=TestingDraw, on_delete=OnDelete.restrict, unique=True, null=False)
    swept_at = Timestamptz(default=TimestamptzNow())
    missed = Integer(default=0)


class CallInPin(Table, tablename="call_in_pin"):
    """A participant's call-in PIN (argon2), with the count of wrong tries since the last
    right one; five in a row lock it for a while. Replaced whole when staff set a new one."""

    __test__ = False  # a table, not a test class, to pytest

    participant = ForeignKey(
        references=Participant, on_delete=OnDelete.restrict, unique=True, null=False
    )
    pin_hash = Varchar(length=200)
    failed_attempts = Integer(default=0)
    locked_until = Timestamptz(null=True, default=None)
    set_by = ForeignKey(references=StaffUser, on_delete=OnDelete.set_null, null=True)
    set_at = Timestamptz(default=TimestamptzNow())


class CallInCheck(Table, tablename="call_in_check"):
    """A participant asking "do I test today?", on the web page or the phone line, and
    what they were told (called or not): the program can show who checked in."""

    __test__ = False  # a table, not a test class, to pytest

    participant = ForeignKey(
        references=Participant, on_delete=OnDelete.restrict, index=True, null=False
    )
    day = Date()
    checked_at = Timestamptz(default=TimestamptzNow())
    channel = Varchar(length=10)  # "web" or "phone"
    called = Boolean(default=False)


class PhoneLineKey(Table, tablename="phone_line_key"):
    """The credential a program's phone line (IVR) calls the call-in API with: only the
    SHA-256 of a 256-bit random key is kept (the key is shown once, when made)."""

    __test__ = False  # a table, not a test class, to pytest

    program = ForeignKey(references=Program, on_delete=OnDelete.restrict, index=True, null=False)
    key_hash = Varchar(length=64, unique=True)
    label = Varchar(length=200, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    revoked_at = Timestamptz(null=True, default=None)
