"""Views computed from the records, kept until the records change.

An entry is filed under the change counter it was read at (``db.records_version``,
one more for every committed change on every path and in every process), so a new
change makes every older entry unreachable: nothing here expires on a timer and
nothing needs to be told to forget. Entries are shared between requests: callers treat
them as read-only.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class VersionedCache(Generic[V]):
    """A bounded least-recently-used map; the key includes the counter it was read at."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._running: dict[tuple[asyncio.AbstractEventLoop, Hashable], asyncio.Future[Any]] = {}

    def get(self, key: Hashable) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: Hashable, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()

    async def computed_once(
        self,
        key: Hashable,
        compute: Callable[[], Awaitable[V]],
        fresh: Callable[[V], bool] = lambda _: True,
    ) -> V:
        """The entry kept under ``key`` while ``fresh(entry)`` (a view may also turn
        with the day), else ``compute()``, run once however many requests ask for it
        meanwhile, and kept: after a change, eight clinicians reloading a page wait for
        one computation instead of making eight. A request that stops waiting does not
        fail the others; if the one computing is cancelled, the next computes."""
        kept = self.get(key)
        if kept is not None and fresh(kept):
            return kept
        loop = asyncio.get_running_loop()
        slot = (loop, key)
        while (running := self._running.get(slot)) is not None:
            try:
                return await asyncio.shield(running)
            except asyncio.CancelledError:
                if not running.cancelled():
                    raise  # this request itself was cancelled
        future: asyncio.Future[V] = loop.create_future()
        self._running[slot] = future
        try:
            value = await compute()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters, if any, raise it themselves
            raise
        finally:
            self._running.pop(slot, None)
        self.put(key, value)
        future.set_result(value)
        return value
