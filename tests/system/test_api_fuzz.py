"""Schemathesis against the app's own OpenAPI schema, signed in as a clinician and not.

Every documented operation gets a bounded, derandomized batch of generated requests
against a real server (``compliance run``) over a migrated database holding the demo
program: valid input aimed at real records of the clinician's program, valid input
with made-up ids, invalid input, and valid input from a browser that has not signed
in (the CSRF token sent, so the request reaches the sign-in check). No answer may be
a 5xx, and every answer must be
documented: its status code, content type, body schema and headers. The published
schema is what other programs are built on; an answer it does not mention is one they
cannot handle.

Schemathesis's own pytest integration (``schemathesis.pytest.from_fixture``) is not
used: with pytest 9.2 it fails on ``Function._nodeid``. Each operation is run here with
``APIOperation.as_strategy`` under Hypothesis, and every failure is listed at the end.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.errors import FailureGroup
from schemathesis.generation import GenerationMode

from compliance.core.settings import load_settings
from compliance.core.vocabulary import Role
from compliance.ops.demo import load_demo
from compliance.records.analytes import seed_program_analytes
from compliance.staff import accounts
from compliance.tables import (
    Attendance,
    Consent,
    DrugTest,
    Mandate,
    Participant,
    Program,
    Recipient,
    TreatmentSession,
    Violation,
)
from tests.support.cli import settings_env
from tests.support.live import serve
from tests.support.openapi import CHECKS, conforms, published_schema
from tests.support.records import enroll, lab_code, recipient
from tests.support.staff import (
    PASSWORD,
    bound,
    csrf_token,
    make_world,
    sign_in,
    signed_in_world,
)

pytestmark = pytest.mark.db

CLINICIAN = "fuzz.clinician@example.org"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
# A fixed "now" for the demo data: the same records, so the same requests, every run.
DEMO_NOW = datetime(2026, 11, 23, 12, tzinfo=ZoneInfo("America/Chicago"))
# Generated requests per operation and pass: bounded so the test stays short on a
# shared 2-core machine. `make fuzz` sets FUZZ_EXAMPLES=40 and FUZZ_MIN_CASES=10000:
# the long run, which must also send at least that many requests in all.
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
MIN_CASES = int(os.environ.get("FUZZ_MIN_CASES", "0"))
# Unset: the same requests every run. FUZZ_SEED=7 draws other ones, reproducibly.
SEED = os.environ.get("FUZZ_SEED", "")
# Derandomized, no example database (a failure found once must not change what the
# next run sends) and no shrinking (every example is a round trip to a real server; the
# first failing request is reported as it was sent, with a curl command).
SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=not SEED,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@dataclass
class Server:
    url: str
    clinician: requests.Session
    anonymous: requests.Session  # a browser that has not signed in
    known: dict[str, Any]  # path parameter -> a real record of the clinician's program


async def _first_id(query: Any) -> int | None:
    row = await query.first()
    return row["id"] if row else None


async def _demo_clinician() -> dict[str, Any]:
    """A clinician of the demo program whose password the test knows, and the ids of
    one record of each kind, so generated requests also reach past "not found"."""
    program = await _first_id(Program.select(Program.id))
    user = await accounts.create_staff_user(
        email=CLINICIAN,
        full_name="Fuzz Clinician",
        password=PASSWORD,
        role=Role.clinician,
        program_ids=[program],
    )
    person = await _first_id(
        Participant.select(Participant.id).where(Participant.client_id == "RB-1001")
    )
    known = {
        "program_id": program,
        "participant_id": person,
        "user_id": user.id,
        "session_id": await _first_id(TreatmentSession.select(TreatmentSession.id)),
        "attendance_id": await _first_id(
            Attendance.select(Attendance.id).where(Attendance.participant == person)
        ),
        "test_id": await _first_id(
            DrugTest.select(DrugTest.id).where(DrugTest.participant == person)
        ),
        "mandate_id": await _first_id(
            Mandate.select(Mandate.id).where(Mandate.participant == person)
        ),
        "consent_id": await _first_id(
            Consent.select(Consent.id).where(Consent.participant == person)
        ),
        "violation_id": await _first_id(
            Violation.select(Violation.id).where(Violation.participant == person)
        ),
        "_recipient": await _first_id(
            Recipient.select(Recipient.id).where(Recipient.name == "Dana Whitfield")
        ),
    }
    return {k: v for k, v in known.items() if v is not None}


async def _seed(env: dict[str, str]) -> dict[str, Any]:
    """The demo program and its known records in the server's database, before it runs."""
    async with bound(load_settings(env)):
        await load_demo(now=DEMO_NOW)
        return await _demo_clinician()


