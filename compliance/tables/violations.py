"""Violations the compliance engine found, kept so officers are told once per violation."""

from piccolo.columns import ForeignKey, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from compliance.core.vocabulary import ViolationKind
from compliance.tables.people import Participant
from compliance.tables.programs import StaffUser


class Violation(Table):
    participant = ForeignKey(
        references=Participant, on_delete=OnDelete.restrict, index=True, null=False
    )
    kind = Varchar(length=30, choices=ViolationKind)
    occurred_at = Timestamptz()  # when it happened (the missed test, the absence)
    known_at = Timestamptz(default=TimestamptzNow())  # when the service learnt of it
    source_key = Varchar(length=120)  # e.g. "drug_test:<record_uid>", dedupes re-evaluation
    description = Text()
    notified_at = Timestamptz(null=True, default=None)
    # A correction can take a violation back (an absence excused afterwards, a positive
    # the MRO overturned): it stays, marked withdrawn, so what officers were told is kept.
    withdrawn_at = Timestamptz(null=True, default=None)
    # A clinician's review closes it on the caseload ("open" = neither withdrawn nor reviewed).
    reviewed_at = Timestamptz(null=True, default=None)
    reviewed_by = ForeignKey(references=StaffUser, on_delete=OnDelete.restrict, null=True)
    review_note = Text(default="")
