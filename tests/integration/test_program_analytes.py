"""Program analytes (issue 16, point 6): administrators add and retire analytes and
immunoassay classes, staff map a lab's codes one at a time or by a previewed CSV code
map, and the API takes an analyte's key or the program's lab code. Bad input (a clash,
a malformed code map) is refused whole, naming the row, the field and the reason."""

from __future__ import annotations

import html
import re
import subprocess
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from compliance.core.vocabulary import Role
from compliance.records.analytes import loinc_problem
from compliance.tables import Analyte, AnalyteCode, AuditEvent
from tests.support.staff import (
    World,
    csrf_token,
    make_world,
    post_form,
    sign_in,
    signed_in_demo,
    staff_member,
)

pytestmark = pytest.mark.db

XYLAZINE = {
    "name": "Xylazine",
    "drug_class": "Sedatives",
    "screen_cutoff_ng_ml": "10",
    "confirmation_cutoff_ng_ml": "5",
    "in_default_panel": True,
}
CODE_MAP = (
    b"code,coding_system,analyte\n"
    b"XYL,NEWLAB,xylazine\n"
    b"ZZTHC,NEWLAB,Marijuana metabolite (THC-COOH)\n"
)


@pytest.fixture
async def world(client: httpx.AsyncClient) -> World:
    return await make_world(analytes=True)


async def counts() -> tuple[int, int, int]:
    """Analytes, lab codes and audit events: a refusal changes none of them."""
    return await Analyte.count(), await AnalyteCode.count(), await AuditEvent.count()


def errors(response: httpx.Response) -> dict[str, str]:
    return {e["field"]: e["reason"] for e in response.json()["errors"]}


async def preview_map(
    client: httpx.AsyncClient, program_id: int, content: bytes, replace: bool = False
) -> httpx.Response:
    return await client.post(
        f"/api/programs/{program_id}/analytes/code-map/preview",
        data={"replace": "true" if replace else "false"},
        files={"file": ("codes.csv", content, "text/csv")},
    )


async def apply_map(
    client: httpx.AsyncClient,
    program_id: int,
    content: bytes,
    confirmation: str,
    replace: bool = False,
) -> httpx.Response:
    return await client.post(
        f"/api/programs/{program_id}/analytes/code-map",
        data={"replace": "true" if replace else "false", "confirmation": confirmation},
        files={"file": ("codes.csv", content, "text/csv")},
    )


# --- the whole way: added, mapped by CSV, imported from HL7, in the signed report ------------


def _xylazine_message() -> bytes:
    segments = [
        "MSH|^~\\&|LIS|NEWLAB|IOP|RB|20261118160000-0600||ORU^R01|XYL-1|P|2.5.1",
        "PID|1||RB-1001^^^IOP^MR||HALE^MARCUS||19880412",
        "OBR|1|P-XYL|ACC-XYL-1^NEWLAB|DOA^Panel^L|||20261118083000-0600",
        "OBX|1|ST|XYL^Xylazine screen^NEWLAB||POSITIVE|ng/mL|10|A|||F||||||EIA^Immunoassay^L",
        "OBX|2|NM|XYL^Xylazine^NEWLAB||85|ng/mL|5|A|||F||||||LCMS^LC-MS/MS^L",
        "OBX|3|ST|THC^Cannabinoids screen^L||NEGATIVE|ng/mL|50|N|||F",
    ]
    return ("\r".join(segments) + "\r").encode()


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return " ".join(done.stdout.split())


def _hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden {name} in the page"
    return html.unescape(found.group(1))