def _signed_out(base_url: str) -> requests.Session:
    """A browser that opened the sign-in page: the CSRF cookie and its value in
    X-CSRFToken, so a state-changing call gets past CSRF to the sign-in check."""
    session = requests.Session()
    session.get(f"{base_url}/login", timeout=10).raise_for_status()
    session.headers["X-CSRFToken"] = session.cookies["csrftoken"]
    return session


def _signed_in(base_url: str) -> requests.Session:
    """A clinician's browser-like session: the session cookie, and the CSRF cookie's
    value in X-CSRFToken, as every state-changing call needs."""
    session = _signed_out(base_url)
    response = session.post(
        f"{base_url}/api/session", json={"email": CLINICIAN, "password": PASSWORD}, timeout=10
    )
    assert response.status_code == 200, response.text
    session.headers["X-CSRFToken"] = session.cookies["csrftoken"]  # bound to the new session
    return session


def _report_and_link(server: str, clinician: requests.Session, known: dict[str, Any]) -> None:
    """A signed report and a secure link, made the way staff make them, so the report,
    verification and link operations meet real records too."""
    person = known["participant_id"]
    report = clinician.post(
        f"{server}/api/participants/{person}/reports",
        json={
            "kind": "court_progress",
            "recipient_id": known["_recipient"],
            "period_start": "2026-09-28",
            "period_end": "2026-11-22",
        },
        timeout=120,
    )
    assert report.status_code == 201, report.text
    link = clinician.post(
        f"{server}/api/participants/{person}/links",
        json={"recipient_id": known["_recipient"]},
        timeout=30,
    )
    assert link.status_code == 201, link.text
    known.update(
        report_id=report.json()["id"],
        public_id=report.json()["public_id"],
        link_id=link.json()["link"]["id"],
    )


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    env = settings_env(database_url, tmp_path)
    known = asyncio.run(_seed(env))
    live = serve(env, tmp_path / "server.log")
    try:
        clinician = _signed_in(live.url)
        _report_and_link(live.url, clinician, known)
        yield Server(live.url, clinician, _signed_out(live.url), known)
    finally:
        live.stop()


def _passes(operation: schemathesis.APIOperation, server: Server) -> list[tuple]:
    """(name, mode, fixed path parameters, session): made-up ids and invalid input for
    every operation, valid input against real records where the path names any, and
    valid input against real records while signed out."""
    names = {p.name for p in operation.path_parameters}
    real = {name: server.known[name] for name in names if name in server.known}
    passes = [
        ("positive", GenerationMode.POSITIVE, {}, server.clinician),
        ("negative", GenerationMode.NEGATIVE, {}, server.clinician),
        ("signed out", GenerationMode.POSITIVE, real, server.anonymous),
    ]
    if real:
        passes.insert(0, ("real records", GenerationMode.POSITIVE, real, server.clinician))
    return passes


def _check(case: schemathesis.Case, session: requests.Session, sent: list[int]) -> None:
    response = case.call(session=session, timeout=120)
    sent.append(response.status_code)
    case.validate_response(response, checks=CHECKS)


def _runner(strategy: Any, session: requests.Session, sent: list[int]) -> Callable[[], None]:
    """One pass: Hypothesis draws cases from the strategy and each is sent and checked."""

    @SETTINGS
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        _check(case, session, sent)

    return seed(int(SEED))(run) if SEED else run


def test_api_answers_as_documented(server: Server) -> None:
    """Every operation but signing out; each failure is listed with its curl command."""
    # An explicit config: a stray schemathesis.toml must not change what CI runs.
    loaded = schemathesis.openapi.from_url(
        f"{server.url}/schema/openapi.json", config=schemathesis.Config()
    )
    # Signing out would leave every later request unauthenticated: its 401s are
    # documented, but nothing behind the sign-in would be exercised any more.
    loaded = loaded.exclude(method="DELETE", path="/api/session")
    paths = loaded.raw_schema["paths"]
    listed = sum(m in HTTP_METHODS for ops in paths.values() for m in ops)
    failures: list[str] = []
    sent: list[int] = []  # the status of every answer
    operations = 0
    started = time.monotonic()
    for result in loaded.get_all_operations():
        operation = result.ok()
        operations += 1
        for name, mode, fixed, session in _passes(operation, server):
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed)
            try:
                _runner(strategy, session, sent)()
            except Unsatisfiable:
                # Nothing about the operation can be invalid (no parameters, no body).
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (Exception, FailureGroup) as exc:  # every operation runs; all are listed
                failures.append(f"{operation.label} ({name}): {exc}")
    print(  # shown with -s, as `make fuzz` runs it
        f"\nschemathesis: {len(sent)} requests to {operations} operations in "
        f"{time.monotonic() - started:.0f} s; {sum(s >= 500 for s in sent)} answered 5xx; "
        f"{len(failures)} failing operation passes"
    )
    assert operations == listed - 1  # all but signing out
    assert not failures, "\n\n".join(failures)
    assert sum(s == 401 for s in sent) > operations // 2  # the signed-out pass was signed out
    assert len(sent) >= MIN_CASES, f"only {len(sent)} requests, {MIN_CASES} asked"


