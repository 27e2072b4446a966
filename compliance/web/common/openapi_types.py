"""What the published OpenAPI schema must say that Litestar 2 gets wrong on its own.

Three findings of schemathesis (issue 17), each a place where the schema and the
answers disagreed, so a program built on the schema could not handle the answers:

* ``OPTIONS`` listed the methods of the first handler registered on a path only
  (``Allow: OPTIONS, POST`` on ``/api/participants``, which also answers GET). Litestar
  2 builds its default OPTIONS handler when a path's first handler is registered and
  keeps it, with that first method list, when later handlers join the path
  (litestar-org/litestar#4169, fixed in v3 only). ``allow_every_method`` rewrites the
  header from the path's finished route.
* A decimal (a cutoff, a specific gravity, required hours) was a plain string, though
  ``"abc"`` is refused: ``DecimalStrings`` gives every ``Decimal`` a pattern.
* A signed consent is served as the PDF, PNG or JPEG it was uploaded as, and the schema
  said ``application/octet-stream``: ``served_as`` lists the real media types.

And one name the schema must keep: two request bodies share a class name (a report's
and a consent's ``Revocation``), so Litestar names each after its module path, and
moving a module renamed them for every client generated from the schema;
``json_body_named`` pins the published name.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from litestar import Litestar
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import HttpMethod, RequestEncodingType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, Operation, Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType
from litestar.params import Body
from litestar.plugins import OpenAPISchemaPlugin
from litestar.routes import HTTPRoute
from litestar.types import Message, Scope
from litestar.typing import FieldDefinition

# What msgspec decodes and the services accept, and what str(Decimal) encodes:
# optional minus, digits, optional fraction, optional exponent ("1E+1" is how a
# Decimal ten with a negative scale prints). Range and scale are the service's checks
# (fit_decimal: too many digits is a 422 naming the field; extra places are rounded).
DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$"


class DecimalStrings(OpenAPISchemaPlugin):
    """Every ``Decimal``, in bodies and answers: a string with ``DECIMAL_PATTERN``."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return value is Decimal

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        return Schema(
            type=OpenAPIType.STRING,
            pattern=DECIMAL_PATTERN,
            description="a decimal number as a string, e.g. 1.015",
        )


def served_as(*media_types: str) -> type[Operation]:
    """``operation_class=`` for a download whose 200 is one of several file types:
    Litestar documents a handler's single ``media_type`` only."""

    @dataclass
    class Download(Operation):
        def __post_init__(self) -> None:
            ok = (self.responses or {}).get("200")
            if isinstance(ok, OpenAPIResponse):
                binary = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
                ok.content = {kind: OpenAPIMediaType(schema=binary) for kind in media_types}

    return Download


def json_body_named(key: str) -> Any:
    """The JSON body kwarg (``Annotated[Model, json_body_named(...)]``) whose schema
    component is called ``key`` wherever the model is defined."""
    return Body(media_type=RequestEncodingType.JSON, schema_component_key=key)


def _methods_by_path(app: Litestar) -> dict[str, str]:
    """Each path's Allow value from its finished route (every handler registered)."""
    return {
        route.path: ", ".join(sorted(route.methods))
        for route in app.routes
        if isinstance(route, HTTPRoute)
    }


class AllowEveryMethod:
    """The ``before_send`` hook: an answer to OPTIONS from Litestar's own handler gets
    the Allow header of the whole path. Filled on first use: the routes are only
    complete once the app is built."""

    def __init__(self) -> None:
        self._allow: dict[str, str] | None = None

    async def __call__(self, message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start" or scope.get("method") != HttpMethod.OPTIONS:
            return
        handler = scope.get("route_handler")
        if not isinstance(handler, HTTPRouteHandler) or handler.handler_name != "options_handler":
            return  # not Litestar's default OPTIONS handler
        if self._allow is None:
            self._allow = _methods_by_path(scope["app"])
        allow = next((self._allow[p] for p in handler.paths if p in self._allow), None)
        if allow is not None:
            MutableScopeHeaders.from_message(message)["Allow"] = allow


def allow_every_method() -> AllowEveryMethod:
    return AllowEveryMethod()
