"""Uploaded files kept in the database rather than on one machine's disk, so that any
instance can read what another was sent: an import's file between its preview and its
commit, and signed consent documents."""

from piccolo.columns import Bytea, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from compliance.tables.testing import ImportBatch


class StagedUpload(Table, tablename="staged_upload"):
    """An import's file while it waits for its commit: removed by the commit or the
    rejection, or once it is older than ``intake.imports.STAGED_FOR``. One per batch,
    so removing one batch's file never takes another's (two previews of the same file
    are two rows)."""

    import_batch = ForeignKey(
        references=ImportBatch, on_delete=OnDelete.cascade, unique=True, null=False
    )
    sha256 = Varchar(length=64)
    size_bytes = Integer(default=0)
    content = Bytea()
    created_at = Timestamptz(default=TimestamptzNow())


class ConsentDocument(Table, tablename="consent_document"):
    """A signed consent's file by its SHA-256 (``Consent.document_sha256``), written once:
    the same scan attached to two consents is kept once."""

    sha256 = Varchar(length=64, unique=True)
    size_bytes = Integer(default=0)
    content = Bytea()
    created_at = Timestamptz(default=TimestamptzNow())
