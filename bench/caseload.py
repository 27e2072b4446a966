"""Evaluating a whole caseload: 5,000 participants over 26 weeks (about 390,000 attendance
rows and 260,000 drug tests) read from a fresh SQLite database and judged by the engine.

Prints the end-to-end median (database to results) and the pure engine's share of it,
as the app runs it (split across worker processes, one per core) and, for comparison
in the same run, all in one process. Quick mode (BENCH_QUICK=1): 1,100 participants (still
above the sharding threshold, so the workers path runs) over 2 weeks, one timed run."""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.figures import Figure, sized
from compliance import audit
from compliance.core import db, workers
from compliance.core.settings import load_settings, parse_database_url
from compliance.core.vocabulary import Role
from compliance.engine import caseload as caseload_module
from compliance.records.analytes import seed_program_analytes
from compliance.staff.accounts import create_staff_user, load_principal
from compliance.tables import (
    Analyte,
    AnalyteResult,
    Attendance,
    DrugTest,
    Mandate,
    MandatePhase,
    Participant,
    PhaseSessionRequirement,
    Program,
)

BIN = Path(sys.executable).parent
RUNS = sized(3, 1)
PARTICIPANTS, WEEKS = sized((5000, 26), (1100, 2))
TODAY = date(2026, 6, 28)  # a Sunday: the 26th week is complete
PANEL = ("thc", "cocaine", "morphine", "amphetamine", "fentanyl")


async def seed(participants: int, weeks: int) -> None:
    """Three group sessions (shared times) and two random tests a week per participant,
    with about 3% unexcused absences, 2% missed and 4% confirmed positive tests."""
    rng = random.Random(7)
    program = Program(code="BENCH", name="Bench IOP", time_zone="America/Chicago")
    await program.save()
    pid = program.id
    await seed_program_analytes(pid)
    analyte_ids = {
        r["key"]: (r["id"], r["name"])
        for r in await Analyte.select(Analyte.id, Analyte.key, Analyte.name).where(
            Analyte.program == pid
        )
    }
    tz = ZoneInfo("America/Chicago")
    first = TODAY - timedelta(weeks=weeks) + timedelta(days=1)
    async with db.transaction():
        await db.insert_many(
            Participant,
            [
                {
                    "program": pid,
                    "client_id": f"B-{n:05d}",
                    "first_name": f"Client{n}",
                    "last_name": "Bench",
                    "admitted_on": first,
                }
                for n in range(participants)
            ],
        )
    people = [r["id"] for r in await Participant.select(Participant.id)]
    async with db.transaction():
        await db.insert_many(
            Mandate,
            [{"participant": p, "source": "court", "starts_on": first} for p in people],
        )
        mandates = [r["id"] for r in await Mandate.select(Mandate.id)]
        await db.insert_many(
            MandatePhase,
            [
                {
                    "mandate": m,
                    "sequence": 1,
                    "name": "Phase 1",
                    "required_hours_per_week": Decimal(9),
                    "required_tests_per_week": 2,
                    "started_on": first,
                }
                for m in mandates
            ],
        )
        phases = [r["id"] for r in await MandatePhase.select(MandatePhase.id)]
        await db.insert_many(
            PhaseSessionRequirement,
            [{"phase": ph, "session_type": "group", "sessions_per_week": 3} for ph in phases],
        )
    for chunk in range(0, len(people), 1000):
        attendance, tests, uids = [], [], []
        for p in people[chunk : chunk + 1000]:
            for w in range(weeks):
                monday = first + timedelta(weeks=w)
                for day in (0, 2, 4):
                    at = datetime.combine(
                        monday + timedelta(days=day), datetime.min.time(), tz
                    ) + timedelta(hours=18)
                    roll = rng.random()
                    status, minutes = (
                        ("absent_unexcused", 0)
                        if roll < 0.03
                        else ("late", 160)
                        if roll < 0.08
                        else ("present", 180)
                    )
                    attendance.append(
                        {
                            "record_uid": uuid.uuid4(),
                            "participant": p,
                            "session_type": "group",
                            "occurred_at": at.astimezone(UTC),
                            "scheduled_minutes": 180,
                            "status": status,
                            "minutes_attended": minutes,
                        }
                    )
                for day in (1, 3):
                    at = datetime.combine(
                        monday + timedelta(days=day), datetime.min.time(), tz
                    ) + timedelta(minutes=rng.randrange(7 * 60, 19 * 60))  # random call times
                    roll = rng.random()
                    uid = uuid.uuid4()
                    missed = roll < 0.02
                    tests.append(
                        {
                            "record_uid": uid,
                            "participant": p,
                            "called_at": at.astimezone(UTC),
                            "collected_at": None if missed else at.astimezone(UTC),
                            "collection_status": "no_show" if missed else "collected",
                        }
                    )
                    uids.append((uid, "positive" if 0.02 <= roll < 0.06 else "negative"))
        async with db.transaction():
            await db.insert_many(Attendance, attendance)
            await db.insert_many(DrugTest, tests)
            ids = {
                str(r["record_uid"]): r["id"]
                for r in await DrugTest.select(DrugTest.id, DrugTest.record_uid).where(
                    DrugTest.record_uid.is_in([t["record_uid"] for t in tests])
                )
            }
            results = []
            for (uid, screen), t in zip(uids, tests, strict=True):
                if t["collected_at"] is None:
                    continue
                for key in PANEL:
                    aid, name = analyte_ids[key]
                    positive = screen == "positive" and key == "cocaine"
                    results.append(
                        {
                            "drug_test": ids[str(uid)],
                            "analyte": aid,
                            "analyte_code": key.upper(),
                            "analyte_name": name,
                            "screen_result": "positive" if positive else "negative",
                            "confirmation_result": "positive" if positive else None,
                            "confirmation_method": "LC-MS/MS" if positive else "",
                        }
                    )
            await db.insert_many(AnalyteResult, results)


