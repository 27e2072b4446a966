"""Secure links for officers, the accounting of disclosures, and the e-mail outbox."""

from piccolo.columns import ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from compliance.core.vocabulary import DisclosureKind, LinkScope, OutboxStatus
from compliance.tables.people import Consent, Participant, Recipient
from compliance.tables.programs import Program, StaffUser
from compliance.tables.reporting import Report


class SecureLink(Table, tablename="secure_link"):
    """Only the token's SHA-256 is stored; the token itself exists only in the link sent."""

    token_hash = Varchar(length=64, unique=True)
    scope = Varchar(length=20, choices=LinkScope)
    participant = ForeignKey(
        references=Participant, on_delete=OnDelete.restrict, index=True, null=False
    )
    report = ForeignKey(references=Report, on_delete=OnDelete.restrict, null=True)
    recipient = ForeignKey(references=Recipient, on_delete=OnDelete.restrict, null=False)
    consent = ForeignKey(references=Consent, on_delete=OnDelete.restrict, null=False)
    created_by = ForeignKey(references=StaffUser, on_delete=OnDelete.restrict, null=True)
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    revoked_by = ForeignKey(references=StaffUser, on_delete=OnDelete.restrict, null=True)
    access_code_hash = Varchar(length=255, null=True, default=None, secret=True)
    failed_code_attempts = Integer(default=0)
    max_code_attempts = Integer(default=5)
    use_count = Integer(default=0)
    last_used_at = Timestamptz(null=True, default=None)


class Disclosure(Table):
    """One disclosure for the §2.24-style accounting the client may ask for (3 years)."""

    participant = ForeignKey(
        references=Participant, on_delete=OnDelete.restrict, index=True, null=False
    )
    recipient = ForeignKey(references=Recipient, on_delete=OnDelete.restrict, null=True)
    consent = ForeignKey(references=Consent, on_delete=OnDelete.restrict, null=True)
    report = ForeignKey(references=Report, on_delete=OnDelete.restrict, null=True)
    link = ForeignKey(references=SecureLink, on_delete=OnDelete.restrict, null=True)
    kind = Varchar(length=30, choices=DisclosureKind)
    description = Text()
    purpose = Text(default="")
    occurred_at = Timestamptz(default=TimestamptzNow(), index=True)
    origin = Varchar(length=100, default="")


class OutboxMessage(Table, tablename="outbox_message"):
    """E-mail waits here until delivered, so a down mail server loses nothing. The body
    holds a secure link, so it is stored encrypted (see disclosure/outbox.py)."""

    program = ForeignKey(references=Program, on_delete=OnDelete.restrict, null=True, index=True)
    participant = ForeignKey(references=Participant, on_delete=OnDelete.restrict, null=True)
    link = ForeignKey(references=SecureLink, on_delete=OnDelete.restrict, null=True)
    to_address = Varchar(length=254)
    subject = Varchar(length=300)
    body_text = Text()
    status = Varchar(length=20, choices=OutboxStatus, default=OutboxStatus.pending.value)
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(default=TimestamptzNow(), index=True)
    last_error = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
    sent_at = Timestamptz(null=True, default=None)
