"""Views built from database rows. Most of a view's fields are a column of the same name
(or, for ``x_id``, the foreign key column ``x``); only what a view works out itself is
written at its builder, so a field added to a table and its view needs nothing more."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from functools import cache
from typing import Any, TypeVar

V = TypeVar("V")


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls) if f.init)


def view_of(cls: type[V], row: Mapping[str, Any], **computed: Any) -> V:
    """``cls`` (a dataclass) of ``row``: each field not ``computed`` is the column of its
    name, else for ``x_id`` the column ``x``; a field with neither is a KeyError, never
    a silent default."""
    taken = {
        name: row[name] if name in row else row[name.removesuffix("_id")]
        for name in _field_names(cls)
        if name not in computed
    }
    return cls(**taken, **computed)
