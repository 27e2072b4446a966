"""The officer link endpoints' limits: per client address and per token, so neither a
scanner nor a leaked link can hammer them. Counted in Redis when REDIS_URL is set (every
instance counts together), else in this process (core/shared_state.py)."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import TooManyRequestsException
from litestar.handlers import BaseRouteHandler

from compliance.core.shared_state import Window


def _windows(connection: ASGIConnection) -> tuple[Window, Window]:
    """One pair of windows per app, sized by its settings."""
    state = connection.app.state
    if "link_limits" not in state:
        settings = state.settings
        state.link_limits = (
            state.shared.window("link-client", settings.link_rate_per_client, 60),
            state.shared.window("link-token", settings.link_rate_per_token, 60),
        )
    return state.link_limits


async def link_rate_limit(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Guard for /l/ routes. Keys are the client address and the token's hash. Async, so
    it runs on the event loop rather than in a worker thread."""
    from compliance.disclosure.links import token_hash

    per_client, per_token = _windows(connection)
    client = connection.client.host if connection.client else "?"
    token = str(connection.path_params.get("token", ""))
    if not await per_client.allow(client) or not await per_token.allow(token_hash(token)):
        raise TooManyRequestsException(
            "too many requests; wait a minute", headers={"Retry-After": "60"}
        )
