"""The append-only audit trail. Each event's MAC covers the previous event's MAC, so an
edited or deleted row breaks the chain from that point on (see compliance/audit.py)."""

from piccolo.columns import Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class AuditEvent(Table, tablename="audit_event"):
    # 1, 2, 3... with no gaps, in chain order; 0 on events written before the keyed chain
    # (plain SHA-256, ordered by id). A gap is a deleted event: the serial id has gaps
    # of its own on PostgreSQL (a rolled-back insert still uses up its number).
    seq = Integer(default=0, index=True)
    occurred_at = Timestamptz(default=TimestamptzNow())
    actor = Varchar(length=120)  # "user:12", "link:4", "system", "cli"
    action = Varchar(length=60, index=True)
    object_type = Varchar(length=60, default="")
    object_id = Varchar(length=80, default="")
    origin = Varchar(length=100, default="")  # client address, or "cli"
    detail = Text(default="{}")  # canonical JSON; never tokens or health information
    prev_hash = Varchar(length=64)
    hash = Varchar(length=64, unique=True)  # HMAC-SHA256 (seq > 0) or SHA-256 (seq 0)
