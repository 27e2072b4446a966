"""Issue 16, points 2 to 5, through the API and the imports: a lab's correction of one
result keeps the rest of the panel; "dilute" is the program's decision, the same for
staff's entry, CSV and HL7, and follows its threshold; the same test or attendance
twice is refused on every path with a pointer to the stored record; bad input names
the row or segment, the field and the reason, and stores nothing."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from compliance.tables import AnalyteResult, Attendance, DrugTest, ImportBatch, Violation
from tests.support.records import enroll, group_session
from tests.support.staff import World, post_form, sign_in, signed_in_world

HL7_HEAD = "MSH|^~\\&|LABSYS|ACME TOX|COMPLIANCE|IOP|20260312143000-0600||ORU^R01|{control}|P|2.5.1"


def obx(n: int, code: str, value: str, status: str = "F") -> str:
    """A drug screen (ST), or a validity figure (NM) for CREA, SG and PH."""
    if code in ("CREA", "SG", "PH"):
        units = {"CREA": "mg/dL", "SG": "", "PH": ""}[code]
        return f"OBX|{n}|NM|{code}^{code}^L||{value}|{units}|||||{status}"
    flag = "A" if value == "POSITIVE" else "N"
    return f"OBX|{n}|ST|{code}^{code} screen^L||{value}|ng/mL||{flag}|||{status}|||20260311"


def hl7(accession: str, *observations: str, client: str = "C-1001", note: str = "") -> bytes:
    """One ORU^R01 message for ``client`` with no name in PID-5 (the identity check has
    nothing to hold), collected 10 Mar 2026 08:30 CDT."""
    segments = [
        HL7_HEAD.format(control=f"M-{accession}"),
        f"PID|1||{client}^^^IOP^MR",
        f"OBR|1|PL-{accession}|{accession}|DOA^Panel^L|||20260310083000-0600",
        *([f"NTE|1||{note}"] if note else []),
        *observations,
    ]
    return ("\r".join(segments) + "\r").encode()


CSV_HEAD = (
    "client_id,accession_id,collected_at,collection_status,called_at,reason,"
    "creatinine_mg_dl,specific_gravity,analyte,screen_result"
)


def csv(*rows: str) -> bytes:
    return ("\n".join([CSV_HEAD, *rows]) + "\n").encode()


@pytest.fixture
async def world(client: httpx.AsyncClient) -> World:
    w = await signed_in_world(client, analytes=True)
    for n in (1, 2):
        await enroll(client, w.program_a, f"C-100{n}", "Jane", "Doe", "2024-01-01")
    return w


async def pid(client: httpx.AsyncClient, client_id: str = "C-1001") -> int:
    people = (await client.get("/api/participants")).json()
    return next(p["id"] for p in people if p["client_id"] == client_id)


async def upload(client: httpx.AsyncClient, world: World, kind: str, content: bytes):
    name = "lab.hl7" if kind == "hl7_oru" else "lab.csv"
    return await client.post(
        "/api/imports",
        data={"program_id": str(world.program_a), "kind": kind},
        files={"file": (name, content)},
    )


async def imported(client: httpx.AsyncClient, world: World, kind: str, content: bytes) -> dict:
    """Preview and commit a file that must go through; the commit's outcome."""
    preview = await upload(client, world, kind, content)
    assert preview.status_code == 201, preview.text
    done = await client.post(f"/api/imports/{preview.json()['batch_id']}/commit")
    assert done.status_code == 200, done.text
    return done.json()


def by_analyte(view: dict) -> dict[str, str]:
    return {r["analyte_key"]: r["screen_result"] for r in view["results"]}


# --- point 2: a lab's correction changes only what it corrects -------------------------


