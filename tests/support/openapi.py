"""Real answers checked against the published OpenAPI schema by schemathesis: the same
checks the fuzzer (tests/system/test_api_fuzz.py) makes of its generated requests."""

from __future__ import annotations

from typing import Any

import httpx
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def schema_from(raw: dict[str, Any]) -> schemathesis.BaseSchema:
    # An explicit config: a stray schemathesis.toml must not change what is checked.
    return schemathesis.openapi.from_dict(raw, config=schemathesis.Config())


async def published_schema(client: httpx.AsyncClient) -> schemathesis.BaseSchema:
    """The schema the app serves at /schema/openapi.json."""
    return schema_from((await client.get("/schema/openapi.json")).json())


async def conforms(
    schema: schemathesis.BaseSchema, method: str, path: str, response: httpx.Response, **ids: int
) -> None:
    """The answer is documented: status, content type, body and headers."""
    await response.request.aread()  # an upload's body is a stream; the report quotes it
    case = schema[path][method].Case(path_parameters=ids)
    case.validate_response(response, checks=CHECKS)