async def test_xylazine_added_mapped_by_csv_imported_from_hl7_and_in_the_court_report(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    demo = await signed_in_demo(client, "signer@example.org", full_name="Jordan Signer")
    program_id = demo["program"]["id"]
    await staff_member("boss@example.org", [program_id], role=Role.admin, full_name="Boss")
    await sign_in(client, "boss@example.org")
    table = f"/programs/{program_id}/analytes"

    # The administrator adds xylazine on the page.
    added = await post_form(
        client, f"{table}/new", {**XYLAZINE, "in_default_panel": "true", "kind": "drug"}
    )
    assert added.status_code == 303, added.text
    page = await client.get(table)
    assert "Xylazine is added as an analyte." in page.text
    row = page.text.split("<td>Xylazine<br>")[1].split("</tr>")[0]
    assert '<small class="muted">xylazine</small>' in row
    assert re.findall(r"<td>([^<]*)</td>", row)[:2] == ["10", "5"]

    # Then uploads the lab's code map: a preview first, stored only when applied.
    preview = await client.post(
        f"{table}/code-map",
        data={"_csrf_token": await csrf_token(client)},
        files={"file": ("newlab.csv", CODE_MAP, "text/csv")},
    )
    assert preview.status_code == 200, preview.text
    assert "<td>XYL</td><td>Xylazine</td> <td>new</td>" in " ".join(preview.text.split())
    assert not await AnalyteCode.exists().where(AnalyteCode.code == "XYL")
    applied = await post_form(
        client,
        f"{table}/code-map/apply",
        {name: _hidden(preview.text, name) for name in ("content", "replace", "confirmation")},
    )
    assert applied.status_code == 303, applied.text
    assert (
        "The code map is applied: 2 new, 0 changed, 0 unchanged." in (await client.get(table)).text
    )
    event = await AuditEvent.select().where(AuditEvent.action == "analyte_code.import").first()
    assert event is not None and "XYL" in event["detail"]

    # The clinician imports the lab's HL7 result naming the new code.
    await sign_in(client, "signer@example.org")
    uploaded = await client.post(
        "/api/imports",
        data={"program_id": str(program_id), "kind": "hl7_oru"},
        files={"file": ("xyl.hl7", _xylazine_message())},
    )
    assert uploaded.status_code == 201, uploaded.text
    committed = await client.post(f"/api/imports/{uploaded.json()['batch_id']}/commit")
    assert committed.status_code == 200, committed.text
    person = demo["people"]["RB-1001"]
    tests = (await client.get(f"/api/participants/{person}/drug-tests")).json()
    xyl = next(t for t in tests if t["accession_id"] == "ACC-XYL-1")
    found = {r["analyte_key"]: r for r in xyl["results"]}
    assert found["xylazine"]["screen_result"] == "positive"
    assert found["xylazine"]["confirmation_result"] == "positive"

    # And the signed court report shows it.
    made = await client.post(
        f"/api/participants/{person}/reports",
        json={
            "kind": "court_progress",
            "recipient_id": demo["recipients"]["Dana Whitfield"],
            "period_start": "2026-09-28",
            "period_end": "2026-11-22",
        },
    )
    assert made.status_code == 201, made.text
    pdf = await client.get(f"/api/reports/{made.json()['id']}/pdf")
    text = _pdf_text(pdf.content, tmp_path)
    assert "Xylazine: screen positive" in text
    assert "Xylazine (confirmed" in text  # the period's violations: a confirmed positive
    assert "Xylazine 10/5" in text  # the panel and its cutoffs


# --- adding: every clash refused, nothing stored ----------------------------------------


async def test_a_new_analyte_and_its_clashes(client: httpx.AsyncClient, world: World) -> None:
    await sign_in(client, world.admin_a)
    url = f"/api/programs/{world.program_a}/analytes"
    made = await client.post(url, json={**XYLAZINE, "loinc_code": "12345-5", "local_code": "xyl"})
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["key"], body["kind"], body["drug_class"], body["active"]) == (
        "xylazine",
        "drug",
        "Sedatives",
        True,
    )
    assert {(c["coding_system"], c["code"]) for c in body["codes"]} == {
        ("LN", "12345-5"),
        ("LOCAL", "XYL"),
    }
    event = await AuditEvent.select().where(AuditEvent.action == "analyte.create").first()
    assert event is not None and '"key":"xylazine"' in event["detail"]

    before = await counts()
    refused = {
        "key": {**XYLAZINE, "name": "Xylazine (again)", "key": "xylazine"},
        "name": {**XYLAZINE, "key": "xyl2", "name": "XYLAZINE"},
        "loinc_code": {"name": "Nitazene", "loinc_code": "12345-5"},
        "local_code": {"name": "Nitazene", "local_code": "THC"},
    }
    for name, body in refused.items():
        response = await client.post(url, json=body)
        assert response.status_code == 422, (name, response.text)
        assert name in errors(response), (name, response.text)
    assert (
        "already in this program's table: Xylazine"
        in errors(await client.post(url, json=refused["key"]))["key"]
    )
    assert errors(await client.post(url, json=refused["loinc_code"]))["loinc_code"] == (
        "LN 12345-5 is already mapped to Xylazine"
    )
    typo = await client.post(url, json={"name": "Nitazene", "loinc_code": "12345-6"})
    assert "check digit" in errors(typo)["loinc_code"]
    validity = await client.post(url, json={"name": "Creatinine", "local_code": "CREA"})
    assert "specimen-validity code for creatinine" in errors(validity)["local_code"]
    reserved = await client.post(url, json={"name": "pH"})
    assert "specimen-validity measure" in errors(reserved)["key"]
    cutoff = await client.post(url, json={"name": "Nitazene", "screen_cutoff_ng_ml": "-1"})
    assert "a number above 0" in errors(cutoff)["screen_cutoff_ng_ml"]
    assert await counts() == before


