"""Mandates with phases, recipients, and §2.31 / §2.35 consents, through the API."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from compliance.tables import Consent
from tests.support.records import enroll, recipient
from tests.support.staff import World, sign_in, signed_in_world

COURT = {
    "source": "court",
    "case_number": "2026-CF-1",
    "court_name": "Drug Court",
    "starts_on": "2026-01-05",
    "ends_on": "2027-01-05",
    "phases": [
        {
            "name": "Phase 1",
            "required_hours_per_week": "9",
            "required_tests_per_week": 2,
            "sessions_per_week": {"group": 3, "individual": 1},
            "started_on": "2026-01-05",
        },
        {
            "name": "Phase 2",
            "required_hours_per_week": "6",
            "required_tests_per_week": 1,
            "sessions_per_week": {"group": 2},
        },
    ],
}
FUTURE = (date.today() + timedelta(days=200)).isoformat()


def consent_body(recipient_id: int, **extra) -> dict:
    return {
        "recipient_id": recipient_id,
        "information_categories": ["attendance", "drug_tests"],
        "information_description": "Attendance and drug test results",
        "purposes": ["court_supervision"],
        "revocation_instructions": "In writing to the director",
        "signed_by_name": "Dana Reyes",
        "signed_on": "2026-01-05",
        "expires_on": FUTURE,
        **extra,
    }


@pytest.fixture
async def setup(client: httpx.AsyncClient) -> tuple[World, int, int]:
    world = await signed_in_world(client)
    pid = await enroll(client, world.program_a, "R1", "Dana", "Reyes")
    officer = ("Pat Officer", "pat@probation.example")
    return (
        world,
        pid,
        await recipient(client, world.program_a, *officer, organisation="County Probation"),
    )


async def test_mandate_with_phases_and_stepping_down(client, setup) -> None:
    _, pid, _ = setup
    made = await client.post(f"/api/participants/{pid}/mandates", json=COURT)
    assert made.status_code == 201, made.text
    mandate = made.json()
    assert [p["sessions_per_week"] for p in mandate["phases"]] == [
        {"group": 3, "individual": 1},
        {"group": 2},
    ]
    stepped = await client.post(
        f"/api/mandates/{mandate['id']}/phases/2/start", json={"started_on": "2026-03-02"}
    )
    phases = stepped.json()["phases"]
    assert phases[0]["ended_on"] == "2026-03-01" and phases[1]["started_on"] == "2026-03-02"
    too_early = await client.post(
        f"/api/mandates/{mandate['id']}/phases/2/start", json={"started_on": "2026-01-05"}
    )
    assert too_early.status_code == 422


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"case_number": ""}, "case_number"),
        ({"phases": []}, "phases"),
        ({"ends_on": "2025-01-01"}, "ends_on"),
        (
            {"phases": [{**COURT["phases"][0], "sessions_per_week": {"yoga": 1}}]},
            "phases[0].sessions_per_week.yoga",
        ),
    ],
)
async def test_mandate_errors(client, setup, change, field) -> None:
    _, pid, _ = setup
    response = await client.post(f"/api/participants/{pid}/mandates", json={**COURT, **change})
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]


@pytest.mark.parametrize(
    ("extra", "field", "fragment"),
    [
        ({"expires_on": None}, "expires_on", "§2.31"),
        (
            {"for_court_proceedings": True, "purposes": ["court_proceedings", "court_supervision"]},
            "purposes",
            "cannot be combined",
        ),
        ({"is_criminal_justice": True}, "revocable_after", "§2.35"),
        ({"revocable_after": FUTURE}, "revocable_after", "only a criminal-justice"),
        ({"information_categories": []}, "information_categories", "choose at least one"),
    ],
)
async def test_consent_elements_are_required(client, setup, extra, field, fragment) -> None:
    _, pid, rid = setup
    response = await client.post(
        f"/api/participants/{pid}/consents", json=consent_body(rid, **extra)
    )
    assert response.status_code == 422
    errors = {e["field"]: e["reason"] for e in response.json()["errors"]}
    assert fragment in errors[field]
    assert await Consent.count() == 0


async def test_criminal_justice_consent_is_irrevocable_until_its_date(client, setup) -> None:
    _, pid, rid = setup
    cj = await client.post(
        f"/api/participants/{pid}/consents",
        json=consent_body(
            rid,
            is_criminal_justice=True,
            revocable_after=FUTURE,
            irrevocable_until_event="final disposition of the case",
        ),
    )
    assert cj.status_code == 201 and cj.json()["state"] == "active"
    refused = await client.post(
        f"/api/consents/{cj.json()['id']}/revoke", json={"note": "client asked"}
    )
    assert refused.status_code == 422
    assert f"irrevocable until {FUTURE}" in refused.json()["errors"][0]["reason"]
    after_disposition = await client.post(
        f"/api/consents/{cj.json()['id']}/revoke",
        json={"note": "case closed", "irrevocable_event_has_occurred": True},
    )
    assert after_disposition.json()["state"] == "revoked"


async def test_ordinary_consent_revokes_once(client, setup) -> None:
    _, pid, rid = setup
    cid = (await client.post(f"/api/participants/{pid}/consents", json=consent_body(rid))).json()[
        "id"
    ]
    done = await client.post(f"/api/consents/{cid}/revoke", json={"note": "client's letter"})
    assert done.json()["state"] == "revoked" and done.json()["revocation_note"] == "client's letter"
    again = await client.post(f"/api/consents/{cid}/revoke", json={"note": "again"})
    assert again.status_code == 422


async def test_signed_document_is_kept_and_checked(client, setup) -> None:
    _, pid, rid = setup
    cid = (await client.post(f"/api/participants/{pid}/consents", json=consent_body(rid))).json()[
        "id"
    ]
    pdf = b"%PDF-1.7\n% signed consent\n" + b"x" * 1000
    url = f"/api/consents/{cid}/document"
    attached = await client.put(url, files={"document": ("consent.pdf", pdf, "application/pdf")})
    assert attached.status_code == 200, attached.text
    assert attached.json()["has_document"] and attached.json()["document_filename"] == "consent.pdf"
    download = await client.get(url)
    assert download.content == pdf and download.headers["content-type"] == "application/pdf"
    assert download.headers["cache-control"] == "no-store"
    text = await client.put(url, files={"document": ("x.txt", b"hello", "text/plain")})
    assert text.status_code == 422 and "PDF, PNG or JPEG" in text.text
    huge = await client.put(url, files={"document": ("big.pdf", b"%PDF-" + b"0" * (40 << 20))})
    assert huge.status_code == 413


async def test_other_programs_cannot_touch_any_of_it(client, setup) -> None:
    world, pid, rid = setup
    mid = (await client.post(f"/api/participants/{pid}/mandates", json=COURT)).json()["id"]
    cid = (await client.post(f"/api/participants/{pid}/consents", json=consent_body(rid))).json()[
        "id"
    ]
    await sign_in(client, world.clinician_b)
    assert (await client.get(f"/api/participants/{pid}/mandates")).status_code == 404
    assert (await client.post(f"/api/participants/{pid}/mandates", json=COURT)).status_code == 404
    assert (
        await client.post(f"/api/mandates/{mid}/phases/2/start", json={"started_on": "2026-03-02"})
    ).status_code == 404
    assert (await client.get(f"/api/participants/{pid}/consents")).status_code == 404
    assert (await client.get(f"/api/consents/{cid}")).status_code == 404
    assert (await client.post(f"/api/consents/{cid}/revoke", json={"note": "x"})).status_code == 404
    assert (await client.get(f"/api/consents/{cid}/document")).status_code == 404
    assert (await client.get("/api/recipients")).json() == []
    assert (await client.get(f"/api/recipients?program_id={world.program_a}")).status_code == 404
    other = await client.post(
        "/api/recipients",
        json={"program_id": world.program_a, "kind": "sap", "name": "X", "email": "x@y.z"},
    )
    assert other.status_code == 422
