"""Records made as staff make them, through the API: a participant, a group session, a
recipient of reports; each asserts it was made and returns the new id. And a lab's
own code for an analyte, which a program's table maps."""

from __future__ import annotations

import httpx

from compliance.tables import AnalyteCode


async def _made(client: httpx.AsyncClient, url: str, body: dict[str, object]) -> int:
    response = await client.post(url, json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def enroll(
    client: httpx.AsyncClient,
    program_id: int,
    client_id: str,
    first_name: str,
    last_name: str,
    admitted_on: str = "2026-01-05",
    **extra: object,
) -> int:
    body = {"client_id": client_id, "first_name": first_name, "last_name": last_name}
    return await _made(
        client,
        "/api/participants",
        {"program_id": program_id, **body, "admitted_on": admitted_on, **extra},
    )


async def group_session(
    client: httpx.AsyncClient,
    program_id: int,
    starts_at: str = "2026-03-03T18:00",
    minutes: int = 180,
    **extra: object,
) -> int:
    body = {"session_type": "group", "starts_at": starts_at, "scheduled_minutes": minutes}
    return await _made(client, "/api/sessions", {"program_id": program_id, **body, **extra})


async def recipient(
    client: httpx.AsyncClient,
    program_id: int,
    name: str,
    email: str,
    kind: str = "probation_officer",
    **extra: object,
) -> int:
    body = {"kind": kind, "name": name, "email": email}
    return await _made(client, "/api/recipients", {"program_id": program_id, **body, **extra})


async def lab_code(program_id: int, local_code: str, coding_system: str, code: str) -> None:
    """``code`` of ``coding_system`` (e.g. LOINC's "LN") for the analyte the program
    knows as ``local_code``."""
    analyte = await AnalyteCode.select().where(AnalyteCode.code == local_code).first()
    await AnalyteCode.insert(
        AnalyteCode(
            program=program_id, analyte=analyte["analyte"], coding_system=coding_system, code=code
        )
    )