async def test_a_one_result_correction_keeps_the_rest_of_the_panel(client, world) -> None:
    panel = (
        obx(1, "THC", "POSITIVE"),
        obx(2, "COC", "NEGATIVE"),
        obx(3, "MOR", "NEGATIVE"),
        obx(4, "CREA", "45.2"),
    )
    await imported(client, world, "hl7_oru", hl7("ACC-7", *panel, note="Seal intact"))
    only_thc = hl7("ACC-7", obx(1, "THC", "NEGATIVE", status="C"))
    preview = await upload(client, world, "hl7_oru", only_thc)
    assert preview.status_code == 201, preview.text
    row = preview.json()["rows"][0]
    # The preview shows the whole new version, and what it replaces.
    assert (row["action"], row["what"]) == ("correct", "Urine: all 3 negative")
    assert row["was"].startswith("version 1: Urine: Marijuana metabolite (THC-COOH) presumptive")
    await client.post(f"/api/imports/{preview.json()['batch_id']}/commit")

    current = await DrugTest.select().where(DrugTest.is_current.eq(True)).first()
    history = (await client.get(f"/api/drug-tests/{current['id']}/history")).json()
    assert [h["version"] for h in history] == [1, 2]
    assert by_analyte(history[0]) == {
        "thc": "positive",
        "cocaine": "negative",
        "morphine": "negative",
    }
    assert by_analyte(history[1]) == {
        "thc": "negative",
        "cocaine": "negative",
        "morphine": "negative",
    }
    new = history[1]
    assert (float(new["creatinine_mg_dl"]), new["notes"]) == (45.2, "Seal intact")
    assert new["collected_at"] == history[0]["collected_at"]
    assert (new["source"], new["correction_reason"]) == (
        "hl7",
        "Corrected result from the lab (lab.hl7)",
    )
    assert await AnalyteResult.count() == 6  # three per version: nothing dropped


async def test_a_corrected_message_with_the_whole_panel_replaces_it(client, world) -> None:
    await imported(
        client,
        world,
        "hl7_oru",
        hl7("ACC-8", obx(1, "THC", "POSITIVE"), obx(2, "COC", "NEGATIVE"), obx(3, "CREA", "96")),
    )
    whole = hl7(
        "ACC-8",
        obx(1, "THC", "NEGATIVE", "C"),
        obx(2, "COC", "POSITIVE", "C"),
        obx(3, "CREA", "12.5", "C"),
    )
    await imported(client, world, "hl7_oru", whole)
    current = await DrugTest.select().where(DrugTest.is_current.eq(True)).first()
    view = (await client.get(f"/api/drug-tests/{current['id']}/history")).json()[-1]
    assert by_analyte(view) == {"thc": "negative", "cocaine": "positive"}
    # The corrected creatinine is judged again under the program's policy.
    assert (float(view["creatinine_mg_dl"]), view["collection_status"]) == (12.5, "dilute")
    again = await upload(client, world, "hl7_oru", whole)  # the same correction: a no-op
    assert (again.json()["duplicates"], again.json()["corrected"]) == (1, 0)


async def test_a_correction_of_an_accession_not_on_file_is_refused(client, world) -> None:
    stray = hl7("ACC-404", obx(1, "THC", "NEGATIVE", status="C"))
    refused = await upload(client, world, "hl7_oru", stray)
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {
            "location": "message 1, OBR segment 1 (line 3)",
            "field": "OBR-3",
            "reason": "is a corrected result (OBX-11 = C) for accession 'ACC-404', but no "
            "result for it is on file for client C-1001: there is nothing to correct; import "
            "the original result first, or check the accession number",
        }
    ]
    assert await DrugTest.count() == 0
    assert (await ImportBatch.select(ImportBatch.status).first())["status"] == "rejected"


# --- point 3: one validity rule, the program's thresholds ------------------------------


