"""Twenty clinicians at once against a real server (uvicorn on a loopback port): rosters,
drug-test CSV and HL7 imports and signed reports for a bounded time. Afterwards every
write the server acknowledged is in the database (counted against what the clients
were told), nothing else is, no request failed, the server never logged "database is
locked" or a traceback, and the audit chain verifies. On SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import pytest

from compliance.tables import (
    Attendance,
    DrugTest,
    ImportBatch,
    Participant,
    Recipient,
    Report,
    TreatmentSession,
)
from tests.support.cli import run_cli, settings_env
from tests.support.live import serve
from tests.support.staff import PASSWORD, demo_with_clinician

pytestmark = pytest.mark.db

CLIENTS = 20
SECONDS = 8.0
# After the demo's admissions, before its "now"; off the hour and half hour, where the
# demo's sessions are: the same client at the same session time is one record.
FIRST = datetime(2026, 10, 1, 0, 7)
CSV_HEADER = (
    "client_id,accession_id,collected_date,collected_time,collection_status,called_date,"
    "specimen_type,observed,reason,lab_name,chain_of_custody_id,creatinine_mg_dl,"
    "specific_gravity,ph,analyte,screen_result,screen_cutoff_ng_ml,confirmation_result,"
    "confirmation_method,confirmation_cutoff_ng_ml,level_ng_ml,mro_result,mro_comment,"
    "comment,notes"
)


@dataclass
class World:
    program_id: int
    people: dict[str, int]  # client id -> participant id
    recipient_id: int


@dataclass
class Tally:
    """What the server acknowledged, as the clients were told."""

    sessions: dict[int, int] = field(default_factory=dict)  # session id -> roster entries
    imports: dict[int, int] = field(default_factory=dict)  # batch id -> rows created
    reports: list[int] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)


def _slot(client: int, step: int) -> datetime:
    """A time no other request uses, so every write is new (not a duplicate)."""
    return FIRST + timedelta(minutes=30 * (client * 60 + step))


def _csv(client: int, step: int, people: list[str]) -> bytes:
    rows = [CSV_HEADER]
    for k, client_id in enumerate(people[:2]):
        at = _slot(client, step) + timedelta(minutes=k)
        specimen = (
            f"{client_id},L{client:02d}{step:03d}{k},{at:%Y-%m-%d},{at:%H:%M},collected,"
            f"{at:%Y-%m-%d},urine,yes,random,Quest Diagnostics,CCF-L{client:02d}{step:03d}{k},"
            "85.0,1.015,6.2"
        )
        rows += [f"{specimen},{code},negative,50,,,,,,,," for code in ("THC", "COC")]
    return ("\n".join(rows) + "\n").encode()


def _hl7(client: int, step: int, client_id: str) -> bytes:
    at = f"{_slot(client, step) + timedelta(minutes=5):%Y%m%d%H%M}"
    ident = f"H{client:02d}{step:03d}"
    return "\r".join(
        [
            f"MSH|^~\\&|LAB|ACME TOX|IOP|CLINIC|{at}||ORU^R01|{ident}|P|2.5.1",
            f"PID|1||{client_id}^^^IOP^MR",  # no name: the identity check has nothing to hold
            f"OBR|1|P{ident}|{ident}|DOA^Panel^L|||{at}|||||||||||CCF{ident}",
            f"OBX|1|ST|THC^Cannabinoids screen^L||NEGATIVE|ng/mL|50|N|||F|||{at}|||EIA^EIA^L",
            f"OBX|2|ST|COC^Cocaine screen^L||NEGATIVE|ng/mL|150|N|||F|||{at}|||EIA^EIA^L",
        ]
    ).encode()


class Clinician:
    """One signed-in browser-less clinician, counting what the server acknowledged."""

    def __init__(self, n: int, http: httpx.AsyncClient, world: World, tally: Tally) -> None:
        self.n, self.http, self.world, self.tally = n, http, world, tally

    def _note(self, response: httpx.Response, ok: int) -> bool:
        self.tally.statuses[response.status_code] += 1
        if response.status_code != ok:
            request = response.request
            self.tally.unexpected.append(
                f"{request.method} {request.url.path} -> {response.status_code}: "
                f"{response.text[:300]}"
            )
            return False
        return True

    async def sign_in(self) -> None:
        await self.http.get("/login")
        token = self.http.cookies["csrftoken"]
        self.http.headers["x-csrftoken"] = token
        response = await self.http.post(
            "/api/session", json={"email": "load@example.org", "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        self.http.headers["x-csrftoken"] = self.http.cookies["csrftoken"]  # the session's own

    async def roster(self, step: int) -> None:
        made = await self.http.post(
            "/api/sessions",
            json={
                "program_id": self.world.program_id,
                "session_type": "group",
                "starts_at": f"{_slot(self.n, step):%Y-%m-%dT%H:%M}",
                "scheduled_minutes": 20,
                "title": f"load {self.n}/{step}",
            },
        )
        if not self._note(made, 201):
            return
        session_id = made.json()["id"]
        entries = [
            {"participant_id": pid, "status": status}
            for pid, status in zip(
                list(self.world.people.values())[:3],
                ["present", "late", "absent_unexcused"],
                strict=False,
            )
        ]
        for entry in entries:
            if entry["status"] == "late":
                entry["minutes_attended"] = 15
        recorded = await self.http.put(
            f"/api/sessions/{session_id}/roster", json={"entries": entries}
        )
        if self._note(recorded, 200):
            self.tally.sessions[session_id] = recorded.json()["created"]

    async def upload(self, step: int, kind: str, content: bytes, name: str) -> None:
        preview = await self.http.post(
            "/api/imports",
            data={"program_id": str(self.world.program_id), "kind": kind},
            files={"file": (name, content, "text/plain")},
        )
        if not self._note(preview, 201):
            return
        batch_id = preview.json()["batch_id"]
        commit = await self.http.post(f"/api/imports/{batch_id}/commit")
        if self._note(commit, 200):
            assert commit.json()["status"] == "committed", commit.text
            self.tally.imports[batch_id] = commit.json()["created"]

    async def report(self) -> None:
        response = await self.http.post(
            f"/api/participants/{self.world.people['RB-1001']}/reports",
            json={
                "kind": "court_progress",
                "recipient_id": self.world.recipient_id,
                "period_start": "2026-09-28",
                "period_end": "2026-11-22",
            },
        )
        if self._note(response, 201):
            self.tally.reports.append(response.json()["id"])

    async def work(self, deadline: float) -> None:
        """Until the deadline, and at least one of each kind of write."""
        people = list(self.world.people)
        step = 0
        while step < 4 or time.monotonic() < deadline:
            kind = step % 4
            if step == 1 and self.n % 4 == 0:
                await self.report()  # five clinicians sign a version of one report at once
            elif kind == 0:
                await self.roster(step)
            elif kind == 1:
                await self.upload(step, "drug_test_csv", _csv(self.n, step, people), "lab.csv")
            elif kind == 2:
                await self.roster(step)
            else:
                hl7 = _hl7(self.n, step, people[(self.n + step) % len(people)])
                await self.upload(step, "hl7_oru", hl7, "lab.hl7")
            step += 1


async def _world() -> World:
    program = await demo_with_clinician("load@example.org")
    people = {
        p["client_id"]: p["id"]
        for p in await Participant.select().where(Participant.discharged_on.is_null())
    }
    officer = await Recipient.select().where(Recipient.name == "Dana Whitfield").first()
    return World(program["id"], people, officer["id"])


async def test_twenty_clinicians_at_once_lose_nothing(bound_engine, database_url, tmp_path) -> None:
    world = await _world()
    before = {
        "sessions": await TreatmentSession.count(),
        "attendance": await Attendance.count(),
        "tests": await DrugTest.count(),
        "reports": await Report.count(),
    }
    env = settings_env(database_url, tmp_path)
    server = await asyncio.to_thread(serve, env, tmp_path / "server.log")
    tally = Tally()
    try:
        clinicians = []
        for n in range(CLIENTS):
            http = httpx.AsyncClient(base_url=server.url, timeout=180)
            clinicians.append((http, Clinician(n, http, world, tally)))
        try:
            # Sign-ins from one address are answered one at a time (the throttle), so all
            # sign in first and then work together.
            await asyncio.gather(*(c.sign_in() for _, c in clinicians))
            deadline = time.monotonic() + SECONDS
            await asyncio.gather(*(c.work(deadline) for _, c in clinicians))
        finally:
            for http, _ in clinicians:
                await http.aclose()
    finally:
        log = await asyncio.to_thread(server.stop)

    assert not tally.unexpected, "\n".join(tally.unexpected[:10])
    assert all(status < 500 for status in tally.statuses), tally.statuses
    assert "database is locked" not in log
    assert "Traceback" not in log
    assert tally.sessions and tally.imports and tally.reports, tally

    # Every acknowledged write is there, and nothing unacknowledged was added.
    sessions = await TreatmentSession.select(TreatmentSession.id).where(
        TreatmentSession.title.like("load %")
    )
    assert {s["id"] for s in sessions} == set(tally.sessions)
    assert await TreatmentSession.count() == before["sessions"] + len(tally.sessions)
    roster_rows = await Attendance.count().where(Attendance.session.is_in(list(tally.sessions)))
    assert roster_rows == sum(tally.sessions.values())
    assert await Attendance.count() == before["attendance"] + roster_rows
    for batch_id, created in tally.imports.items():
        assert await DrugTest.count().where(DrugTest.import_batch == batch_id) == created
    assert await DrugTest.count() == before["tests"] + sum(tally.imports.values())
    committed = await ImportBatch.count().where(ImportBatch.status == "committed")
    assert committed == len(tally.imports)

    # Concurrent versions of one report form one unbroken line with one current version.
    reports = await Report.select(Report.id, Report.version, Report.status).order_by(Report.version)
    assert {r["id"] for r in reports} == set(tally.reports)
    assert len(reports) == before["reports"] + len(tally.reports)
    assert [r["version"] for r in reports] == list(range(1, len(reports) + 1))
    assert [r["status"] for r in reports].count("current") == 1

    chain = await asyncio.to_thread(run_cli, "audit", "verify", env=env)
    assert chain.returncode == 0, chain.stderr
    checked = await asyncio.to_thread(run_cli, "reports", "check", env=env)
    assert checked.returncode == 0, checked.stdout
