"""Drug tests typed in by staff, and corrections as new versions, through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from compliance.records.drug_tests import hours_past
from compliance.tables import AnalyteResult, DrugTest
from tests.support.records import enroll
from tests.support.staff import World, make_world, sign_in

THC_POSITIVE = {
    "collected_at": "2026-03-04T08:15",
    "observed": True,
    "reason": "random",
    "lab_name": "Prairie Tox",
    "accession_id": "A-1",
    "creatinine_mg_dl": "96",
    "results": [
        {
            "analyte": "thc",
            "screen_result": "positive",
            "screen_method": "EIA",
            "confirmation_result": "positive",
            "confirmation_method": "GC-MS",
            "level_ng_ml": "42",
        },
        {"analyte": "cocaine", "screen_result": "negative"},
    ],
}


@pytest.fixture
async def world(client: httpx.AsyncClient) -> World:
    return await make_world(analytes=True)


async def participant(client: httpx.AsyncClient, program_id: int) -> int:
    return await enroll(client, program_id, "T1", "Tess", "Ng")


async def test_record_a_confirmed_positive_with_cutoffs_from_the_program(client, world) -> None:
    await sign_in(client, world.clinician_a)
    pid = await participant(client, world.program_a)
    made = await client.post(f"/api/participants/{pid}/drug-tests", json=THC_POSITIVE)
    assert made.status_code == 201, made.text
    test = made.json()
    assert test["collection_status"] == "collected" and test["observed"] is True
    thc = next(r for r in test["results"] if r["analyte_key"] == "thc")
    assert (thc["screen_result"], thc["confirmation_result"], thc["confirmation_method"]) == (
        "positive",
        "positive",
        "GC-MS",
    )
    assert float(thc["screen_cutoff_ng_ml"]) == 50 and float(thc["confirmation_cutoff_ng_ml"]) == 15
    assert float(thc["level_ng_ml"]) == 42
    listed = (await client.get(f"/api/participants/{pid}/drug-tests")).json()
    assert [t["id"] for t in listed] == [test["id"]]


async def test_dilute_no_show_and_bad_input(client, world) -> None:
    await sign_in(client, world.clinician_a)
    pid = await participant(client, world.program_a)
    url = f"/api/participants/{pid}/drug-tests"
    dilute = await client.post(url, json={**THC_POSITIVE, "creatinine_mg_dl": "14.2"})
    assert dilute.json()["collection_status"] == "dilute"
    assert dilute.json()["validity_note"] == "Dilute: creatinine 14.2 mg/dL < 20"
    no_show = await client.post(
        url, json={"collection_status": "no_show", "called_at": "2026-03-05T07:00"}
    )
    assert no_show.status_code == 201 and no_show.json()["collected_at"] is None
    bad = await client.post(
        url,
        json={
            "collection_status": "no_show",
            "called_at": "2026-03-05T07:00",
            "results": [{"analyte": "thc", "screen_result": "negative"}],
        },
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "results"
    empty = await client.post(url, json={"collected_at": "2026-03-06T08:00"})
    assert empty.json()["errors"] == [
        {"field": "results", "reason": "a collected specimen needs at least one analyte result"}
    ]
    unknown = await client.post(
        url, json={**THC_POSITIVE, "results": [{"analyte": "kratom", "screen_result": "negative"}]}
    )
    assert unknown.json()["errors"] == [
        {"field": "results[0].analyte", "reason": "'kratom' is not in the program's analyte table"}
    ]
    future = await client.post(url, json={**THC_POSITIVE, "collected_at": "2099-01-01T08:00"})
    assert future.json()["errors"][0]["field"] == "collected_at"
    assert await DrugTest.count() == 2


async def test_mro_review_is_a_new_version_and_the_lab_result_stays(client, world) -> None:
    await sign_in(client, world.clinician_a)
    pid = await participant(client, world.program_a)
    original = (await client.post(f"/api/participants/{pid}/drug-tests", json=THC_POSITIVE)).json()
    reviewed = {
        **THC_POSITIVE,
        "results": [
            {
                **THC_POSITIVE["results"][0],
                "mro_result": "negative",
                "mro_comment": "Valid prescription (dronabinol) verified",
            },
            THC_POSITIVE["results"][1],
        ],
    }
    url = f"/api/drug-tests/{original['id']}/corrections"
    assert (await client.post(url, json=reviewed)).status_code == 400  # no reason given
    fixed = await client.post(url, json={**reviewed, "correction_reason": "MRO review"})
    assert fixed.status_code == 201, fixed.text
    assert fixed.json()["version"] == 2 and fixed.json()["correction_reason"] == "MRO review"
    history = (await client.get(f"/api/drug-tests/{fixed.json()['id']}/history")).json()
    assert [(h["version"], h["is_current"]) for h in history] == [(1, False), (2, True)]
    assert history[0]["results"][0]["mro_result"] is None
    assert history[1]["results"][0]["mro_result"] == "negative"
    assert await AnalyteResult.count() == 4  # the first version's rows are untouched
    again = await client.post(url, json={**reviewed, "correction_reason": "again"})
    assert again.status_code == 422 and "a newer version exists" in again.text


async def test_other_programs_tests_are_not_found(client, world) -> None:
    await sign_in(client, world.clinician_a)
    pid = await participant(client, world.program_a)
    test_id = (await client.post(f"/api/participants/{pid}/drug-tests", json=THC_POSITIVE)).json()[
        "id"
    ]
    await sign_in(client, world.clinician_b)
    assert (await client.get(f"/api/participants/{pid}/drug-tests")).status_code == 404
    assert (
        await client.post(f"/api/participants/{pid}/drug-tests", json=THC_POSITIVE)
    ).status_code == 404
    assert (await client.get(f"/api/drug-tests/{test_id}/history")).status_code == 404
    assert (
        await client.post(
            f"/api/drug-tests/{test_id}/corrections",
            json={**THC_POSITIVE, "correction_reason": "x"},
        )
    ).status_code == 404
    assert await DrugTest.count() == 1


def test_late_only_past_the_programs_deadline() -> None:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert hours_past(start, start + timedelta(hours=48), 48) == (48, False)
    assert hours_past(start, start + timedelta(hours=48, minutes=1), 48) == (48, True)
    assert hours_past(start, start + timedelta(hours=10, minutes=30), 8) == (10, True)
    assert hours_past(None, start, 48) == (None, False)  # a no-show has no collection
    assert hours_past(start, None, 48) == (None, False)  # typed in, no report time
