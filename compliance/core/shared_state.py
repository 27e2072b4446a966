"""What instances share when there are several: Redis (REDIS_URL) for sign-in sessions
and rate-limit counts. Without REDIS_URL, one process keeps both itself, as before.

The counts are a sliding window kept in a Redis sorted set and changed by one script,
so two instances counting at the same moment cannot both take the last place; Redis's
own clock times them, so instances whose clocks differ still agree."""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict, deque
from typing import Protocol

from litestar.stores.base import Store
from litestar.stores.file import FileStore
from litestar.stores.redis import RedisStore
from redis.asyncio import Redis

from compliance.core.settings import Settings

NAMESPACE = "compliance"

_TAKE_PLACE = b"""
local key, window_ms, limit, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now_ms - window_ms)
if redis.call('ZCARD', key) >= limit then
  return 0
end
redis.call('ZADD', key, now_ms, member)
redis.call('PEXPIRE', key, window_ms)
return 1
"""


class Window(Protocol):
    """At most ``limit`` events per key in any ``seconds``."""

    async def allow(self, key: str) -> bool: ...


class LocalWindow:
    """Counted in this process: right for one process, too generous for several."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    async def allow(self, key: str) -> bool:
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


class RedisWindow:
    """Counted in Redis, across every instance."""

    def __init__(self, redis: Redis, name: str, limit: int, seconds: float) -> None:
        self.prefix = f"{NAMESPACE}:limit:{name}:"
        self.limit = limit
        self.window_ms = int(seconds * 1000)
        self._take = redis.register_script(_TAKE_PLACE)

    async def allow(self, key: str) -> bool:
        member = uuid.uuid4().hex  # two events in one millisecond are two events
        taken = await self._take(
            keys=[self.prefix + key], args=[self.window_ms, self.limit, member]
        )
        return bool(taken)


class SharedState:
    """The app's sessions store and rate-limit windows, from its settings."""

    def __init__(self, settings: Settings) -> None:
        self.redis: Redis | None = (
            Redis.from_url(settings.redis_url) if settings.redis_url else None
        )
        self.settings = settings

    def session_store(self) -> Store:
        if self.redis is not None:
            return RedisStore(self.redis, namespace=f"{NAMESPACE}:sessions")
        return FileStore(self.settings.var_dir / "sessions", create_directories=True)

    def window(self, name: str, limit: int, seconds: float) -> Window:
        if self.redis is not None:
            return RedisWindow(self.redis, name, limit, seconds)
        return LocalWindow(limit, seconds)

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
