"""Administrators manage staff and policy of their own programs; clinicians get 403."""

from __future__ import annotations

import httpx
import pytest

from compliance.tables import AuditEvent, StaffUser
from tests.support.staff import PASSWORD, World, make_world, sign_in

ADMIN_CALLS = [
    ("GET", "/api/admin/users", None),
    (
        "POST",
        "/api/admin/users",
        {
            "email": "x@y.org",
            "full_name": "X",
            "password": PASSWORD,
            "role": "clinician",
            "program_ids": [1],
        },
    ),
    (
        "POST",
        "/api/admin/invites",
        {"email": "x@y.org", "full_name": "X", "role": "clinician", "program_ids": [1]},
    ),
    ("POST", "/api/admin/users/1/invite", None),
    ("POST", "/api/admin/users/1/deactivate", None),
    ("POST", "/api/admin/users/1/activate", None),
    ("GET", "/api/admin/programs/1", None),
    ("POST", "/api/admin/programs/1/policy-preview", {"week_starts_on": 6}),
    ("PATCH", "/api/admin/programs/1", {"week_starts_on": 6}),
]


@pytest.fixture
async def world(client: httpx.AsyncClient) -> World:
    return await make_world()


async def test_clinicians_are_refused_every_admin_call(client, world) -> None:
    await sign_in(client, world.clinician_a)
    for method, url, body in ADMIN_CALLS:
        response = await client.request(method, url, json=body)
        assert response.status_code == 403, (method, url, response.status_code)
    assert await StaffUser.count() == 3


async def test_admin_manages_staff_of_own_programs_only(client, world) -> None:
    await sign_in(client, world.admin_a)
    staff = (await client.get("/api/admin/users")).json()
    assert sorted(s["email"] for s in staff) == ["a@example.org", "admin@example.org"]
    made = await client.post(
        "/api/admin/users",
        json={
            "email": "New@Example.org",
            "full_name": "New Person",
            "password": PASSWORD,
            "role": "clinician",
            "program_ids": [world.program_a],
            "credentials": "LPC",
        },
    )
    assert made.status_code == 201, made.text
    assert made.json()["email"] == "new@example.org"
    elsewhere = await client.post(
        "/api/admin/users",
        json={
            "email": "z@example.org",
            "full_name": "Z",
            "password": PASSWORD,
            "role": "admin",
            "program_ids": [world.program_b],
        },
    )
    assert elsewhere.status_code == 422
    assert elsewhere.json()["errors"][0]["reason"] == "may only name programs you administer"
    short = await client.post(
        "/api/admin/users",
        json={
            "email": "s@example.org",
            "full_name": "S",
            "password": "short",
            "role": "clinician",
            "program_ids": [world.program_a],
        },
    )
    assert short.status_code == 422 and "at least 12" in short.text
    others = {s["email"]: s["id"] for s in (await client.get("/api/admin/users")).json()}
    b_user = (await StaffUser.select().where(StaffUser.email == world.clinician_b).first())["id"]
    assert (await client.post(f"/api/admin/users/{b_user}/deactivate")).status_code == 404
    me = await client.post(f"/api/admin/users/{others['admin@example.org']}/deactivate")
    assert me.status_code == 422
    off = await client.post(f"/api/admin/users/{others['a@example.org']}/deactivate")
    assert off.status_code == 200 and off.json()["active"] is False
    # The deactivated clinician's session ends at once.
    other = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with other:
        await other.get("/login")
        signed = await other.post(
            "/api/session",
            json={"email": world.clinician_a, "password": PASSWORD},
            headers={"x-csrftoken": other.cookies["csrftoken"]},
        )
        assert signed.status_code == 401


async def test_admin_sets_program_policy(client, world) -> None:
    await sign_in(client, world.admin_a)
    url = f"/api/admin/programs/{world.program_a}"
    before = (await client.get(url)).json()
    assert (before["week_starts_on"], before["dilute_counts_as_positive"]) == (0, False)
    assert before["results_due_hours"] == 48 and before["collection_window_hours"] == 8
    change = {
        "week_starts_on": 6,
        "dilute_counts_as_positive": True,
        "dilute_creatinine_mg_dl": 15.5,
    }
    unconfirmed = await client.patch(url, json=change)
    assert unconfirmed.status_code == 422
    assert unconfirmed.json()["errors"][0]["field"] == "confirmation"
    assert (await client.get(url)).json() == before  # nothing changed
    preview = await client.post(f"{url}/policy-preview", json=change)
    assert preview.status_code == 200, preview.text
    assert {c["name"] for c in preview.json()["changes"]} == set(change)
    changed = await client.patch(
        url, json={**change, "confirmation": preview.json()["confirmation"]}
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["week_starts_on"], body["dilute_counts_as_positive"]) == (6, True)
    assert float(body["dilute_creatinine_mg_dl"]) == 15.5
    bad = await client.patch(url, json={"week_starts_on": 9})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "week_starts_on"
    assert (await client.get(f"/api/admin/programs/{world.program_b}")).status_code == 404
    event = await AuditEvent.select().where(AuditEvent.action == "program.settings").first()
    assert "week_starts_on" in event["detail"]
