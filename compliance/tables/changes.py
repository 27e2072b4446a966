"""The change counter behind cached views (``compliance.db.records_version``)."""

from piccolo.columns import BigInt
from piccolo.table import Table


class RecordVersion(Table, tablename="record_version"):
    # One row. The database layer adds one in the same commit as any change to the
    # records; nothing else writes it.
    version = BigInt(default=0)
