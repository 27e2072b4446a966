"""Regression tests for problems found in review: races, ranges, odd input."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, timedelta

import httpx
import pytest
from litestar import get

from compliance.records.analytes import seed_program_analytes
from compliance.staff import accounts
from compliance.tables import AuditEvent, Consent, DrugTest, Recipient
from tests.support.app import app_client
from tests.support.lab_files import hl7_result
from tests.support.staff import World, make_world, sign_in


@pytest.fixture
async def world(client: httpx.AsyncClient) -> World:
    w = await make_world()
    await seed_program_analytes(w.program_a)
    await sign_in(client, w.clinician_a)
    response = await client.post(
        "/api/participants",
        json={
            "program_id": w.program_a,
            "client_id": "C-1001",
            "first_name": "Jane",  # as the lab's messages name her (PID-5)
            "last_name": "Doe",
            "admitted_on": "2024-01-01",
        },
    )
    assert response.status_code == 201
    return w


async def test_parallel_wrong_passwords_are_still_throttled(client, world) -> None:
    async def attempt() -> str:
        try:
            await accounts.authenticate(world.clinician_b, "wrong password!!", "198.51.100.9")
        except accounts.SignInThrottled:
            return "throttled"
        except accounts.SignInRefused:
            return "refused"
        return "ok"

    outcomes = await asyncio.gather(*(attempt() for _ in range(10)))
    assert outcomes.count("refused") == accounts.MAX_FAILURES_PER_ACCOUNT
    assert outcomes.count("throttled") == 10 - accounts.MAX_FAILURES_PER_ACCOUNT


async def test_what_is_typed_as_the_address_is_recorded_only_if_it_is_one(client, world) -> None:
    with pytest.raises(accounts.SignInRefused):
        await accounts.authenticate("my secret password " * 8, "x", "198.51.100.9")
    event = await AuditEvent.select().where(AuditEvent.action == "login.failed").first()
    assert event["object_id"] == "(not an e-mail address)"


@pytest.mark.parametrize(
    "url",
    [
        "/api/participants/9223372036854775808",
        "/api/participants/99999999999",
        "/participants/4294967296",
    ],
)
async def test_ids_beyond_any_record_are_404(client, world, url) -> None:
    assert (await client.get(url)).status_code == 404


async def test_out_of_range_numbers_and_years_are_422(client, world) -> None:
    pid = (await client.get("/api/participants")).json()[0]["id"]
    huge = await client.post(
        f"/api/participants/{pid}/drug-tests",
        json={
            "collected_at": "2026-03-04T08:00",
            "creatinine_mg_dl": "10000000",
            "results": [{"analyte": "thc", "screen_result": "negative"}],
        },
    )
    assert huge.status_code == 422 and huge.json()["errors"][0]["field"] == "creatinine_mg_dl"
    far = await client.post(
        "/api/sessions",
        json={
            "program_id": world.program_a,
            "session_type": "group",
            "starts_at": "9999-12-31T23:00",
            "scheduled_minutes": 60,
        },
    )
    assert far.status_code == 422 and "out of range" in far.text
    roster_id = (
        await client.post(
            "/api/sessions",
            json={
                "program_id": world.program_a,
                "session_type": "group",
                "starts_at": "2026-03-03T18:00",
                "scheduled_minutes": 60,
            },
        )
    ).json()["id"]
    big = await client.put(
        f"/api/sessions/{roster_id}/roster",
        json={"entries": [{"participant_id": 10**19, "status": "present"}]},
    )
    assert big.status_code in (400, 422)


async def test_decimals_round_alike_so_a_reimport_is_a_duplicate(client, world) -> None:
    message = hl7_result("ACC-R").replace(b"85.3|", b"85.333|")
    for _ in range(2):
        preview = await client.post(
            "/api/imports",
            data={"program_id": str(world.program_a), "kind": "hl7_oru"},
            files={"file": ("r.hl7", message)},
        )
        assert preview.status_code == 201, preview.text
        await client.post(f"/api/imports/{preview.json()['batch_id']}/commit")
    assert preview.json()["duplicates"] == 1
    assert [float(t["creatinine_mg_dl"]) for t in await DrugTest.select()] == [85.33]


async def test_parallel_commits_of_one_preview_store_it_once(client, world) -> None:
    preview = await client.post(
        "/api/imports",
        data={"program_id": str(world.program_a), "kind": "hl7_oru"},
        files={"file": ("r.hl7", hl7_result("ACC-P"))},
    )
    url = f"/api/imports/{preview.json()['batch_id']}/commit"
    results = await asyncio.gather(*(client.post(url) for _ in range(3)))
    assert sorted(r.status_code for r in results) == [200, 422, 422]
    assert await DrugTest.count() == 1
    assert await AuditEvent.count().where(AuditEvent.action == "import.commit") == 1


async def test_refused_document_leaves_no_consent_and_names_survive(client, world) -> None:
    pid = (await client.get("/api/participants")).json()[0]["id"]
    await client.post(
        "/api/recipients",
        json={"program_id": world.program_a, "kind": "sap", "name": "S", "email": "s@x.org"},
    )
    rid = (await Recipient.select().first())["id"]
    form = {
        "recipient_id": str(rid),
        "information_categories": ["attendance"],
        "information_description": "x",
        "purposes": ["employment"],
        "revocation_instructions": "x",
        "signed_by_name": "x",
        "signed_on": "2026-01-05",
        "expires_on": (date.today() + timedelta(days=30)).isoformat(),
        "_csrf_token": client.cookies["csrftoken"],
    }
    refused = await client.post(
        f"/participants/{pid}/consents", data=form, files={"document": ("x.txt", b"plain text")}
    )
    assert refused.status_code == 422 and await Consent.count() == 0
    done = await client.post(
        f"/participants/{pid}/consents",
        data=form,
        files={"document": ("согласие\x00.pdf", b"%PDF-1.7 ok")},
    )
    assert done.status_code == 303
    consent = await Consent.select().first()
    assert "\x00" not in consent["document_filename"]
    assert consent["document_filename"].startswith("согласие")
    download = await client.get(f"/api/consents/{consent['id']}/document")
    assert download.status_code == 200
    assert "filename*=UTF-8''%D1%81" in download.headers["content-disposition"]


@get("/test-only/crash", sync_to_thread=False)
def _crash() -> None:
    raise RuntimeError("a real bug")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        return "\n".join(
            self.format(r)
            + ("\n" + logging.Formatter().formatException(r.exc_info) if r.exc_info else "")
            for r in self.records
        )


async def test_client_mistakes_log_no_traceback_and_a_crash_does(settings) -> None:
    """A wrong id or form is answered and left to the access log; only a real failure
    is logged as an uncaught exception with its traceback. Before, every 404 and 422
    logged one, burying the 500s (and echoing the input into the log)."""
    seen = _Records()
    async with app_client(settings, extra_routes=(_crash,)) as client:
        logging.getLogger("litestar").addHandler(seen)  # beside Litestar's own queue
        try:
            w = await make_world()
            await sign_in(client, w.clinician_a)
            seen.records.clear()
            missing = await client.get("/api/participants/999999")
            shapeless = await client.post("/api/participants", json={"program_id": w.program_a})
            blank = await client.post(
                "/api/participants",
                json={
                    "program_id": w.program_a,
                    "client_id": "C-1",
                    "first_name": " ",
                    "last_name": "Doe",
                    "admitted_on": "2026-01-05",
                },
            )
            assert [r.status_code for r in (missing, shapeless, blank)] == [404, 400, 422]
            assert not [r for r in seen.records if r.levelno >= logging.ERROR], seen.text()
            crash = await client.get("/test-only/crash")
            assert crash.status_code == 500
            assert "Traceback" in seen.text() and "a real bug" in seen.text()
        finally:
            logging.getLogger("litestar").removeHandler(seen)
