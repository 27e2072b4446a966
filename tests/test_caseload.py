"""The engine fed from the database: demo history judged week by week, and the caseload."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from compliance import accounts
from compliance.demo import load_demo
from compliance.tables import Participant, Program
from compliance.vocabulary import Role
from tests.staff import PASSWORD, sign_in

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=ZoneInfo("America/Chicago"))
FIRST_MONDAY = date(2026, 9, 28)


@pytest.fixture
async def demo(client: httpx.AsyncClient) -> dict:
    await load_demo(now=NOW)
    program = await Program.select().first()
    await accounts.create_staff_user(
        email="v@example.org",
        full_name="V",
        password=PASSWORD,
        role=Role.clinician,
        program_ids=[program["id"]],
    )
    await sign_in(client, "v@example.org")
    people = {p["client_id"]: p["id"] for p in await Participant.select()}
    return {"people": people, "program": program}


async def test_marcus_weeks_are_judged_with_reasons(client, demo) -> None:
    pid = demo["people"]["RB-1001"]
    response = await client.get(
        f"/api/participants/{pid}/compliance", params={"start": "2026-09-28", "end": "2026-11-22"}
    )
    assert response.status_code == 200, response.text
    weeks = response.json()["weeks"]
    assert len(weeks) == 8 and weeks[0]["start"] == "2026-09-28"
    statuses = [w["status"] for w in weeks]
    reasons = [[r["text"] for r in w["reasons"]] for w in weeks]
    # Week 2 (index 1): THC positive confirmed by GC-MS.
    assert any("Marijuana metabolite (THC-COOH) (confirmed by GC-MS)" in t for t in reasons[1])
    # Week 3: the unexcused absence on Wednesday 14 Oct.
    assert "Unexcused absence from group session Wed 14 Oct" in reasons[2]
    # Week 4: the dilute specimen does not count as positive by default.
    assert not any("Dilute" in t for t in reasons[3])
    # Week 6: the no-show.
    assert any(t.startswith("Missed random test called for") for t in reasons[5])
    assert statuses[1] == statuses[2] == statuses[5] == "non_compliant"
    assert "compliant" in statuses
    body = response.json()
    assert body["current_phase"] == "Phase 1: Stabilisation"
    assert body["days_since_last_positive"] is not None
    ref = next(r for w in weeks for r in w["reasons"] if r["text"].startswith("Unexcused"))
    assert ref["refs"][0].startswith("attendance:")


async def test_caseload_puts_out_of_compliance_first(client, demo) -> None:
    rows = (await client.get("/api/caseload")).json()
    assert {r["client_id"] for r in rows} == {"RB-1001", "RB-1002", "RB-1003"}
    order = {"non_compliant": 0, "partial": 1, "compliant": 2, "no_requirement": 3, None: 4}
    keys = [(order[r["last_week"]], order[r["this_week"]]) for r in rows]
    assert keys == sorted(keys)
    page = await client.get("/caseload")
    assert page.status_code == 200 and "Marcus Hale" in page.text


async def test_other_programs_cannot_see_compliance(client, demo) -> None:
    other = Program(code="OTHER", name="Other", time_zone="UTC")
    await other.save()
    await accounts.create_staff_user(
        email="o@example.org",
        full_name="O",
        password=PASSWORD,
        role=Role.clinician,
        program_ids=[other.id],
    )
    await sign_in(client, "o@example.org")
    pid = demo["people"]["RB-1001"]
    assert (await client.get(f"/api/participants/{pid}/compliance")).status_code == 404
    assert (await client.get("/api/caseload")).json() == []
    assert (
        await client.get(f"/api/caseload?program_id={demo['program']['id']}")
    ).status_code == 404
