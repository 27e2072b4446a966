"""Building blocks for tests that act as staff: programs, accounts, signed-in clients."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from compliance import accounts
from compliance.tables import Program
from compliance.vocabulary import Role

PASSWORD = "correct horse battery staple"


@dataclass
class World:
    """Two programs, a clinician in each, and an admin of program A only."""

    program_a: int
    program_b: int
    clinician_a: str = "a@example.org"
    clinician_b: str = "b@example.org"
    admin_a: str = "admin@example.org"


async def make_world() -> World:
    a = Program(code="A", name="Program A", time_zone="America/Chicago")
    b = Program(code="B", name="Program B", time_zone="America/New_York")
    await a.save()
    await b.save()
    world = World(a.id, b.id)
    for email, role, program in [
        (world.clinician_a, Role.clinician, a.id),
        (world.clinician_b, Role.clinician, b.id),
        (world.admin_a, Role.admin, a.id),
    ]:
        await accounts.create_staff_user(
            email=email,
            full_name=email.split("@")[0].title(),
            password=PASSWORD,
            role=role,
            program_ids=[program],
        )
    return world


async def csrf_token(client: httpx.AsyncClient) -> str:
    if "csrftoken" not in client.cookies:
        await client.get("/login")
    return client.cookies["csrftoken"]


async def sign_in(client: httpx.AsyncClient, email: str) -> None:
    """Sign in through the API; the client keeps the session and CSRF cookies."""
    client.cookies.clear()
    token = await csrf_token(client)
    response = await client.post(
        "/api/session", json={"email": email, "password": PASSWORD}, headers={"x-csrftoken": token}
    )
    assert response.status_code == 200, response.text
    client.headers["x-csrftoken"] = token


async def post_form(client: httpx.AsyncClient, url: str, data: dict[str, str]) -> httpx.Response:
    token = await csrf_token(client)
    return await client.post(url, data={**data, "_csrf_token": token})
