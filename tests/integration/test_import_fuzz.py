"""Damaged files through the real import endpoints: never a 500, never a partial import.

Each example mutates a valid fixture (flipped bytes, dropped or doubled lines, a cut-off
tail), previews it and, when the preview accepts it, commits it; the database must then
hold exactly what the commit reported, or nothing new."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance.tables import AnalyteResult, Attendance, DrugTest
from tests.support.records import enroll
from tests.support.staff import World, signed_in_world

FIXTURES = Path(__file__).parent.parent / "fixtures"
FILES = [
    ("hl7_oru", FIXTURES / "hl7" / "oru_r01_23_batch_mllp.hl7"),
    ("hl7_oru", FIXTURES / "hl7" / "oru_r01_251_single.hl7"),
    ("drug_test_csv", FIXTURES / "csv" / "drug_tests.csv"),
    ("attendance_csv", FIXTURES / "csv" / "attendance_excel.csv"),
]


@st.composite
def damaged(draw: st.DrawFn) -> tuple[str, bytes]:
    kind, path = draw(st.sampled_from(FILES))
    data = bytearray(path.read_bytes())
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(["flip", "drop_line", "double_line", "truncate", "insert"]))
        lines = bytes(data).split(b"\n") if b"\n" in data else bytes(data).split(b"\r")
        sep = b"\n" if b"\n" in data else b"\r"
        if action == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
        elif action == "drop_line" and len(lines) > 1:
            del lines[draw(st.integers(0, len(lines) - 1))]
            data = bytearray(sep.join(lines))
        elif action == "double_line" and lines:
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i])
            data = bytearray(sep.join(lines))
        elif action == "truncate" and data:
            data = data[: draw(st.integers(0, len(data)))]
        elif action == "insert":
            i = draw(st.integers(0, len(data)))
            data[i:i] = draw(st.sampled_from([b",", b"|", b'"', b"^", b"\\", b"\x00", b"\r\n"]))
    return kind, bytes(data)


@pytest.fixture
async def world(client: httpx.AsyncClient) -> World:
    w = await signed_in_world(client, analytes=True)
    for client_id in [
        "C-1001",
        "C-1002",
        "C-1003",
        "C-1004",
        "C-5001",
        "MRN-100",
        "MRN-200",
        "MRN-300",
        "P-100",
    ]:
        await enroll(client, w.program_a, client_id, "F", "L", "2020-01-01")
    return w


async def counts() -> tuple[int, int, int]:
    return await Attendance.count(), await DrugTest.count(), await AnalyteResult.count()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sample=damaged())
async def test_damaged_files_never_500_and_never_half_import(client, world, sample) -> None:
    kind, data = sample
    before = await counts()
    preview = await client.post(
        "/api/imports",
        data={"program_id": str(world.program_a), "kind": kind},
        files={"file": ("f", data)},
    )
    assert preview.status_code in (201, 422), preview.text[:300]
    body = preview.json()
    if preview.status_code == 422:
        assert body["errors"] and all(
            e["location"] and e["field"] and e["reason"] for e in body["errors"]
        )
        assert await counts() == before
        return
    done = await client.post(f"/api/imports/{body['batch_id']}/commit")
    assert done.status_code in (200, 422), done.text[:300]
    after = await counts()
    if done.status_code == 422:
        assert after == before
    elif kind == "attendance_csv":
        assert after[0] - before[0] == done.json()["created"]
    else:
        assert after[1] - before[1] == done.json()["created"] + done.json()["corrected"]
