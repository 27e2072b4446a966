"""Server-side sign-in sessions (a staff member's login, not the treatment sessions of
web/attendance/api.py): the cookie holds a random id, the data stays on the server.

The session id is replaced at sign-in (so an id planted before sign-in is worthless)
and deleted at sign-out. Anonymous visitors get no session at all: no cookie, no file.

A session lasts ``SESSION_MAX_AGE`` from sign-in, however busy: the store's expiry is
renewed by every response (so it only ends idle sessions), and a stolen cookie kept
alive by use must still die at the end of the day.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.types import Empty, Message, ScopeSession

ROTATE_KEY = "_rotate_session_id"
_NEW_ID = "compliance.new_session_id"
SIGNED_IN_AT = "signed_in_at"  # seconds since the epoch, set at sign-in
SESSION_MAX_AGE = 8 * 60 * 60  # a working day
SESSION_COOKIE = "compliance_session"  # CSRF tokens are bound to its value (common/csrf.py)


def within_lifetime(session: Mapping[str, Any]) -> bool:
    """Signed in less than ``SESSION_MAX_AGE`` ago (a session without the time: no)."""
    signed_in_at = session.get(SIGNED_IN_AT)
    if not isinstance(signed_in_at, int | float):
        return False
    return 0 <= time.time() - signed_in_at < SESSION_MAX_AGE


class RotatingSessionBackend(ServerSideSessionBackend):
    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection
    ) -> None:
        if not scope_session:  # Empty or {}: nobody signed in
            cookie = connection.cookies.get(self.config.key)
            if not cookie or cookie == "null":
                return  # no cookie and no stored file for anonymous visitors
            scope_session = Empty
        elif isinstance(scope_session, dict) and scope_session.pop(ROTATE_KEY, False):
            old = connection.cookies.get(self.config.key)
            if old and old != "null":
                await self.delete(old, store=self.config.get_store_from_app(connection.app))
            connection.scope[_NEW_ID] = self.generate_session_id()  # type: ignore[typeddict-unknown-key]
        await super().store_in_message(scope_session, message, connection)

    def get_session_id(self, connection: ASGIConnection) -> str:
        new_id: Any = connection.scope.get(_NEW_ID)
        return new_id or super().get_session_id(connection)


class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend


def session_config(secure: bool) -> RotatingSessionConfig:
    return RotatingSessionConfig(
        key=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        httponly=True,
        secure=secure,
        samesite="lax",
        store="sessions",
    )
