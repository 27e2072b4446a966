"""A small in-process sliding-window limiter for the officer link endpoints: per client
address and per token, so neither a scanner nor a leaked link can hammer them."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

from litestar.connection import ASGIConnection
from litestar.exceptions import TooManyRequestsException
from litestar.handlers import BaseRouteHandler


class SlidingWindow:
    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - self.seconds:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            if len(self._hits) > 50_000:  # forget idle keys rather than grow forever
                for k in [k for k, v in self._hits.items() if not v]:
                    del self._hits[k]
            return True


def _windows(connection: ASGIConnection) -> tuple[SlidingWindow, SlidingWindow]:
    """One pair of windows per app, sized by its settings."""
    state = connection.app.state
    if "link_limits" not in state:
        settings = state.settings
        state.link_limits = (
            SlidingWindow(settings.link_rate_per_client, 60),
            SlidingWindow(settings.link_rate_per_token, 60),
        )
    return state.link_limits


async def link_rate_limit(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Guard for /l/ routes. Keys are the client address and the token's hash. Async, so
    it runs on the event loop rather than in a worker thread."""
    from compliance.disclosure.links import token_hash

    per_client, per_token = _windows(connection)
    client = connection.client.host if connection.client else "?"
    token = str(connection.path_params.get("token", ""))
    if not per_client.allow(client) or not per_token.allow(token_hash(token)):
        raise TooManyRequestsException(
            "too many requests; wait a minute", headers={"Retry-After": "60"}
        )
