"""`compliance run` serves the app on a real port, as `make run` does."""

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.support.cli import BIN, settings_env
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
