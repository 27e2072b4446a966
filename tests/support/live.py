"""A real server for tests that need one: ``compliance run`` (uvicorn) on a loopback
port, its output in a file (a pipe nobody reads would stall a busy server)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.cli import BIN


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        """A test that fails mid-way must not leave its server running."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> str:
        """Stop gracefully (SIGINT, as Ctrl-C) and return everything it printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.output()

    def crash(self) -> None:
        """kill -9: no shutdown, no flushing, as a power cut or the OOM killer would."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def serve(env: dict[str, str], log: Path, port: int | None = None, wait: float = 40) -> Server:
    port = port or free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(BIN / "compliance"), "run"],
            env={**os.environ, **env, "PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, port, log)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    process.wait()
    raise AssertionError(f"server did not start:\n{server.output()[-3000:]}")
