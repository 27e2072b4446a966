"""Numbers beyond their column, on every path (issue 17, point 1): the API, the page
form, a correction, a CSV row and an HL7 OBX-5 answer with the field and "out of
range" or "too large", and store nothing; before, 1e30 raised InvalidOperation (a 500)."""

from __future__ import annotations

import httpx
import pytest

from compliance.tables import DrugTest
from tests.support.records import enroll, group_session
from tests.support.staff import World, post_form, signed_in_world

HUGE = ["1e30", "1" * 40, "9" * 12 + ".5"]


@pytest.fixture
async def person(client: httpx.AsyncClient) -> tuple[World, int]:
    world = await signed_in_world(client, analytes=True)
    return world, await enroll(client, world.program_a, "C-1001", "Jane", "Doe", "2024-01-01")


def _test(creatinine: str) -> dict:
    return {
        "collected_at": "2026-03-04T09:30",
        "creatinine_mg_dl": creatinine,
        "results": [{"analyte": "thc", "screen_result": "negative"}],
    }


async def test_the_api_and_a_correction_refuse_a_number_too_large(client, person) -> None:
    _, pid = person
    url = f"/api/participants/{pid}/drug-tests"
    for value in HUGE:
        refused = await client.post(url, json=_test(value))
        assert refused.status_code == 422, (value, refused.text)
        assert "creatinine_mg_dl" in refused.text and "too large" in refused.text
    assert await DrugTest.count() == 0
    made = await client.post(url, json=_test("85"))
    assert made.status_code == 201, made.text
    for value in HUGE:
        corrected = await client.post(
            f"/api/drug-tests/{made.json()['id']}/corrections",
            json={"creatinine_mg_dl": value, "correction_reason": "typo"},
        )
        assert corrected.status_code == 422, (value, corrected.text)
        assert "creatinine_mg_dl" in corrected.text
    assert await DrugTest.count() == 1


async def test_the_page_form_refuses_it_in_the_page(client, person) -> None:
    _, pid = person
    answer = await post_form(
        client,
        f"/participants/{pid}/drug-tests",
        {
            "collected_at": "2026-03-04T09:30",
            "creatinine_mg_dl": "1e30",
            "screen:thc": "negative",
        },
    )
    assert answer.status_code in (400, 422), answer.status_code
    assert answer.headers["content-type"].startswith("text/html")
    assert "too large" in answer.text
    assert await DrugTest.count() == 0


async def test_a_csv_row_and_an_hl7_obx_name_the_field(client, person) -> None:
    world, _ = person
    csv = (
        b"client_id,accession_id,collected_at,creatinine_mg_dl,analyte,screen_result\n"
        b"C-1001,A-1,2026-03-02 08:15,1e30,THC,negative\n"
    )
    hl7 = (
        b"MSH|^~\\&|LAB|X|IOP|X|20260312143000-0600||ORU^R01|M1|P|2.5.1\r"
        b"PID|1||C-1001^^^IOP^MR||DOE^JANE\r"
        b"OBR|1|P1|ACC-9|DOA^Panel^L|||20260310083000-0600\r"
        b"OBX|1|NM|CREA^Creatinine^L||1e30|mg/L|||||F\r"
        b"OBX|2|ST|THC^Cannabinoids^L||NEGATIVE|ng/mL|50|N|||F\r"
    )
    for kind, name, content, field in [
        ("drug_test_csv", "t.csv", csv, "creatinine_mg_dl"),
        ("hl7_oru", "t.hl7", hl7, "OBX-5"),
    ]:
        answer = await client.post(
            "/api/imports",
            data={"program_id": str(world.program_a), "kind": kind},
            files={"file": (name, content)},
        )
        assert answer.status_code in (201, 422), (kind, answer.text)
        errors = answer.json().get("errors") or []
        assert any(e.get("field") == field for e in errors), (kind, answer.json())
    assert await DrugTest.count() == 0


async def test_out_of_range_numbers_and_years_are_422(client, person) -> None:
    world, pid = person
    huge = await client.post(
        f"/api/participants/{pid}/drug-tests",
        json={
            "collected_at": "2026-03-04T08:00",
            "creatinine_mg_dl": "10000000",
            "results": [{"analyte": "thc", "screen_result": "negative"}],
        },
    )
    assert huge.status_code == 422 and huge.json()["errors"][0]["field"] == "creatinine_mg_dl"
    far = await client.post(
        "/api/sessions",
        json={
            "program_id": world.program_a,
            "session_type": "group",
            "starts_at": "9999-12-31T23:00",
            "scheduled_minutes": 60,
        },
    )
    assert far.status_code == 422 and "out of range" in far.text
    roster_id = await group_session(client, world.program_a, minutes=60)
    big = await client.put(
        f"/api/sessions/{roster_id}/roster",
        json={"entries": [{"participant_id": 10**19, "status": "present"}]},
    )
    assert big.status_code in (400, 422)
