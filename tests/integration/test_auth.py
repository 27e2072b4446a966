"""Staff sign-in: pages and API, sessions, CSRF, throttling, sign-out, deactivation."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from compliance import audit
from compliance.core import db
from compliance.core.vocabulary import Role
from compliance.staff import accounts
from compliance.tables import AuditEvent, Program
from tests.support.staff import PASSWORD, staff_member


@pytest.fixture
async def clinician(client: httpx.AsyncClient) -> str:
    program = Program(code="A", name="Program A")
    await program.save()
    await staff_member("Priya@Example.org", [program.id], full_name="Priya Raman")
    return "priya@example.org"


async def csrf(client: httpx.AsyncClient) -> str:
    if "csrftoken" not in client.cookies:
        await client.get("/login")
    return client.cookies["csrftoken"]


async def form_login(client: httpx.AsyncClient, email: str, password: str, next_: str = "/"):
    token = await csrf(client)
    return await client.post(
        "/login",
        data={"email": email, "password": password, "next": next_, "_csrf_token": token},
    )


async def test_login_page_has_csrf_field_and_security_headers(client: httpx.AsyncClient) -> None:
    page = await client.get("/login")
    assert page.status_code == 200
    assert re.search(r'name="_csrf_token" value="[^"]+"', page.text)
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"


async def test_form_without_csrf_token_is_refused(client: httpx.AsyncClient, clinician: str):
    await client.get("/login")
    response = await client.post("/login", data={"email": clinician, "password": PASSWORD})
    assert response.status_code == 403
    assert "compliance_session" not in client.cookies


async def test_sign_in_sets_a_new_private_session_and_redirects(
    client: httpx.AsyncClient, clinician: str
) -> None:
    client.cookies.set("compliance_session", "planted-by-an-attacker", domain="testserver.local")
    response = await form_login(client, clinician, PASSWORD, next_="/?page=2")
    assert response.status_code == 303
    assert response.headers["location"] == "/?page=2"
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith("compliance_session=")
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert client.cookies["compliance_session"] != "planted-by-an-attacker"
    home = await client.get("/")  # a signed-in user's home is the caseload
    assert home.status_code == 303 and home.headers["location"] == "/caseload"
    assert "Priya Raman" in (await client.get("/caseload")).text
    events = await AuditEvent.select().where(AuditEvent.action == "login.success")
    assert len(events) == 1 and events[0]["origin"]
    assert PASSWORD not in str(await AuditEvent.select())


async def test_wrong_password_is_401_and_recorded(client: httpx.AsyncClient, clinician: str):
    response = await form_login(client, clinician, "wrong password!!")
    assert response.status_code == 401
    assert "Wrong e-mail or password." in response.text
    assert await AuditEvent.count().where(AuditEvent.action == "login.failed") == 1
    unknown = await form_login(client, "nobody@example.org", "whatever-password")
    assert unknown.status_code == 401  # same answer for an unknown address


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "/\\evil"])
async def test_next_never_leaves_the_site(client: httpx.AsyncClient, clinician: str, target):
    response = await form_login(client, clinician, PASSWORD, next_=target)
    assert response.status_code == 303 and response.headers["location"] == "/"


async def test_repeated_failures_are_throttled_even_with_the_right_password(
    client: httpx.AsyncClient, clinician: str
) -> None:
    for _ in range(accounts.MAX_FAILURES_PER_ACCOUNT):
        assert (await form_login(client, clinician, "not the password")).status_code == 401
    response = await form_login(client, clinician, PASSWORD)
    assert response.status_code == 429
    assert 0 < int(response.headers["retry-after"]) <= 15 * 60
    assert await AuditEvent.count().where(AuditEvent.action == "login.throttled") == 1
    token = await csrf(client)
    api = await client.post(
        "/api/session",
        json={"email": clinician, "password": PASSWORD},
        headers={"x-csrftoken": token},
    )
    assert api.status_code == 429 and "retry-after" in api.headers


async def test_api_sign_in_whoami_and_sign_out(client: httpx.AsyncClient, clinician: str):
    assert (await client.get("/api/session")).status_code == 401
    token = await csrf(client)
    refused = await client.post(
        "/api/session",
        json={"email": clinician, "password": "nope"},
        headers={"x-csrftoken": token},
    )
    assert refused.status_code == 401
    signed_in = await client.post(
        "/api/session",
        json={"email": clinician, "password": PASSWORD},
        headers={"x-csrftoken": token},
    )
    assert signed_in.status_code == 200
    assert signed_in.json()["email"] == clinician and signed_in.json()["role"] == "clinician"
    assert (await client.get("/api/session")).json()["full_name"] == "Priya Raman"
    old_session = client.cookies["compliance_session"]
    stale = await client.delete("/api/session", headers={"x-csrftoken": token})
    assert stale.status_code == 403  # the token from before sign-in belongs to no session
    token = client.cookies["csrftoken"]  # sign-in set the session's own
    out = await client.delete("/api/session", headers={"x-csrftoken": token})
    assert out.status_code == 204
    assert (await client.get("/api/session")).status_code == 401
    # The old cookie replayed is worthless: the session was deleted on the server.
    client.cookies.set("compliance_session", old_session, domain="testserver.local")
    assert (await client.get("/api/session")).status_code == 401


async def test_page_sign_out_needs_csrf_and_ends_the_session(
    client: httpx.AsyncClient, clinician: str
) -> None:
    await form_login(client, clinician, PASSWORD)
    assert (await client.post("/logout")).status_code == 403
    token = await csrf(client)
    out = await client.post("/logout", data={"_csrf_token": token})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert (await client.get("/api/session")).status_code == 401
    assert await AuditEvent.count().where(AuditEvent.action == "logout") == 1


async def test_deactivation_ends_existing_sessions(client: httpx.AsyncClient, clinician: str):
    await form_login(client, clinician, PASSWORD)
    assert (await client.get("/api/session")).status_code == 200
    await accounts.set_active(clinician, False)
    assert (await client.get("/api/session")).status_code == 401
    assert (await form_login(client, clinician, PASSWORD)).status_code == 401


async def test_short_passwords_and_duplicate_accounts_are_refused(bound_engine: db.Engine):
    with pytest.raises(accounts.AccountError, match="at least 12"):
        await accounts.create_staff_user(
            email="a@b.org", full_name="A", password="short", role=Role.admin, program_ids=[]
        )
    await accounts.create_staff_user(
        email="a@b.org", full_name="A", password=PASSWORD, role=Role.admin, program_ids=[]
    )
    with pytest.raises(accounts.AccountError, match="already exists"):
        await accounts.create_staff_user(
            email="A@B.org ", full_name="A", password=PASSWORD, role=Role.admin, program_ids=[]
        )
    assert (await audit.verify_chain()).intact


def test_outside_the_suite_passwords_are_hashed_at_full_cost() -> None:
    """The suite's cheap hashes are its own: without the variable, argon2id at 64 MiB."""
    full = accounts.make_hasher({})
    assert (full.memory_cost, full.time_cost) == (65536, 3)
    stored = full.hash("a long enough password")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,")
    cheap = accounts.make_hasher({accounts.FAST_HASHES_FOR_TESTS: "1"})
    assert cheap.verify(stored, "a long enough password")


async def test_parallel_wrong_passwords_are_still_throttled(client, clinician) -> None:
    async def attempt() -> str:
        try:
            await accounts.authenticate(clinician, "wrong password!!", "198.51.100.9")
        except accounts.SignInThrottled:
            return "throttled"
        except accounts.SignInRefused:
            return "refused"
        return "ok"

    outcomes = await asyncio.gather(*(attempt() for _ in range(10)))
    assert outcomes.count("refused") == accounts.MAX_FAILURES_PER_ACCOUNT
    assert outcomes.count("throttled") == 10 - accounts.MAX_FAILURES_PER_ACCOUNT


async def test_what_is_typed_as_the_address_is_recorded_only_if_it_is_one(
    client, clinician
) -> None:
    with pytest.raises(accounts.SignInRefused):
        await accounts.authenticate("my secret password " * 8, "x", "198.51.100.9")
    event = await AuditEvent.select().where(AuditEvent.action == "login.failed").first()
    assert event["object_id"] == "(not an e-mail address)"
