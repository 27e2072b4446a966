"""Reports that go out on a schedule: per participant, recipient and report kind, weekly
on a weekday or monthly on a day, and each run's outcome.

A schedule is not edited: ending it sets ``ended_at`` (who, when; audited) and a new one
is made for a change. A run is one period's attempt, unique per schedule and period, so
a period is sent once however many workers run the job; its outcome says what happened
(sent, or skipped and why: no covering consent at send time, the signer's account
closed)."""

from piccolo.columns import Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from compliance.core.vocabulary import ReportKind
from compliance.tables.people import Participant, Recipient
from compliance.tables.programs import StaffUser
from compliance.tables.reporting import Report


class ReportSchedule(Table, tablename="report_schedule"):
    participant = ForeignKey(
        references=Participant, on_delete=OnDelete.restrict, index=True, null=False
    )
    recipient = ForeignKey(references=Recipient, on_delete=OnDelete.restrict, null=False)
    kind = Varchar(length=20, choices=ReportKind)
    frequency = Varchar(length=10)  # "weekly" or "monthly"
    # Weekly: the weekday it goes out (0 = Monday); monthly: the day of the month (1-28).
    send_day = Integer()
    # Who signs the reports: the staff member who set the schedule up.
    created_by = ForeignKey(references=StaffUser, on_delete=OnDelete.restrict, null=False)
    created_at = Timestamptz(default=TimestamptzNow())
    ended_at = Timestamptz(null=True, default=None)
    ended_by = ForeignKey(references=StaffUser, on_delete=OnDelete.set_null, null=True)


class ReportScheduleRun(Table, tablename="report_schedule_run"):
    schedule = ForeignKey(
        references=ReportSchedule, on_delete=OnDelete.restrict, index=True, null=False
    )
    period_start = Date()  # unique with schedule (raw index in the migration)
    period_end = Date()
    started_at = Timestamptz(default=TimestamptzNow())
    outcome = Varchar(length=10)  # "running", "sent" or "skipped"
    reason = Text(default="")  # why it was skipped
    report = ForeignKey(references=Report, on_delete=OnDelete.restrict, null=True)
