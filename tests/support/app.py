"""The real app in the test's own process: served over ASGI, its routes, and more
browsers on it.

A test process builds hundreds of apps (one per test, each bound to its own database and
folders), all from the same handlers and templates. What Litestar and Jinja work out
from those alone is worked out once per process here; everything bound to a test's
settings is still made anew for each app."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import jinja2
from litestar import Litestar
from litestar._signature.model import SignatureModel
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


_make_model = SignatureModel.create.__func__  # type: ignore[attr-defined]
_models: dict[tuple[Any, ...], tuple[tuple[Any, ...], type[SignatureModel]]] = {}


def _model_once(
    cls: type[SignatureModel],
    dependency_name_set: set[str],
    fn: Any,
    parsed_signature: ParsedSignature,
    type_decoders: Any,
    data_dto: Any = None,
) -> type[SignatureModel]:
    """``SignatureModel.create``, remembered: the msgspec struct each handler's arguments
    are decoded into (a quarter of what building an app costs). It is made only from
    what is passed here; with the very same parsed signature (remembered above), names,
    decoders and DTO, the struct made before is the one Litestar would make again."""
    key = (id(parsed_signature), frozenset(dependency_name_set), getattr(fn, "__name__", ""))
    facts = (parsed_signature, _plain(type_decoders), data_dto)
    known = _models.get(key)
    if known is not None and known[0][0] is parsed_signature and known[0][2] is data_dto:
        if known[0][1] == facts[1]:
            return known[1]
    model = _make_model(cls, dependency_name_set, fn, parsed_signature, type_decoders, data_dto)
    _models[key] = (facts, model)
    return model


def _plain(decoders: Any) -> tuple[Any, ...]:
    """Each (predicate, decoder) pair as the functions it calls: the Pydantic plugin
    makes a new ``partial`` of the same decoder for every app."""
    return tuple(
        part
        for pair in decoders or ()
        for fn in pair
        for part in (
            (fn.func, *fn.args, *fn.keywords.items())
            if isinstance(fn, functools.partial)
            else (fn,)
        )
    )


def _remembering(on: bool) -> None:
    parse, make = (_parsed_once, _model_once) if on else (_parse_signature, _make_model)
    ParsedSignature.from_fn = classmethod(parse)  # type: ignore[method-assign,assignment]
    SignatureModel.create = classmethod(make)  # type: ignore[method-assign,assignment]


_remembering(True)


@contextlib.contextmanager
def signatures_parsed_afresh() -> Iterator[None]:
    """Litestar's own parsing, for the test that holds the remembered kind against it."""
    _remembering(False)
    try:
        yield
    finally:
        _remembering(True)


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
