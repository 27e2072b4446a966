"""A request body nested deeper than any real one is refused before it is parsed.

msgspec decodes recursively: a body of a thousand ``[`` raised ``RecursionError``
inside Litestar's parsing, before sign-in, as a 500 with a traceback each time. No
body this service reads nests more than a few levels, so anything past
``MAX_JSON_DEPTH`` is a 400 naming the limit, found by a scan that counts brackets
outside strings and never recurses.
"""

from __future__ import annotations

import re

from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException

MAX_JSON_DEPTH = 32
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# A JSON string (escapes included) or one bracket; possessive, so never backtracking.
_TOKENS = re.compile(rb'"(?:[^"\\]++|\\.)*+"|[\[\]{}]')
_OPENERS = (b"[", b"{")
_FORMS = {RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART}


def nested_deeper_than(body: bytes, limit: int) -> bool:
    """Whether ``body`` opens more than ``limit`` arrays or objects inside one another.
    Brackets inside strings do not count. Most bodies have too few brackets to need
    the scan at all."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for match in _TOKENS.finditer(body):
        token = match.group()
        if token in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        elif len(token) == 1:
            depth -= 1
    return False


async def refuse_deep_json(request: Request) -> None:
    """``before_request`` for every route: runs before the body is parsed. Forms are
    parsed without recursion and skipped; any other body may be read as JSON (Litestar
    decodes a JSON parameter whatever the declared content type), so it is scanned."""
    if request.method not in BODY_METHODS or request.content_type[0] in _FORMS:
        return
    body = await request.body()
    if nested_deeper_than(body, MAX_JSON_DEPTH):
        raise ClientException(
            f"the request body is nested deeper than {MAX_JSON_DEPTH} levels; "
            "nothing was read or stored"
        )
