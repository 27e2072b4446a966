"""Violations: made, kept and withdrawn inside each write, listed, reviewed; the caseload's
open count and its sorting and filtering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from compliance.tables import Violation
from tests.support.staff import World, make_world, post_form, sign_in

# Program A is America/Chicago: 07:00 CST on 5 March 2026 is 13:00 UTC.
MISSED = {"collection_status": "no_show", "called_at": "2026-03-05T07:00", "reason": "random"}
MISSED_AT = datetime(2026, 3, 5, 13, 0, tzinfo=UTC)
PRESUMPTIVE = {
    "collected_at": "2026-03-04T08:15",
    "reason": "random",
    "creatinine_mg_dl": "96",
    "results": [
        {"analyte": "thc", "screen_result": "positive", "screen_method": "EIA"},
        {"analyte": "cocaine", "screen_result": "negative"},
    ],
}


@pytest.fixture
async def world(client: httpx.AsyncClient) -> World:
    w = await make_world(analytes=True)
    await sign_in(client, w.clinician_a)
    return w


async def enroll(client: httpx.AsyncClient, program_id: int, client_id: str, first="") -> int:
    response = await client.post(
        "/api/participants",
        json={
            "program_id": program_id,
            "client_id": client_id,
            "first_name": first or client_id,
            "last_name": "Test",
            "admitted_on": "2026-01-05",
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def record_test(client: httpx.AsyncClient, pid: int, body: dict) -> dict:
    response = await client.post(f"/api/participants/{pid}/drug-tests", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def correct_test(client: httpx.AsyncClient, test_id: int, body: dict, reason: str) -> dict:
    response = await client.post(
        f"/api/drug-tests/{test_id}/corrections", json={**body, "correction_reason": reason}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def listed(client: httpx.AsyncClient, pid: int, **params) -> list[dict]:
    response = await client.get(f"/api/participants/{pid}/violations", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def absent_from_session(client: httpx.AsyncClient, program_id: int, pid: int) -> int:
    made = await client.post(
        "/api/sessions",
        json={
            "program_id": program_id,
            "session_type": "group",
            "starts_at": "2026-03-03T18:00",
            "scheduled_minutes": 180,
            "title": "Relapse prevention",
        },
    )
    assert made.status_code == 201, made.text
    sid = made.json()["id"]
    roster = await client.put(
        f"/api/sessions/{sid}/roster",
        json={"entries": [{"participant_id": pid, "status": "absent_unexcused"}]},
    )
    assert roster.status_code == 200, roster.text
    return sid


def when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_missed_test_makes_one_violation_linked_to_the_record(client, world) -> None:
    pid = await enroll(client, world.program_a, "M1")
    before = datetime.now(UTC)
    test = await record_test(client, pid, MISSED)
    found = await listed(client, pid)
    assert len(found) == 1
    v = found[0]
    assert v["kind"] == "missed_test" and v["participant_id"] == pid
    assert when(v["occurred_at"]) == MISSED_AT
    assert before <= when(v["known_at"]) <= datetime.now(UTC)
    assert "Missed" in v["description"]
    assert v["record"] == f"drug_test:{test['id']}"
    assert v["withdrawn_at"] is None and v["reviewed_at"] is None and v["review_note"] == ""
    assert await Violation.count() == 1


async def test_presumptive_is_none_confirmation_makes_one_mro_withdraws(client, world) -> None:
    pid = await enroll(client, world.program_a, "P1")
    test = await record_test(client, pid, PRESUMPTIVE)
    assert await listed(client, pid) == []

    thc = {**PRESUMPTIVE["results"][0], "confirmation_result": "positive"}
    thc["confirmation_method"] = "GC-MS"
    confirmed_body = {**PRESUMPTIVE, "results": [thc, PRESUMPTIVE["results"][1]]}
    confirmed = await correct_test(client, test["id"], confirmed_body, "GC-MS came back")
    found = await listed(client, pid)
    assert [(v["kind"], v["record"]) for v in found] == [
        ("confirmed_positive", f"drug_test:{confirmed['id']}")
    ]
    assert "confirmed by GC-MS" in found[0]["description"]
    vid = found[0]["id"]

    mro = {**thc, "mro_result": "negative", "mro_comment": "Prescription verified"}
    overturned_body = {**PRESUMPTIVE, "results": [mro, PRESUMPTIVE["results"][1]]}
    overturned = await correct_test(client, confirmed["id"], overturned_body, "MRO review")
    assert await listed(client, pid) == []
    everything = await listed(client, pid, include_withdrawn="true")
    assert [(v["id"], v["kind"]) for v in everything] == [(vid, "confirmed_positive")]
    assert everything[0]["withdrawn_at"] is not None
    assert everything[0]["record"] == f"drug_test:{overturned['id']}"
    assert await listed(client, pid, include_withdrawn="false") == []


async def test_correcting_notes_of_a_missed_test_keeps_one_violation(client, world) -> None:
    pid = await enroll(client, world.program_a, "N1")
    test = await record_test(client, pid, MISSED)
    [first] = await listed(client, pid)
    fixed = await correct_test(
        client, test["id"], {**MISSED, "notes": "Phone was off"}, "Add the client's account"
    )
    assert fixed["version"] == 2 and fixed["id"] != test["id"]
    found = await listed(client, pid, include_withdrawn="true")
    assert len(found) == 1
    assert found[0]["id"] == first["id"] and found[0]["kind"] == "missed_test"
    assert found[0]["record"] == f"drug_test:{fixed['id']}"
    assert found[0]["withdrawn_at"] is None
    assert found[0]["known_at"] == first["known_at"]
    assert await Violation.count() == 1


async def test_unexcused_absence_withdrawn_when_excused_and_back_again(client, world) -> None:
    pid = await enroll(client, world.program_a, "A1")
    sid = await absent_from_session(client, world.program_a, pid)
    [v] = await listed(client, pid)
    assert v["kind"] == "unexcused_absence"
    assert v["description"].startswith("Unexcused absence from group session")
    aid = int(v["record"].removeprefix("attendance:"))
    roster = (await client.get(f"/api/sessions/{sid}")).json()["roster"]
    assert [r["id"] for r in roster] == [aid]

    excused = await client.post(
        f"/api/attendance/{aid}/corrections",
        json={"status": "absent_excused", "reason": "Letter from the court"},
    )
    assert excused.status_code == 201, excused.text
    assert await listed(client, pid) == []
    [gone] = await listed(client, pid, include_withdrawn="true")
    assert gone["id"] == v["id"] and gone["withdrawn_at"] is not None
    assert gone["record"] == f"attendance:{excused.json()['id']}"

    back = await client.post(
        f"/api/attendance/{excused.json()['id']}/corrections",
        json={"status": "absent_unexcused", "reason": "Letter was forged"},
    )
    assert back.status_code == 201, back.text
    [again] = await listed(client, pid)
    assert again["id"] == v["id"] and again["withdrawn_at"] is None
    assert await Violation.count() == 1


async def test_known_since_lists_only_violations_learnt_of_afterwards(client, world) -> None:
    pid = await enroll(client, world.program_a, "K1")
    await record_test(client, pid, MISSED)
    [first] = await listed(client, pid)
    first_known = when(first["known_at"])
    assert await listed(client, pid, known_since=first_known.isoformat()) == []
    earlier = (first_known - timedelta(seconds=1)).isoformat()
    assert [v["id"] for v in await listed(client, pid, known_since=earlier)] == [first["id"]]

    await absent_from_session(client, world.program_a, pid)
    newer = await listed(client, pid, known_since=first_known.isoformat())
    assert [v["kind"] for v in newer] == ["unexcused_absence"]
    # The same moment written in another zone means the same thing.
    chicago = first_known.astimezone(datetime.fromisoformat("2026-03-05T00:00-06:00").tzinfo)
    assert [v["id"] for v in await listed(client, pid, known_since=chicago.isoformat())] == [
        newer[0]["id"]
    ]
    everything = await listed(client, pid)
    assert [v["kind"] for v in everything] == ["unexcused_absence", "missed_test"]

    naive = await client.get(
        f"/api/participants/{pid}/violations", params={"known_since": "2026-03-01T00:00:00"}
    )
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["field"] == "known_since"


async def test_review_leaves_the_open_count_once_and_the_form_redirects(client, world) -> None:
    pid = await enroll(client, world.program_a, "R1")
    await record_test(client, pid, MISSED)
    await absent_from_session(client, world.program_a, pid)
    missed, absence = sorted(await listed(client, pid), key=lambda v: v["kind"])
    assert (missed["kind"], absence["kind"]) == ("missed_test", "unexcused_absence")

    async def open_count() -> int:
        rows = (await client.get("/api/caseload")).json()
        return next(r["open_violations"] for r in rows if r["participant_id"] == pid)

    assert await open_count() == 2
    url = f"/api/violations/{missed['id']}/review"
    empty = await client.post(url, json={"note": "   "})
    assert empty.status_code == 422
    assert empty.json()["errors"][0]["field"] == "note"
    done = await client.post(url, json={"note": " Spoke to the client; officer told. "})
    assert done.status_code in (200, 201), done.text
    assert done.json()["review_note"] == "Spoke to the client; officer told."
    assert done.json()["reviewed_at"] is not None
    assert await open_count() == 1
    twice = await client.post(url, json={"note": "again"})
    assert twice.status_code == 422 and twice.json()["errors"][0]["field"] == "note"
    # A reviewed violation stays on record.
    assert {v["id"] for v in await listed(client, pid)} == {missed["id"], absence["id"]}

    form = await post_form(
        client, f"/violations/{absence['id']}/review", {"note": "Discussed in group"}
    )
    assert form.status_code == 303
    assert form.headers["location"] == f"/participants/{pid}#compliance"
    assert await open_count() == 0
    row = await Violation.select().where(Violation.id == absence["id"]).first()
    assert row["review_note"] == "Discussed in group" and row["reviewed_at"] is not None
    assert (
        await client.post("/api/violations/999999/review", json={"note": "x"})
    ).status_code == 404


async def _policy(client, program_id: int, change: dict) -> httpx.Response:
    """A policy change as an admin makes it: previewed first, then saved with the
    preview's confirmation (the preview shows what it does to past weeks)."""
    url = f"/api/admin/programs/{program_id}"
    preview = await client.post(f"{url}/policy-preview", json=change)
    assert preview.status_code == 200, preview.text
    return await client.patch(url, json={**change, "confirmation": preview.json()["confirmation"]})


