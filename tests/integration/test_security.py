"""Security checks (issue 7), walked from the app's own route table so that a new route
cannot escape them: cookie flags over HTTP and HTTPS; CSRF on every state-changing
route; security headers and no-store on every response, error answers included;
sign-in throttling per account and per client address, shared by the page and the API;
the session's life (replaced at sign-in, deleted at sign-out) and redirects that never
leave the site. And from issue 17: bodies nested too deep refused before parsing, and a
CSRF token good only with the session it was made for. Object-level authorisation
across programs is test_access_matrix's."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import get

from compliance import audit
from compliance.core.settings import Settings, load_settings
from compliance.staff import accounts
from compliance.tables import ALL_TABLES, AuditEvent, Consent, Participant
from compliance.web.common.principal import safe_next
from compliance.web.common.sign_in_sessions import SESSION_MAX_AGE, SIGNED_IN_AT
from compliance.web.links.officer import UNLOCK_COOKIE
from tests.support.app import all_routes, another_browser, app_of
from tests.support.cli import settings_env
from tests.support.logs import LogRecords
from tests.support.routes import ADMIN_BODIES, BODIES, COLLECTIONS, PUBLIC, fill, with_program
from tests.support.staff import PASSWORD, World, csrf_token, make_world, sign_in

HTTP = "http://testserver"
HTTPS = "https://testserver"
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_REFUSED = "CSRF token verification failed"
# Routes that take no CSRF token, and why that is safe. Any other route that accepts a
# state-changing request without a token fails test_every_state_changing_route_needs_csrf.
CSRF_EXEMPT: dict[tuple[str, str], str] = {
    ("/verify", "POST"): "checks an uploaded PDF against the register: stores nothing, "
    "reads no session, answers only about the PDF the caller already holds",
    ("/api/verify", "POST"): "the same check for scripts, which have no CSRF cookie",
    ("/api/call-in", "POST"): "the program's phone line, a machine with its own key in the "
    "Authorization header (no cookie, so no session a forged request could ride on)",
}
# Refused without the token unless the request is JSON, which no other site can send
# without a CORS preflight this app never answers: SAQ's queue page (web/admin/
# queue_view.py) posts JSON without a token. test_queue_view shows an administrator's
# form or text request refused and the JSON one taken.
JSON_ONLY = {
    ("/admin/queue/api/queues/{queue_id:str}/jobs/{job_id:str}/retry", "POST"),
    ("/admin/queue/api/queues/{queue_id:str}/jobs/{job_id:str}/abort", "POST"),
}
VERIFY_UPLOAD = {"files": {"file": ("r.pdf", b"%PDF-1.7 not one of ours", "application/pdf")}}
# The officer link code form (/l/{token}/code) is not exempt either: its page renders
# the token like every form, so it costs officers nothing. What really guards that form
# is the link token itself (256 random bits), the attempt count that locks the link and
# the per-client and per-token rate limits (test_links).


@pytest.fixture
def base_url() -> str:
    """Where the app believes it is served; HTTPS tests parametrize this."""
    return HTTP


@pytest.fixture
def settings(database_url: str, tmp_path: Path, base_url: str) -> Settings:
    return load_settings({**settings_env(database_url, tmp_path), "BASE_URL": base_url})


@pytest.fixture
async def client(client: httpx.AsyncClient, base_url: str) -> httpx.AsyncClient:
    """The shared client, speaking the scheme of BASE_URL (a browser sends a Secure
    cookie back only over HTTPS)."""
    client.base_url = httpx.URL(base_url)
    return client


@pytest.fixture
def records(
    program_a_records: tuple[World, dict[str, int]],
) -> tuple[World, dict[str, int]]:
    """One record of every kind in program A, clinician A signed in (test_access_matrix)."""
    return program_a_records


def set_cookie(response: httpx.Response, name: str) -> dict[str, str]:
    """The attributes of the Set-Cookie for ``name``, lower-cased: {"httponly": "", ...}."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            attributes = [part.strip() for part in header.split(";")[1:]]
            return {k.lower(): v.lower() for k, _, v in (a.partition("=") for a in attributes)}
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers.get_list('set-cookie')}")


async def snapshot() -> dict[str, int]:
    """Row counts of every table: a refused request must leave all of them alone."""
    return {table.__name__: await table.count() for table in ALL_TABLES}


