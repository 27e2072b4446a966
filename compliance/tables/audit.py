"""The append-only audit trail. Each event's hash covers the previous event's hash, so an
edited or deleted row breaks the chain from that point on."""

from piccolo.columns import Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class AuditEvent(Table, tablename="audit_event"):
    occurred_at = Timestamptz(default=TimestamptzNow())
    actor = Varchar(length=120)  # "user:12", "link:4", "system", "cli"
    action = Varchar(length=60, index=True)
    object_type = Varchar(length=60, default="")
    object_id = Varchar(length=80, default="")
    origin = Varchar(length=100, default="")  # client address, or "cli"
    detail = Text(default="{}")  # canonical JSON; never tokens or health information
    prev_hash = Varchar(length=64)
    hash = Varchar(length=64, unique=True)
