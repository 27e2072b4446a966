"""Pages for mandates, recipients, consents, outside meetings and typed-in drug tests."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from compliance.tables import Consent, DrugTest, MandatePhase, Recipient
from tests.support.records import enroll, recipient
from tests.support.staff import World, post_form, signed_in_world

FUTURE = (date.today() + timedelta(days=300)).isoformat()


@pytest.fixture
async def person(client: httpx.AsyncClient) -> tuple[World, int]:
    world = await signed_in_world(client, analytes=True)
    return world, await enroll(client, world.program_a, "P1", "Pat", "Lee")


async def test_mandate_form_and_phase_step(client, person) -> None:
    _, pid = person
    form = await client.get(f"/participants/{pid}/mandates/new")
    assert form.status_code == 200 and "Phase 1: from the start" in form.text
    bad = await post_form(
        client,
        f"/participants/{pid}/mandates",
        {
            "source": "court",
            "starts_on": "2026-01-05",
            "phase0_name": "One",
            "phase0_hours": "9",
            "phase0_tests": "2",
        },
    )
    assert bad.status_code == 422 and "Case number is required" in bad.text
    done = await post_form(
        client,
        f"/participants/{pid}/mandates",
        {
            "source": "court",
            "case_number": "CR-9",
            "court_name": "Drug Court",
            "starts_on": "2026-01-05",
            "phase0_name": "Phase 1",
            "phase0_hours": "9",
            "phase0_tests": "2",
            "phase0_group": "3",
            "phase0_individual": "1",
            "phase0_started_on": "2026-01-05",
            "phase1_name": "Phase 2",
            "phase1_hours": "6",
            "phase1_tests": "1",
            "phase1_group": "2",
        },
    )
    assert done.status_code == 303
    page = await client.get(f"/participants/{pid}")
    assert "case CR-9" in page.text and "3 group, 1 individual" in page.text
    phase2 = await MandatePhase.select().where(MandatePhase.sequence == 2).first()
    stepped = await post_form(
        client, f"/mandates/{phase2['mandate']}/phases/2/start", {"started_on": "2026-03-02"}
    )
    assert stepped.status_code == 303
    assert "since 2026-03-02" in (await client.get(f"/participants/{pid}")).text


async def test_recipient_consent_document_and_revocation(client, person) -> None:
    world, pid = person
    bad = await post_form(
        client,
        "/recipients",
        {"program_id": str(world.program_a), "kind": "probation_officer", "name": "No Contact"},
    )
    assert bad.status_code == 422 and "give an e-mail address or a phone number" in bad.text
    made = await post_form(
        client,
        "/recipients",
        {
            "program_id": str(world.program_a),
            "kind": "probation_officer",
            "name": "Olive Officer",
            "organisation": "County Probation",
            "email": "olive@probation.example",
        },
    )
    assert made.status_code == 303
    rid = (await Recipient.select().first())["id"]
    assert "Olive Officer" in (await client.get("/recipients")).text
    form = await client.get(f"/participants/{pid}/consents/new")
    assert "Olive Officer (County Probation)" in form.text
    fields = {
        "recipient_id": str(rid),
        "disclosing_party": "Program A",
        "information_categories": ["attendance", "drug_tests"],
        "information_description": "Attendance and test results",
        "purposes": ["court_supervision"],
        "revocation_instructions": "In writing",
        "signed_by_name": "Pat Lee",
        "signed_on": "2026-01-05",
        "_csrf_token": client.cookies["csrftoken"],
    }
    missing = await client.post(f"/participants/{pid}/consents", data=fields)
    assert missing.status_code == 422 and "§2.31" in missing.text
    assert 'value="drug_tests" checked' in missing.text  # ticked boxes stay ticked
    pdf = b"%PDF-1.4 signed consent"
    done = await client.post(
        f"/participants/{pid}/consents",
        data={**fields, "expires_on": FUTURE},
        files={"document": ("consent.pdf", pdf, "application/pdf")},
    )
    assert done.status_code == 303, done.text[:300]
    consent = await Consent.select().first()
    assert consent["information_categories"] == ["attendance", "drug_tests"]
    assert consent["document_sha256"]
    page = await client.get(f"/participants/{pid}")
    assert "Signed document (consent.pdf)" in page.text
    assert (await client.get(f"/api/consents/{consent['id']}/document")).content == pdf
    revoked = await post_form(
        client, f"/consents/{consent['id']}/revoke", {"note": "client letter"}
    )
    assert revoked.status_code == 303
    assert "· revoked" in (await client.get(f"/participants/{pid}")).text


async def test_outside_meeting_and_typed_in_drug_test(client, person) -> None:
    _, pid = person
    meeting = await post_form(
        client,
        f"/participants/{pid}/outside-meetings",
        {
            "occurred_at": "2026-03-07T10:00",
            "scheduled_minutes": "60",
            "meeting_name": "Saturday AA",
            "proof": "signed slip",
        },
    )
    assert meeting.status_code == 303
    assert "twelve_step" in (await client.get(f"/participants/{pid}")).text
    form = await client.get(f"/participants/{pid}/drug-tests/new")
    assert "Marijuana metabolite (THC-COOH)" in form.text
    empty = await post_form(
        client,
        f"/participants/{pid}/drug-tests",
        {"collection_status": "collected", "collected_at": "2026-03-04T08:00"},
    )
    assert empty.status_code == 422 and "needs at least one analyte result" in empty.text
    done = await post_form(
        client,
        f"/participants/{pid}/drug-tests",
        {
            "collection_status": "collected",
            "collected_at": "2026-03-04T08:00",
            "observed": "true",
            "reason": "random",
            "specimen_type": "urine",
            "screen:thc": "positive",
            "confirm:thc": "positive",
            "method:thc": "GC-MS",
            "level:thc": "40",
            "screen:cocaine": "negative",
        },
    )
    assert done.status_code == 303
    page = await client.get(done.headers["location"])
    assert "positive by GC-MS" in page.text
    assert (await DrugTest.select().first())["observed"] is True


async def test_refused_document_leaves_no_consent_and_names_survive(client, person) -> None:
    world, pid = person
    rid = await recipient(client, world.program_a, "S", "s@x.org", "sap")
    form = {
        "recipient_id": str(rid),
        "information_categories": ["attendance"],
        "information_description": "x",
        "purposes": ["employment"],
        "revocation_instructions": "x",
        "signed_by_name": "x",
        "signed_on": "2026-01-05",
        "expires_on": (date.today() + timedelta(days=30)).isoformat(),
        "_csrf_token": client.cookies["csrftoken"],
    }
    refused = await client.post(
        f"/participants/{pid}/consents", data=form, files={"document": ("x.txt", b"plain text")}
    )
    assert refused.status_code == 422 and await Consent.count() == 0
    done = await client.post(
        f"/participants/{pid}/consents",
        data=form,
        files={"document": ("согласие\x00.pdf", b"%PDF-1.7 ok")},
    )
    assert done.status_code == 303
    consent = await Consent.select().first()
    assert "\x00" not in consent["document_filename"]
    assert consent["document_filename"].startswith("согласие")
    download = await client.get(f"/api/consents/{consent['id']}/document")
    assert download.status_code == 200
    assert "filename*=UTF-8''%D1%81" in download.headers["content-disposition"]
