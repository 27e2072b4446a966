"""Staff sign-in and sign-out through the JSON API, and who is signed in."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException
from litestar.params import JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from compliance.staff import accounts
from compliance.staff.accounts import Principal
from compliance.web.common.errors import api_error, documented
from compliance.web.common.principal import sign_in, sign_out


@dataclass
class Credentials:
    email: str
    password: str


@dataclass
class SignedInUser:
    id: int
    email: str
    full_name: str
    role: str
    program_ids: list[int]


def _user_view(p: Principal) -> SignedInUser:
    return SignedInUser(p.id, p.email, p.full_name, p.role.value, sorted(p.program_ids))


@post(
    "/api/session",
    tags=["session"],
    operation_id="signIn",
    summary="Sign in",
    status_code=200,
    responses=documented(401, 403, 429),
)
async def api_sign_in(request: Request, data: JSONBody[Credentials]) -> Response[SignedInUser]:
    """Sign in with e-mail and password; the session cookie authenticates later calls.

    Send the ``csrftoken`` cookie's value in an ``X-CSRFToken`` header with every
    state-changing call (get the cookie from any GET first). The token belongs to one
    session: this answer sets a new ``csrftoken`` cookie for the new session, to be used
    from then on. 401 on wrong credentials, 429 with ``Retry-After`` after repeated
    failures.
    """
    try:
        principal = await sign_in(request, data.email, data.password)
    except accounts.SignInThrottled as exc:
        return api_error(429, str(exc), headers={"Retry-After": str(exc.retry_after)})
    except accounts.SignInRefused as exc:
        raise NotAuthorizedException(str(exc)) from None
    return Response(_user_view(principal))


@get(
    "/api/session",
    tags=["session"],
    operation_id="currentUser",
    summary="Who am I",
    responses=documented(401),
)
async def api_current_user(principal: NamedDependency[Principal]) -> SignedInUser:
    return _user_view(principal)


@delete(
    "/api/session",
    tags=["session"],
    operation_id="signOut",
    summary="Sign out",
    status_code=HTTP_204_NO_CONTENT,
    responses=documented(403),
)
async def api_sign_out(request: Request) -> None:
    await sign_out(request)


ROUTES = [api_sign_in, api_current_user, api_sign_out]
