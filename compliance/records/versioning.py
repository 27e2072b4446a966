"""Corrections never overwrite: a new version row points at the one it corrects, with
who, when and why, and only the newest is ``is_current``. Shared by attendance and
drug tests, whose tables carry the same versioning columns."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from piccolo.table import Table

from compliance.core import db
from compliance.tables import StaffUser


class StaleVersion(Exception):
    """The record was corrected by someone else since it was read; nothing was stored."""


async def add_version(
    table: type[Table],
    current: dict[str, Any],
    changes: dict[str, Any],
    *,
    user_id: int,
    reason: str,
    extra: dict[str, Any] | None = None,
) -> int:
    """Insert the next version of ``current`` with ``changes`` applied; return its id.

    Must run inside ``db.transaction()``; serialises on the record so two corrections
    of one record cannot both succeed.
    """
    await db.serialize(f"record:{table._meta.tablename}:{current['record_uid']}")
    newest = (
        await table.select(table.id)
        .where((table.record_uid == current["record_uid"]) & table.is_current.eq(True))
        .first()
    )
    if newest is None or newest["id"] != current["id"]:
        raise StaleVersion("this record has been corrected since you opened it; reload it")
    await table.update({table.is_current: False}).where(table.id == current["id"])
    values = {k: v for k, v in current.items() if k != "id"}
    values.update(changes)
    values.update(
        version=current["version"] + 1,
        corrects=current["id"],
        is_current=True,
        recorded_by=user_id,
        recorded_at=datetime.now(UTC),
        correction_reason=reason,
        **(extra or {}),
    )
    rows = await table.insert(table(**values)).returning(table.id)
    return rows[0]["id"]


async def first_version_ids(
    table: type[Table], uids: list[uuid.UUID], import_batch: int | None
) -> list[int]:
    """The ids of records just stored as version 1 under ``uids``, in that order: read
    back by the import batch when there is one (one read, not thousands of uids)."""
    query = table.select(table.id, table.record_uid)
    if import_batch is not None:
        query = query.where((table.import_batch == import_batch) & (table.version == 1))
    else:
        query = query.where(table.record_uid.is_in(uids))
    by_uid = {_uuid(r["record_uid"]): r["id"] for r in await query}
    return [by_uid[uid] for uid in uids]


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


async def recorders(rows: list[dict[str, Any]]) -> dict[int, str]:
    """The names of the staff who recorded these versions, by id, in one query."""
    ids = sorted({r["recorded_by"] for r in rows if r["recorded_by"]})
    return {
        u["id"]: u["full_name"]
        for u in await StaffUser.select(StaffUser.id, StaffUser.full_name).where(
            StaffUser.id.is_in(ids or [0])
        )
    }


def version_fields(row: dict[str, Any], recorders: dict[int, str]) -> dict[str, Any]:
    """The versioning columns as a record's view shows them: whose record, which version
    of which, and who recorded it when and why ("import" where no one did)."""
    return {
        "id": row["id"],
        "record_uid": str(row["record_uid"]),
        "version": row["version"],
        "is_current": row["is_current"],
        "corrects": row["corrects"],
        "participant_id": row["participant"],
        "source": row["source"],
        "recorded_by": recorders.get(row["recorded_by"], "import"),
        "recorded_at": row["recorded_at"],
        "correction_reason": row["correction_reason"],
    }


async def versions(table: type[Table], record_uid: Any) -> list[dict[str, Any]]:
    """Every version of one record, oldest first: the history a record page shows."""
    return await table.select().where(table.record_uid == record_uid).order_by(table.version)


V = TypeVar("V")


async def earlier_versions(
    table: type[Table],
    participant_id: int,
    current: list[Any],
    views: Callable[[list[dict[str, Any]]], Awaitable[list[V]]],
) -> dict[int, list[V]]:
    """For each corrected record among ``current`` (current versions of one participant's
    records, already authorised), its earlier versions oldest first, keyed by the current
    version's id: what a report shows so that a correction never silently changes it."""
    corrected = {c.record_uid: c.id for c in current if c.version > 1}
    if not corrected:
        return {}
    rows = (
        await table.select()
        .where(
            table.record_uid.is_in(list(corrected))
            & table.is_current.eq(False)
            & (table.participant == participant_id)
        )
        .order_by(table.version)
    )
    found: dict[int, list[V]] = {}
    for view in await views(rows):
        found.setdefault(corrected[view.record_uid], []).append(view)  # type: ignore[attr-defined]
    return found
