"""The import pages as a clinician uses them (issue 15, point 5): the file says what it
is, the preview names the clients and their results on the program's clock, a file
already recorded offers nothing to commit, help is a page of the app, and every step
follows Post/Redirect/Get so a refresh or a second submit stores nothing again."""

from __future__ import annotations

import re

import httpx
import pytest

from compliance.tables import Attendance, DrugTest, ImportBatch
from tests.support.lab_files import LAB_CSV
from tests.support.staff import csrf_token, post_form, signed_in_demo

pytestmark = pytest.mark.db

ATTENDANCE_CSV = b"""Client ID,Date,Start Time,Session Type,Scheduled Minutes,Status,\
Minutes Attended,Session Title
RB-1001,11/25/2026,6:00 PM,group,180,late,150,Relapse prevention
RB-1002,11/25/2026,6:00 PM,group,180,absent - excused,,Relapse prevention
"""
BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


async def upload_page(
    client: httpx.AsyncClient, program_id: int, name: str, content: bytes, kind: str = ""
) -> httpx.Response:
    return await client.post(
        "/imports",
        data={
            "program_id": str(program_id),
            "kind": kind,
            "_csrf_token": await csrf_token(client),
        },
        files={"file": (name, content)},
        headers=BROWSER,
    )


def visible(html: str) -> str:
    """The page's words without markup (inline tags join, others part), spaces folded."""
    html = re.sub(r"<style.*?</style>", " ", html, flags=re.DOTALL)
    html = re.sub(r"</?(?:strong|a|em|code|b|span)\b[^>]*>", "", html)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


