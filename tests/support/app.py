"""The real app in the test's own process: served over ASGI, its routes, and more
browsers on it.

A test process builds hundreds of apps (one per test, each bound to its own database and
folders), all from the same handlers and templates. What Litestar and Jinja work out
from those alone is worked out once per process here; everything bound to a test's
settings is still made anew for each app."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import jinja2
from litestar import Litestar
from litestar.utils.signature import ParsedSignature

from compliance.app import create_app
from compliance.core.settings import Settings

_parse_signature = ParsedSignature.from_fn.__func__
_signatures: dict[tuple[Any, ...], tuple[tuple[Any, ...], ParsedSignature]] = {}


def _parsed_once(cls: type[ParsedSignature], fn: Any, namespace: dict[str, Any]) -> Any:
    """``ParsedSignature.from_fn``, remembered: every handler and dependency's signature
    (type hints resolved, each parameter's field) took 0.07 s of the 0.18 s an app
    costs, again for every app. It depends only on the function's code, annotations and
    defaults and the names it is resolved with, so an equal set gives the same (frozen)
    result; anything else (a partial, a class, a wrapper) is parsed as before."""
    target = getattr(fn, "__func__", fn)  # a controller's handler is a bound method
    code = getattr(target, "__code__", None)
    if code is None or hasattr(target, "__wrapped__") or hasattr(target, "__signature__"):
        return _parse_signature(cls, fn, namespace)
    # Each route's OPTIONS handler is a new closure of one code object: one entry for all.
    key = (code, target.__module__, target is not fn)
    facts = (target.__annotations__, target.__defaults__, target.__kwdefaults__, namespace)
    known = _signatures.get(key)
    if known is not None and _same(known[0], facts):
        return known[1]
    parsed = _parse_signature(cls, fn, namespace)
    _signatures[key] = ((dict(facts[0]), facts[1], facts[2], dict(namespace)), parsed)
    return parsed


def _same(known: tuple[Any, ...], facts: tuple[Any, ...]) -> bool:
    """Equal annotations and names; the very same default objects."""
    annotations, defaults, kwdefaults, namespace = facts
    return (
        known[0] == annotations
        and known[3] == namespace
        and _identical(known[1] or (), defaults or ())
        and _identical(tuple((known[2] or {}).items()), tuple((kwdefaults or {}).items()))
    )


def _identical(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


ParsedSignature.from_fn = classmethod(_parsed_once)  # type: ignore[method-assign,assignment]


@contextlib.contextmanager
def signatures_parsed_afresh() -> Iterator[None]:
    """Litestar's own parsing, for the test that holds the remembered kind against it."""
    ParsedSignature.from_fn = classmethod(_parse_signature)  # type: ignore[method-assign]
    try:
        yield
    finally:
        ParsedSignature.from_fn = classmethod(_parsed_once)  # type: ignore[method-assign,assignment]


class CompiledTemplates(jinja2.BytecodeCache):
    """Every app's Jinja environment compiled each template it rendered again (a few ms
    each, 11 ms for the three pages a signed-out visitor sees); compiled once per
    process now, as every app configures its environment alike (create_app). Jinja
    checks each entry against the template's source: an edited one is compiled afresh."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if (code := self._code.get(bucket.key)) is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = CompiledTemplates()


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
    app.template_engine.engine.bytecode_cache = COMPILED_TEMPLATES  # type: ignore[union-attr]
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
