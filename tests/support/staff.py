"""Building blocks for tests that act as staff: programs, accounts, signed-in clients."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from compliance import audit
from compliance.core import db
from compliance.core.settings import Settings, load_settings
from compliance.core.vocabulary import Role
from compliance.ops.demo import WEEKS as DEMO_WEEKS
from compliance.ops.demo import load_demo
from compliance.records.analytes import seed_program_analytes
from compliance.staff import accounts
from compliance.tables import (
    AnalyteResult,
    Attendance,
    Consent,
    DrugTest,
    Mandate,
    MandatePhase,
    Participant,
    PhaseSessionRequirement,
    Program,
    Recipient,
)
from tests.support.cli import settings_env

PASSWORD = "correct horse battery staple"


@dataclass
class World:
    """Two programs, a clinician in each, and an admin of program A only."""

    program_a: int
    program_b: int
    clinician_a: str = "a@example.org"
    clinician_b: str = "b@example.org"
    admin_a: str = "admin@example.org"


async def staff_member(
    email: str,
    program_ids: list[int],
    *,
    role: Role = Role.clinician,
    full_name: str | None = None,
    credentials: str = "",
) -> None:
    """An account whose password tests know (``PASSWORD``), named after its e-mail
    unless told."""
    await accounts.create_staff_user(
        email=email,
        full_name=full_name or email.split("@")[0].title(),
        password=PASSWORD,
        role=role,
        program_ids=program_ids,
        credentials=credentials,
    )


async def make_world(*, analytes: bool = False) -> World:
    """``analytes`` seeds both programs' analyte tables (``signed_in_world``: A's)."""
    a = Program(code="A", name="Program A", time_zone="America/Chicago")
    b = Program(code="B", name="Program B", time_zone="America/New_York")
    await a.save()
    await b.save()
    if analytes:
        await seed_program_analytes(a.id)
        await seed_program_analytes(b.id)
    world = World(a.id, b.id)
    for email, role, program in [
        (world.clinician_a, Role.clinician, a.id),
        (world.clinician_b, Role.clinician, b.id),
        (world.admin_a, Role.admin, a.id),
    ]:
        await staff_member(email, [program], role=role)
    return world


async def csrf_token(client: httpx.AsyncClient) -> str:
    if "csrftoken" not in client.cookies:
        await client.get("/login")
    return client.cookies["csrftoken"]


async def sign_in(client: httpx.AsyncClient, email: str) -> None:
    """Sign in through the API; the client keeps the session and CSRF cookies."""
    client.cookies.clear()
    token = await csrf_token(client)
    response = await client.post(
        "/api/session", json={"email": email, "password": PASSWORD}, headers={"x-csrftoken": token}
    )
    assert response.status_code == 200, response.text
    # Sign-in starts a new session and sets a CSRF token bound to it (web/csrf.py).
    client.headers["x-csrftoken"] = client.cookies["csrftoken"]


async def post_form(client: httpx.AsyncClient, url: str, data: dict[str, str]) -> httpx.Response:
    token = await csrf_token(client)
    return await client.post(url, data={**data, "_csrf_token": token})


async def signed_in_world(client: httpx.AsyncClient, *, analytes: bool = False) -> World:
    """``make_world`` with clinician A signed in on ``client``; ``analytes`` seeds program
    A's analyte table, which drug tests and lab files need."""
    world = await make_world()
    if analytes:
        await seed_program_analytes(world.program_a)
    await sign_in(client, world.clinician_a)
    return world


async def clone_court_client(times: int) -> int:
    """Copies of the demo's court client (records, mandate, phases, consent), so the batch
    has a caseload to sign; returns the program's id."""
    src = await Participant.select().where(Participant.client_id == "RB-1001").first()
    mandate = await Mandate.select().where(Mandate.participant == src["id"]).first()
    phases = await MandatePhase.select().where(MandatePhase.mandate == mandate["id"])
    reqs = await PhaseSessionRequirement.select().where(
        PhaseSessionRequirement.phase.is_in([p["id"] for p in phases])
    )
    consent = await Consent.select().where(Consent.participant == src["id"]).first()
    attendance = await Attendance.select().where(Attendance.participant == src["id"])
    tests = await DrugTest.select().where(DrugTest.participant == src["id"])
    results = await AnalyteResult.select().where(
        AnalyteResult.drug_test.is_in([t["id"] for t in tests])
    )

    def copy(row: dict, **changes: object) -> dict:
        return {k: v for k, v in row.items() if k != "id"} | changes

    async with db.transaction():
        for k in range(times):
            person = Participant(**copy(src, client_id=f"RB-9{k:03}", last_name=f"Copy {k}"))
            await person.save()
            m = Mandate(**copy(mandate, participant=person.id))
            await m.save()
            for ph in phases:
                new_phase = MandatePhase(**copy(ph, mandate=m.id))
                await new_phase.save()
                await db.insert_many(
                    PhaseSessionRequirement,
                    [copy(r, phase=new_phase.id) for r in reqs if r["phase"] == ph["id"]],
                )
            await db.insert_many(Consent, [copy(consent, participant=person.id, mandate=m.id)])
            await db.insert_many(
                Attendance,
                [copy(a, participant=person.id, record_uid=uuid.uuid4()) for a in attendance],
            )
            for t in tests:
                new_test = DrugTest(**copy(t, participant=person.id, record_uid=uuid.uuid4()))
                await new_test.save()
                await db.insert_many(
                    AnalyteResult,
                    [copy(r, drug_test=new_test.id) for r in results if r["drug_test"] == t["id"]],
                )
    return src["program"]