def test_loinc_check_digits() -> None:
    assert loinc_problem("2161-8") == loinc_problem("3426-4") == loinc_problem("12345-5") == ""
    assert "check digit" in loinc_problem("2161-7")
    assert "not a LOINC code" in loinc_problem("2161")


async def test_only_administrators_change_the_table_and_only_their_own(
    client: httpx.AsyncClient, world: World
) -> None:
    url = f"/api/programs/{world.program_a}/analytes"
    await sign_in(client, world.clinician_a)
    assert (await client.post(url, json=XYLAZINE)).status_code == 403
    assert (await client.post(f"{url}/retire", json={"analyte": "thc"})).status_code == 403
    page = await client.get(f"/programs/{world.program_a}/analytes")
    assert "Add an analyte" not in page.text and "administrators add and retire" in page.text
    refused = await post_form(client, f"/programs/{world.program_a}/analytes/new", XYLAZINE)
    assert refused.status_code == 403
    await sign_in(client, world.admin_a)
    other = f"/api/programs/{world.program_b}/analytes"
    assert (await client.post(other, json=XYLAZINE)).status_code == 404
    assert (await client.post(f"{other}/retire", json={"analyte": "thc"})).status_code == 404
    assert not await Analyte.exists().where(Analyte.key == "xylazine")


async def test_a_refused_form_comes_back_with_its_reasons(
    client: httpx.AsyncClient, world: World
) -> None:
    await sign_in(client, world.admin_a)
    before = await counts()
    page = await post_form(
        client,
        f"/programs/{world.program_a}/analytes/new",
        {"name": "Morphine", "kind": "drug", "loinc_code": "99-9"},
    )
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert "Nothing was saved" in page.text
    assert "Name is already the name of &#39;morphine&#39;." in page.text
    assert "check digit" in page.text
    assert 'value="99-9"' in page.text  # what was typed stays in the form
    assert await counts() == before
    # A class from the page: its member drugs are ticked boxes.
    made = await post_form(
        client,
        f"/programs/{world.program_a}/analytes/new",
        {
            "name": "Oxycodones",
            "kind": "class",
            "screen_cutoff_ng_ml": "100",
            "members": ["oxycodone", "oxymorphone"],  # type: ignore[dict-item]
        },
    )
    assert made.status_code == 303, made.text
    page = await client.get(f"/programs/{world.program_a}/analytes")
    assert "Oxycodones is added as an immunoassay class." in page.text
    assert "Immunoassay class: confirmed by Oxycodone, Oxymorphone" in page.text


# --- immunoassay classes ------------------------------------------------------------------


