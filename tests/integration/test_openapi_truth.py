"""The published OpenAPI schema says what the API does (issue 17, point 9).

One test per schemathesis finding: ``OPTIONS`` named only some of a path's methods;
decimal fields were plain strings though ``"abc"`` is refused; consent documents are
served as PDF, PNG or JPEG while the schema said ``application/octet-stream``.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import msgspec
from litestar import Litestar
from litestar.routes import HTTPRoute

from compliance.consent.consents import DOCUMENT_TYPES
from tests.support.openapi import conforms, schema_from
from tests.support.records import enroll, recipient
from tests.support.staff import signed_in_world

METHODS = {"get", "put", "post", "delete", "patch", "head"}
# Smallest files each signature accepts (compliance.consent.consents.DOCUMENT_TYPES).
SIGNED = {
    "application/pdf": b"%PDF-1.7\n% signed consent\n" + b"x" * 100,
    "image/png": b"\x89PNG\r\n\x1a\n" + b"\0" * 100,
    "image/jpeg": b"\xff\xd8\xff\xe0" + b"\0" * 100,
}


def _app(client: httpx.AsyncClient) -> Litestar:
    return client._transport.app  # the conftest's ASGI transport around the real app


def _concrete(template: str) -> str:
    """A URL for a path template: ids 1, a day a date, other parameters a word no route
    spells."""
    url = re.sub(r"\{day(:\w+)?\}", "2026-01-05", template)
    url = re.sub(r"\{[^}:]+:int\}", "1", url)
    return re.sub(r"\{[^}]+\}", "zz9", url)


def _allowed(response: httpx.Response) -> set[str]:
    return {m.strip() for m in response.headers.get("allow", "").split(",") if m.strip()}


async def test_options_lists_every_method_a_path_serves(client: httpx.AsyncClient) -> None:
    """Litestar 2 answered with the methods of the first handler registered on a path:
    ``Allow: OPTIONS, POST`` on /api/participants, which is also a GET."""
    schema = (await client.get("/schema/openapi.json")).json()
    for path, operations in schema["paths"].items():
        documented = {m.upper() for m in operations if m in METHODS} | {"OPTIONS"}
        response = await client.options(_concrete(path.replace("}", ":int}")))
        assert response.status_code == 204, (path, response.text)
        assert _allowed(response) == documented, path
    # Pages too, which the schema leaves out: every route, as the app built it.
    routes = [r for r in _app(client).routes if isinstance(r, HTTPRoute)]
    shared = [r for r in routes if len(r.methods - {"OPTIONS"}) > 1]
    assert len(shared) > 20  # the paths the bug hid methods of
    for route in routes:
        response = await client.options(_concrete(route.path))
        assert _allowed(response) == set(route.methods), route.path


# --- decimals -------------------------------------------------------------------------


def _classes(annotation: Any) -> Iterator[type]:
    """The dataclasses and msgspec Structs an annotation names, at any depth."""
    if isinstance(annotation, type) and (
        dataclasses.is_dataclass(annotation) or issubclass(annotation, msgspec.Struct)
    ):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _classes(arg)


def _decimal_fields(app: Litestar) -> set[tuple[str, str]]:
    """(class, field) of every Decimal in a published operation's body or answer, found
    from the Python types, so a new decimal field is checked without editing the test."""
    seen: set[type] = set()
    todo: list[type] = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if not handler.resolve_include_in_schema():
                continue
            signature = handler.parsed_fn_signature
            for field in [*signature.parameters.values(), signature.return_type]:
                todo.extend(_classes(field.annotation))
    found: set[tuple[str, str]] = set()
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        for name, hint in typing.get_type_hints(cls).items():
            if hint is Decimal or Decimal in typing.get_args(hint):
                found.add((cls.__name__, name))
            todo.extend(_classes(hint))
    return found


def _string_schema(prop: dict[str, Any]) -> dict[str, Any]:
    """The non-null branch of an optional field's schema."""
    branches = [b for b in prop.get("oneOf", [prop]) if b.get("type") != "null"]
    assert len(branches) == 1, prop
    return branches[0]


