"""The change counters behind cached views (``compliance.core.db.records_version`` and
``compliance.core.db.participant_version``). The database layer writes them in the same
commit as the change they count; nothing else does."""

from piccolo.columns import BigInt, Integer
from piccolo.table import Table


class RecordVersion(Table, tablename="record_version"):
    # One row. ``version``: one more for every change to the records. ``shared``: one
    # more for every change not declared as one participant's (``db.touching``).
    version = BigInt(default=0)
    shared = BigInt(default=0)


class ParticipantVersion(Table, tablename="participant_version"):
    # One row per participant with a declared change: one more for each.
    participant = Integer(unique=True)
    version = BigInt(default=0)