async def test_an_immunoassay_class_is_screened_once_and_confirmed_per_drug(
    client: httpx.AsyncClient, world: World
) -> None:
    await sign_in(client, world.admin_a)
    url = f"/api/programs/{world.program_a}/analytes"
    bad = await client.post(
        url,
        json={
            "name": "Opiates",
            "kind": "class",
            "screen_cutoff_ng_ml": "2000",
            "confirmation_cutoff_ng_ml": "2000",
            "members": ["morphine", "heroin"],
        },
    )
    assert bad.status_code == 422
    found = errors(bad)
    assert "per drug" in found["confirmation_cutoff_ng_ml"]
    assert found["members"] == "'heroin' is not a drug in this program's table"
    made = await client.post(
        url,
        json={
            "name": "Opiates",
            "kind": "class",
            "drug_class": "Opioids",
            "screen_cutoff_ng_ml": "2000",
            "members": ["morphine", "codeine", "hydromorphone"],
            "in_default_panel": True,
        },
    )
    assert made.status_code == 201, made.text
    assert made.json()["members"] == ["codeine", "hydromorphone", "morphine"]
    listing = {a["key"]: a for a in (await client.get(url)).json()}
    assert listing["morphine"]["member_of"] == "opiates"
    assert listing["oxycodone"]["member_of"] is None
    taken = await client.post(
        url,
        json={
            "name": "Opioids 2",
            "kind": "class",
            "screen_cutoff_ng_ml": "300",
            "members": ["morphine"],
        },
    )
    assert errors(taken)["members"] == "Morphine is already confirmed under Opiates"

    # The lab's OPIS code was mapped to morphine: the code map moves it to the class,
    # but only when the upload asks to replace.
    await client.post(
        f"{url}/codes", json={"analyte_key": "morphine", "coding_system": "NEWLAB", "code": "OPIS"}
    )
    content = b"code,coding_system,analyte\nOPIS,NEWLAB,opiates\n"
    clash = await preview_map(client, world.program_a, content)
    assert clash.status_code == 422
    assert clash.json()["rows"][0]["status"] == "clash"
    assert clash.json()["errors"][0]["row"] == 2
    assert "NEWLAB OPIS is already mapped to Morphine" in clash.json()["errors"][0]["reason"]
    moved = await preview_map(client, world.program_a, content, replace=True)
    assert moved.status_code == 200
    assert (moved.json()["rows"][0]["status"], moved.json()["rows"][0]["was"]) == (
        "changed",
        "Morphine",
    )
    done = await apply_map(
        client, world.program_a, content, moved.json()["confirmation"], replace=True
    )
    assert done.status_code == 200 and done.json()["changed"] == 1

    # A lab reports the class screen, then per drug: stored as such.
    await sign_in(client, world.clinician_a)
    person = await client.post(
        "/api/participants",
        json={
            "program_id": world.program_a,
            "client_id": "K-1",
            "first_name": "Kim",
            "last_name": "Lee",
            "admitted_on": "2026-01-05",
        },
    )
    message = (
        b"MSH|^~\\&|LIS|NEWLAB|IOP|X|20260312143000-0600||ORU^R01|M1|P|2.5.1\r"
        b"PID|1||K-1^^^IOP^MR\r"
        b"OBR|1|P1|ACC-OP-1|DOA^Panel^L|||20260310083000-0600\r"
        b"OBX|1|ST|OPIS^Opiates screen^NEWLAB||POSITIVE|ng/mL|2000|A|||F\r"
        b"OBX|2|NM|MOR^Morphine^L||2350|ng/mL|2000|A|||F||||||LCMS^LC-MS/MS^L\r"
        b"OBX|3|NM|COD^Codeine^L||<50|ng/mL|2000|N|||F||||||LCMS^LC-MS/MS^L\r"
    )
    uploaded = await client.post(
        "/api/imports",
        data={"program_id": str(world.program_a), "kind": "hl7_oru"},
        files={"file": ("op.hl7", message)},
    )
    assert uploaded.status_code == 201, uploaded.text
    assert (await client.post(f"/api/imports/{uploaded.json()['batch_id']}/commit")).is_success
    tests = (await client.get(f"/api/participants/{person.json()['id']}/drug-tests")).json()
    results = {r["analyte_key"]: r for r in tests[0]["results"]}
    assert results["opiates"]["screen_result"] == "positive"
    assert results["morphine"]["confirmation_result"] == "positive"
    assert results["codeine"]["confirmation_result"] == "negative"
    assert tests[0]["outcome"] == "positive"

    # Every member confirmed negative settles the class screen: negative, not pending.
    negative = (
        message.replace(b"M1|", b"M2|")
        .replace(b"ACC-OP-1", b"ACC-OP-2")
        .replace(b"20260310083000", b"20260311083000")
        .replace(b"||2350|ng/mL|2000|A|", b"||<50|ng/mL|2000|N|")
    )
    uploaded = await client.post(
        "/api/imports",
        data={"program_id": str(world.program_a), "kind": "hl7_oru"},
        files={"file": ("op2.hl7", negative)},
    )
    assert uploaded.status_code == 201, uploaded.text
    assert (await client.post(f"/api/imports/{uploaded.json()['batch_id']}/commit")).is_success
    tests = (await client.get(f"/api/participants/{person.json()['id']}/drug-tests")).json()
    second = next(t for t in tests if t["accession_id"] == "ACC-OP-2")
    results = {r["analyte_key"]: r for r in second["results"]}
    assert results["morphine"]["confirmation_result"] == "negative"
    assert second["outcome"] == "negative", second["outcome_words"]


