"""The access matrix, walked from the app's own route table: every route is either
public, or refuses a signed-out caller, and every route that names a record refuses a
user of another program with 404. A new route that is not listed in the matrix
(tests/support/routes.py) fails the test."""

from __future__ import annotations

import httpx

from compliance.tables import AnalyteResult, Attendance, Consent, DrugTest, Mandate, Participant
from tests.support.app import all_routes, app_of
from tests.support.routes import ADMIN_BODIES, BODIES, COLLECTIONS, PUBLIC, fill, with_program
from tests.support.staff import sign_in


def routes(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    """Every route but the API docs."""
    return [(p, m) for p, m in all_routes(app_of(client)) if not p.startswith("/schema")]


async def test_every_route_is_public_or_refuses_strangers(client, program_a_records) -> None:
    _, ids = program_a_records
    client.cookies.clear()
    client.headers.pop("x-csrftoken", None)
    await client.get("/login")
    client.headers["x-csrftoken"] = client.cookies["csrftoken"]
    for path, method in routes(client):
        if (path, method) in PUBLIC:
            continue
        url = fill(path, ids)
        api = path.startswith("/api/")
        headers = {"accept": "application/json" if api else "text/html"}
        response = await client.request(method, url, headers=headers)
        expected = 401 if api else 303
        assert response.status_code == expected, f"{method} {path}: {response.status_code}"
        if not api:
            assert response.headers["location"].startswith("/login?next=")


async def test_every_route_refuses_another_programs_user(client, program_a_records) -> None:
    world, ids = program_a_records
    before = {
        t.__name__: await t.count()
        for t in (Participant, Attendance, DrugTest, AnalyteResult, Mandate, Consent)
    }
    await sign_in(client, world.clinician_b)
    seen = set()
    for path, method in routes(client):
        key = (path, method)
        if key in PUBLIC:
            continue
        seen.add(key)
        if path.startswith(("/api/admin/", "/admin")):
            # The role dimension: administrators only, API and pages (test_admin and
            # test_admin_pages cover other programs).
            response = await client.request(method, fill(path, ids), json={})
            assert response.status_code in (403, 400), f"{method} {path}: {response.status_code}"
            if response.status_code == 400:  # body rejected before the handler: try a valid one
                response = await client.request(method, fill(path, ids), json=ADMIN_BODIES[key])
                assert response.status_code == 403, f"{method} {path}: {response.status_code}"
            continue
        if "{" in path:
            assert key in BODIES or method == "GET", f"{method} {path}: add a body to the matrix"
            kwargs = BODIES.get(key, {})
            if "data" in kwargs and "files" not in kwargs:
                kwargs = {"data": {**kwargs["data"], "_csrf_token": client.cookies["csrftoken"]}}
            response = await client.request(method, fill(path, ids), **kwargs)
            assert response.status_code == 404, (
                f"{method} {path}: {response.status_code} {response.text[:200]}"
            )
        else:
            assert key in COLLECTIONS, f"{method} {path}: add it to the access matrix"
            status, kwargs = COLLECTIONS[key]
            kwargs = with_program(kwargs, world.program_a)
            if "data" in kwargs and "files" not in kwargs:
                kwargs = {"data": {**kwargs["data"], "_csrf_token": client.cookies["csrftoken"]}}
            elif "files" in kwargs:
                kwargs = {
                    **kwargs,
                    "data": {**kwargs["data"], "_csrf_token": client.cookies["csrftoken"]},
                }
            response = await client.request(method, path, **kwargs)
            assert response.status_code == status, f"{method} {path}: {response.status_code}"
            assert "Ann" not in response.text and "Able" not in response.text
    assert seen, "no routes walked"
    after = {
        t.__name__: await t.count()
        for t in (Participant, Attendance, DrugTest, AnalyteResult, Mandate, Consent)
    }
    assert after == before