async def test_dilute_becomes_a_violation_only_under_program_policy(client, world) -> None:
    pid = await enroll(client, world.program_a, "D1")
    negative = {**PRESUMPTIVE, "results": [{"analyte": "thc", "screen_result": "negative"}]}
    dilute = await record_test(client, pid, {**negative, "creatinine_mg_dl": "14.2"})
    assert dilute["collection_status"] == "dilute"
    assert await listed(client, pid) == []

    await sign_in(client, world.admin_a)
    changed = await _policy(client, world.program_a, {"dilute_counts_as_positive": True})
    assert changed.status_code == 200, changed.text
    [v] = await listed(client, pid)
    assert v["kind"] == "dilute_specimen" and v["record"] == f"drug_test:{dilute['id']}"
    assert "Dilute specimen collected" in v["description"]

    off = await _policy(client, world.program_a, {"dilute_counts_as_positive": False})
    assert off.status_code == 200, off.text
    assert await listed(client, pid) == []
    [withdrawn] = await listed(client, pid, include_withdrawn="true")
    assert withdrawn["id"] == v["id"] and withdrawn["withdrawn_at"] is not None


async def test_another_programs_staff_cannot_list_or_review(client, world) -> None:
    pid = await enroll(client, world.program_a, "X1")
    await record_test(client, pid, MISSED)
    [v] = await listed(client, pid)
    await sign_in(client, world.clinician_b)
    assert (await client.get(f"/api/participants/{pid}/violations")).status_code == 404
    review = await client.post(f"/api/violations/{v['id']}/review", json={"note": "mine now"})
    assert review.status_code == 404
    form = await post_form(client, f"/violations/{v['id']}/review", {"note": "mine now"})
    assert form.status_code == 404
    row = await Violation.select().where(Violation.id == v["id"]).first()
    assert row["reviewed_at"] is None and row["review_note"] == ""