# --- retiring -----------------------------------------------------------------------------


async def test_a_retired_analyte_leaves_new_entry_but_stays_on_records(
    client: httpx.AsyncClient, world: World
) -> None:
    await sign_in(client, world.admin_a)
    url = f"/api/programs/{world.program_a}/analytes"
    assert (await client.post(url, json=XYLAZINE)).status_code == 201
    person = await client.post(
        "/api/participants",
        json={
            "program_id": world.program_a,
            "client_id": "R-1",
            "first_name": "Rae",
            "last_name": "Ret",
            "admitted_on": "2026-01-05",
        },
    )
    tests_url = f"/api/participants/{person.json()['id']}/drug-tests"
    test = {
        "collected_at": "2026-03-04T09:30",
        "results": [{"analyte": "xylazine", "screen_result": "negative"}],
    }
    assert (await client.post(tests_url, json=test)).status_code == 201

    retired = await client.post(f"{url}/retire", json={"analyte": "xylazine"})
    assert retired.status_code == 200 and retired.json()["active"] is False
    again = await client.post(f"{url}/retire", json={"analyte": "xylazine"})
    assert errors(again)["analyte"] == "Xylazine is retired already"
    event = await AuditEvent.select().where(AuditEvent.action == "analyte.retire").first()
    assert event is not None and "xylazine" in event["detail"]

    # Gone from new entry and the form's presets ...
    later = {**test, "collected_at": "2026-03-05T09:30"}
    refused = await client.post(tests_url, json=later)
    assert refused.status_code == 422 and "xylazine" in refused.text
    person_page = f"/participants/{person.json()['id']}/drug-tests/new"
    form = await client.get(person_page)
    assert form.status_code == 200 and "Xylazine" not in form.text
    assert "Marijuana metabolite" in form.text
    # ... but kept on the record that names it, and in the table, marked retired.
    stored = (await client.get(tests_url)).json()
    assert [r["analyte_name"] for r in stored[0]["results"]] == ["Xylazine"]
    page = await client.get(f"/programs/{world.program_a}/analytes")
    assert "Retired analytes" in page.text
    assert page.text.index("<td>Xylazine</td>") > page.text.index("Retired analytes")
    assert await Analyte.exists().where(Analyte.key == "xylazine")

    # A correction of that record keeps the retired analyte's result.
    test_id = stored[0]["id"]
    corrected = await client.post(
        f"/api/drug-tests/{test_id}/corrections",
        json={"notes": "Lab called: specimen arrived warm", "correction_reason": "Lab's call"},
    )
    assert corrected.status_code == 201, corrected.text
    assert [r["analyte_key"] for r in corrected.json()["results"]] == ["xylazine"]

    back = await post_form(
        client, f"/programs/{world.program_a}/analytes/reinstate", {"analyte": "xylazine"}
    )
    assert back.status_code == 303
    assert (await client.post(tests_url, json=later)).status_code == 201


# --- the code map -------------------------------------------------------------------------