# --- What the fuzzer above cannot reach: it is always signed in, always sends the CSRF
# header and rarely meets a previewed import. Real answers, checked by schemathesis
# against the same published schema.

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture
async def openapi(client: httpx.AsyncClient) -> schemathesis.BaseSchema:
    return await published_schema(client)


async def test_errors_on_download_routes_are_json(client, openapi) -> None:
    """Found by the fuzzer: Litestar labelled its own errors with the route's media type,
    so a 404 from the PDF download said application/pdf around a JSON body."""
    world = await make_world()
    await sign_in(client, world.clinician_a)
    for template, name in [
        ("/api/reports/{report_id}/pdf", "report_id"),
        ("/api/consents/{consent_id}/document", "consent_id"),
    ]:
        # The id guard's 404 (0, -1) and the service's (no such record).
        for record in (0, -1, 424242):
            response = await client.get(template.replace("{" + name + "}", str(record)))
            assert response.status_code == 404, (template, record)
            assert response.headers["content-type"] == "application/json", (template, record)
            assert response.json()["status_code"] == 404
            await conforms(openapi, "GET", template, response, **{name: record})


async def test_signed_out_and_forged_requests_are_documented(client, openapi) -> None:
    world = await make_world()
    signed_out = await client.get("/api/participants")
    assert signed_out.status_code == 401
    await conforms(openapi, "GET", "/api/participants", signed_out)
    await sign_in(client, world.clinician_a)
    del client.headers["x-csrftoken"]  # a cross-site form post cannot send the header
    forged = await client.post("/api/recipients", json={})
    assert forged.status_code == 403
    await conforms(openapi, "POST", "/api/recipients", forged)


async def test_import_answers_match_the_schema(client, openapi) -> None:
    """A rejected file is a 422 listing its errors, and commit answers 200: the schema
    said 201 for commit and had no 422 at all."""
    world = await make_world()
    await seed_program_analytes(world.program_a)
    await lab_code(world.program_a, "COC", "LN", "3426-4")
    await sign_in(client, world.clinician_a)
    await enroll(client, world.program_a, "C-1001", "Jane", "Doe", "2024-01-01")

    async def upload(kind: str, content: bytes) -> httpx.Response:
        data = {"program_id": str(world.program_a), "kind": kind}
        return await client.post("/api/imports", data=data, files={"file": ("f", content)})

    rejected = await upload("attendance_csv", (FIXTURES / "csv/attendance_errors.csv").read_bytes())
    assert rejected.status_code == 422 and rejected.json()["errors"]
    await conforms(openapi, "POST", "/api/imports", rejected)
    single = (FIXTURES / "hl7/oru_r01_251_single.hl7").read_bytes()
    preview = await upload("hl7_oru", single)
    assert preview.status_code == 201, preview.text
    await conforms(openapi, "POST", "/api/imports", preview)
    batch = preview.json()["batch_id"]
    done = await client.post(f"/api/imports/{batch}/commit")
    assert done.status_code == 200, done.text
    await conforms(openapi, "POST", "/api/imports/{batch_id}/commit", done, batch_id=batch)
    again = await client.post(f"/api/imports/{batch}/commit")
    assert again.status_code == 422
    await conforms(openapi, "POST", "/api/imports/{batch_id}/commit", again, batch_id=batch)


BIG = 2924878422711037067264  # no database integer holds it


