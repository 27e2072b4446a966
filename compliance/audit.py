"""The append-only, hash-chained audit trail: the one function that writes an event,
and the one that checks the chain.

Each event's hash is SHA-256 over the previous event's hash and the event's canonical
content, so editing, inserting or deleting any row breaks the chain from that row on.
Writers serialise on one lock inside their transaction, so the event commits (or rolls
back) together with the change it records, and the chain never forks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from compliance import db
from compliance.tables import AuditEvent

GENESIS = "0" * 64
LOCK = "compliance.audit"
BATCH = 2000


@dataclass(frozen=True)
class Actor:
    """Who did it: ``user:12``, ``link:4``, ``cli``, ``system``; and from where."""

    ref: str
    origin: str = ""


SYSTEM = Actor("system")
CLI = Actor("cli", "cli")


def canonical_detail(detail: dict[str, Any] | None) -> str:
    return json.dumps(detail or {}, sort_keys=True, separators=(",", ":"), default=str)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(prev_hash: str, row: dict[str, Any]) -> str:
    content = json.dumps(
        [
            row["actor"],
            row["action"],
            row["object_type"],
            row["object_id"],
            row["origin"],
            _stamp(row["occurred_at"]),
            row["detail"],
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


async def record(
    action: str,
    actor: Actor,
    object_type: str = "",
    object_id: str | int = "",
    detail: dict[str, Any] | None = None,
) -> str:
    """Append one event and return its hash. Joins the caller's transaction if any.

    ``detail`` must never hold tokens, passwords or health information.
    """
    async with db.transaction():
        await db.serialize(LOCK)
        last = (
            await AuditEvent.select(AuditEvent.hash)
            .order_by(AuditEvent.id, ascending=False)
            .first()
        )
        prev = last["hash"] if last else GENESIS
        row = {
            "actor": actor.ref,
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id)[:80],
            "origin": actor.origin[:100],
            "occurred_at": datetime.now(UTC),
            "detail": canonical_detail(detail),
        }
        digest = event_hash(prev, row)
        await AuditEvent.insert(AuditEvent(**row, prev_hash=prev, hash=digest))
        return digest


@dataclass(frozen=True)
class ChainReport:
    events: int
    broken_at: int | None = None  # id of the first event that does not verify
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None


async def _events() -> AsyncIterator[dict[str, Any]]:
    after = 0
    while True:
        rows = (
            await AuditEvent.select()
            .where(AuditEvent.id > after)
            .order_by(AuditEvent.id)
            .limit(BATCH)
        )
        if not rows:
            return
        for row in rows:
            yield row
        after = rows[-1]["id"]


async def verify_chain() -> ChainReport:
    """Recompute every hash in order; name the first event that does not fit."""
    prev = GENESIS
    count = 0
    async for row in _events():
        count += 1
        if row["prev_hash"] != prev:
            return ChainReport(
                count, row["id"], "its previous-hash does not match the event before"
            )
        if event_hash(prev, row) != row["hash"]:
            return ChainReport(count, row["id"], "its content does not match its hash")
        prev = row["hash"]
    return ChainReport(count)