async def officer_link(client: httpx.AsyncClient, ids: dict[str, int], code: bool) -> dict:
    """A secure link to program A's participant, made by the signed-in clinician A."""
    recipient = (await Consent.select(Consent.recipient).first())["recipient"]
    made = await client.post(
        f"/api/participants/{ids['participant_id']}/links",
        json={"recipient_id": recipient, "access_code": code},
        headers={"x-csrftoken": await csrf_token(client)},
    )
    assert made.status_code == 201, made.text
    return made.json()


def link_path(made: dict) -> str:
    return httpx.URL(made["url"]).path


def assert_security_headers(response: httpx.Response, where: str) -> None:
    headers = response.headers
    csp = headers.get("content-security-policy", "")
    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("x-frame-options") == "DENY" or "frame-ancestors 'none'" in csp, where
    assert "default-src" in csp and "frame-ancestors 'none'" in csp, where
    assert "object-src 'none'" in csp or "default-src 'none'" in csp, where
    assert headers.get("referrer-policy") in ("same-origin", "no-referrer"), where


def is_html(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").startswith("text/html")


# --- cookies ---------------------------------------------------------------------------


@pytest.mark.parametrize("base_url", [HTTP, HTTPS])
async def test_cookies_are_httponly_samesite_and_secure_over_https(
    client: httpx.AsyncClient, records: tuple[World, dict[str, int]], base_url: str
) -> None:
    """Session, CSRF and link-unlock cookies: never readable by page scripts, never sent
    on another site's requests, and over HTTPS never sent in the clear.

    The CSRF cookie can be HttpOnly because no page script reads it: every form gets
    the token as a hidden ``_csrf_token`` field rendered by the server (the pages run
    no script at all), and API clients read it from their own cookie jar."""
    world, ids = records
    https = base_url.startswith("https://")
    made = await officer_link(client, ids, code=True)
    client.cookies.clear()
    client.headers.pop("x-csrftoken", None)

    page = await client.get("/login")
    csrf = set_cookie(page, "csrftoken")
    field = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert field and field.group(1) == client.cookies["csrftoken"]
    signed_in = await client.post(
        "/login",
        data={"email": world.clinician_a, "password": PASSWORD, "_csrf_token": field.group(1)},
    )
    assert signed_in.status_code == 303
    session = set_cookie(signed_in, "compliance_session")

    async with another_browser(client) as officer:
        form = await officer.get(link_path(made))
        token = officer.cookies["csrftoken"]
        unlocked = await officer.post(
            f"{link_path(made)}/code", data={"code": made["access_code"], "_csrf_token": token}
        )
        assert unlocked.status_code == 303
        unlock = set_cookie(unlocked, UNLOCK_COOKIE)
        assert (await officer.get(link_path(made))).status_code == 200

    for name, cookie, samesite in [
        ("csrftoken", csrf, ("lax", "strict")),
        ("compliance_session", session, ("lax", "strict")),
        (UNLOCK_COOKIE, unlock, ("strict",)),
    ]:
        assert "httponly" in cookie, name
        assert cookie.get("samesite") in samesite, name
        assert ("secure" in cookie) is https, name
    assert unlock["path"] == "/l/"  # sent only to link pages
    hsts = form.headers.get("strict-transport-security")
    assert (hsts is not None and "max-age=" in hsts) is https


# --- CSRF ------------------------------------------------------------------------------


def request_body(key: tuple[str, str], program_id: int) -> dict[str, Any]:
    """A body good enough to change something if the CSRF check let it through."""
    if key in CSRF_EXEMPT:
        return VERIFY_UPLOAD
    if key in BODIES:
        return BODIES[key]
    if key in COLLECTIONS:
        return with_program(COLLECTIONS[key][1], program_id)
    if key in ADMIN_BODIES:
        return {"json": ADMIN_BODIES[key]}
    return {}


def with_token(kwargs: dict[str, Any], token: str) -> dict[str, Any]:
    """The same request carrying ``token`` in the header and, for forms, the field."""
    out: dict[str, Any] = {**kwargs, "headers": {"x-csrftoken": token}}
    if "data" in kwargs or "files" in kwargs:
        out["data"] = {**kwargs.get("data", {}), "_csrf_token": token}
    return out


async def test_every_state_changing_route_needs_csrf(
    client: httpx.AsyncClient, records: tuple[World, dict[str, int]]
) -> None:
    """Signed in as the records' own clinician, every POST/PUT/PATCH/DELETE without the
    token, or with another browser's valid token, is refused with 403 and changes
    nothing; sign-out and sign-in included (no forced sign-out, no login CSRF)."""
    world, ids = records
    ids = {**ids, "token": "x" * 43}
    client.headers.pop("x-csrftoken", None)
    async with another_browser(client) as stranger:
        await stranger.get("/login")
        foreign = stranger.cookies["csrftoken"]
    assert foreign != client.cookies["csrftoken"]
    before = await snapshot()
    walked, exempt = [], set()
    for path, method in all_routes(app_of(client)):
        if method not in STATE_CHANGING:
            continue
        key = (path, method)
        walked.append(key)
        kwargs = request_body(key, world.program_a)
        for attempt in (kwargs, with_token(kwargs, foreign)):
            response = await client.request(method, fill(path, ids), **attempt)
            where = f"{method} {path}: {response.status_code} {response.text[:120]}"
            if key in CSRF_EXEMPT:
                assert response.status_code != 403, where
                exempt.add(key)
                continue
            assert response.status_code == 403, f"{where} (list it in CSRF_EXEMPT, with a reason)"
            if key in JSON_ONLY:
                continue
            if path.startswith("/l/"):  # an officer's phone gets a page, never JSON
                assert response.headers["content-type"].startswith("text/html"), where
                assert "This form has expired" in response.text, where
            else:
                assert response.json()["detail"] == CSRF_REFUSED, where
    assert len(walked) > 50, walked
    assert exempt == set(CSRF_EXEMPT), "an exempt route is gone: take it off the list"
    assert await snapshot() == before
    whoami = await client.get("/api/session")
    assert whoami.status_code == 200 and whoami.json()["email"] == world.clinician_a


# --- security headers ------------------------------------------------------------------


async def test_every_response_carries_the_security_headers(
    client: httpx.AsyncClient, records: tuple[World, dict[str, int]]
) -> None:
    """Every GET route, signed in as the clinician who owns the records (and the public
    ones signed out too): framing, sniffing, referrers and scripts are locked down, and
    no response holding client data may be cached."""
    _, ids = records
    made = await officer_link(client, ids, code=False)
    ids = {
        **ids,
        "token": link_path(made).removeprefix("/l/"),
        "public_id": "R-TEST-0000-00000",
        "path": "openapi.yaml",
    }
    public = {path for path, _ in PUBLIC} | {
        p for p, _ in all_routes(app_of(client)) if p.startswith("/schema")
    }
    pages = 0
    async with another_browser(client) as anonymous:
        for path, method in all_routes(app_of(client)):
            if method != "GET":
                continue
            browsers = [("signed in", client)]
            if path in public:
                browsers.append(("signed out", anonymous))
            for who, browser in browsers:
                response = await browser.get(fill(path, ids), headers={"accept": "text/html"})
                where = f"GET {path} {who}: {response.status_code}"
                assert_security_headers(response, where)
                if who == "signed in" or path.startswith("/l/"):
                    assert "no-store" in response.headers.get("cache-control", ""), where
                pages += is_html(response) and response.status_code == 200
    assert pages >= 25, "too few pages rendered: are the ids right?"


async def test_error_answers_carry_the_security_headers(
    client: httpx.AsyncClient, records: tuple[World, dict[str, int]]
) -> None:
    """Answers made outside the handlers (router 404 and 405, a refused CSRF token, the
    sign-in redirect, an unhandled exception) get the same headers as pages."""
    _, ids = records

    @get("/test-only/boom", include_in_schema=False)
    async def boom() -> None:
        raise RuntimeError("secret detail of a crash")

    app_of(client).register(boom)
    token = client.headers.pop("x-csrftoken")
    html = {"accept": "text/html"}
    cases: list[tuple[str, str, dict[str, Any], int]] = [
        ("GET", "/no-such-page", {}, 404),
        ("GET", "/participants/999999", {}, 404),
        ("GET", "/participants/not-a-number", {}, 404),
        ("PUT", "/login", {}, 405),
        ("POST", "/participants/new", {"data": {"client_id": "Z"}}, 403),
        ("GET", "/api/admin/users", {}, 403),
        ("POST", "/participants/new", {"data": {"client_id": "Z", "_csrf_token": token}}, 422),
        ("GET", f"/reports/{ids['report_id']}/pdf", {}, 503),  # its stored PDF is missing
        ("GET", "/test-only/boom", {}, 500),
    ]
    for method, url, kwargs, status in cases:
        response = await client.request(method, url, headers=html, **kwargs)
        where = f"{method} {url}: {response.status_code}"
        assert response.status_code == status, where
        assert_security_headers(response, where)
        assert "no-store" in response.headers["cache-control"], where
        assert "secret detail" not in response.text
    async with another_browser(client) as anonymous:
        for url, status in [("/participants", 303), ("/api/participants", 401)]:
            response = await anonymous.get(url, headers=html)
            assert response.status_code == status
            assert_security_headers(response, f"signed out GET {url}")


# --- sign-in throttling ----------------------------------------------------------------


async def failed_sign_ins(count: int, origin: str, account: str = "") -> None:
    """Earlier failed sign-ins from ``origin`` (at ``account``, or each at another one),
    recorded as ``authenticate`` records them: each real one costs half a second."""
    for i in range(count):
        actor = audit.Actor("anonymous", origin)
        tried = account or f"guess{i}@example.org"
        await audit.record("login.failed", actor, "staff_user", tried)


async def test_password_spraying_from_one_address_is_throttled(client: httpx.AsyncClient):
    """Many accounts tried from one address: once the address has used up its failures,
    even the right password for another account is refused there (by the page and by
    the API alike), while the same account still signs in from elsewhere."""
    world = await make_world()
    await failed_sign_ins(accounts.MAX_FAILURES_PER_ORIGIN - 2, "127.0.0.1")
    async with another_browser(client, "127.0.0.1") as sprayer:
        token = await csrf_token(sprayer)
        api = await sprayer.post(
            "/api/session",
            json={"email": "sprayed1@example.org", "password": "Summer2026!!"},
            headers={"x-csrftoken": token},
        )
        assert api.status_code == 401
        form = {"email": "sprayed2@example.org", "password": "Summer2026!!", "_csrf_token": token}
        assert (await sprayer.post("/login", data=form)).status_code == 401
        right = {"email": world.clinician_a, "password": PASSWORD, "_csrf_token": token}
        page = await sprayer.post("/login", data=right)
        assert page.status_code == 429 and "compliance_session" not in sprayer.cookies
        assert 0 < int(page.headers["retry-after"]) <= 15 * 60
        api = await sprayer.post(
            "/api/session",
            json={"email": world.clinician_a, "password": PASSWORD},
            headers={"x-csrftoken": token},
        )
        assert api.status_code == 429 and "retry-after" in api.headers
    async with another_browser(client, "198.51.100.7") as elsewhere:
        await sign_in(elsewhere, world.clinician_a)
    assert await AuditEvent.count().where(AuditEvent.action == "login.throttled") == 2


async def test_parallel_guesses_at_many_accounts_cannot_outrun_the_address_limit(
    client: httpx.AsyncClient,
) -> None:
    """Guesses sent all at once at different accounts from one address: only as many
    are checked as the address has failures left (on PostgreSQL, before the per-address
    lock, all of them were)."""
    left = 3
    await failed_sign_ins(accounts.MAX_FAILURES_PER_ORIGIN - left, "203.0.113.5")

    async def attempt(i: int) -> str:
        try:
            await accounts.authenticate(f"parallel{i}@example.org", "Winter2026!!", "203.0.113.5")
        except accounts.SignInThrottled:
            return "throttled"
        except accounts.SignInRefused:
            return "refused"
        return "signed in"

    outcomes = await asyncio.gather(*(attempt(i) for i in range(left + 5)))
    assert outcomes.count("refused") == left
    assert outcomes.count("throttled") == 5


async def test_the_api_and_the_page_share_one_throttle(client: httpx.AsyncClient) -> None:
    """One throttle for one account, whichever door the guesses come through: the
    page's failures count for the API and the API's for the page."""
    account = "someone@example.org"
    await failed_sign_ins(accounts.MAX_FAILURES_PER_ACCOUNT - 2, "198.51.100.1", account)
    token = await csrf_token(client)
    form = {"email": account, "password": "not the password", "_csrf_token": token}
    api = {"json": {"email": account, "password": "nope"}, "headers": {"x-csrftoken": token}}
    assert (await client.post("/login", data=form)).status_code == 401
    assert (await client.post("/api/session", **api)).status_code == 401
    assert (await client.post("/login", data=form)).status_code == 429
    assert (await client.post("/api/session", **api)).status_code == 429


# --- sessions and redirects ------------------------------------------------------------


async def test_a_planted_live_session_id_is_replaced_at_sign_in(client: httpx.AsyncClient):
    """Session fixation with a real id: an attacker signs in, plants their own session
    cookie in the victim's browser, and waits. The victim's sign-in must get a new id,
    and the planted one must die, so the attacker never rides the victim's session."""
    world = await make_world()
    async with another_browser(client, "198.51.100.66") as attacker:
        await sign_in(attacker, world.clinician_b)
        planted = attacker.cookies["compliance_session"]
        client.cookies.set("compliance_session", planted, domain="testserver.local")
        token = await csrf_token(client)
        form = {"email": world.clinician_a, "password": PASSWORD, "_csrf_token": token}
        assert (await client.post("/login", data=form)).status_code == 303
        assert client.cookies["compliance_session"] != planted
        assert (await client.get("/api/session")).json()["email"] == world.clinician_a
        assert (await attacker.get("/api/session")).status_code == 401


async def test_page_sign_out_deletes_the_session_on_the_server(client: httpx.AsyncClient):
    """A copied session cookie is worthless once its owner has signed out."""
    world = await make_world()
    await sign_in(client, world.clinician_a)
    copied = client.cookies["compliance_session"]
    out = await client.post("/logout", data={"_csrf_token": await csrf_token(client)})
    assert out.status_code == 303
    async with another_browser(client) as thief:
        thief.cookies.set("compliance_session", copied, domain="testserver.local")
        assert (await thief.get("/api/session")).status_code == 401
        page = await thief.get("/participants", headers={"accept": "text/html"})
        assert page.status_code == 303


async def test_a_session_ends_a_working_day_after_sign_in_however_busy(
    client: httpx.AsyncClient,
) -> None:
    """Every response renews the stored session, so the store's expiry only ends idle
    sessions; a cookie kept busy (by its owner, or by whoever copied it) must still
    end SESSION_MAX_AGE after sign-in. The stored sign-in time is moved back by that
    much, as a working day of use would have left it."""
    world = await make_world()
    await sign_in(client, world.clinician_a)
    session_id = client.cookies["compliance_session"]
    store = app_of(client).stores.get("sessions")
    data = json.loads(await store.get(session_id) or b"{}")
    assert 0 <= time.time() - data[SIGNED_IN_AT] < 60
    assert (await client.get("/api/session")).status_code == 200
    data[SIGNED_IN_AT] -= SESSION_MAX_AGE
    await store.set(session_id, json.dumps(data).encode(), expires_in=SESSION_MAX_AGE)
    assert (await client.get("/api/session")).status_code == 401
    assert await store.get(session_id) is None  # deleted, not merely refused
    page = await client.get("/participants", headers={"accept": "text/html"})
    assert page.status_code == 303


ESCAPES = ["/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "/ /evil.example", "/\x00"]


@pytest.mark.parametrize("target", ESCAPES)
def test_redirect_targets_a_browser_would_read_as_another_site_go_home(target: str) -> None:
    """Browsers drop tabs and newlines from URLs, so "/<tab>/evil.example" is
    "//evil.example" to them; such targets (and any control character) go home."""
    assert safe_next(target) == "/"
    assert safe_next("/participants/12?week=2026-03-02") == "/participants/12?week=2026-03-02"


async def test_sign_in_page_and_form_never_redirect_off_the_site(client: httpx.AsyncClient):
    """The same through the app: the page's hidden field and the form's redirect."""
    world = await make_world()
    page = await client.get("/login", params={"next": ESCAPES[0]})
    assert 'name="next" value="/"' in page.text
    token = await csrf_token(client)
    form = {"email": world.clinician_a, "password": PASSWORD, "_csrf_token": token}
    response = await client.post("/login", data={**form, "next": ESCAPES[0]})
    assert response.status_code == 303 and response.headers["location"] == "/"


async def test_browsers_get_an_error_page_and_api_clients_json(client) -> None:
    """Litestar's own refusals (no such route, an expired form) reached browsers as raw
    JSON; a person gets a page, a program still gets JSON."""
    page = await client.get("/no-such-page", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "There is no such page." in page.text
    api = await client.get("/api/no-such-thing", headers={"accept": "text/html"})
    assert api.status_code == 404 and api.json()["status_code"] == 404
    await client.get("/login")
    forged = await client.post(
        "/login",
        data={"email": "a@example.org", "password": "x" * 12},
        headers={"accept": "text/html"},
    )
    assert forged.status_code == 403
    assert "This form has expired" in forged.text
    assert forged.headers["x-frame-options"] == "DENY"


# --- request bodies --------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/session", "/api/recipients"])
async def test_deeply_nested_json_is_a_400_before_parsing(client, path: str) -> None:
    """A thousand ``[`` made msgspec recurse until RecursionError: a 500 with a
    traceback in the log, before sign-in. Now anything nested past 32 levels is a 400
    naming the limit, and nothing is logged as an error."""
    world = await make_world()
    if path != "/api/session":
        await sign_in(client, world.clinician_a)
    seen = LogRecords()
    logging.getLogger().addHandler(seen)
    try:
        headers = {"x-csrftoken": await csrf_token(client), "content-type": "application/json"}
        for body in ("[" * 1000, '{"a":' * 1000, '[{"x": ' * 40 + "1" + "}]" * 40):
            answer = await client.post(path, content=body, headers=headers)
            assert answer.status_code == 400, answer.text
            assert "nested deeper than 32 levels" in answer.json()["detail"]
        # Brackets inside strings are text, not nesting; 32 levels are still read.
        text = await client.post(path, content='{"email": "' + "[" * 500 + '"}', headers=headers)
        assert text.status_code in (400, 401, 422) and "nested" not in text.text
        ok = await client.post(path, content="[" * 32 + "]" * 32, headers=headers)
        assert ok.status_code in (400, 422) and "nested" not in ok.text
    finally:
        logging.getLogger().removeHandler(seen)
    errors = [r for r in seen.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    assert not [r for r in seen.records if r.exc_info], "a traceback was logged"


# --- CSRF bound to the session ---------------------------------------------------------


async def test_another_users_matching_cookie_and_header_are_refused(client) -> None:
    """Clinician B's own CSRF cookie and header, a valid pair, sent with clinician A's
    session: refused, and nothing stored. A's own pair works."""
    world = await make_world()
    await sign_in(client, world.clinician_a)
    session_a = client.cookies["compliance_session"]
    async with another_browser(client) as other:
        await sign_in(other, world.clinician_b)
        pair_b = other.cookies["csrftoken"]
        assert (await other.get("/api/session")).json()["email"] == world.clinician_b
    body = {
        "program_id": world.program_a,
        "client_id": "X-1",
        "first_name": "Ann",
        "last_name": "Lee",
        "admitted_on": "2026-01-05",
    }
    async with another_browser(client) as forged:
        forged.cookies.set("compliance_session", session_a)
        forged.cookies.set("csrftoken", pair_b)
        refused = await forged.post("/api/participants", json=body, headers={"x-csrftoken": pair_b})
        assert refused.status_code == 403, refused.text
        assert refused.json()["detail"] == "CSRF token verification failed"
        # A page form likewise.
        page = await forged.post("/logout", data={"_csrf_token": pair_b})
        assert page.status_code == 403
    assert await Participant.count() == 0
    assert (await client.get("/api/session")).json()["email"] == world.clinician_a
    mine = await client.post("/api/participants", json=body)
    assert mine.status_code == 201, mine.text


async def test_sign_in_gives_a_token_for_the_new_session(client) -> None:
    """The token from before sign-in belongs to no session: after sign-in the answer
    sets a new one (the cookie jar has it), and the old one is refused."""
    world = await make_world()
    before = await csrf_token(client)
    signed = await client.post(
        "/api/session",
        json={"email": world.clinician_a, "password": PASSWORD},
        headers={"x-csrftoken": before},
    )
    assert signed.status_code == 200
    after = client.cookies["csrftoken"]
    assert after != before
    stale = await client.delete("/api/session", headers={"x-csrftoken": before})
    assert stale.status_code == 403
    out = await client.delete("/api/session", headers={"x-csrftoken": after})
    assert out.status_code == 204
    # Signed out: the answer gives an anonymous token again, and the sign-in form works.
    again = client.cookies["csrftoken"]
    assert again != after
    page = await client.post(
        "/login", data={"email": world.clinician_a, "password": PASSWORD, "_csrf_token": again}
    )
    assert page.status_code == 303


async def test_a_forged_csrf_cookie_is_never_reflected_into_a_page(client) -> None:
    """Litestar put the cookie's raw value into the form's hidden field (unescaped):
    a planted cookie became markup. An invalid cookie is replaced, never echoed."""
    client.cookies.set("csrftoken", '"><b id=planted>')
    page = await client.get("/login")
    assert page.status_code == 200
    assert "planted" not in page.text
    fresh = page.cookies["csrftoken"]  # replaced in the same answer
    assert fresh != '"><b id=planted>' and f'value="{fresh}"' in page.text