async def test_out_of_range_ids_and_dates_are_422(client, openapi) -> None:
    """Found by the fuzzer (FUZZ_EXAMPLES=60): typed bodies and queries skip the form
    checks, so an id past any integer column or a date in year 1 or 9999 reached the
    database driver or date arithmetic and answered 500. A report for year 1 was even
    signed and stored."""
    world = await signed_in_world(client)
    pid = await enroll(client, world.program_a, "C-1", "Jane", "Doe")
    rid = await recipient(client, world.program_a, "Dana Whitfield", "dana@example.org")
    report = f"/api/participants/{pid}/reports"
    links = f"/api/participants/{pid}/links"
    year_1 = {"period_start": "0001-01-01", "period_end": "0001-01-02"}
    asked = [
        ("POST", report, {"kind": "court_progress", "recipient_id": BIG}, "recipient_id"),
        ("POST", report, {"kind": "court_progress", "recipient_id": rid, **year_1}, "year 1"),
        (
            "POST",
            report,
            {
                "kind": "court_progress",
                "recipient_id": rid,
                "period_start": "9999-12-30",
                "period_end": "9999-12-31",
            },
            "year 9999",
        ),
        ("POST", links, {"recipient_id": BIG}, "recipient_id"),
        ("POST", links, {"recipient_id": rid, "scope": "report", "report_id": BIG}, "report_id"),
        ("GET", f"/api/participants/{pid}/compliance?end=0001-01-01", None, "year 1"),
        ("GET", f"/api/participants/{pid}/compliance?start=9999-12-01", None, "year 9999"),
        (
            "GET",
            f"/api/participants/{pid}/violations?known_since=0001-01-01T00:00:00%2B01:00",
            None,
            "year 1",
        ),
    ]
    for method, url, body, expected in asked:
        response = await client.request(method, url, json=body)
        assert response.status_code == 422, (url, body, response.text)
        assert expected in response.text, (url, body, response.text)
        template = re.sub(r"/participants/\d+/", "/participants/{participant_id}/", url)
        await conforms(openapi, method, template.split("?")[0], response, participant_id=pid)


async def test_nul_bytes_are_422_on_every_engine(client, openapi) -> None:
    """Found by the fuzzer on PostgreSQL: a NUL byte in free text reached a query or an
    insert, and PostgreSQL refuses it with an error (a 500). SQLite stored it. Now it
    is a field error on both."""
    await load_demo(now=DEMO_NOW)
    known = await _demo_clinician()
    await sign_in(client, CLINICIAN)
    person, program = known["participant_id"], known["program_id"]
    made = await client.post(
        f"/api/participants/{person}/reports",
        json={
            "kind": "court_progress",
            "recipient_id": known["_recipient"],
            "period_start": "2026-09-28",
            "period_end": "2026-11-22",
        },
    )
    assert made.status_code == 201, made.text
    asked = [
        (
            "/api/programs/{program_id}/analytes/codes",
            {"program_id": program},
            {"analyte_key": "th\x00c", "coding_system": "LN", "code": "1"},
        ),
        (
            "/api/violations/{violation_id}/review",
            {"violation_id": known["violation_id"]},
            {"note": "called \x00 the officer"},
        ),
        (
            "/api/participants/{participant_id}/reports",
            {"participant_id": person},
            {"kind": "court_progress", "recipient_id": known["_recipient"], "narrative": "\x00"},
        ),
        (
            "/api/reports/{report_id}/revoke",
            {"report_id": made.json()["id"]},
            {"reason": "sent \x00 in error"},
        ),
    ]
    for template, ids, body in asked:
        url = template.format(**ids)
        response = await client.post(url, json=body)
        assert response.status_code == 422, (url, response.text)
        assert "NUL" in response.text, (url, response.text)
        await conforms(openapi, "POST", template, response, **ids)
    verdict = await client.get("/api/verify/R-%00")
    assert verdict.status_code == 200 and verdict.json()["report_id"] is None


async def test_sign_in_refusals_are_documented(client, openapi) -> None:
    """A wrong password (401), a NUL in the address (401, not a PostgreSQL error) and
    the throttle (429, with Retry-After) answer as the schema says."""
    world = await make_world()
    headers = {"x-csrftoken": await csrf_token(client)}
    wrong = {"email": world.clinician_a, "password": "not the password at all"}
    refused = await client.post("/api/session", json=wrong, headers=headers)
    assert refused.status_code == 401
    await conforms(openapi, "POST", "/api/session", refused)
    nul = {"email": "a\x00@example.org", "password": "not the password at all"}
    odd = await client.post("/api/session", json=nul, headers=headers)
    assert odd.status_code == 401, odd.text
    for _ in range(5):
        throttled = await client.post("/api/session", json=wrong, headers=headers)
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0
    await conforms(openapi, "POST", "/api/session", throttled)