async def test_caseload_arrange_filters_sorts_and_refuses_unknown_values(client, world) -> None:
    clean = await enroll(client, world.program_a, "C-200", first="ada")
    flagged = await enroll(client, world.program_a, "C-100", first="Bea")
    await record_test(client, flagged, MISSED)

    async def rows(**params) -> list[dict]:
        response = await client.get("/api/caseload", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    counts = {r["participant_id"]: r["open_violations"] for r in await rows()}
    assert counts == {clean: 0, flagged: 1}
    assert [r["participant_id"] for r in await rows(show="attention")] == [flagged]
    by_name = await rows(sort="name")
    assert [r["name"] for r in by_name] == ["ada Test", "Bea Test"]  # case folded
    assert [r["participant_id"] for r in await rows(sort="client_id")] == [flagged, clean]
    assert [r["participant_id"] for r in await rows(sort="violations")] == [flagged, clean]
    assert [r["participant_id"] for r in await rows(q="ADA")] == [clean]
    assert [r["participant_id"] for r in await rows(q="c-100", show="all")] == [flagged]

    bad_sort = await client.get("/api/caseload", params={"sort": "shoe_size"})
    assert bad_sort.status_code == 422
    assert bad_sort.json()["errors"][0]["field"] == "sort"
    bad_show = await client.get("/api/caseload", params={"show": "everyone"})
    assert bad_show.status_code == 422
    assert bad_show.json()["errors"][0]["field"] == "show"
