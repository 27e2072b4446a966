"""The real app in the test's own process: served over ASGI, its routes, and more
browsers on it."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any

import httpx
from litestar import Litestar

from compliance.app import create_app
from compliance.core.settings import Settings


@contextlib.asynccontextmanager
async def app_client(
    settings: Settings, extra_routes: tuple[Any, ...] = ()
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app over ASGI, its lifespan run in the caller's own event loop.

    Litestar's AsyncTestClient runs the app in a portal thread with its own loop; a
    PostgreSQL pool opened there cannot serve the queries a test makes to check what
    the app wrote. The lifespan runs here in one background task (its task group must
    be entered and left by the same task), so app and test share one loop.
    """
    app = create_app(settings)
    for route in extra_routes:  # a test's own probe, beside the real routes
        app.register(route)
    started, stop = asyncio.Event(), asyncio.Event()

    async def lifespan() -> None:
        # The lifespan's gc.collect() before gc.freeze() is meant for a fresh server
        # process; in a test worker it walked every object earlier tests left: 0.15 s of
        # CPU per test (48 s of a run's 202). Frozen here first, that walk is only what
        # is new since; the lifespan's own unfreeze makes all of it collectable again.
        gc.freeze()
        try:
            async with app.lifespan():
                started.set()
                await stop.wait()
        finally:
            gc.unfreeze()  # also when start-up failed before the lifespan's own

    task = asyncio.create_task(lifespan())
    await asyncio.wait(
        [task, asyncio.create_task(started.wait())], return_when=asyncio.FIRST_COMPLETED
    )
    if task.done():
        task.result()  # start-up failed: raise its error
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c
    finally:
        stop.set()
        await task


def app_of(client: httpx.AsyncClient) -> Litestar:
    """The app behind a client ``app_client`` made."""
    return client._transport.app  # type: ignore[attr-defined]


def all_routes(app: Litestar) -> list[tuple[str, str]]:
    """Every (path, method) the app serves, the API docs included."""
    return [
        (route.path, method)
        for route in app.routes
        for method in sorted(route.methods)
        if method not in ("OPTIONS", "HEAD")
    ]


def another_browser(client: httpx.AsyncClient, address: str = "127.0.0.1") -> httpx.AsyncClient:
    """A second browser on the same running app, with no cookies, from ``address``."""
    transport = httpx.ASGITransport(app=app_of(client), client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url=client.base_url)
