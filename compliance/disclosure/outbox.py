"""E-mail through an outbox: a message is a row first (in the same transaction as what
caused it), then delivered over SMTP with retries and back-off, so a down mail server
loses nothing. Bodies hold secure links, so they are encrypted at rest with a key
derived from SECRET_KEY; the database never holds a usable token, and staff reading
the outbox see the messages with their links hidden.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from compliance.core.redact import redact
from compliance.core.settings import Settings
from compliance.core.vocabulary import OutboxStatus
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.tables import OutboxMessage

BACKOFF = [
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
    timedelta(hours=8),
]
MAX_ATTEMPTS = len(BACKOFF) + 1  # then "failed", shown to staff
LEASE = timedelta(minutes=5)  # a claimed message is left alone this long
SMTP_TIMEOUT_S = 20


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(f"outbox:{secret_key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(secret_key: str, text: str) -> str:
    return _fernet(secret_key).encrypt(text.encode()).decode()


def unseal(secret_key: str, sealed: str) -> str:
    try:
        return _fernet(secret_key).decrypt(sealed.encode()).decode()
    except InvalidToken:
        return "(cannot be read: SECRET_KEY has changed since this message was written)"


async def enqueue(
    settings: Settings,
    *,
    to: str,
    subject: str,
    body: str,
    program: int | None,
    participant: int | None = None,
    link: int | None = None,
) -> int:
    """Call inside the transaction that makes the message necessary."""
    row = OutboxMessage(
        program=program,
        participant=participant,
        link=link,
        to_address=to,
        subject=subject,
        body_text=seal(settings.secret_key, body),
        status=OutboxStatus.pending.value,
        next_attempt_at=datetime.now(UTC),
    )
    await row.save()
    return row.id


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


async def _claim(row: dict[str, Any], now: datetime) -> bool:
    """Take a due message for this run; another process running at once skips it. The
    lease runs from the real clock, not the run's start (a slow server can make a run
    outlast a lease)."""
    lease_until = max(now, datetime.now(UTC)) + LEASE
    claimed = (
        await OutboxMessage.update({OutboxMessage.next_attempt_at: lease_until})
        .where(
            (OutboxMessage.id == row["id"])
            & (OutboxMessage.status == OutboxStatus.pending.value)
            & (OutboxMessage.next_attempt_at == row["next_attempt_at"])
        )
        .returning(OutboxMessage.id)
    )
    return bool(claimed)


async def _send(settings: Settings, row: dict[str, Any]) -> None:
    import aiosmtplib

    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = row["to_address"]
    message["Subject"] = row["subject"]
    message["Message-ID"] = f"<outbox-{row['id']}@compliance>"  # retries are recognisable
    message.set_content(unseal(settings.secret_key, row["body_text"]))
    await aiosmtplib.send(
        message,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username or None,
        password=settings.smtp_password or None,
        use_tls=settings.smtp_security == "tls",
        start_tls=True if settings.smtp_security == "starttls" else False,
        timeout=SMTP_TIMEOUT_S,
    )


async def deliver_due(
    settings: Settings, now: datetime | None = None, limit: int = 50
) -> DeliveryReport:
    """Send what is due; a failure schedules the next try (30 s, 2 min, ... 8 h), and
    after the last one the message is marked failed for staff to see."""
    report = DeliveryReport()
    if not settings.smtp_host:
        return report
    now = now or datetime.now(UTC)
    due = (
        await OutboxMessage.select()
        .where(
            (OutboxMessage.status == OutboxStatus.pending.value)
            & (OutboxMessage.next_attempt_at <= now)
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    for row in due:
        if not await _claim(row, now):
            continue
        try:
            await _send(settings, row)
        except Exception as exc:  # any SMTP or network failure: try again later
            failed_at = max(now, datetime.now(UTC))
            attempts = row["attempts"] + 1
            give_up = attempts >= MAX_ATTEMPTS
            await OutboxMessage.update(
                {
                    OutboxMessage.attempts: attempts,
                    OutboxMessage.last_error: f"{exc.__class__.__name__}: {exc}"[:500],
                    OutboxMessage.status: (
                        OutboxStatus.failed.value if give_up else OutboxStatus.pending.value
                    ),
                    OutboxMessage.next_attempt_at: failed_at
                    + BACKOFF[min(attempts, len(BACKOFF)) - 1],
                }
            ).where(OutboxMessage.id == row["id"])
            if give_up:
                report.failed += 1
            else:
                report.retrying += 1
            continue
        await OutboxMessage.update(
            {
                OutboxMessage.status: OutboxStatus.sent.value,
                OutboxMessage.sent_at: datetime.now(UTC),
                OutboxMessage.attempts: row["attempts"] + 1,
                OutboxMessage.last_error: "",
            }
        ).where(OutboxMessage.id == row["id"])
        report.sent += 1
    return report


@dataclass
class OutboxView:
    id: int
    to_address: str
    subject: str
    body: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str
    created_at: datetime
    sent_at: datetime | None


HIDDEN = "[hidden]"


def shown_to_staff(body: str) -> str:
    """A message as staff may read it: the text, with every secure or set-password
    link's token hidden. A link's address is shown once, to whoever made it; the outbox
    is open to every user of the program on every visit, so a live address here would
    let any of them open the client's record as the officer."""
    return redact(body, HIDDEN)


async def program_outbox(
    principal: Principal, settings: Settings, program_id: int, limit: int = 200
) -> list[OutboxView]:
    """The staff page's list: the program's messages, newest first, bodies readable
    with their links hidden (``shown_to_staff``)."""
    access.require_program(principal, program_id)
    rows = (
        await OutboxMessage.select()
        .where(OutboxMessage.program == program_id)
        .order_by(OutboxMessage.id, ascending=False)
        .limit(limit)
    )
    return [
        OutboxView(
            r["id"],
            r["to_address"],
            r["subject"],
            shown_to_staff(unseal(settings.secret_key, r["body_text"])),
            r["status"],
            r["attempts"],
            r["next_attempt_at"],
            r["last_error"],
            r["created_at"],
            r["sent_at"],
        )
        for r in rows
    ]
