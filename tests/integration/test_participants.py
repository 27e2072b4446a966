"""Participants through the API and the pages, with every access checked by program."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from compliance.tables import AuditEvent, Participant
from tests.support.staff import World, make_world, post_form, sign_in

NEW = {
    "client_id": "C-100",
    "first_name": "Dana",
    "last_name": "Reyes",
    "date_of_birth": "1990-05-17",
    "level_of_care": "2.1",
    "admitted_on": "2026-09-07",
}


@pytest.fixture
async def world(client: httpx.AsyncClient) -> World:
    return await make_world()


async def enroll_in(client: httpx.AsyncClient, program_id: int, **extra: str) -> dict:
    response = await client.post(
        "/api/participants", json={**NEW, **extra, "program_id": program_id}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_enroll_read_edit_and_list_through_the_api(client, world: World) -> None:
    await sign_in(client, world.clinician_a)
    created = await enroll_in(client, world.program_a)
    assert created["program_name"] == "Program A" and created["discharged_on"] is None
    pid = created["id"]
    assert (await client.get(f"/api/participants/{pid}")).json()["client_id"] == "C-100"
    edited = await client.patch(f"/api/participants/{pid}", json={"level_of_care": "2.5"})
    assert edited.status_code == 200 and edited.json()["level_of_care"] == "2.5"
    listed = (await client.get("/api/participants")).json()
    assert [p["id"] for p in listed] == [pid]
    event = await AuditEvent.select().where(AuditEvent.action == "participant.update").first()
    assert event["detail"] == '{"fields":["level_of_care"]}'  # names fields, never values
    assert "Reyes" not in str(await AuditEvent.select(AuditEvent.detail))


async def test_other_programs_records_are_not_found_through_api_and_pages(client, world):
    await sign_in(client, world.clinician_b)
    other = (await enroll_in(client, world.program_b))["id"]
    for email in (world.clinician_a, world.admin_a):
        await sign_in(client, email)
        assert (await client.get(f"/api/participants/{other}")).status_code == 404
        assert (
            await client.patch(f"/api/participants/{other}", json={"first_name": "X"})
        ).status_code == 404
        discharge = {"discharged_on": "2026-10-01", "reason": "completed"}
        assert (
            await client.post(f"/api/participants/{other}/discharge", json=discharge)
        ).status_code == 404
        assert (await client.get("/api/participants")).json() == []
        assert (
            await client.get(f"/api/participants?program_id={world.program_b}")
        ).status_code == 404
        assert (await client.get(f"/participants/{other}")).status_code == 404
        assert (
            await post_form(client, f"/participants/{other}/edit", {"first_name": "X"})
        ).status_code == 404
        assert (
            await post_form(client, f"/participants/{other}/discharge", discharge)
        ).status_code == 404
        refused = await client.post(
            "/api/participants", json={**NEW, "program_id": world.program_b}
        )
        assert refused.status_code == 422
        assert refused.json()["errors"] == [
            {"field": "program_id", "reason": "is not one of your programs"}
        ]
    row = await Participant.select().where(Participant.id == other).first()
    assert row["first_name"] == "Dana" and row["discharged_on"] is None


async def test_signed_out_api_is_401_and_pages_redirect_to_sign_in(client, world) -> None:
    assert (await client.get("/api/participants")).status_code == 401
    page = await client.get("/participants/5?x=1", headers={"accept": "text/html"})
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/participants/5%3Fx%3D1"


async def test_invalid_enrolment_names_each_field_and_stores_nothing(client, world) -> None:
    await sign_in(client, world.clinician_a)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    response = await client.post(
        "/api/participants",
        json={
            **NEW,
            "program_id": world.program_a,
            "admitted_on": tomorrow,
            "first_name": "  ",
        },
    )
    assert response.status_code == 422
    fields = {e["field"]: e["reason"] for e in response.json()["errors"]}
    assert fields["admitted_on"] == f"{tomorrow} is in the future"
    assert fields["first_name"] == "is required"
    await enroll_in(client, world.program_a)
    duplicate = await client.post("/api/participants", json={**NEW, "program_id": world.program_a})
    assert duplicate.status_code == 422
    assert duplicate.json()["errors"][0]["field"] == "client_id"
    bad_type = await client.post("/api/participants", json={**NEW, "program_id": "many"})
    assert bad_type.status_code == 400
    assert await Participant.count() == 1


async def test_discharge_rules(client, world) -> None:
    await sign_in(client, world.clinician_a)
    pid = (await enroll_in(client, world.program_a))["id"]
    url = f"/api/participants/{pid}/discharge"
    early = await client.post(url, json={"discharged_on": "2026-09-01", "reason": "completed"})
    assert early.status_code == 422
    assert "before admission" in early.json()["errors"][0]["reason"]
    other = await client.post(url, json={"discharged_on": "2026-10-01", "reason": "other"})
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "note"
    done = await client.post(url, json={"discharged_on": "2026-10-30", "reason": "completed"})
    assert done.status_code == 200
    assert done.json()["discharge_reason"] == "completed"
    again = await client.post(url, json={"discharged_on": "2026-10-31", "reason": "completed"})
    assert again.status_code == 422 and "already discharged" in again.text
    assert await AuditEvent.count().where(AuditEvent.action == "participant.discharge") == 1


async def test_enrol_through_the_pages(client, world) -> None:
    await sign_in(client, world.clinician_a)
    form = await client.get("/participants/new")
    assert form.status_code == 200 and "Program A" in form.text and "Program B" not in form.text
    bad = await post_form(
        client,
        "/participants/new",
        {**NEW, "program_id": str(world.program_a), "admitted_on": "13/45/2026"},
    )
    assert bad.status_code == 422
    assert "Admitted on &#39;13/45/2026&#39; is not a date" in bad.text
    assert 'value="Reyes"' in bad.text  # what was typed is kept
    ok = await post_form(
        client,
        "/participants/new",
        {**NEW, "program_id": str(world.program_a), "admitted_on": "9/7/2026"},
    )
    assert ok.status_code == 303
    page = await client.get(ok.headers["location"])
    assert "Dana Reyes" in page.text and "2026-09-07" in page.text
    listing = await client.get("/participants")
    assert "Reyes, Dana" in listing.text


@pytest.mark.parametrize(
    "url",
    [
        "/api/participants/9223372036854775808",
        "/api/participants/99999999999",
        "/participants/4294967296",
    ],
)
async def test_ids_beyond_any_record_are_404(client, world, url) -> None:
    await sign_in(client, world.clinician_a)
    assert (await client.get(url)).status_code == 404