async def _run(
    url: str, participants: int, weeks: int
) -> dict[str, list[tuple[float, caseload_module.Timings]]]:
    engine = db.create_engine(parse_database_url(url))
    db.bind(engine)
    await seed(participants, weeks)
    program = await Program.select(Program.id).first()
    user = await create_staff_user(
        email="bench@example.org",
        full_name="Bench",
        password="bench-password-1234",
        role=Role.clinician,
        program_ids=[program["id"]],
    )
    principal = await load_principal(user.id)
    assert principal is not None
    counts = (await Attendance.count(), await DrugTest.count())

    out: dict[str, list[tuple[float, caseload_module.Timings]]] = {}
    shard_above = caseload_module.SHARD_ABOVE
    try:
        for way, threshold in (("one process", participants + 1), ("workers", shard_above)):
            caseload_module.SHARD_ABOVE = threshold
            runs = []
            for _ in range(RUNS + 1):  # the first run warms caches and starts the workers
                timings = caseload_module.Timings()
                t = time.perf_counter()
                rows = await caseload_module.caseload(
                    principal, today=TODAY, history_weeks=weeks, timings=timings
                )
                runs.append((time.perf_counter() - t, timings))
            out[way] = runs[1:]
    finally:
        caseload_module.SHARD_ABOVE = shard_above
        workers.close_shared()
    print(
        f"  seeded {len(rows)} participants, {counts[0]:,} attendance rows, "
        f"{counts[1]:,} drug tests",
        file=sys.stderr,
    )
    return out


def measure(participants: int = PARTICIPANTS, weeks: int = WEEKS) -> list[Figure]:
    """End to end and engine medians, through the workers and in one process; goals in
    bench/goals.py."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/caseload.sqlite3"
        env = {**os.environ, "DATABASE_URL": url, "VAR_DIR": f"{tmp}/var"}
        subprocess.run(
            [str(BIN / "compliance"), "migrate"], env=env, check=True, stdout=subprocess.DEVNULL
        )
        audit.configure(load_settings(env))  # events need the chain's key and head file
        runs = asyncio.run(_run(url, participants, weeks))
    label = f"{participants:,} participants x {weeks} weeks"
    one = runs["one process"]
    split = runs["workers"]
    n = split[0][1].workers
    one_total = statistics.median(r[0] for r in one)
    total = statistics.median(r[0] for r in split)
    engine = statistics.median(r[1].longest_engine for r in split)
    return [
        Figure(
            "caseload.workers.total_s",
            f"caseload {label}, database to results",
            total,
            "s",
            name=f"caseload {label}: database to results ({n} workers)",
            compare=(("caseload.one.total_s", "one process"),),
        ),
        Figure(
            "caseload.workers.engine_s",
            f"  of which the pure engine (longest of {n} workers)",
            engine,
            "s",
            name=f"caseload {label}: pure engine, longest of {n} workers",
            compare=(("caseload.one.engine_s", "one process"),),
        ),
        Figure(
            "caseload.one.total_s",
            f"  same in one process ({one_total / total:.1f}x the time)",
            one_total,
            "s",
        ),
        Figure(
            "caseload.one.engine_s",
            "  of which the pure engine in one process",
            statistics.median(r[1].engine for r in one),
            "s",
        ),
    ]


if __name__ == "__main__":
    for figure in measure(
        int(os.environ.get("BENCH_PARTICIPANTS", PARTICIPANTS)),
        int(os.environ.get("BENCH_WEEKS", WEEKS)),
    ):
        print(f"{figure.label:<62} {figure.value:>8.2f}")
