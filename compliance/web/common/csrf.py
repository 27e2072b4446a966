"""CSRF tokens bound to the session they were made for.

Litestar's ``CSRFMiddleware`` is a stateless double-submit check: any cookie and
header that match, each signed with the app's secret, pass. So another user's own
valid pair (or one planted in the victim's browser through a sibling subdomain or a
plain-HTTP response) passed with the victim's session. It also copied the cookie's
raw value into the form's hidden field, unescaped, when the cookie was invalid.

Here a token is ``nonce + HMAC(key, nonce | session id)``: it is good only with the
session cookie it was made for (before sign-in, with no session at all). The check
stays double-submit (cookie and header or form field must match) and adds the binding.

The session id changes at sign-in and ends at sign-out, so the token must follow it:
whenever a response sets or deletes the session cookie, the same response sets a
new token for the new session. Pages render the new token on their next GET; API
clients read it from their cookie jar after signing in (a token from before sign-in
no longer works). A GET that arrives with a token not valid for its session (stale,
forged, another user's) gets a fresh one instead of an echo.

This middleware must run outside the session middleware (first in ``middleware=``),
so it sees the session cookie the session middleware sets on the way out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from litestar.config.csrf import CSRFConfig
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import PermissionDeniedException
from litestar.middleware._utils import build_exclude_path_pattern, should_bypass_middleware
from litestar.types import ASGIApp, Message, Receive, Scope, Scopes, Send
from litestar.utils.scope.state import ScopeState

NONCE_BYTES = 32
NONCE_LENGTH = NONCE_BYTES * 2
FORM_FIELD = "_csrf_token"
NO_SESSION = ""
REFUSED = "CSRF token verification failed"
_FORMS = {RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART}


class SessionTokens:
    """Making and checking tokens bound to a session id (``NO_SESSION`` before sign-in)."""

    def __init__(self, secret: str) -> None:
        # A key of its own, so a CSRF token can never double as another signature.
        self._key = hashlib.sha256(f"csrf-session:{secret}".encode()).digest()

    def _mac(self, nonce: str, session_id: str) -> str:
        message = f"{nonce}|{session_id}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def new(self, session_id: str) -> str:
        nonce = secrets.token_hex(NONCE_BYTES)
        return nonce + self._mac(nonce, session_id)

    def valid(self, token: str, session_id: str) -> bool:
        if len(token) <= NONCE_LENGTH:
            return False
        nonce, mac = token[:NONCE_LENGTH], token[NONCE_LENGTH:]
        return hmac.compare_digest(mac, self._mac(nonce, session_id))


def _session_of(value: str | None) -> str:
    """The session a cookie value names: none for a missing or deleted cookie."""
    return NO_SESSION if not value or value == "null" else value


def _session_set_by(message: Message, cookie_name: str) -> str | None:
    """The session id a response's Set-Cookie gives (``NO_SESSION`` when it deletes
    the cookie), or None when the response leaves the session cookie alone."""
    found: str | None = None
    for header in MutableScopeHeaders.from_message(message).getall("set-cookie", []):
        pair = header.split(";", 1)[0]
        name, _, value = pair.partition("=")
        if name.strip() == cookie_name:
            found = _session_of(value.strip().strip('"'))
    return found


class SessionCSRFMiddleware:
    """The CSRF check, with tokens bound to the session cookie ``session_cookie``."""

    scopes: Scopes = {ScopeType.HTTP}

    def __init__(self, app: ASGIApp, config: CSRFConfig, session_cookie: str) -> None:
        self.app = app
        self.config = config
        self.session_cookie = session_cookie
        self.tokens = SessionTokens(config.secret)
        self.exclude = build_exclude_path_pattern(exclude=config.exclude, middleware_cls=type(self))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or should_bypass_middleware(
            scope=scope,
            scopes=self.scopes,
            exclude_opt_key=self.config.exclude_from_csrf_key,
            exclude_path_pattern=self.exclude,
        ):
            await self.app(scope, receive, send)
            return
        request: Any = scope["litestar_app"].request_class(scope=scope, receive=receive)
        session_id = _session_of(request.cookies.get(self.session_cookie))
        cookie_token = request.cookies.get(self.config.cookie_name) or ""
        if request.method in self.config.safe_methods:
            token = cookie_token
            if not self.tokens.valid(cookie_token, session_id):
                token = self.tokens.new(session_id)  # never an echo of what came in
        else:
            token = await self._submitted(request)
            if not (
                token
                and hmac.compare_digest(token, cookie_token)
                and self.tokens.valid(token, session_id)
            ):
                raise PermissionDeniedException(REFUSED)
        ScopeState.from_scope(scope).csrf_token = token
        await self.app(scope, receive, self._wrap(send, session_id, cookie_token, token))

    async def _submitted(self, request: Any) -> str:
        """The token the request carries: the header, or a form's hidden field."""
        token = request.headers.get(self.config.header_name)
        if not token and request.content_type[0] in _FORMS:
            form = await request.form()
            token = form.get(FORM_FIELD)
        return token if isinstance(token, str) else ""

    def _wrap(self, send: Send, session_id: str, cookie_token: str, token: str) -> Send:
        """On the way out: a token for the session the response leaves the browser
        with, set only when it differs from the cookie the browser holds."""

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                outgoing = token
                new_session = _session_set_by(message, self.session_cookie)
                if new_session is not None and new_session != session_id:
                    outgoing = self.tokens.new(new_session)
                if outgoing != cookie_token:
                    self._set_cookie(message, outgoing)
            await send(message)

        return send_wrapper

    def _set_cookie(self, message: Message, token: str) -> None:
        cookie = Cookie(
            key=self.config.cookie_name,
            value=token,
            path=self.config.cookie_path,
            secure=self.config.cookie_secure,
            httponly=self.config.cookie_httponly,
            samesite=self.config.cookie_samesite,
            domain=self.config.cookie_domain,
        )
        MutableScopeHeaders.from_message(message).add("set-cookie", cookie.to_header(header=""))