async def test_decimal_fields_are_strings_with_the_pattern_the_service_accepts(
    client: httpx.AsyncClient,
) -> None:
    """Every Decimal, asked or answered, is ``type: string`` with a pattern; a value the
    pattern refuses is refused, one it allows is stored and answered in that form."""
    schema = (await client.get("/schema/openapi.json")).json()
    components = schema["components"]["schemas"]
    fields = _decimal_fields(_app(client))
    assert {("NewDrugTest", "specific_gravity"), ("NewPhase", "required_hours_per_week")} <= fields
    assert {("DrugTestView", "ph"), ("AnalyteResultView", "level_ng_ml")} <= fields
    patterns = set()
    for cls, name in sorted(fields):
        assert cls in components, f"{cls} is not published under its own name"
        prop = _string_schema(components[cls]["properties"][name])
        assert prop["type"] == "string" and prop.get("pattern"), (cls, name, prop)
        patterns.add(prop["pattern"])
    (pattern,) = patterns
    assert re.search(pattern, "1.015") and re.search(pattern, "412")
    assert not re.search(pattern, "abc") and not re.search(pattern, "NaN")

    world = await signed_in_world(client, analytes=True)
    pid = await enroll(client, world.program_a, "C-1", "Jane", "Doe")
    url = f"/api/participants/{pid}/drug-tests"
    test = {
        "collected_at": "2026-03-04T08:15",
        "results": [{"analyte": "thc", "screen_result": "negative"}],
    }
    refused = await client.post(url, json={**test, "specific_gravity": "abc"})
    assert refused.status_code in (400, 422), refused.text
    assert "specific_gravity" in refused.text
    stored = await client.post(url, json={**test, "specific_gravity": "1.015", "ph": "6.4"})
    assert stored.status_code == 201, stored.text
    answer = (await client.get(url)).json()
    assert [re.search(pattern, t["specific_gravity"]) is not None for t in answer] == [True]
    assert float(answer[0]["specific_gravity"]) == 1.015


# --- media types ----------------------------------------------------------------------


async def test_consent_documents_are_documented_as_served(client: httpx.AsyncClient) -> None:
    """A signed consent comes back as the PDF, PNG or JPEG it was, and the schema lists
    those three; it said application/octet-stream."""
    raw = (await client.get("/schema/openapi.json")).json()
    template = "/api/consents/{consent_id}/document"
    ok = raw["paths"][template]["get"]["responses"]["200"]["content"]
    assert set(ok) == set(DOCUMENT_TYPES.values()) == set(SIGNED)
    report = raw["paths"]["/api/reports/{report_id}/pdf"]["get"]["responses"]["200"]
    assert set(report["content"]) == {"application/pdf"}
    openapi = schema_from(raw)
    world = await signed_in_world(client)
    pid = await enroll(client, world.program_a, "R1", "Dana", "Reyes")
    officer = await recipient(client, world.program_a, "Pat Officer", "pat@probation.example")
    for media_type, content in SIGNED.items():
        consent = await client.post(
            f"/api/participants/{pid}/consents",
            json={
                "recipient_id": officer,
                "information_categories": ["attendance"],
                "information_description": "Attendance",
                "purposes": ["court_supervision"],
                "revocation_instructions": "In writing to the director",
                "signed_by_name": "Dana Reyes",
                "signed_on": "2026-01-05",
                "expires_on": "2099-01-01",
            },
        )
        assert consent.status_code == 201, consent.text
        cid = consent.json()["id"]
        url = template.format(consent_id=cid)
        attached = await client.put(url, files={"document": ("signed", content, media_type)})
        assert attached.status_code == 200, attached.text
        served = await client.get(url)
        assert served.status_code == 200 and served.content == content
        assert served.headers["content-type"] == media_type
        await conforms(openapi, "GET", template, served, consent_id=cid)
