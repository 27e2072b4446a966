"""Views computed from the records, kept until the records change.

An entry is filed under the change counter it was read at (``db.records_version``,
one more for every committed change on every path and in every process), so a new
change makes every older entry unreachable: nothing here expires on a timer and
nothing needs to be told to forget. Entries are shared between requests: callers treat
them as read-only.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class VersionedCache(Generic[V]):
    """A bounded least-recently-used map; the key includes the counter it was read at."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, V] = OrderedDict()

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
