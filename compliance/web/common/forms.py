"""``submit``: a staff form's one step, from the service call to the answer.

Every page form posts to the service function its API endpoint calls, then redirects
(Post/Redirect/Get) or, when the service refuses the input (``InvalidInput``: nothing
was stored), shows the same form again with each reason beside its field and the values
as sent. That try/except was written out at every form; here it is once, so a handler
reads: parse, ``submit`` the call, and say where success goes and which form comes back.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from litestar import Request, Response
from litestar.datastructures import UploadFile

from compliance.core.validation import InvalidInput
from compliance.staff.accounts import Principal
from compliance.web.common.csrf import FORM_FIELD
from compliance.web.common.errors import error_page, field_errors

T = TypeVar("T")
FieldErrors = dict[str, str]  # the first reason per field, as the form shows it
Reply = Response[Any] | Awaitable[Response[Any]]


async def submit(
    call: Awaitable[T],
    done: Callable[[T], Reply],
    refused: Callable[[FieldErrors], Reply] | None = None,
    *,
    others: Mapping[type[Exception], Callable[[Any], Reply]] | None = None,
) -> Response[Any]:
    """Await the service ``call``: ``done(result)`` when it stored, ``refused(errors)``
    when it refused the input. ``others``: refusals answered another way (a duplicate,
    a stale version, a page listing every reason), by exception type, each handed the
    exception and tried before ``refused``. Anything else propagates to the app's
    handlers, as it would from the handler itself."""
    try:
        result = await call
    except Exception as exc:
        answer = _answer_for(exc, refused, others or {})
        if answer is None:
            raise
        return await _resolved(answer(exc))
    return await _resolved(done(result))


def _answer_for(
    exc: Exception,
    refused: Callable[[FieldErrors], Reply] | None,
    others: Mapping[type[Exception], Callable[[Any], Reply]],
) -> Callable[[Any], Reply] | None:
    for kind, answer in others.items():
        if isinstance(exc, kind):
            return answer
    if refused is not None and isinstance(exc, InvalidInput):
        return lambda e: refused(field_errors(e))
    return None


async def _resolved(reply: Reply) -> Response[Any]:
    """Re-rendering a form reads the database (an awaitable); a redirect does not."""
    return await reply if inspect.isawaitable(reply) else reply


async def posted(request: Request) -> tuple[dict[str, Any], Any]:
    """A posted form's fields but its files, and the whole form (for the lists a
    multiple choice sends, and the files)."""
    form = await request.form()
    return {k: v for k, v in form.items() if not isinstance(v, UploadFile)}, form


def text_fields(form: Any) -> dict[str, str]:
    """A posted form's text fields (not its files) without the CSRF token: what the
    service reads, and what a refused form shows again."""
    return {k: v for k, v in form.items() if isinstance(v, str) and k != FORM_FIELD}


def refusal_page(principal: Principal, title: str, message: str) -> Response[Any]:
    """A refused form that has no page of its own (a button on another page): the
    reasons on the error page, 422."""
    return error_page(422, title, message, principal=principal)


def reasons(errors: FieldErrors) -> str:
    """``started on is required; reason ...``: each field named in words, then why."""
    return "; ".join(f"{k.replace('_', ' ')} {v}" for k, v in errors.items())