async def test_a_malformed_code_map_is_refused_whole_naming_row_field_and_reason(
    client: httpx.AsyncClient, world: World
) -> None:
    await sign_in(client, world.clinician_a)
    before = await counts()
    cases = {
        b"code,analyte\nXYL,thc\n": (1, "coding_system", "the column is missing"),
        b"code,coding_system,analyte,notes\nX,L,thc,hi\n": (1, "notes", "is not a column"),
        b"code,coding_system,analyte\n": (1, "file", "no rows"),
        b"": (1, "file", "empty"),
        b"code,coding_system,analyte\n\xff\xfe,L,thc\n": (1, "file", "not UTF-8"),
    }
    for content, (row, column, reason) in cases.items():
        response = await preview_map(client, world.program_a, content)
        assert response.status_code == 422, content
        problem = response.json()["errors"][0]
        assert (problem["row"], problem["field"]) == (row, column), (content, problem)
        assert reason in problem["reason"], (content, problem)
    rows = (
        b"code,coding_system,analyte\n"
        b"AAA,NEWLAB,thc\n"  # fine on its own
        b"BBB,NEWLAB,heroin\n"  # unknown analyte
        b"AAA,newlab,cocaine\n"  # the same code again
        b"2161-8,LN,cocaine\n"  # creatinine's LOINC code
        b"1234-5,LN,cocaine\n"  # a LOINC typo
        b",NEWLAB,thc\n"  # no code
    )
    response = await preview_map(client, world.program_a, rows)
    assert response.status_code == 422
    found = [(e["row"], e["field"], e["reason"]) for e in response.json()["errors"]]
    assert found == [
        (3, "analyte", "'heroin' is not in this program's analyte table"),
        (4, "code", "NEWLAB AAA is also on row 2"),
        (
            5,
            "code",
            "LN 2161-8 is the specimen-validity code for creatinine; it cannot name an analyte",
        ),
        (6, "code", "'1234-5' is not a LOINC code: its check digit is wrong"),
        (7, "code", "is empty"),
    ]
    applied = await apply_map(client, world.program_a, rows, "x")
    assert applied.status_code == 422
    # Through the page: the same reasons, in a page, and nothing stored.
    page = await client.post(
        f"/programs/{world.program_a}/analytes/code-map",
        data={"_csrf_token": await csrf_token(client)},
        files={"file": ("codes.csv", b"code,analyte\nXYL,thc\n", "text/csv")},
    )
    assert page.status_code == 422
    assert "<td>1</td><td>coding_system</td><td>the column is missing" in page.text
    assert await counts() == before


async def test_a_code_map_applies_only_as_previewed(
    client: httpx.AsyncClient, world: World
) -> None:
    await sign_in(client, world.clinician_a)
    content = b"code,coding_system,analyte\nZZTHC,NEWLAB,thc\nTHC,local,thc\n"
    preview = await preview_map(client, world.program_a, content)
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert [(r["row"], r["status"]) for r in body["rows"]] == [(2, "new"), (3, "unchanged")]
    assert (body["new"], body["unchanged"], body["changed"]) == (1, 1, 0)
    before = await counts()
    unconfirmed = await apply_map(client, world.program_a, content, "")
    assert "preview the file first" in unconfirmed.json()["errors"][0]["reason"]
    # Someone maps the code meanwhile: the preview no longer holds.
    await client.post(
        f"/api/programs/{world.program_a}/analytes/codes",
        json={"analyte_key": "cocaine", "coding_system": "NEWLAB", "code": "ZZTHC"},
    )
    stale = await apply_map(client, world.program_a, content, body["confirmation"])
    assert stale.status_code == 422
    assert stale.json()["errors"][0]["reason"].startswith(
        "NEWLAB ZZTHC is already mapped to Cocaine metabolite"
    )
    assert await AnalyteCode.count() == before[1] + 1  # only the single mapping
    await client.post(
        f"/api/programs/{world.program_a}/analytes/codes",
        json={"analyte_key": "thc", "coding_system": "NEWLAB", "code": "QQ"},
    )
    fresh = b"code,coding_system,analyte\nYY,NEWLAB,thc\n"
    first = (await preview_map(client, world.program_a, fresh)).json()["confirmation"]
    other = b"code,coding_system,analyte\nYY,NEWLAB,cocaine\n"
    mismatch = await apply_map(client, world.program_a, other, first)
    assert "changed since the preview" in mismatch.json()["errors"][0]["reason"]
    applied = await apply_map(client, world.program_a, fresh, first)
    assert applied.status_code == 200 and applied.json()["status"] == "applied"
    codes = await AnalyteCode.select().where(AnalyteCode.code == "YY")
    assert len(codes) == 1 and codes[0]["coding_system"] == "NEWLAB"
    await sign_in(client, world.clinician_b)
    assert (await preview_map(client, world.program_a, fresh)).status_code == 404


