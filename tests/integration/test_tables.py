"""Every table round-trips every column on the engine under test, and the keys hold."""

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from piccolo.columns import (
    JSON,
    UUID,
    Array,
    Boolean,
    Bytea,
    Column,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from compliance.core import db
from compliance.tables import ALL_TABLES, Attendance, Participant, Program, StaffUser
from compliance.tables.keys import UNIQUE_KEYS

MOMENT = datetime(2026, 3, 3, 23, 30, 15, 250000, tzinfo=UTC)


def sample_value(column: Column, n: int) -> Any:
    """A non-default value for the column, different for each row ``n``."""
    meta = column._meta
    if meta.choices:
        values = [c.value for c in meta.choices]  # type: ignore[union-attr]
        return values[n % len(values)]
    match column:
        case Varchar():
            return f"{meta.name}-{n}-é"[: column.length]
        case Text():
            return f"{meta.name} line one\nline two ✓ {n}"
        case Boolean():
            return n % 2 == 0
        case Integer():
            return 40 + n
        case Numeric():
            return Decimal("12.5") + n
        case Date():
            return date(2026, 2, 28) + timedelta(days=n)
        case Timestamptz():
            return MOMENT + timedelta(minutes=n)
        case UUID():
            return uuid.uuid4()
        case Array():
            words = [f"a{n}", "attendance"]
            base = column.base_column
            if isinstance(base, Varchar):
                return [w[: base.length] for w in words]
            return words
        case JSON():
            return f'[{{"row": {n}, "reason": "x"}}]'
        case Bytea():
            return b"%PDF-\x00\xff" + bytes([n])  # any byte, NUL included
    raise AssertionError(f"no sample for {type(column).__name__} {meta.name}")


async def insert_row(table: type[Table], n: int, made: dict[type[Table], int]) -> tuple[int, dict]:
    values: dict[str, Any] = {}
    for column in table._meta.columns:
        if isinstance(column, Serial):
            continue
        if isinstance(column, ForeignKey):
            parent = column._foreign_key_meta.resolved_references
            if parent is table:
                values[column._meta.name] = None
                continue
            if parent not in made:
                made[parent], _ = await insert_row(parent, n, made)
            values[column._meta.name] = made[parent]
        else:
            values[column._meta.name] = sample_value(column, n)
    rows = await table.insert(table(**values)).returning(table._meta.primary_key)
    return rows[0]["id"], values


@pytest.mark.parametrize("table", ALL_TABLES, ids=lambda t: t.__name__)
async def test_every_column_round_trips(bound_engine: db.Engine, table: type[Table]) -> None:
    made: dict[type[Table], int] = {}
    row_id, values = await insert_row(table, 1, made)
    stored = await table.select().where(table._meta.primary_key == row_id).first()
    assert stored is not None
    for name, value in values.items():
        got = stored[name]
        if isinstance(value, Decimal):
            got = Decimal(str(got))
        assert got == value, f"{table.__name__}.{name}: wrote {value!r}, read {got!r}"


async def test_composite_unique_keys_reject_duplicates(bound_engine: db.Engine) -> None:
    made: dict[type[Table], int] = {}
    _, values = await insert_row(Participant, 1, made)
    duplicate = {**values, "first_name": "Someone else"}
    with pytest.raises(Exception, match=r"(?i)unique"):
        await Participant.insert(Participant(**duplicate))
    assert await Participant.count() == 1
    assert any(k.table == "participant" for k in UNIQUE_KEYS)


async def test_one_current_version_per_attendance_record(bound_engine: db.Engine) -> None:
    """A correction is a new row; the database refuses two current versions of one record."""
    made: dict[type[Table], int] = {}
    first_id, values = await insert_row(Attendance, 1, made)
    await Attendance.update({Attendance.is_current: True}).where(Attendance.id == first_id)
    v1 = values["version"]
    correction = {
        **values,
        "version": v1 + 1,
        "corrects": first_id,
        "is_current": True,
        "status": "late",
        "minutes_attended": 150,
        "correction_reason": "Sign-in sheet shows arrival at 18:30",
    }
    with pytest.raises(Exception, match=r"(?i)unique"):
        await Attendance.insert(Attendance(**correction))
    async with db.transaction():
        await Attendance.update({Attendance.is_current: False}).where(Attendance.id == first_id)
        await Attendance.insert(Attendance(**correction))
    history = (
        await Attendance.select()
        .where(Attendance.record_uid == values["record_uid"])
        .order_by(Attendance.version)
    )
    assert [(r["version"], r["is_current"], r["corrects"]) for r in history] == [
        (v1, False, None),
        (v1 + 1, True, first_id),
    ]
    assert history[0]["status"] == values["status"]  # the original is untouched


async def test_foreign_keys_are_enforced(bound_engine: db.Engine) -> None:
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        await Participant.insert(
            Participant(
                program=999_999,
                client_id="X",
                first_name="A",
                last_name="B",
                admitted_on=date(2026, 1, 5),
            )
        )


async def test_rolled_back_transaction_writes_nothing(bound_engine: db.Engine) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await Program.insert(Program(code="P1", name="One"))
            await StaffUser.insert(StaffUser(email="a@b.example", full_name="A", password_hash="x"))
            raise RuntimeError("boom")
    assert await Program.count() == 0
    assert await StaffUser.count() == 0
