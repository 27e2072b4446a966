"""Typed request bodies (for validation and the OpenAPI schema) back to plain values
that the service functions read, the same shape a form or a CSV row has."""

from dataclasses import asdict, is_dataclass
from enum import Enum
from typing import Any


def plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return plain(asdict(value))
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    return value
