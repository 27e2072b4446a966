"""Imports end to end: preview stores nothing, commit stores all or nothing, duplicates
and lab corrections are recognised, every error names where, what and why."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from compliance.records.analytes import seed_program_analytes
from compliance.tables import (
    AnalyteResult,
    Attendance,
    AuditEvent,
    DrugTest,
    ImportBatch,
    TreatmentSession,
)
from tests.support.lab_files import hl7_result
from tests.support.records import enroll, group_session, lab_code
from tests.support.staff import World, make_world, post_form, sign_in

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture
async def world(client: httpx.AsyncClient) -> World:
    w = await make_world()
    await seed_program_analytes(w.program_a)
    await lab_code(w.program_a, "COC", "LN", "3426-4")
    await sign_in(client, w.clinician_a)
    for n in range(1, 5):
        # C-1001 is the Jane Doe the lab files name (PID-5), so the identity check lets
        # them through.
        first, last = ("Jane", "Doe") if n == 1 else (f"P{n}", "Test")
        await enroll(client, w.program_a, f"C-100{n}", first, last, "2024-01-01")
    return w


async def upload(client, program_id: int, kind: str, name: str, content: bytes) -> httpx.Response:
    return await client.post(
        "/api/imports",
        data={"program_id": str(program_id), "kind": kind},
        files={"file": (name, content)},
    )


async def test_hl7_preview_commit_then_duplicate(client, world) -> None:
    single = (FIXTURES / "hl7" / "oru_r01_251_single.hl7").read_bytes()
    preview = await upload(client, world.program_a, "hl7_oru", "results.hl7", single)
    assert preview.status_code == 201, preview.text
    body = preview.json()
    assert (body["status"], body["created"], body["errors"]) == ("previewed", 1, [])
    assert body["rows"][0]["action"] == "create" and body["rows"][0]["client_id"] == "C-1001"
    # The preview says when in the program's words: 08:30 -0500 is CDT, DST's first day.
    assert body["rows"][0]["summary"].startswith("Sun 10 Mar 2024 08:30 CDT Urine")
    assert (body["rows"][0]["name"], body["rows"][0]["when"]) == (
        "Jane Doe",
        "Sun 10 Mar 2024 08:30 CDT",
    )
    assert body["rows"][0]["what"] == (
        # "Collection observed by staff." (NTE) makes it an observed collection.
        "Urine, observed: Marijuana metabolite (THC-COOH) positive, confirmed GC-MS "
        "62.5 ng/mL; others negative"
    )
    assert await DrugTest.count() == 0  # a preview stores nothing
    done = await client.post(f"/api/imports/{body['batch_id']}/commit")
    assert done.status_code == 200 and done.json()["status"] == "committed"
    test = await DrugTest.select().first()
    assert (test["source"], test["accession_id"], float(test["creatinine_mg_dl"])) == (
        "hl7",
        "ACC-2024-0001",
        85.3,
    )
    thc = await AnalyteResult.select().where(AnalyteResult.analyte_code == "THC").first()
    assert (thc["screen_result"], thc["confirmation_result"], float(thc["level_ng_ml"])) == (
        "positive",
        "positive",
        62.5,
    )
    assert thc["confirmation_method"] == "GC-MS"  # OBX-17 "Gas chromatography-mass spectrometry"
    again = await upload(client, world.program_a, "hl7_oru", "results.hl7", single)
    assert (again.json()["created"], again.json()["duplicates"]) == (0, 1)
    await client.post(f"/api/imports/{again.json()['batch_id']}/commit")
    assert await DrugTest.count() == 1
    committed = await client.post(f"/api/imports/{body['batch_id']}/commit")
    assert committed.status_code == 422 and "committed" in committed.json()["errors"][0]["reason"]


async def test_a_lab_correction_becomes_a_new_version(client, world) -> None:
    first = await upload(client, world.program_a, "hl7_oru", "a.hl7", hl7_result("ACC-9"))
    await client.post(f"/api/imports/{first.json()['batch_id']}/commit")
    changed = await upload(
        client, world.program_a, "hl7_oru", "b.hl7", hl7_result("ACC-9", thc="NEGATIVE")
    )
    assert changed.status_code == 422
    assert changed.json()["errors"][0]["field"] == "OBR-3"  # the HL7 field, named
    assert "corrected result (OBX-11 = C)" in changed.json()["errors"][0]["reason"]
    corrected = await upload(
        client, world.program_a, "hl7_oru", "c.hl7", hl7_result("ACC-9", thc="NEGATIVE", status="C")
    )
    assert corrected.json()["corrected"] == 1 and corrected.json()["rows"][0]["action"] == "correct"
    await client.post(f"/api/imports/{corrected.json()['batch_id']}/commit")
    versions = await DrugTest.select().order_by(DrugTest.version)
    assert [(v["version"], v["is_current"]) for v in versions] == [(1, False), (2, True)]
    assert versions[1]["correction_reason"] == "Corrected result from the lab (c.hl7)"
    history = (await client.get(f"/api/drug-tests/{versions[1]['id']}/history")).json()
    assert [h["results"][0]["screen_result"] for h in history] == ["positive", "negative"]


async def test_unknown_participant_and_code_reject_the_whole_file(client, world) -> None:
    both = hl7_result("ACC-1") + hl7_result("ACC-2", client="NOBODY")
    response = await upload(client, world.program_a, "hl7_oru", "x.hl7", both)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "location": "message 2, OBR segment 1 (line 9)",
            "field": "client_id",
            "reason": "no participant with client id 'NOBODY' in this program",
        }
    ]
    unknown = (FIXTURES / "hl7" / "oru_r01_unknown_code.hl7").read_bytes()
    bad = await upload(client, world.program_a, "hl7_oru", "u.hl7", unknown)
    assert bad.status_code == 422 and any(e["field"] == "OBX-3" for e in bad.json()["errors"])
    assert await DrugTest.count() == 0
    batches = await ImportBatch.select(ImportBatch.status)
    assert {b["status"] for b in batches} == {"rejected"}


async def test_drug_test_csv_fixture(client, world) -> None:
    content = (FIXTURES / "csv" / "drug_tests.csv").read_bytes()
    preview = await upload(client, world.program_a, "drug_test_csv", "tests.csv", content)
    assert preview.status_code == 201, preview.text
    created = preview.json()["created"]
    assert created >= 3
    await client.post(f"/api/imports/{preview.json()['batch_id']}/commit")
    assert await DrugTest.count() == created
    statuses = {t["collection_status"] for t in await DrugTest.select(DrugTest.collection_status)}
    assert {"collected", "dilute"} <= statuses


async def test_attendance_csv_fixture_shares_sessions_and_reimports_as_duplicates(client, world):
    content = (FIXTURES / "csv" / "attendance_excel.csv").read_bytes()
    preview = await upload(client, world.program_a, "attendance_csv", "att.csv", content)
    assert preview.status_code == 201, preview.text
    await client.post(f"/api/imports/{preview.json()['batch_id']}/commit")
    rows = await Attendance.select()
    assert len(rows) == preview.json()["created"]
    group = [r for r in rows if r["session_type"] == "group"]
    assert len({r["session"] for r in group}) == 1 and len(group) == 2
    assert all(r["session"] is None for r in rows if r["session_type"] == "twelve_step")
    again = await upload(client, world.program_a, "attendance_csv", "att.csv", content)
    assert again.json()["created"] == 0 and again.json()["duplicates"] == len(rows)
    sessions = await TreatmentSession.count()
    await client.post(f"/api/imports/{again.json()['batch_id']}/commit")
    assert await Attendance.count() == len(rows) and await TreatmentSession.count() == sessions


async def test_commit_rechecks_the_database_and_stores_nothing_on_conflict(client, world) -> None:
    content = (FIXTURES / "csv" / "attendance_excel.csv").read_bytes()
    preview = await upload(client, world.program_a, "attendance_csv", "att.csv", content)
    assert preview.status_code == 201
    # Meanwhile someone records the 3/3 group by hand, marking C-1001 absent.
    session = await group_session(client, world.program_a)
    people = {p["client_id"]: p["id"] for p in (await client.get("/api/participants")).json()}
    await client.put(
        f"/api/sessions/{session}/roster",
        json={"entries": [{"participant_id": people["C-1001"], "status": "absent_unexcused"}]},
    )
    done = await client.post(f"/api/imports/{preview.json()['batch_id']}/commit")
    assert done.status_code == 422
    stored = await Attendance.select().first()
    assert done.json()["errors"][0]["reason"].startswith(
        f"already recorded as attendance {stored['id']} (group, Tue 3 Mar 2026 18:00 CST, "
        f"absent unexcused), at /attendance/{stored['id']}; correct it"
    )
    assert await Attendance.count() == 1


@pytest.mark.parametrize(
    ("kind", "fixture", "fragment"),
    [
        ("attendance_csv", "csv/drug_tests.csv", "this is a drug-test CSV, not an attendance CSV"),
        ("hl7_oru", "csv/attendance_excel.csv", "this is an attendance CSV, not an HL7"),
        ("drug_test_csv", "hl7/oru_r01_251_single.hl7", "this is an HL7 lab results file, not a"),
        ("hl7_oru", "hl7/adt_a01.hl7", "ADT"),
        ("drug_test_csv", "hl7/binary.bin", ""),
        ("attendance_csv", "csv/spreadsheet.xlsx", ""),
    ],
)
async def test_wrong_or_broken_files_are_422_with_a_reason(client, world, kind, fixture, fragment):
    response = await upload(
        client, world.program_a, kind, Path(fixture).name, (FIXTURES / fixture).read_bytes()
    )
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["location"] == "file" and fragment in error["reason"]


async def test_oversize_upload_is_413(client, world) -> None:
    response = await upload(client, world.program_a, "drug_test_csv", "big.csv", b"x" * (40 << 20))
    assert response.status_code == 413


async def test_imports_are_scoped_to_the_users_programs(client, world) -> None:
    preview = await upload(client, world.program_a, "hl7_oru", "a.hl7", hl7_result("ACC-5"))
    await sign_in(client, world.clinician_b)
    assert (
        await client.post(f"/api/imports/{preview.json()['batch_id']}/commit")
    ).status_code == 404
    assert (
        await upload(client, world.program_a, "hl7_oru", "a.hl7", hl7_result("ACC-6"))
    ).status_code == 404
    assert await DrugTest.count() == 0


async def test_import_pages_preview_then_commit(client, world) -> None:
    form = await client.get("/imports")
    assert form.status_code == 200 and "Lab results (HL7 ORU^R01)" in form.text
    token = client.cookies["csrftoken"]
    uploaded = await client.post(
        "/imports",
        data={"program_id": str(world.program_a), "kind": "hl7_oru", "_csrf_token": token},
        files={"file": ("r.hl7", hl7_result("ACC-7"))},
    )
    batch = (await ImportBatch.select().first())["id"]
    assert uploaded.status_code == 303 and uploaded.headers["location"] == f"/imports/{batch}"
    page = await client.get(f"/imports/{batch}")
    assert page.status_code == 200 and "Nothing has been stored yet" in page.text
    assert "Jane Doe" in page.text and "C-1001" in page.text
    done = await post_form(client, f"/imports/{batch}/commit", {})
    assert done.status_code == 303 and done.headers["location"] == f"/imports/{batch}"
    assert "Stored: 1 created" in (await client.get(f"/imports/{batch}")).text
    bad = await client.post(
        "/imports",
        data={"program_id": str(world.program_a), "kind": "hl7_oru", "_csrf_token": token},
        files={"file": ("r.hl7", hl7_result("X", client="NOBODY"))},
    )
    assert bad.status_code == 422 and "no participant with client id" in bad.text
    assert await DrugTest.count() == 1


@pytest.mark.parametrize(
    ("fixture", "kind"),
    [
        ("hl7/oru_r01_251_single.hl7", "hl7_oru"),
        ("csv/drug_tests.csv", "drug_test_csv"),
        ("csv/attendance_excel.csv", "attendance_csv"),
    ],
)
async def test_the_api_recognizes_the_kind_from_the_file(client, world, fixture, kind) -> None:
    response = await client.post(
        "/api/imports",
        data={"program_id": str(world.program_a)},
        files={"file": (Path(fixture).name, (FIXTURES / fixture).read_bytes())},
    )
    assert response.status_code == 201, response.text
    assert (response.json()["kind"], response.json()["status"]) == (kind, "previewed")
    assert response.json()["created"] > 0
    assert (await ImportBatch.select().first())["kind"] == kind
    assert await DrugTest.count() == 0 and await Attendance.count() == 0


async def test_the_api_refuses_a_file_of_no_kind_naming_what_it_expects(client, world) -> None:
    for name, content, why in [
        ("people.csv", b"name,phone\nDana,555-0100\n", "names none of the columns we know"),
        ("book.xlsx", (FIXTURES / "csv" / "spreadsheet.xlsx").read_bytes(), "binary data"),
    ]:
        response = await client.post(
            "/api/imports",
            data={"program_id": str(world.program_a)},
            files={"file": (name, content)},
        )
        assert response.status_code == 422, response.text
        body = response.json()
        assert (body["kind"], body["status"], body["created"]) == (None, "rejected", 0)
        [error] = body["errors"]
        assert (error["location"], error["field"]) == ("file", "file")
        assert why in error["reason"]
        for expected in ("an attendance CSV", "a drug-test CSV", "HL7 results file (ORU^R01"):
            assert expected in error["reason"], expected
    # A rejected upload of no kind can be read back, and not committed.
    batch = (await ImportBatch.select().first())["id"]
    commit = await client.post(f"/api/imports/{batch}/commit")
    assert commit.status_code == 422 and "rejected" in commit.json()["errors"][0]["reason"]
    page = await client.get(f"/imports/{batch}")
    assert page.status_code == 200 and "Unrecognized file" in page.text
    assert "names none of the columns we know" in page.text


async def test_an_mro_correction_keeps_everything_the_lab_reported(client, world) -> None:
    message = hl7_result("ACC-MRO").replace(b"20260310083000-0600", b"20260310083015-0600")
    preview = await upload(client, world.program_a, "hl7_oru", "m.hl7", message)
    await client.post(f"/api/imports/{preview.json()['batch_id']}/commit")
    original = await DrugTest.select().first()
    before = await AnalyteResult.select().where(AnalyteResult.drug_test == original["id"])
    fixed = await client.post(
        f"/api/drug-tests/{original['id']}/corrections",
        json={
            "correction_reason": "MRO review",
            "results": [
                {
                    "analyte": "thc",
                    "screen_result": "positive",
                    "mro_result": "negative",
                    "mro_comment": "Prescription verified",
                }
            ],
        },
    )
    assert fixed.status_code == 201, fixed.text
    new = await DrugTest.select().where(DrugTest.id == fixed.json()["id"]).first()
    assert new["collected_at"] == original["collected_at"]  # seconds kept
    assert float(new["creatinine_mg_dl"]) == float(original["creatinine_mg_dl"])
    after = await AnalyteResult.select().where(AnalyteResult.drug_test == new["id"])
    thc_before = next(r for r in before if r["analyte_code"] == "THC")
    thc_after = next(r for r in after if r["analyte_code"] == "THC")
    for kept in (
        "units",
        "reference_range",
        "abnormal_flag",
        "screen_cutoff_ng_ml",
        "screen_method",
        "analyte_name",
    ):
        assert thc_after[kept] == thc_before[kept], kept
    assert (thc_after["mro_result"], thc_after["mro_comment"]) == (
        "negative",
        "Prescription verified",
    )
    assert thc_after["mro_verified_at"] is not None
    assert len(after) == len(before)  # analytes not named are carried over too


async def test_decimals_round_alike_so_a_reimport_is_a_duplicate(client, world) -> None:
    message = hl7_result("ACC-R").replace(b"85.3|", b"85.333|")
    for _ in range(2):
        preview = await upload(client, world.program_a, "hl7_oru", "r.hl7", message)
        assert preview.status_code == 201, preview.text
        await client.post(f"/api/imports/{preview.json()['batch_id']}/commit")
    assert preview.json()["duplicates"] == 1
    assert [float(t["creatinine_mg_dl"]) for t in await DrugTest.select()] == [85.33]


async def test_parallel_commits_of_one_preview_store_it_once(client, world) -> None:
    preview = await upload(client, world.program_a, "hl7_oru", "r.hl7", hl7_result("ACC-P"))
    url = f"/api/imports/{preview.json()['batch_id']}/commit"
    results = await asyncio.gather(*(client.post(url) for _ in range(3)))
    assert sorted(r.status_code for r in results) == [200, 422, 422]
    assert await DrugTest.count() == 1
    assert await AuditEvent.count().where(AuditEvent.action == "import.commit") == 1
