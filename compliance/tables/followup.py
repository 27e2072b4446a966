"""The SAP's follow-up testing plan for a DOT return-to-duty mandate (49 CFR 40.307).

Append-only: changing the plan adds the next version, pointing at the one it replaces,
with who recorded it, when and why; earlier versions stay as they were, because a
report already signed against one must still be explainable."""

from piccolo.columns import Boolean, Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from compliance.core.vocabulary import FollowUpSubstances
from compliance.tables.people import Mandate
from compliance.tables.programs import StaffUser


class FollowUpPlan(Table, tablename="followup_plan"):
    mandate = ForeignKey(references=Mandate, on_delete=OnDelete.restrict, index=True, null=False)
    version = Integer(default=1)  # unique per mandate (raw index in the migration)
    supersedes = ForeignKey(references="self", on_delete=OnDelete.restrict, null=True)
    return_to_duty_on = Date(null=True, default=None)  # null: not yet returned to duty
    tests_first_year = Integer()
    # Later plan years; 0 means "as the SAP directs" (§40.307 sets no floor after year 1).
    tests_per_later_year = Integer(default=0)
    months = Integer()  # how long follow-up testing runs after return to duty, 12..60
    directly_observed = Boolean(default=True)  # §40.67(b)
    substances = Varchar(length=10, choices=FollowUpSubstances)
    set_by = Varchar(length=200)  # the SAP's name
    set_on = Date()
    notes = Text(default="")
    change_reason = Text(default="")  # empty for version 1
    recorded_by = ForeignKey(references=StaffUser, on_delete=OnDelete.restrict, null=False)
    recorded_at = Timestamptz(default=TimestamptzNow())
