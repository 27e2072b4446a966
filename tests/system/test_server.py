"""`compliance run` serves the app on a real port, as `make run` does, and refuses to
serve beyond loopback on generated secrets."""

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support.cli import BIN, run_cli, settings_env
from tests.support.live import free_port


def test_compliance_run_serves_health(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, **settings_env(database_url, tmp_path), "PORT": str(port)}
    server = subprocess.Popen(
        [str(BIN / "compliance"), "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        response = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert response is not None, "server never answered"
        assert response.status_code == 200
        assert response.json()["database"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{port}/schema/openapi.json").status_code == 200
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=15)
    assert "Application startup complete" in output
    assert env["SECRET_KEY"] not in output


# --- a public server needs real secrets -----------------------------------------------


def _public_without_secrets(tmp_path: Path) -> dict[str, str]:
    """A server for the world (an https BASE_URL) with no secret key or certificate set."""
    return {
        "VAR_DIR": str(tmp_path / "var"),
        "REPORTS_DIR": str(tmp_path / "reports"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "BASE_URL": "https://iop.example.org",
        "SECRET_KEY": "",
        "SIGNING_P12": "",
    }


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
    env = {**_public_without_secrets(tmp_path), "HOST": "0.0.0.0", **extra}
    done = run_cli("run", env=env, timeout=60)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"compliance: error: {missing}: "), lines
    assert "0.0.0.0" in lines[0]
    assert not (tmp_path / "var" / "signing").exists()  # no development certificate made


def test_run_with_a_host_flag_beyond_loopback_is_checked_too(tmp_path: Path) -> None:
    done = run_cli("run", "--host", "10.0.0.5", env=_public_without_secrets(tmp_path), timeout=60)
    assert done.returncode != 0
    assert done.stderr.strip().startswith("compliance: error: SECRET_KEY: "), done.stderr