async def set_policy(client: httpx.AsyncClient, world: World, **changes: object) -> None:
    """Change the program's policy as an administrator does (preview, then save)."""
    await sign_in(client, world.admin_a)
    url = f"/api/admin/programs/{world.program_a}"
    preview = await client.post(f"{url}/policy-preview", json=changes)
    assert preview.status_code == 200, preview.text
    saved = await client.patch(
        url, json={**changes, "confirmation": preview.json()["confirmation"]}
    )
    assert saved.status_code == 200, saved.text
    await sign_in(client, world.clinician_a)


async def three_paths(
    client: httpx.AsyncClient, world: World, n: int, creatinine: str, sg: str = ""
) -> list[str]:
    """The same figures typed in, in a CSV and in HL7 (new accessions each time): the
    status each path stored."""
    person = await pid(client)
    typed = await client.post(
        f"/api/participants/{person}/drug-tests",
        json={
            "collected_at": f"2026-03-0{n}T09:00",
            "accession_id": f"M-{n}",
            "creatinine_mg_dl": creatinine,
            "specific_gravity": sg or None,
            "results": [{"analyte": "thc", "screen_result": "negative"}],
        },
    )
    assert typed.status_code == 201, typed.text
    await imported(
        client,
        world,
        "drug_test_csv",
        csv(f"C-1001,C-{n},2026-03-0{n} 10:00,,,random,{creatinine},{sg},THC,negative"),
    )
    figures = [obx(2, "CREA", creatinine)] + ([obx(3, "SG", sg)] if sg else [])
    await imported(client, world, "hl7_oru", hl7(f"H-{n}", obx(1, "THC", "NEGATIVE"), *figures))
    rows = {
        r["accession_id"]: r["collection_status"]
        for r in await DrugTest.select(DrugTest.accession_id, DrugTest.collection_status)
    }
    return [rows[f"M-{n}"], rows[f"C-{n}"], rows[f"H-{n}"]]


async def test_dilute_is_decided_by_the_programs_thresholds_on_every_path(client, world) -> None:
    assert await three_paths(client, world, 1, "18") == ["dilute"] * 3  # default: below 20
    # A specific gravity at or above the program's (1.0030 by default) says not dilute.
    assert await three_paths(client, world, 2, "18", "1.0150") == ["collected"] * 3
    note = (await DrugTest.select().where(DrugTest.accession_id == "H-2").first())["validity_note"]
    assert note == "Not dilute: creatinine 18 mg/dL < 20 but specific gravity 1.0150"

    await set_policy(client, world, dilute_creatinine_mg_dl=15)
    assert await three_paths(client, world, 3, "18") == ["collected"] * 3
    assert await three_paths(client, world, 4, "14") == ["dilute"] * 3
    h4 = await DrugTest.select().where(DrugTest.accession_id == "H-4").first()
    assert h4["validity_note"] == "Dilute: creatinine 14 mg/dL < 15"
    await set_policy(client, world, dilute_specific_gravity="1.0200")
    assert await three_paths(client, world, 5, "14", "1.0150") == ["dilute"] * 3

    # The first file again, after the threshold changed: the same lab report, a no-op.
    again = await upload(
        client, world, "hl7_oru", hl7("H-1", obx(1, "THC", "NEGATIVE"), obx(2, "CREA", "18"))
    )
    assert (again.json()["errors"], again.json()["duplicates"]) == ([], 1)


async def test_the_lab_verdict_and_the_worst_finding_win(client, world) -> None:
    # The lab states "dilute" with a normal creatinine: kept. pH 3 is adulterated.
    await imported(
        client,
        world,
        "drug_test_csv",
        csv(
            "C-1001,V-1,2026-03-02 10:00,dilute,,random,96,,THC,negative",
            "C-1002,V-2,2026-03-02 10:00,,,random,12,,THC,negative",
        ),
    )
    hl7_ph = hl7("V-3", obx(1, "THC", "NEGATIVE"), obx(2, "CREA", "12"), obx(3, "PH", "3"))
    await imported(client, world, "hl7_oru", hl7_ph)
    found = {
        r["accession_id"]: (r["collection_status"], r["validity_note"])
        for r in await DrugTest.select(
            DrugTest.accession_id, DrugTest.collection_status, DrugTest.validity_note
        )
    }
    assert found == {
        "V-1": ("dilute", ""),
        "V-2": ("dilute", "Dilute: creatinine 12 mg/dL < 20"),
        "V-3": ("adulterated", "Adulterated: pH 3 < 4"),
    }


