"""How service errors reach people: JSON for the API, a page for browsers."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException, TooManyRequestsException
from litestar.handlers import BaseRouteHandler
from litestar.response import Template

from compliance.access import NotFound
from compliance.reporting.service import StoreDamaged
from compliance.reporting.signing import SigningUnavailable
from compliance.validation import MAX_ID, InvalidInput
from compliance.versioning import StaleVersion
from compliance.workers import JobTimedOut, WorkersFailed


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def sane_ids(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Guard: an id beyond any real record (or a 64-bit integer) is "not found", not a
    database overflow."""
    for value in connection.path_params.values():
        if isinstance(value, int) and not 0 < value <= MAX_ID:
            raise NotFoundException("no such record")


def field_errors(exc: InvalidInput) -> dict[str, str]:
    """The first reason per field, for re-rendering a form beside its inputs."""
    out: dict[str, str] = {}
    for e in exc.errors:
        out.setdefault(e.field, e.reason)
    return out


def not_found_handler(request: Request, exc: Exception) -> Response[Any]:
    if wants_json(request):
        return Response({"status_code": 404, "detail": "Not found"}, status_code=404)
    return Template(
        "pages/error.html",
        status_code=404,
        context={"title": "Not found", "message": "There is no such record."},
    )


def invalid_input_handler(request: Request, exc: InvalidInput) -> Response[Any]:
    body = {
        "status_code": 422,
        "detail": "Some fields are not valid; nothing was stored.",
        "errors": [{"field": e.field, "reason": e.reason} for e in exc.errors],
    }
    return Response(body, status_code=422)


def stale_handler(request: Request, exc: StaleVersion) -> Response[Any]:
    return Response({"status_code": 409, "detail": str(exc)}, status_code=409)


def too_many_handler(request: Request, exc: TooManyRequestsException) -> Response[Any]:
    return Response(
        {"status_code": 429, "detail": "Too many requests; wait a minute."},
        status_code=429,
        headers={"Retry-After": "60", "Cache-Control": "no-store"},
    )


def unavailable_handler(request: Request, exc: Exception) -> Response[Any]:
    """Rendering timed out, a worker died, the signing key or a stored PDF is unusable:
    the operator must act; the user gets a plain 503 and nothing half-done is kept."""
    message = str(exc) or exc.__class__.__name__
    if wants_json(request):
        return Response({"status_code": 503, "detail": message}, status_code=503)
    return Template(
        "pages/error.html",
        status_code=503,
        context={"title": "Not available just now", "message": message},
    )


HANDLERS: dict[type[Exception], Any] = {
    NotFound: not_found_handler,
    InvalidInput: invalid_input_handler,
    StaleVersion: stale_handler,
    JobTimedOut: unavailable_handler,
    WorkersFailed: unavailable_handler,
    SigningUnavailable: unavailable_handler,
    StoreDamaged: unavailable_handler,
    **{TooManyRequestsException: too_many_handler},
}
