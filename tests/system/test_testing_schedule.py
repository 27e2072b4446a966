"""Random testing on the real scheduler: a server started as `make run` starts it draws
the day by itself, and when a called participant's window has closed with no specimen
it records the missed test and its violation, with nobody asking."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from compliance.core import db
from compliance.tables import (
    DrugTest,
    Participant,
    Program,
    TestingAssignment,
    TestingDraw,
    TestingGroup,
    Violation,
)
from tests.support.cli import settings_env
from tests.support.databases import ENGINE
from tests.support.live import serve

pytestmark = [
    pytest.mark.db,
    pytest.mark.skipif(
        ENGINE == "postgres",
        reason="through the queue the jobs are SAQ cron jobs, which fire on the minute "
        "(test_jobs runs them through the queue); in process they run as the server starts",
    ),
]

# Zones to choose from: the test wants the program's clock past 01:00 and before 23:00.
ZONES = ("America/Chicago", "Europe/Berlin", "Asia/Tokyo", "Pacific/Auckland", "UTC")


def _zone_with_room() -> str:
    for name in ZONES:
        if 2 <= datetime.now(ZoneInfo(name)).hour <= 22:
            return name
    return "UTC"


async def _until(found, seconds: float = 30) -> bool:
    for _ in range(int(seconds / 0.25)):
        if await found():
            return True
        await asyncio.sleep(0.25)
    return False


async def test_the_server_draws_and_closes_windows_by_itself(
    bound_engine: db.Engine, database_url: str, tmp_path: Path
) -> None:
    zone = _zone_with_room()
    program = Program(
        code="SCHED",
        name="Scheduled IOP",
        time_zone=zone,
        testing_opens_at="00:00",
        collection_window_hours=1,  # today's window closed at 01:00
    )
    await program.save()
    today = datetime.now(ZoneInfo(zone)).date()
    person = Participant(
        program=program.id,
        client_id="S1",
        first_name="Sam",
        last_name="Sched",
        admitted_on=date(2026, 1, 5),
    )
    await person.save()
    every_day = TestingGroup(program=program.id, name="Daily", tests_per_week=7)
    await every_day.save()
    await TestingAssignment(
        participant=person.id, testing_group=every_day.id, effective_on=date(2026, 1, 5)
    ).save()

    env = {**settings_env(database_url, tmp_path), "BACKGROUND_JOBS": "1"}
    with serve(env, tmp_path / "server.log") as server:
        drawn = await _until(
            lambda: TestingDraw.exists().where(
                (TestingDraw.program == program.id) & (TestingDraw.day == today)
            )
        )
        missed = await _until(
            lambda: DrugTest.exists().where(
                (DrugTest.participant == person.id) & (DrugTest.collection_status == "no_show")
            )
        )
        log = await asyncio.to_thread(server.stop)
    assert drawn, log[-2000:]
    assert missed, log[-2000:]
    [row] = await TestingDraw.select().where(TestingDraw.program == program.id)
    assert row["drawn_by"] == "system"
    test = await DrugTest.select().where(DrugTest.participant == person.id).first()
    assert test["source"] == "system" and test["called_at"] < datetime.now(UTC)
    assert await Violation.count().where(Violation.participant == person.id) == 1
    assert "Traceback" not in log