DEMO_ZONE = ZoneInfo("America/Chicago")  # the demo program's
DEMO_NOW = datetime(2026, 11, 23, 12, 0, tzinfo=DEMO_ZONE)


@asynccontextmanager
async def bound(settings: Settings) -> AsyncIterator[db.Engine]:
    """This process's tables bound to the settings' database and the audit trail
    configured, its pool closed after: a test's service calls, or writing a database
    before a server or a test uses it."""
    engine = db.create_engine(settings.database)
    db.bind(engine)
    audit.configure(settings)
    db.prepare_sqlite(settings.database)
    await db.open_pool(engine, 2)
    try:
        yield engine
    finally:
        await db.close_pool(engine)


async def load_demo_into(database_url: str, folder: Path) -> None:
    """The demo (at ``DEMO_NOW``) written into the database at ``database_url``, for a
    template that tests asking for ``demo`` copy (conftest.py)."""
    async with bound(load_settings(settings_env(database_url, folder))):
        made = await load_demo(now=DEMO_NOW)
        assert made.created, made.skipped_reason


async def demo_with_clinician(
    email: str,
    now: datetime = DEMO_NOW,
    *,
    full_name: str | None = None,
    credentials: str | None = None,
) -> dict:
    """The demo program (its clients, mandates and consents) and a clinician of it
    whose password tests know; returns the program's row. A name and credentials are
    for tests that find them in a signed report."""
    made = await load_demo(now=now)
    assert made.created or now == DEMO_NOW, (
        "the demo here was loaded at DEMO_NOW (the run's copy): mark the test own_demo"
    )
    program = await Program.select().first()
    await staff_member(email, [program["id"]], full_name=full_name, credentials=credentials or "")
    return program


async def signed_in_demo(
    client: httpx.AsyncClient,
    email: str,
    *,
    full_name: str | None = None,
    credentials: str | None = None,
    now: datetime = DEMO_NOW,
) -> dict:
    """The demo with its clinician signed in on ``client``; tests name the demo's rows
    (people by client id, recipients by name), so their ids come back with the program.
    ``now``: where the demo is laid out up to (a fresh database's, not the run's copy)."""
    program = await demo_with_clinician(email, now, full_name=full_name, credentials=credentials)
    await sign_in(client, email)
    people = {p["client_id"]: p["id"] for p in await Participant.select()}
    recipients = {r["name"]: r["id"] for r in await Recipient.select()}
    return {"people": people, "recipients": recipients, "program": program}


async def demo_up_to_now(client: httpx.AsyncClient) -> dict:
    """The demo laid out up to this moment and its clinician signed in (as the ``demo``
    fixture's), for views that read "recent" or "this week" by the real clock: against
    the run's copy, laid out at ``DEMO_NOW``, they empty as the weeks pass. The fixture
    that calls it must not be named ``demo`` (that one gets the run's copy); ``PERIOD``
    is then ``period_up_to_now()``."""
    return await signed_in_demo(
        client,
        "staff@example.org",
        full_name="Sam Staff",
        credentials="LCSW",
        now=datetime.now(DEMO_ZONE),
    )


def period_up_to_now() -> dict[str, str]:
    """The demo's weeks before this one (its eight weeks, all over), as ``PERIOD`` is for
    the demo at ``DEMO_NOW``."""
    today = datetime.now(DEMO_ZONE).date()
    monday = today - timedelta(days=today.weekday())
    start = monday - timedelta(weeks=DEMO_WEEKS)
    return {"period_start": str(start), "period_end": str(monday - timedelta(days=1))}


async def lab_file_program(email: str, password: str = PASSWORD, clients: int = 400) -> int:
    """A program with its analyte table, a clinician, and the clients C-1000 onwards that
    ``make_drug_test_csv`` and the HL7 batches name; returns the program's id."""
    program = Program(code="LAB", name="Lab IOP", time_zone="America/Chicago")
    await program.save()
    await seed_program_analytes(program.id)
    await accounts.create_staff_user(
        email=email,
        full_name=email.split("@")[0].title(),
        password=password,
        role=Role.clinician,
        program_ids=[program.id],
    )
    await Participant.insert(
        *[
            Participant(
                program=program.id,
                client_id=f"C-{1000 + n}",
                first_name="P",
                last_name=str(n),
                admitted_on=date(2024, 12, 1),
            )
            for n in range(clients)
        ]
    )
    return program.id
