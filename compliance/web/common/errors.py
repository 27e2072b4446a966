"""How service errors reach people: JSON for the API, a page for browsers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import MediaType, Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, NotFoundException, TooManyRequestsException
from litestar.exceptions.responses import create_exception_response
from litestar.handlers import BaseRouteHandler
from litestar.openapi.datastructures import ResponseSpec

from compliance.core.validation import MAX_ID, InvalidInput
from compliance.core.workers import JobTimedOut, WorkersFailed
from compliance.jobs.dispatch import JobFailed
from compliance.records.duplicates import DuplicateRecord
from compliance.records.versioning import StaleVersion
from compliance.reporting.service import StoreDamaged
from compliance.reporting.signing import SigningUnavailable
from compliance.staff.access import NotFound
from compliance.staff.accounts import Principal
from compliance.staff.admin import AdminOnly
from compliance.web.common.page import Page


@dataclass
class ApiError:
    """The body of every API error: its status again and a sentence for a person."""

    status_code: int
    detail: str


@dataclass
class FieldProblem:
    field: str
    reason: str


@dataclass
class InvalidFields:
    """422: every field that is wrong, each with its reason; nothing was stored."""

    status_code: int
    detail: str
    errors: list[FieldProblem]


@dataclass
class AlreadyRecorded:
    """409: the record is already stored (the same test or attendance again); nothing
    was stored. ``existing_url`` is the stored record's page, ``existing_id`` its id."""

    status_code: int
    detail: str
    errors: list[FieldProblem]
    existing_id: int
    existing_url: str


def response_spec(container: type, description: str) -> ResponseSpec:
    return ResponseSpec(data_container=container, description=description, generate_examples=False)


# The errors the handlers here really answer with, for each operation's OpenAPI entry:
# a client generated from the schema must know every status it can get back.
API_ERRORS: dict[int, ResponseSpec] = {
    401: response_spec(ApiError, "Not signed in, or the session has ended"),
    403: response_spec(
        ApiError,
        "Refused: no X-CSRFToken header matching the cookie and this session, "
        "or administrators only",
    ),
    404: response_spec(ApiError, "No such record among those of your programs"),
    409: response_spec(ApiError, "The record was corrected since you read it; nothing was stored"),
    413: response_spec(ApiError, "The upload is larger than 32 MB"),
    422: response_spec(InvalidFields, "Some fields are not valid; nothing was stored"),
    429: response_spec(ApiError, "Too many requests; try again after Retry-After seconds"),
    503: response_spec(
        ApiError, "Rendering, signing, a worker or the report store is unavailable just now"
    ),
}


# For the operations that record something new: 409 is the same record again.
ALREADY_RECORDED = response_spec(
    AlreadyRecorded, "Already recorded: the response points at the stored record"
)


def documented(*codes: int) -> dict[int, ResponseSpec]:
    """``responses=`` for a handler: the listed error statuses with their bodies."""
    return {code: API_ERRORS[code] for code in codes}


def api_error(status: int, detail: str, headers: dict[str, str] | None = None) -> Response[Any]:
    """An API error as every one is answered (``ApiError``): its status again and a
    sentence for a person."""
    return Response({"status_code": status, "detail": detail}, status_code=status, headers=headers)