async def test_a_lab_csv_needs_no_kind_and_its_preview_names_people_and_results(
    client: httpx.AsyncClient,
) -> None:
    demo = await signed_in_demo(client, "imports@example.org")
    tests_before = await DrugTest.count()
    uploaded = await upload_page(client, demo["program"]["id"], "prairie-tox.csv", LAB_CSV)
    assert uploaded.status_code == 303, uploaded.text
    preview_url = uploaded.headers["location"]
    batch = await ImportBatch.select().order_by(ImportBatch.id, ascending=False).first()
    assert preview_url == f"/imports/{batch['id']}"
    assert batch["kind"] == "drug_test_csv"

    page = await client.get(preview_url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = visible(page.text)
    assert "Kind Drug tests (CSV)" in text
    # Each test with the client's name and id, its time on the program's clock, its results.
    hale = re.search(r"line 2 Marcus Hale RB-1001 (.+?) line 5", text)
    assert hale, text
    assert hale.group(1) == (
        "Tue 24 Nov 2026 08:15 CST Urine: Marijuana metabolite (THC-COOH) positive, "
        "confirmed GC-MS 42 ng/mL; others negative"
    )
    assert (
        "line 5 Alicia Gomez RB-1002 Tue 24 Nov 2026 09:40 CST Urine: Cocaine metabolite "
        "(benzoylecgonine) presumptive positive (screen only, not confirmed); others negative"
    ) in text
    assert "Committing would create 2 drug tests." in text
    assert 'action="/imports/{}/commit"'.format(batch["id"]) in page.text
    assert await DrugTest.count() == tests_before  # a preview stores nothing

    # Commit: a redirect to the batch's page, which now lists what was stored.
    committed = await post_form(client, f"{preview_url}/commit", {})
    assert committed.status_code == 303 and committed.headers["location"] == preview_url
    assert await DrugTest.count() == tests_before + 2
    result = await client.get(preview_url)
    text = visible(result.text)
    assert "Stored: 2 created, 0 corrected." in text
    assert "Marcus Hale RB-1001 Tue 24 Nov 2026 08:15 CST Urine: Marijuana" in text
    assert "/commit" not in result.text
    stored = await DrugTest.select().where(DrugTest.accession_id == "PT-0001").first()
    assert f'href="/drug-tests/{stored["id"]}"' in result.text

    # A refresh of the result and a second submit of the commit store nothing again.
    assert (await client.get(preview_url)).status_code == 200
    again = await post_form(client, f"{preview_url}/commit", {})
    assert again.status_code == 303 and again.headers["location"] == preview_url
    assert await DrugTest.count() == tests_before + 2


async def test_a_file_already_recorded_has_nothing_to_commit(client: httpx.AsyncClient) -> None:
    demo = await signed_in_demo(client, "imports@example.org")
    program = demo["program"]["id"]
    first = await upload_page(client, program, "lab.csv", LAB_CSV)
    await post_form(client, f"{first.headers['location']}/commit", {})
    tests = await DrugTest.count()

    again = await upload_page(client, program, "lab.csv", LAB_CSV)
    assert again.status_code == 303
    page = await client.get(again.headers["location"])
    text = visible(page.text)
    assert "Already recorded: 2 drug tests; nothing to commit." in text
    assert "/commit" not in page.text and "Commit" not in text
    # The rows are still there to read, under "Already recorded".
    assert "Marcus Hale RB-1001" in text and "Alicia Gomez RB-1002" in text
    assert await DrugTest.count() == tests


async def test_an_attendance_csv_previews_the_session_and_how_each_client_attended(
    client: httpx.AsyncClient,
) -> None:
    demo = await signed_in_demo(client, "imports@example.org")
    before = await Attendance.count()
    uploaded = await upload_page(client, demo["program"]["id"], "group.csv", ATTENDANCE_CSV)
    assert uploaded.status_code == 303, uploaded.text
    text = visible((await client.get(uploaded.headers["location"])).text)
    assert "Kind Attendance (CSV)" in text
    assert (
        "line 2 Marcus Hale RB-1001 Wed 25 Nov 2026 18:00 CST "
        "Group \u201cRelapse prevention\u201d, 180 min: late, 150 of 180 min"
    ) in text
    assert "Alicia Gomez RB-1002 Wed 25 Nov 2026 18:00 CST" in text
    assert "180 min: absent (excused)" in text
    assert "Commit 2 attendance records" in text
    assert await Attendance.count() == before


async def test_a_file_of_no_known_kind_comes_back_with_the_reason_and_stores_nothing(
    client: httpx.AsyncClient,
) -> None:
    demo = await signed_in_demo(client, "imports@example.org")
    program = demo["program"]["id"]
    batches, tests = await ImportBatch.count(), await DrugTest.count()

    unknown = await upload_page(client, program, "roster.csv", b"name,phone\nDana,555-0100\n")
    assert unknown.status_code == 422
    assert unknown.headers["content-type"].startswith("text/html")
    text = visible(unknown.text)
    assert "roster.csv was not imported and nothing was stored" in text
    assert "the first line names none of the columns we know" in text
    for expected in ("an attendance CSV", "a drug-test CSV", "HL7 results file", "MSH"):
        assert expected in text, expected
    # The form again, with the program as chosen, to upload the corrected file.
    assert f'<option value="{program}" selected>' in unknown.text

    # Told it is attendance, a lab file is refused as what it is.
    wrong = await upload_page(client, program, "lab.csv", LAB_CSV, kind="attendance_csv")
    assert wrong.status_code == 422
    assert "this is a drug-test CSV, not an attendance CSV" in visible(wrong.text)
    assert '<option value="attendance_csv" selected>' in wrong.text

    # No file at all: the field is marked.
    empty = await client.post(
        "/imports",
        data={"program_id": str(program), "_csrf_token": await csrf_token(client)},
        headers=BROWSER,
    )
    assert empty.status_code == 422 and empty.headers["content-type"].startswith("text/html")
    assert "File is required: choose the file to import." in visible(empty.text)
    assert await DrugTest.count() == tests
    assert await ImportBatch.count() == batches + 2  # the refused uploads, kept for the audit
    refused = await ImportBatch.select(ImportBatch.status)
    assert {b["status"] for b in refused[batches:]} == {"rejected"}


async def test_help_is_a_page_of_the_app(client: httpx.AsyncClient) -> None:
    await signed_in_demo(client, "imports@example.org")
    form = await client.get("/imports")
    assert 'href="/imports/help"' in form.text
    assert "docs/" not in form.text and ".md" not in form.text
    page = await client.get("/imports/help")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = visible(page.text)
    for heading in ("Attendance CSV", "Drug-test CSV", "HL7 lab results (ORU^R01)"):
        assert f">{heading}</h" in page.text, heading
    # The formats themselves, rendered from the developers' document.
    for column in ("scheduled_minutes", "minutes_attended", "screen_result", "mro_result"):
        assert f"<code>{column}</code>" in page.text, column
    assert "PID-3" in text and "OBX-11" in text
    # Nothing of the repository is shown to users.
    for path in ("compliance/", "tests/", "docs/", ".py", ".md", "&lt;!--"):
        assert path not in page.text, path


# The demo's court client by id, but another person's name and date of birth.
WRONG_PERSON_HL7 = "\r".join(
    [
        "MSH|^~\\&|LABSYS|PRAIRIE TOX|COMPLIANCE|RIVERBEND|20261125143000-0600||ORU^R01|W1|P|2.5.1",
        "PID|1||RB-1001^^^RB^MR||SMITH^WRONGNAME||19700101|M",
        "OBR|1|PL-W1|RB-W-0001|DOA^Drug panel^L|||20261124081500-0600",
        "OBX|1|ST|THC^Cannabinoids screen^L||POSITIVE|ng/mL|50|A|||F||||||EIA^EIA^L",
        "",
    ]
).encode()


async def test_a_lab_file_naming_someone_else_is_held_on_the_page_until_confirmed(
    client: httpx.AsyncClient,
) -> None:
    demo = await signed_in_demo(client, "imports@example.org", full_name="Casey Morgan")
    tests = await DrugTest.count()
    uploaded = await upload_page(client, demo["program"]["id"], "lab.hl7", WRONG_PERSON_HL7)
    assert uploaded.status_code == 303, uploaded.text
    url = uploaded.headers["location"]
    page = await client.get(url)
    text = visible(page.text)
    # The file's values beside the record's, and no way to commit yet.
    assert "1 drug test names someone other than the client the id belongs to" in text
    where = "message 1, OBR segment 1 (line 3)"
    assert f"{where}: Marcus Hale (RB-1001)" in text
    assert "Last name SMITH Hale PID-5" in text
    assert "First name WRONGNAME Marcus PID-5" in text
    assert "Date of birth 1970-01-01 1988-04-12 PID-7" in text
    assert f'action="{url}/commit"' not in page.text
    assert "Not checked" not in text  # the file and the record give all three

    # A commit posted anyway stores nothing, and the page still holds the row.
    await post_form(client, f"{url}/commit", {})
    assert await DrugTest.count() == tests
    assert "names someone other than the client" in visible((await client.get(url)).text)

    # Without a reason the page comes back with it marked beside that row's form.
    refused = await post_form(client, f"{url}/identity", {"location": where, "reason": ""})
    assert refused.status_code == 422 and refused.headers["content-type"].startswith("text/html")
    assert "Reason is required." in visible(refused.text)
    assert 'aria-invalid="true"' in refused.text

    reason = "Lab confirmed the collector typed another name; CCF signed by M. Hale."
    confirmed = await post_form(client, f"{url}/identity", {"location": where, "reason": reason})
    assert confirmed.status_code == 303 and confirmed.headers["location"] == f"{url}#identity"
    text = visible((await client.get(url)).text)
    assert "Confirmed as the client's by Casey Morgan," in text and reason in text
    assert "Committing would create 1 drug test." in text

    done = await post_form(client, f"{url}/commit", {})
    assert done.status_code == 303
    assert await DrugTest.count() == tests + 1
    assert "Stored: 1 created, 0 corrected." in visible((await client.get(url)).text)


async def test_a_file_without_names_says_what_was_not_checked(client: httpx.AsyncClient) -> None:
    demo = await signed_in_demo(client, "imports@example.org")
    uploaded = await upload_page(client, demo["program"]["id"], "lab.csv", LAB_CSV)
    text = visible((await client.get(uploaded.headers["location"])).text)
    assert (
        "Not checked against the client's record: last name: the file does not give it "
        "(last_name) (2 drug tests); first name: the file does not give it (first_name) "
        "(2 drug tests); date of birth: the file does not give it (date_of_birth) (2 drug tests)."
    ) in text
