"""Tokens never in a log (issue 17): every record any logger makes is scrubbed as it
is created, the message, its arguments and the traceback, however the link's path is
encoded; checked on a real server's whole output and on each logger in-process."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from compliance import PROJECT_ROOT
from tests.support.cli import settings_env
from tests.support.live import serve
from tests.support.logs import LogRecords


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
