"""The lab workflow (issue 15, point 4): a test typed from the program's panel with "all
negative" and only the exceptions; a collection before its call refused on every path;
the lab's confirmation and the MRO's review recorded as what they are (on the test's
page and in the signed court PDF); a presumptive positive pending confirmation, counted
or not by the program's policy, the same way in the engine, the violations list, the
participant page and the officer's link page."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from compliance.core import db
from compliance.engine import violations
from compliance.records.analytes import DEFAULT_PANEL
from compliance.tables import AnalyteResult, DrugTest, ImportBatch, Program, Violation
from tests.support.records import enroll
from tests.support.staff import World, csrf_token, post_form, signed_in_demo, signed_in_world

pytestmark = pytest.mark.db

CHICAGO = ZoneInfo("America/Chicago")
HTML = "text/html"
# A morning's test, in program A's time (America/Chicago).
CALLED, COLLECTED = "2026-03-04T07:00", "2026-03-04T09:30"
PRESUMPTIVE = {
    "called_at": CALLED,
    "collected_at": COLLECTED,
    "lab_name": "Prairie Tox",
    "accession_id": "PT-1",
    "results": [
        {"analyte": "cocaine", "screen_result": "positive", "screen_method": "EIA"},
        {"analyte": "thc", "screen_result": "negative"},
    ],
}


@pytest.fixture
async def world(client: httpx.AsyncClient) -> World:
    return await signed_in_world(client, analytes=True)


async def enroll_lee(client: httpx.AsyncClient, program_id: int, client_id: str = "L1") -> int:
    return await enroll(client, program_id, client_id, "Lee", "Lab")


async def _results(test_id: int) -> dict[str, dict]:
    rows = await AnalyteResult.select().where(AnalyteResult.drug_test == test_id)
    return {r["analyte_code"]: r for r in rows}


# --- the form -------------------------------------------------------------------------


async def test_the_panel_preset_and_all_negative_leave_only_the_exception(client, world) -> None:
    pid = await enroll_lee(client, world.program_a)
    form = await client.get(f"/participants/{pid}/drug-tests/new")
    assert form.status_code == 200 and form.headers["content-type"].startswith(HTML)
    assert (
        "Program panel (12 analytes)" in form.text
        and "Every analyte in the table (16)" in form.text
    )
    base = {
        "collection_status": "collected",
        "called_at": CALLED,
        "collected_at": COLLECTED,
        "result_reported_at": "2026-03-05T10:00",
        "reason": "random",
        "specimen_type": "urine",
        "lab_name": "Prairie Tox",
        "specific_gravity": "1.015",
        "ph": "6.4",
        "oxidants": "negative",
        "notes": "Client said she took a cold remedy.",
    }
    # The panel chosen and nothing marked: every analyte of it is named as missing.
    missing = await post_form(client, f"/participants/{pid}/drug-tests", {**base, "panel": "panel"})
    assert missing.status_code == 422 and missing.headers["content-type"].startswith(HTML)
    assert "No screen result for" in missing.text and "Fentanyl" in missing.text
    assert await DrugTest.count() == 0
    done = await post_form(
        client,
        f"/participants/{pid}/drug-tests",
        {
            **base,
            "panel": "panel",
            "all_negative": "true",
            "screen:cocaine": "positive",
            "level:cocaine": "412",
            # Left visible from the other preset, outside the panel: not sent.
            "screen:mda": "positive",
        },
    )
    assert done.status_code == 303, done.text[:2000]
    test = await DrugTest.select().first()
    assert (float(test["specific_gravity"]), test["oxidants"], test["collection_status"]) == (
        1.015,
        "negative",
        "collected",
    )
    stored = await _results(test["id"])
    assert set(stored) == set(DEFAULT_PANEL)
    assert {k for k, r in stored.items() if r["screen_result"] == "positive"} == {"cocaine"}
    assert float(stored["cocaine"]["level_ng_ml"]) == 412
    assert all(r["screen_result"] == "negative" for k, r in stored.items() if k != "cocaine")
    # The test's page and the participant's page show the note and the pending screen.
    page = (await client.get(done.headers["location"])).text
    assert "Client said she took a cold remedy." in page
    assert "Presumptive positive collected Wed 4 Mar, pending confirmation: Cocaine" in page
    person = (await client.get(f"/participants/{pid}")).text
    assert "Client said she took a cold remedy." in person
    assert "Cocaine metabolite (benzoylecgonine) (pending confirmation)" in person
    assert f'<a href="/drug-tests/{test["id"]}">Correct</a>' in person
    # The whole table, when the lab ran it: 16 rows.
    every = await post_form(
        client,
        f"/participants/{pid}/drug-tests",
        {
            **base,
            "called_at": "2026-03-06T07:00",
            "collected_at": "2026-03-06T09:00",
            "result_reported_at": "2026-03-07T10:00",
            "panel": "all",
            "all_negative": "true",
        },
    )
    assert every.status_code == 303
    newest = await DrugTest.select().order_by(DrugTest.id, ascending=False).first()
    assert len(await _results(newest["id"])) == 16


async def test_validity_figures_mark_a_specimen_adulterated(client, world) -> None:
    pid = await enroll_lee(client, world.program_a)
    made = await client.post(
        f"/api/participants/{pid}/drug-tests",
        json={**PRESUMPTIVE, "oxidants": "positive", "ph": "6.1"},
    )
    assert made.status_code == 201, made.text
    test = made.json()
    assert (test["collection_status"], test["validity_note"]) == (
        "adulterated",
        "Adulterated: oxidants positive",
    )
    assert test["outcome"] == "adulterated" and test["counts_positive"] is True
    bad = await client.post(
        f"/api/participants/{pid}/drug-tests", json={**PRESUMPTIVE, "oxidants": "maybe"}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "oxidants"


# --- a collection before its call, on every path --------------------------------------


async def test_a_collection_before_its_call_is_refused_on_every_path(client, world) -> None:
    pid = await enroll_lee(client, world.program_a, "C-1001")
    early = {**PRESUMPTIVE, "called_at": "2026-03-04T10:30"}  # collected 09:30
    reason = "Wed 4 Mar 2026 09:30 CST is before the call to test at Wed 4 Mar 2026 10:30 CST"
    # The page: the form again, in HTML, with the reason beside the field.
    page = await post_form(
        client,
        f"/participants/{pid}/drug-tests",
        {
            "called_at": early["called_at"],
            "collected_at": early["collected_at"],
            "panel": "panel",
            "all_negative": "true",
        },
    )
    assert page.status_code == 422 and page.headers["content-type"].startswith(HTML)
    assert reason in page.text and 'value="2026-03-04T10:30"' in page.text
    # The API, and a correction that moves the collection before the call.
    api = await client.post(f"/api/participants/{pid}/drug-tests", json=early)
    assert api.status_code == 422
    assert api.json()["errors"] == [
        {"field": "collected_at", "reason": reason + "; a specimen is given after the call"}
    ]
    stored = (await client.post(f"/api/participants/{pid}/drug-tests", json=PRESUMPTIVE)).json()
    moved = await client.post(
        f"/api/drug-tests/{stored['id']}/corrections",
        json={"collected_at": "2026-03-04T06:45", "correction_reason": "typo"},
    )
    assert moved.status_code == 422 and moved.json()["errors"][0]["field"] == "collected_at"
    assert await DrugTest.count() == 1
    # A CSV file: the row is refused at its collection column.
    csv = (
        b"client_id,accession_id,collected_at,called_at,analyte,screen_result\n"
        b"C-1001,CSV-1,2026-03-05 08:00,2026-03-05 09:15,THC,negative\n"
    )
    from_csv = await client.post(
        "/api/imports",
        data={"program_id": str(world.program_a), "kind": "drug_test_csv"},
        files={"file": ("tests.csv", csv)},
    )
    assert from_csv.status_code == 422, from_csv.text
    [error] = from_csv.json()["errors"]
    assert (error["location"], error["field"]) == ("line 2", "collected_at")
    assert "is before the call to test at Thu 5 Mar 2026 09:15 CST" in error["reason"]
    # The lab's HL7 correction of the stored test, collected (OBR-7) before its call.
    hl7 = "\r".join(
        [
            "MSH|^~\\&|LABSYS|Prairie Tox|COMPLIANCE|IOP|20260305143000-0600||ORU^R01|M1|P|2.5.1",
            "PID|1||C-1001^^^IOP^MR||LAB^LEE",
            "OBR|1|PL-1|PT-1|DOA^Panel^L|||20260304060000-0600",
            "OBX|1|ST|COC^Cocaine screen^L||NEGATIVE|ng/mL|150|N|||C|||20260305|||EIA^EIA^L",
            "",
        ]
    ).encode()
    from_lab = await client.post(
        "/api/imports",
        data={"program_id": str(world.program_a), "kind": "hl7_oru"},
        files={"file": ("lab.hl7", hl7)},
    )
    assert from_lab.status_code == 422, from_lab.text
    [error] = from_lab.json()["errors"]
    assert error["field"] == "collected_at"
    assert error["reason"].startswith(
        "Wed 4 Mar 2026 06:00 CST is before the call to test at Wed 4 Mar 2026 07:00 CST"
    )
    # The same correction collected after the call goes through, and keeps the call.
    fixed = hl7.replace(b"20260304060000", b"20260304093000")
    ok = await client.post(
        "/api/imports",
        data={"program_id": str(world.program_a), "kind": "hl7_oru"},
        files={"file": ("lab.hl7", fixed)},
    )
    assert ok.status_code == 201, ok.text
    assert (await client.post(f"/api/imports/{ok.json()['batch_id']}/commit")).status_code == 200
    current = await DrugTest.select().where(DrugTest.is_current.eq(True)).first()
    assert current["version"] == 2 and current["version_kind"] == "correction"
    assert current["called_at"] == stored_called(stored)
    assert await ImportBatch.count().where(ImportBatch.status == "rejected") == 2


def stored_called(test: dict) -> datetime:
    return datetime.fromisoformat(test["called_at"])


# --- confirmation and MRO review ------------------------------------------------------


async def test_confirmation_and_mro_review_are_versions_of_their_own_kind(client, world) -> None:
    pid = await enroll_lee(client, world.program_a)
    test = (await client.post(f"/api/participants/{pid}/drug-tests", json=PRESUMPTIVE)).json()
    assert (test["version_kind"], test["outcome"], test["counts_positive"]) == (
        "original",
        "presumptive",
        False,
    )
    url = f"/api/drug-tests/{test['id']}"
    confirmation = {
        "confirmed_at": "2026-03-06T11:00",
        "confirmation_lab": "Heartland Reference Lab",
        "results": [
            {
                "analyte": "cocaine",
                "confirmation_result": "positive",
                "confirmation_method": "GC-MS",
                "level_ng_ml": "388",
            }
        ],
    }
    # Refused, and nothing stored: no method; an analyte the test does not have; a
    # time before the collection.
    no_method = {**confirmation, "results": [{**confirmation["results"][0]}]}
    del no_method["results"][0]["confirmation_method"]
    refused = [
        await client.post(f"{url}/confirmations", json=no_method),
        await client.post(
            f"{url}/confirmations",
            json={**confirmation, "results": [{**confirmation["results"][0], "analyte": "pcp"}]},
        ),
        await client.post(
            f"{url}/confirmations", json={**confirmation, "confirmed_at": "2026-03-01T08:00"}
        ),
    ]
    assert [r.status_code for r in refused] == [422, 422, 422]
    assert refused[0].json()["errors"] == [
        {"field": "results[0].confirmation_method", "reason": "is required"}
    ]
    assert refused[1].json()["errors"] == [
        {"field": "results[0].analyte", "reason": "'pcp' is not among this test's results"}
    ]
    assert refused[2].json()["errors"][0]["field"] == "confirmed_at"
    assert await DrugTest.count() == 1
    confirmed = await client.post(f"{url}/confirmations", json=confirmation)
    assert confirmed.status_code == 201, confirmed.text
    v2 = confirmed.json()
    assert (v2["version"], v2["version_kind"], v2["correction_reason"]) == (2, "confirmation", "")
    cocaine = next(r for r in v2["results"] if r["analyte_key"] == "cocaine")
    assert (cocaine["confirmation_result"], cocaine["confirmation_lab"]) == (
        "positive",
        "Heartland Reference Lab",
    )
    assert datetime.fromisoformat(cocaine["confirmed_at"]) == datetime(
        2026, 3, 6, 11, tzinfo=CHICAGO
    )
    assert (v2["outcome"], v2["counts_positive"]) == ("positive", True)
    kinds = [v["kind"] for v in (await client.get(f"/api/participants/{pid}/violations")).json()]
    assert kinds == ["confirmed_positive"]
    # The first version can no longer take one; an MRO's negative needs its reason.
    stale = await client.post(f"{url}/confirmations", json=confirmation)
    assert stale.status_code == 422 and stale.json()["errors"][0]["field"] == "drug_test_id"
    review = {
        "mro_name": "Dr. Lena Ortiz",
        "reviewed_at": "2026-03-07T15:00",
        "note": "Spoke with the prescriber.",
        "results": [{"analyte": "cocaine", "mro_result": "negative"}],
    }
    unexplained = await client.post(f"/api/drug-tests/{v2['id']}/mro-reviews", json=review)
    assert unexplained.status_code == 422
    assert unexplained.json()["errors"] == [
        {"field": "results[0].mro_comment", "reason": "is required"}
    ]
    review["results"][0]["mro_comment"] = "Valid prescription (topical cocaine, ENT procedure)"
    reviewed = await client.post(f"/api/drug-tests/{v2['id']}/mro-reviews", json=review)
    assert reviewed.status_code == 201, reviewed.text
    v3 = reviewed.json()
    assert (v3["version"], v3["version_kind"], v3["mro_name"]) == (
        3,
        "mro_review",
        "Dr. Lena Ortiz",
    )
    assert v3["correction_reason"] == "Spoke with the prescriber."
    assert (v3["outcome"], v3["counts_positive"]) == ("negative", False)
    assert (await client.get(f"/api/participants/{pid}/violations")).json() == []
    withdrawn = await Violation.select().first()
    assert withdrawn["kind"] == "confirmed_positive" and withdrawn["withdrawn_at"] is not None
    # The page says what each version is, in the words a report uses.
    page = (await client.get(f"/drug-tests/{v3['id']}")).text
    assert "Confirmed by GC-MS on Fri 6 Mar 2026 (lab Heartland Reference Lab): Cocaine" in page
    assert (
        "MRO review on Sat 7 Mar 2026 by Dr. Lena Ortiz: Cocaine metabolite (benzoylecgonine) "
        "negative, valid prescription (topical cocaine, ENT procedure)" in page
    )
    assert "lab confirmation" in page and "Note: Spoke with the prescriber." in page
    assert "Corrected" not in page
    # A plain correction still needs its reason.
    unsaid = await client.post(
        f"/api/drug-tests/{v3['id']}/corrections", json={"notes": "x", "correction_reason": " "}
    )
    assert unsaid.status_code == 422
    assert unsaid.json()["errors"][0] == {"field": "correction_reason", "reason": "is required"}


async def test_the_page_forms_add_a_confirmation_and_a_review(client, world) -> None:
    pid = await enroll_lee(client, world.program_a)
    test = (await client.post(f"/api/participants/{pid}/drug-tests", json=PRESUMPTIVE)).json()
    page = await client.get(f"/drug-tests/{test['id']}")
    assert "Add confirmation" in page.text and "MRO review" in page.text
    missing = await post_form(
        client,
        f"/drug-tests/{test['id']}/confirmation",
        {"confirmed_at": "2026-03-06T11:00", "confirmation_result:cocaine": "positive"},
    )
    assert missing.status_code == 422 and missing.headers["content-type"].startswith(HTML)
    assert "Nothing was saved" in missing.text and "is required" in missing.text
    assert 'class="row-error"' in missing.text  # beside the cocaine row
    done = await post_form(
        client,
        f"/drug-tests/{test['id']}/confirmation",
        {
            "confirmed_at": "2026-03-06T11:00",
            "confirmation_result:cocaine": "negative",
            "confirmation_method:cocaine": "LC-MS/MS",
        },
    )
    assert done.status_code == 303
    after = (await client.get(done.headers["location"])).text
    assert "Confirmed by LC-MS/MS on Fri 6 Mar 2026 (lab Prairie Tox): Cocaine" in after
    assert "Negative test collected Wed 4 Mar" in after
    current = await DrugTest.select().where(DrugTest.is_current.eq(True)).first()
    assert current["version_kind"] == "confirmation"


# --- the court PDF --------------------------------------------------------------------


async def test_the_court_pdf_says_confirmed_and_mro_review_not_corrected(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    demo = await signed_in_demo(client, "lab@example.org", full_name="Robin Lab")
    headers = {"x-csrftoken": await csrf_token(client)}
    pid = demo["people"]["RB-1001"]
    tests = (await client.get(f"/api/participants/{pid}/drug-tests")).json()
    target = next(
        t
        for t in tests
        if t["collected_at"]
        and "2026-10-05" <= t["collected_at"][:10] <= "2026-11-15"
        and t["collection_status"] == "collected"
        and not any(r["screen_result"] == "positive" for r in t["results"])
    )
    # The lab re-screened, found cocaine, confirmed it; the MRO found a prescription.
    screened = await client.post(
        f"/api/drug-tests/{target['id']}/corrections",
        json={
            "correction_reason": "Lab amended the screen",
            "results": [{"analyte": "cocaine", "screen_result": "positive"}],
        },
        headers=headers,
    )
    assert screened.status_code == 201, screened.text
    collected = datetime.fromisoformat(target["collected_at"]).astimezone(CHICAGO)
    confirmed_on = collected + timedelta(days=2)
    confirmed = await client.post(
        f"/api/drug-tests/{screened.json()['id']}/confirmations",
        json={
            "confirmed_at": confirmed_on.strftime("%Y-%m-%dT%H:%M"),
            "results": [
                {
                    "analyte": "cocaine",
                    "confirmation_result": "positive",
                    "confirmation_method": "GC-MS",
                }
            ],
        },
        headers=headers,
    )
    assert confirmed.status_code == 201, confirmed.text
    reviewed_on = collected + timedelta(days=3)
    reviewed = await client.post(
        f"/api/drug-tests/{confirmed.json()['id']}/mro-reviews",
        json={
            "mro_name": "Dr. Lena Ortiz",
            "reviewed_at": reviewed_on.strftime("%Y-%m-%dT%H:%M"),
            "results": [
                {
                    "analyte": "cocaine",
                    "mro_result": "negative",
                    "mro_comment": "Valid prescription",
                }
            ],
        },
        headers=headers,
    )
    assert reviewed.status_code == 201, reviewed.text
    report = await client.post(
        f"/api/participants/{pid}/reports",
        json={
            "kind": "court_progress",
            "recipient_id": demo["recipients"]["Dana Whitfield"],
            "period_start": "2026-09-28",
            "period_end": "2026-11-22",
        },
        headers=headers,
    )
    assert report.status_code == 201, report.text
    pdf = await client.get(f"/api/reports/{report.json()['id']}/pdf")
    path = tmp_path / "court.pdf"
    path.write_bytes(pdf.content)
    done = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True)
    text = " ".join(done.stdout.split())
    day = f"{confirmed_on:%a} {confirmed_on.day} {confirmed_on:%b %Y}"
    assert f"Confirmed by GC-MS on {day} (lab Prairie Toxicology Laboratory)" in text
    review_day = f"{reviewed_on:%a} {reviewed_on.day} {reviewed_on:%b %Y}"
    assert f"MRO review on {review_day} by Dr. Lena Ortiz" in text
    assert "negative, valid prescription" in text
    # The one correction is said as one, with its reason; the others are not.
    assert text.count("Corrected ") == 1 and "(Lab amended the screen)" in text
    assert "Negative (MRO review)" in text


# --- a presumptive positive: pending, or counted by policy ----------------------------


async def test_presumptive_policy_through_engine_violations_and_pages(client) -> None:
    demo = await signed_in_demo(client, "lab@example.org", full_name="Robin Lab")
    headers = {"x-csrftoken": await csrf_token(client)}
    pid = demo["people"]["RB-1001"]
    now = datetime.now(CHICAGO).replace(second=0, microsecond=0)
    made = await client.post(
        f"/api/participants/{pid}/drug-tests",
        json={
            **PRESUMPTIVE,
            "accession_id": "PT-NOW",
            "called_at": (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
            "collected_at": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        },
        headers=headers,
    )
    assert made.status_code == 201, made.text
    test = made.json()
    words = test["outcome_words"]
    assert words.startswith("Presumptive positive collected ") and words.endswith(
        ", pending confirmation: Cocaine metabolite (benzoylecgonine)"
    )
    link = await client.post(
        f"/api/participants/{pid}/links",
        json={"recipient_id": demo["recipients"]["Dana Whitfield"]},
        headers=headers,
    )
    assert link.status_code == 201, link.text
    officer_path = link.json()["url"].removeprefix("http://testserver")
    ref = f"drug_test:{test['id']}"

    async def seen() -> dict:
        """What each place says of the test: engine week, violations, pending, pages."""
        start = (now - timedelta(days=7)).date().isoformat()
        judged = (
            await client.get(
                f"/api/participants/{pid}/compliance",
                params={"start": start, "end": now.date().isoformat()},
            )
        ).json()
        week = next(
            w for w in judged["weeks"] if any(t["test_id"] == test["id"] for t in w["tests"])
        )
        listed = (await client.get(f"/api/participants/{pid}/violations")).json()
        pending = (await client.get(f"/api/participants/{pid}/pending-confirmations")).json()
        staff = (await client.get(f"/participants/{pid}")).text
        async with httpx.AsyncClient(
            transport=client._transport, base_url="http://testserver"
        ) as phone:
            officer = (await phone.get(officer_path)).text
        open_part = officer.split("Open violations", 1)[1].split("<h2>", 1)[0]
        return {
            "reason": [r["text"] for r in week["reasons"] if ref in r["refs"]],
            "violations": [(v["kind"], v["description"]) for v in listed if v["record"] == ref],
            "pending": [p["record"] for p in pending],
            "staff_pending": "Pending confirmation</h3>" in staff,
            "officer_open": words in open_part,
            "officer_counts": "counts as positive until confirmed or reviewed" in open_part,
            "officer_test": words in officer,
        }

    off = await seen()
    assert off == {
        "reason": [],
        "violations": [],
        "pending": [ref],
        "staff_pending": True,
        "officer_open": False,
        "officer_counts": False,
        "officer_test": True,
    }
    # The program decides it counts before confirmation: re-judged as a policy save does.
    program = demo["program"]["id"]
    await Program.update({Program.presumptive_counts_before_confirmation: True}).where(
        Program.id == program
    )
    async with db.transaction():
        await violations.refresh([pid])
    on = await seen()
    assert on == {
        "reason": [words],
        "violations": [("presumptive_positive", words)],
        "pending": [],
        "staff_pending": False,
        "officer_open": True,
        "officer_counts": True,
        "officer_test": True,
    }
    # Confirmed negative, it is neither, whatever the policy.
    cleared = await client.post(
        f"/api/drug-tests/{test['id']}/confirmations",
        json={
            "confirmed_at": now.strftime("%Y-%m-%dT%H:%M"),
            "results": [
                {
                    "analyte": "cocaine",
                    "confirmation_result": "negative",
                    "confirmation_method": "GC-MS",
                }
            ],
        },
        headers=headers,
    )
    assert cleared.status_code == 201, cleared.text
    kinds = [
        (v["kind"], v["withdrawn_at"] is not None)
        for v in (
            await client.get(
                f"/api/participants/{pid}/violations", params={"include_withdrawn": "true"}
            )
        ).json()
        if v["kind"] == "presumptive_positive"
    ]
    assert kinds == [("presumptive_positive", True)]
    assert (await client.get(f"/api/participants/{pid}/pending-confirmations")).json() == []