# --- the API names an analyte by key or by the program's lab code ---------------------------


async def test_the_api_takes_the_key_or_the_lab_code(
    client: httpx.AsyncClient, world: World
) -> None:
    await sign_in(client, world.clinician_a)
    person = await client.post(
        "/api/participants",
        json={
            "program_id": world.program_a,
            "client_id": "C-9",
            "first_name": "Cy",
            "last_name": "Code",
            "admitted_on": "2026-01-05",
        },
    )
    made = await client.post(
        f"/api/participants/{person.json()['id']}/drug-tests",
        json={
            "collected_at": "2026-03-04T09:30",
            "results": [
                {"analyte": "THC", "screen_result": "negative"},
                {"analyte": "MAMP", "screen_result": "negative"},
                {"analyte": "cocaine", "screen_result": "negative"},
            ],
        },
    )
    assert made.status_code == 201, made.text
    keys = sorted(r["analyte_key"] for r in made.json()["results"])
    assert keys == ["cocaine", "methamphetamine", "thc"]
    unknown = await client.post(
        f"/api/participants/{person.json()['id']}/drug-tests",
        json={
            "collected_at": "2026-03-05T09:30",
            "results": [{"analyte": "NOPE", "screen_result": "negative"}],
        },
    )
    assert unknown.status_code == 422 and "'NOPE' is not in the program's analyte table" in (
        unknown.text
    )
    # The single-code mapping takes the lab code for the analyte too.
    mapped = await client.post(
        f"/api/programs/{world.program_a}/analytes/codes",
        json={"analyte_key": "MAMP", "coding_system": "NEWLAB", "code": "METH"},
    )
    assert mapped.status_code == 201, mapped.text
    meth = next(a for a in mapped.json() if a["key"] == "methamphetamine")
    assert ("NEWLAB", "METH") in {(c["coding_system"], c["code"]) for c in meth["codes"]}


async def test_corrections_and_confirmations_take_the_key_or_the_lab_code(
    client: httpx.AsyncClient, world: World
) -> None:
    await sign_in(client, world.clinician_a)
    person = await client.post(
        "/api/participants",
        json={
            "program_id": world.program_a,
            "client_id": "C-7",
            "first_name": "Cy",
            "last_name": "Code",
            "admitted_on": "2026-01-05",
        },
    )
    made = await client.post(
        f"/api/participants/{person.json()['id']}/drug-tests",
        json={
            "collected_at": "2026-03-04T09:30",
            "results": [
                {"analyte": "THC", "screen_result": "positive"},
                {"analyte": "coc", "screen_result": "negative"},
            ],
        },
    )
    assert made.status_code == 201, made.text
    test_id = made.json()["id"]
    assert made.json()["outcome"] == "presumptive"
    confirmed = await client.post(
        f"/api/drug-tests/{test_id}/confirmations",
        json={
            "confirmed_at": "2026-03-06T10:00",
            "results": [
                {
                    "analyte": "THC",
                    "confirmation_result": "negative",
                    "confirmation_method": "LC-MS/MS",
                }
            ],
        },
    )
    assert confirmed.status_code == 201, confirmed.text
    by_key = {r["analyte_key"]: r for r in confirmed.json()["results"]}
    assert by_key["thc"]["confirmation_result"] == "negative"
    corrected = await client.post(
        f"/api/drug-tests/{confirmed.json()['id']}/corrections",
        json={
            "results": [{"analyte": "THC", "level_ng_ml": "12"}],
            "correction_reason": "Level from the lab's printed report",
        },
    )
    assert corrected.status_code == 201, corrected.text
    by_key = {r["analyte_key"]: r for r in corrected.json()["results"]}
    assert set(by_key) == {"thc", "cocaine"}
    assert Decimal(by_key["thc"]["level_ng_ml"]) == 12
    assert by_key["thc"]["confirmation_result"] == "negative"  # carried over