# --- point 5: the same record twice, refused on every path -----------------------------


NO_SHOW = {"collection_status": "no_show", "called_at": "2026-03-04T07:00", "results": []}


async def test_the_same_no_show_posted_twice_is_stored_once(client, world) -> None:
    person = await pid(client)
    url = f"/api/participants/{person}/drug-tests"
    first = await client.post(url, json=NO_SHOW)
    assert first.status_code == 201, first.text
    second = await client.post(url, json=NO_SHOW)
    assert second.status_code == 409
    body = second.json()
    stored = first.json()["id"]
    assert (body["existing_id"], body["existing_url"]) == (stored, f"/drug-tests/{stored}")
    assert body["errors"][0]["field"] == "called_at"
    assert body["errors"][0]["reason"].startswith(
        f"is already recorded for this client: drug test {stored} (no show, called "
    )
    assert await DrugTest.count() == 1
    assert await Violation.count().where(Violation.participant == person) == 1
    # A refusal at the same call is another record; the same no-show in a file is skipped.
    refusal = await client.post(url, json={**NO_SHOW, "collection_status": "refused"})
    assert refusal.status_code == 201, refusal.text
    same = await upload(
        client, world, "drug_test_csv", csv("C-1001,,,no_show,2026-03-04 07:00,random,,,,")
    )
    assert (same.json()["created"], same.json()["duplicates"], same.json()["errors"]) == (0, 1, [])


async def test_a_double_click_stores_the_no_show_once(client, world) -> None:
    url = f"/api/participants/{await pid(client)}/drug-tests"
    answers = await asyncio.gather(*(client.post(url, json=NO_SHOW) for _ in range(3)))
    assert sorted(a.status_code for a in answers) == [201, 409, 409]
    assert await DrugTest.count() == 1


async def test_the_same_accession_is_refused_in_the_api_the_form_and_both_imports(
    client, world
) -> None:
    person = await pid(client)
    test = {
        "collected_at": "2026-03-04T09:00",
        "accession_id": "ACC-1",
        "results": [{"analyte": "thc", "screen_result": "positive"}],
    }
    first = await client.post(f"/api/participants/{person}/drug-tests", json=test)
    stored = first.json()["id"]
    # Another letter case, another time: still the client's accession ACC-1.
    again = await client.post(
        f"/api/participants/{person}/drug-tests",
        json={**test, "accession_id": "acc-1", "collected_at": "2026-03-05T09:00"},
    )
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "accession_id"

    form = await post_form(
        client,
        f"/participants/{person}/drug-tests",
        {
            "collected_at": "2026-03-04T09:00",
            "accession_id": "ACC-1",
            "collection_status": "collected",
            "screen:thc": "positive",
        },
    )
    assert form.status_code == 409
    assert "Accession number is already recorded for this client" in form.text
    assert f'href="/drug-tests/{stored}"' in form.text

    csv_file = csv("C-1001,ACC-1,2026-03-04 09:00,,,random,,,THC,negative")
    from_csv = await upload(client, world, "drug_test_csv", csv_file)
    assert from_csv.status_code == 422
    [error] = from_csv.json()["errors"]
    assert (error["location"], error["field"]) == ("line 2", "accession_id")
    assert error["reason"].startswith(
        f"specimen 'ACC-1' is already recorded for client C-1001 as drug test {stored} "
        f"(collected Wed 4 Mar 2026 09:00 CST, accession ACC-1), at /drug-tests/{stored}, "
        "with different results; a lab must send a change as a corrected result"
    )

    from_hl7 = await upload(client, world, "hl7_oru", hl7("ACC-1", obx(1, "THC", "NEGATIVE")))
    assert from_hl7.json()["errors"][0]["field"] == "OBR-3"
    assert f"/drug-tests/{stored}" in from_hl7.json()["errors"][0]["reason"]
    assert await DrugTest.count() == 1

    twice = hl7("ACC-2", obx(1, "THC", "NEGATIVE")) + hl7("ACC-2", obx(1, "THC", "NEGATIVE"))
    in_file = await upload(client, world, "hl7_oru", twice)
    assert in_file.json()["errors"] == [
        {
            "location": "message 2, OBR segment 1 (line 7)",
            "field": "OBR-3",
            "reason": "the same specimen appears earlier in the file "
            "(message 1, OBR segment 1 (line 3))",
        }
    ]


