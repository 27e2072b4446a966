"""The engine fed from the database: demo history judged week by week, and the caseload."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from compliance.staff import accounts
from compliance.tables import Participant, Program, StaffUser
from tests.support.staff import demo_with_clinician, sign_in, staff_member

FIRST_MONDAY = date(2026, 9, 28)


@pytest.fixture
async def demo(client: httpx.AsyncClient) -> dict:
    program = await demo_with_clinician("v@example.org")
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
    assert body["current_phase"] == "Phase 1: Stabilization"
    assert body["days_since_last_positive"] is not None
    ref = next(r for w in weeks for r in w["reasons"] if r["text"].startswith("Unexcused"))
    assert ref["refs"][0].startswith("attendance:")


async def test_caseload_puts_the_most_serious_first(client, demo) -> None:
    """The full ordering is in tests/integration/test_caseload_leads.py; here, the demo's rows keep
    the severity order the module defines, and the page shows them last name first."""
    from compliance.engine.caseload import SEVERITY

    rows = (await client.get("/api/caseload")).json()
    assert {r["client_id"] for r in rows} == {"RB-1001", "RB-1002", "RB-1003"}

    def rank(r: dict) -> tuple[int, int]:
        found = [(SEVERITY[k], 0) for k in r["kinds_this_week"]]
        found += [(SEVERITY[k], 1) for k in r["kinds_last_week"]]
        return min(found, default=(9, 0))

    keys = [rank(r) for r in rows]
    assert keys == sorted(keys)
    page = await client.get("/caseload")
    assert page.status_code == 200 and "Hale, Marcus" in page.text


async def test_other_programs_cannot_see_compliance(client, demo) -> None:
    other = Program(code="OTHER", name="Other", time_zone="UTC")
    await other.save()
    await staff_member("o@example.org", [other.id], full_name="O")
    await sign_in(client, "o@example.org")
    pid = demo["people"]["RB-1001"]
    assert (await client.get(f"/api/participants/{pid}/compliance")).status_code == 404
    assert (await client.get("/api/caseload")).json() == []
    assert (
        await client.get(f"/api/caseload?program_id={demo['program']['id']}")
    ).status_code == 404


async def test_participant_page_shows_weeks_charts_and_links(client, demo) -> None:
    pid = demo["people"]["RB-1001"]
    page = await client.get(
        f"/participants/{pid}", params={"start": "2026-09-28", "end": "2026-11-22"}
    )
    assert page.status_code == 200, page.text
    html = page.text
    api = (
        await client.get(
            f"/api/participants/{pid}/compliance",
            params={"start": "2026-09-28", "end": "2026-11-22"},
        )
    ).json()
    # The table has a row per week, each reason as the engine gave it, linked to its record.
    assert html.count('<tr class="status-') == len(api["weeks"]) == 8
    absence = next(r for w in api["weeks"] for r in w["reasons"] if r["text"].startswith("Unex"))
    row_id = absence["refs"][0].split(":")[1]
    assert absence["text"] in html and f'href="/attendance/{row_id}"' in html
    # Server-side SVG: one bar per week with the figures in its tooltip, and a test timeline.
    assert html.count("<svg") == 2
    week = api["weeks"][2]
    # Hours as h:mm (470 minutes read 7:50, never 7.83), in the bar's tooltip and the row.
    attended, required = week["attended_minutes"], week["required_minutes"]
    hours = f"attended {attended // 60}:{attended % 60:02d} of {required // 60}:{required % 60:02d}"
    assert hours in html and "7.83" not in html
    tests = sum(len(w["tests"]) for w in api["weeks"])
    assert html.count("<g><title>") == 8 + tests
    # Open violations, each with a review form.
    assert html.count('action="/violations/') >= 3


async def test_participant_page_refuses_a_backwards_period(client, demo) -> None:
    pid = demo["people"]["RB-1001"]
    page = await client.get(
        f"/participants/{pid}", params={"start": "2026-11-22", "end": "2026-09-28"}
    )
    assert page.status_code == 422 and "must be before the end" in page.text


async def test_caseload_page_filters_and_sorts(client, demo) -> None:
    everyone = await client.get("/caseload")
    assert "Showing 3 of 3 active clients" in everyone.text
    found = await client.get("/caseload", params={"q": "rb-1002"})
    assert "Showing 1 of 3" in found.text
    assert "Showing 1 of 3" in (await client.get("/caseload", params={"q": "gomez, al"})).text
    by_name = await client.get("/caseload", params={"sort": "name"})
    rows = (await client.get("/api/caseload?sort=name")).json()
    names = [f"{r['last_name']}, {r['first_name']}" for r in rows]
    assert names == ["Boyd, Terrence", "Gomez, Alicia", "Hale, Marcus"]  # by last name
    positions = [by_name.text.index(n) for n in names]
    assert positions == sorted(positions)
    # Unknown values fall back to the default view rather than failing the page.
    assert (await client.get("/caseload", params={"sort": "nonsense"})).status_code == 200


async def test_large_caseloads_judged_in_a_thread_give_the_same_rows(
    client, demo, monkeypatch
) -> None:
    from compliance.engine import caseload

    inline = (await client.get("/api/caseload")).json()
    monkeypatch.setattr(caseload, "THREAD_ABOVE", 1)
    assert (await client.get("/api/caseload")).json() == inline


@pytest.mark.db
async def test_large_caseloads_judged_across_worker_processes_give_the_same_rows(
    client, demo, monkeypatch
) -> None:
    """The path a 5,000-client program takes: spawned workers open the same database."""
    from compliance.engine import caseload

    inline = (await client.get("/api/caseload")).json()
    monkeypatch.setattr(caseload, "SHARD_ABOVE", 1)
    user = await StaffUser.select(StaffUser.id).where(StaffUser.email == "v@example.org").first()
    principal = await accounts.load_principal(user["id"])
    assert principal is not None
    timings = caseload.Timings()
    rows = await caseload.caseload(principal, program_id=demo["program"]["id"], timings=timings)
    assert timings.workers == 2
    assert timings.engine > 0 and timings.load > 0
    assert (await client.get("/api/caseload")).json() == inline
    assert [r.participant_id for r in rows] == [r["participant_id"] for r in inline]