def error_page(
    status: int,
    title: str,
    message: str,
    *,
    headers: Any = None,
    principal: Principal | None = None,
) -> Response[Any]:
    """An error as a person in a browser is shown it: the one error page, a title and
    a sentence (and the menu, for a signed-in ``principal``)."""
    context: dict[str, Any] = {"title": title, "message": message}
    if principal is not None:
        context["principal"] = principal
    return Page("pages/error.html", status_code=status, headers=headers, context=context)


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def sane_ids(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Guard: an id beyond any real record (or a 64-bit integer) is "not found", not a
    database overflow. Async: Litestar runs a plain-function guard in a worker thread,
    two thread hops on every request."""
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
        return api_error(404, "Not found")
    return error_page(404, "Not found", "There is no such record.")


# What a person in a browser is told for Litestar's own refusals, instead of JSON.
BROWSER_PAGES = {
    400: ("Not understood", "The page sent something it could not read. Go back and try again."),
    403: (
        "Refused",
        "This form has expired or came from another page. Go back, reload it and try again.",
    ),
    404: ("Not found", "There is no such page."),
    405: ("Not found", "There is no such page."),
}


def http_error_handler(request: Request, exc: HTTPException) -> Response[Any]:
    """Litestar's own errors (400, 403 CSRF, 404 from ``sane_ids``, 405) as JSON labelled
    JSON. Litestar labels them with the route's media type, so a 404 from the PDF
    download said ``application/pdf`` and a client could not read why it failed."""
    if not wants_json(request):
        page = BROWSER_PAGES.get(exc.status_code)
        if page is not None and "text/html" in request.headers.get("accept", ""):
            return error_page(exc.status_code, *page, headers=exc.headers)
        return create_exception_response(request, exc)
    # As Litestar does: a 500's own detail may describe internals.
    detail = exc.detail if exc.status_code != 500 else "Internal Server Error"
    body: dict[str, Any] = {"status_code": exc.status_code, "detail": detail}
    if exc.extra:
        body["extra"] = exc.extra
    return Response(
        body, status_code=exc.status_code, headers=exc.headers, media_type=MediaType.JSON
    )


def _back(request: Request) -> str:
    """Where "Back" goes: the page the form was on, when it is one of ours."""
    referer = request.headers.get("referer", "")
    base = str(request.base_url).rstrip("/")
    if referer.startswith(base + "/"):
        return referer[len(base) :]
    return "/"


def _refused_page(request: Request, reasons: list[str], status: int) -> Response[Any]:
    """A page form whose handler does not re-render itself: the reasons, in a page,
    with the way back (the browser would print JSON as text)."""
    return Page(
        "pages/refused.html",
        status_code=status,
        context={"reasons": reasons, "back": _back(request)},
    )


def invalid_input_handler(request: Request, exc: InvalidInput) -> Response[Any]:
    if not wants_json(request):
        return _refused_page(
            request, [f"{e.field.replace('_', ' ')}: {e.reason}" for e in exc.errors], 422
        )
    body = {
        "status_code": 422,
        "detail": "Some fields are not valid; nothing was stored.",
        "errors": [{"field": e.field, "reason": e.reason} for e in exc.errors],
    }
    return Response(body, status_code=422)


def duplicate_handler(request: Request, exc: DuplicateRecord) -> Response[Any]:
    """The same record again: 409 with the stored one's id and page, so a client can go
    to it (a form that re-renders itself catches it as any InvalidInput first)."""
    if not wants_json(request):
        return _refused_page(
            request, [f"{e.field.replace('_', ' ')}: {e.reason}" for e in exc.errors], 409
        )
    body = {
        "status_code": 409,
        "detail": f"Already recorded as {exc.url}; nothing was stored.",
        "errors": [{"field": e.field, "reason": e.reason} for e in exc.errors],
        "existing_id": exc.existing_id,
        "existing_url": exc.url,
    }
    return Response(body, status_code=409)


def stale_handler(request: Request, exc: StaleVersion) -> Response[Any]:
    if not wants_json(request):
        return _refused_page(request, [str(exc)], 409)
    return api_error(409, str(exc))


def too_many_handler(request: Request, exc: TooManyRequestsException) -> Response[Any]:
    return api_error(
        429,
        "Too many requests; wait a minute.",
        headers={"Retry-After": "60", "Cache-Control": "no-store"},
    )


def unavailable_handler(request: Request, exc: Exception) -> Response[Any]:
    """Rendering timed out, a worker died, a queued job failed on every try, the signing
    key or a stored PDF is unusable:
    the operator must act; the user gets a plain 503 and nothing half-done is kept."""
    message = str(exc) or exc.__class__.__name__
    if wants_json(request):
        return api_error(503, message)
    return error_page(503, "Not available just now", message)


def admin_only_handler(request: Request, exc: AdminOnly) -> Response[Any]:
    """Someone not an administrator asked for an administrators' page or endpoint."""
    if wants_json(request):
        return api_error(403, str(exc))
    return error_page(
        403,
        "Administrators only",
        "This page is for your program's administrators. Ask one of them "
        "if you need something changed here.",
    )


def client_mistakes() -> set[type[Exception] | int]:
    """What Litestar must not log as an "Uncaught exception" with a traceback: every
    4xx status and the exceptions (subclasses too) HANDLERS turn into one. A wrong form
    or an unknown id is the client's mistake, answered and noted by the access log; a
    traceback for each buried the 500s that need someone, and echoed input into logs."""
    found: set[type[Exception] | int] = set(range(400, 500))
    stack: list[type[Exception]] = [NotFound, InvalidInput, StaleVersion, AdminOnly]
    while stack:
        cls = stack.pop()
        found.add(cls)
        stack.extend(cls.__subclasses__())
    return found


HANDLERS: dict[type[Exception], Any] = {
    HTTPException: http_error_handler,
    NotFound: not_found_handler,
    InvalidInput: invalid_input_handler,
    DuplicateRecord: duplicate_handler,
    StaleVersion: stale_handler,
    JobTimedOut: unavailable_handler,
    WorkersFailed: unavailable_handler,
    JobFailed: unavailable_handler,
    SigningUnavailable: unavailable_handler,
    StoreDamaged: unavailable_handler,
    AdminOnly: admin_only_handler,
    **{TooManyRequestsException: too_many_handler},
}