async def test_a_correction_cannot_take_another_tests_accession(client, world) -> None:
    person = await pid(client)
    url = f"/api/participants/{person}/drug-tests"
    base = {"results": [{"analyte": "thc", "screen_result": "negative"}]}
    one = (
        await client.post(
            url, json={**base, "collected_at": "2026-03-04T09:00", "accession_id": "A"}
        )
    ).json()
    two = (
        await client.post(
            url, json={**base, "collected_at": "2026-03-05T09:00", "accession_id": "B"}
        )
    ).json()
    taken = await client.post(
        f"/api/drug-tests/{two['id']}/corrections",
        json={"accession_id": "A", "correction_reason": "typo"},
    )
    assert taken.status_code == 409 and taken.json()["existing_id"] == one["id"]
    fixed = await client.post(
        f"/api/drug-tests/{two['id']}/corrections",
        json={"notes": "lab called", "correction_reason": "note"},
    )
    assert fixed.status_code == 201, fixed.text  # its own accession is not a duplicate


async def test_attendance_twice_is_refused_with_a_pointer(client, world) -> None:
    person = await pid(client)
    meeting = {
        "occurred_at": "2026-03-07T10:00",
        "scheduled_minutes": 60,
        "meeting_name": "Saturday AA",
        "proof": "signed slip",
    }
    url = f"/api/participants/{person}/outside-meetings"
    first = await client.post(url, json=meeting)
    assert first.status_code == 201, first.text
    second = await client.post(url, json={**meeting, "meeting_name": "AA"})
    assert second.status_code == 409
    assert second.json()["existing_url"] == f"/attendance/{first.json()['id']}"
    assert second.json()["errors"][0]["field"] == "occurred_at"

    sid = await group_session(client, world.program_a)
    entries = [{"participant_id": person, "status": "present"}]
    assert (
        await client.put(f"/api/sessions/{sid}/roster", json={"entries": entries})
    ).status_code == 200
    # The same client, kind and time in a second session set up by mistake: refused.
    other = await client.post(
        "/api/sessions",
        json={
            "program_id": world.program_a,
            "session_type": "group",
            "starts_at": "2026-03-03T18:00",
            "scheduled_minutes": 120,
        },
    )
    doubled = await client.put(
        f"/api/sessions/{other.json()['id']}/roster", json={"entries": entries}
    )
    assert doubled.status_code == 422
    stored = await Attendance.select().where(Attendance.session == sid).first()
    assert doubled.json()["errors"][0]["reason"].startswith(
        f"is already recorded for this client: attendance {stored['id']} (group, "
    )
    # The same attendance in a file is skipped as a duplicate; nothing new is stored.
    rows = (
        "client_id,date,start_time,session_type,scheduled_minutes,status\n"
        "C-1001,2026-03-03,18:00,group,180,present\n"
    )
    done = await imported(client, world, "attendance_csv", rows.encode())
    assert (done["created"], done["duplicates"]) == (0, 1)
    assert await Attendance.count() == 2
