"""What the browser tests share: Debian's chromium and its flags, where screenshots go,
a phone's viewport, the trail of what the browser saw, and a real server
(``compliance run``) to point the browser at."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from tests.support.cli import BIN
from tests.support.live import free_port

if TYPE_CHECKING:
    from playwright.async_api import Browser, ConsoleMessage, Page, Playwright, Response

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHONE = {"width": 390, "height": 844}


def fresh(folder: Path) -> Path:
    """``folder`` emptied of an earlier run's screenshots."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


async def chromium(pw: Playwright) -> Browser:
    return await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


@dataclass
class Trail:
    """What the browser saw: numbered full-page screenshots in ``folder``, and every
    console error or server error on the way, so one assertion at the end covers the
    whole flow."""

    folder: Path
    shots: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.problems.append(f"console error on {page.url}: {message.text}")

        def on_response(response: Response) -> None:
            if response.status >= 500:
                self.problems.append(f"{response.status} from {response.url}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.problems.append(f"script error: {exc}"))
        page.on("response", on_response)

    async def shot(self, page: Page, name: str) -> None:
        path = self.folder / f"{len(self.shots) + 1:02d}-{name}.png"
        await page.screenshot(path=str(path), full_page=True)
        self.shots.append(path)


def serve(env: dict[str, str], port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [str(BIN / "compliance"), "run"],
        env={**os.environ, **env, "PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise AssertionError(f"server did not start: {server.communicate()[0][-2000:]}")


class Site:
    """``compliance run`` on a free port for a browser to visit. It starts in a thread as
    the block is entered, so the test makes its records and Chromium starts meanwhile;
    ``await site.ready()`` before the first page. Leaving the block stops it as Ctrl-C
    would and prints the tail of its output (pytest shows it when a step fails).
    ``base_url``: links the app makes point at this server (BASE_URL)."""

    def __init__(self, env: dict[str, str], *, base_url: bool = True, tail: int = 5000) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = {**env, "BASE_URL": self.url} if base_url else env
        self._tail = tail

    async def __aenter__(self) -> Site:
        self._starting = asyncio.create_task(asyncio.to_thread(serve, self._env, self.port))
        return self

    async def ready(self) -> str:
        await self._starting
        return self.url

    async def __aexit__(self, *exc: object) -> None:
        server = await self._starting
        server.send_signal(signal.SIGINT)
        print(server.communicate(timeout=15)[0][-self._tail :])
