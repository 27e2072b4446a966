"""Signed reports. The PDF itself lives in the report store, named by its SHA-256."""

from piccolo.columns import Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from compliance.core.vocabulary import ReportKind, ReportStatus
from compliance.tables.people import Consent, Mandate, Participant, Recipient
from compliance.tables.programs import StaffUser


class Report(Table):
    public_id = Varchar(length=32, unique=True)  # printed on the PDF and in its QR code
    participant = ForeignKey(
        references=Participant, on_delete=OnDelete.restrict, index=True, null=False
    )
    mandate = ForeignKey(references=Mandate, on_delete=OnDelete.restrict, null=True)
    kind = Varchar(length=30, choices=ReportKind)
    period_start = Date()
    period_end = Date()
    version = Integer(default=1)
    supersedes = ForeignKey(references="self", on_delete=OnDelete.restrict, null=True)
    status = Varchar(length=20, choices=ReportStatus, default=ReportStatus.current.value)
    superseded_at = Timestamptz(null=True, default=None)
    sha256 = Varchar(length=64, unique=True)
    stored_path = Varchar(length=500)
    size_bytes = Integer(default=0)
    recipient = ForeignKey(references=Recipient, on_delete=OnDelete.restrict, null=True)
    consent = ForeignKey(references=Consent, on_delete=OnDelete.restrict, null=True)
    narrative = Text(default="")
    signer = ForeignKey(references=StaffUser, on_delete=OnDelete.restrict, null=True)
    signer_name = Varchar(length=200, default="")
    signer_credentials = Varchar(length=120, default="")
    signed_at = Timestamptz(null=True, default=None)
    certificate_sha256 = Varchar(length=64, default="")  # fingerprint of the signing cert
    created_by = ForeignKey(references=StaffUser, on_delete=OnDelete.restrict, null=True)
    created_at = Timestamptz(default=TimestamptzNow())
    revoked_at = Timestamptz(null=True, default=None)
    revocation_reason = Text(default="")
    # The queued job that made it (unique where set): a job run twice makes one report.
    job_key = Varchar(length=100, null=True, default=None)
