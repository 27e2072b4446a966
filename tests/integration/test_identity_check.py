"""The identity check on lab results (issue 16, point 1): a result filed under a known
client id but naming another person (HL7 PID-5/PID-7, the CSV's name and date-of-birth
columns) is shown beside the client's record in the preview and held back, nothing
stored, until a clinician confirms that row with a reason (kept on the import, audited)."""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from compliance.intake.csv_files import parse_drug_test_csv
from compliance.intake.identity import CSV_FIELDS, HL7_FIELDS, check_identity
from compliance.intake.records import DrugTestRecord, ParseResult
from compliance.records.analytes import DEFAULT_ANALYTES
from compliance.tables import AuditEvent, DrugTest, ImportBatch, Participant
from tests.support.records import enroll
from tests.support.staff import World, sign_in, signed_in_world

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=CHICAGO)
JANE = ("Doe", "Jane", date(1985, 2, 14))


# --- the rule -----------------------------------------------------------------------------


def differing(
    file: tuple[str, str, date | None], record: tuple[str, str, date | None] = JANE
) -> list[str]:
    found = check_identity(
        HL7_FIELDS,
        file_last=file[0],
        file_first=file[1],
        file_dob=file[2],
        record_last=record[0],
        record_first=record[1],
        record_dob=record[2],
    )
    return [m.label for m in found.mismatches]


@pytest.mark.parametrize(
    ("file", "record"),
    [
        (("DOE", "JANE", date(1985, 2, 14)), JANE),  # case
        (("O'BRIEN-DIAZ JR.", "JOSE", None), ("O\u2019Brien D\u00edaz", "Jos\u00e9", None)),
        (("Doe", "J", None), JANE),  # an initial
        (("Doe", "J.", None), JANE),
        (("Doe", "Jane Marie", None), JANE),  # a middle name
        (("Hale", "Bob", None), ("Hale", "Robert", None)),  # a nickname
        (("Hale", "Peggy", None), ("Hale", "Margaret", None)),
        (("Hale", "Chris", None), ("Hale", "Christopher", None)),  # the start of the name
        (("Vande Berg", "Mary-Ann", None), ("VandeBerg", "Mary Ann", None)),  # spacing
    ],
)
def test_the_same_person_written_differently_is_no_mismatch(
    file: tuple[str, str, date | None], record: tuple[str, str, date | None]
) -> None:
    assert differing(file, record) == []


@pytest.mark.parametrize(
    ("file", "labels"),
    [
        (("Smith", "Wrongname", date(1970, 1, 1)), ["last name", "first name", "date of birth"]),
        (("Doe", "Jane", date(1985, 2, 15)), ["date of birth"]),
        (("Dow", "Jane", None), ["last name"]),
        # Twins share a last name and a date of birth: the first name tells them apart.
        (("Doe", "Janet", date(1985, 2, 14)), ["first name"]),
        (("Doe", "K", None), ["first name"]),  # another initial
    ],
)
def test_a_last_name_first_name_or_date_of_birth_that_differs_is_a_mismatch(
    file: tuple[str, str, date | None], labels: list[str]
) -> None:
    assert differing(file) == labels


def test_a_first_name_that_only_starts_like_the_records_is_not_a_short_form() -> None:
    assert differing(("Hale", "Paula", None), ("Hale", "Paul", None)) == ["first name"]
    assert differing(("Hale", "Christina", None), ("Hale", "Chris", None)) == []
    assert differing(("Hale", "Christina", None), ("Hale", "Christopher", None)) == ["first name"]


def test_a_missing_value_is_not_checked_and_says_so() -> None:
    found = check_identity(
        CSV_FIELDS,
        file_last="",
        file_first="Jane",
        file_dob=date(1985, 2, 14),
        record_last="Doe",
        record_first="Jane",
        record_dob=None,
    )
    assert found.mismatches == ()
    assert found.unchecked == (
        "last name: the file does not give it (last_name)",
        "date of birth: the client's record has none",
    )


# --- the CSV columns ----------------------------------------------------------------------

CODES = {a.local_code: a.key for a in DEFAULT_ANALYTES}


def parse_csv(text: str) -> ParseResult[DrugTestRecord]:
    return parse_drug_test_csv(
        text.encode(), lookup=lambda _s, c: CODES.get(c.upper()), tz=CHICAGO, now=NOW
    )


def test_the_csv_name_and_date_of_birth_columns_are_read_and_checked() -> None:
    result = parse_csv(
        "client_id,accession_id,collected_at,last_name,first_name,date_of_birth,analyte,"
        "screen_result\n"
        "C-1001,A-1,2026-03-02 08:15,Doe,Jane,2/14/1985,THC,negative\n"
        "C-1001,A-1,2026-03-02 08:15,Doe,Jane,2/14/1985,COC,negative\n"
        "C-1002,A-2,2026-03-02 08:30,Hale,Bob,1988-13-01,THC,negative\n"
        "C-1003,A-3,2026-03-02 08:40,Ray,Al,2030-01-01,THC,negative\n"
        "C-1004,A-4,2026-03-02 08:50,Ames,Al,1990-01-01,THC,negative\n"
        "C-1004,A-4,2026-03-02 08:50,Amis,Al,1990-01-01,COC,negative\n"
    )
    [record] = result.records
    assert (record.last_name, record.first_name, record.date_of_birth) == JANE
    assert [(e.location, e.field, e.reason) for e in result.errors] == [
        ("line 4", "date_of_birth", "'1988-13-01' is not a date (use YYYY-MM-DD or M/D/YYYY)"),
        ("line 5", "date_of_birth", "2030-01-01 is in the future"),
        (
            "line 7",
            "last_name",
            "disagrees with line 6 for the same specimen (Ames there, Amis here)",
        ),
    ]


# --- through the API ----------------------------------------------------------------------


@pytest.fixture
async def world(client: httpx.AsyncClient) -> World:
    w = await signed_in_world(client, analytes=True)
    for client_id, first, last, born in [
        ("C-1001", "Jane", "Doe", "1985-02-14"),
        ("C-1002", "Robert", "Hale", "1988-04-12"),
        ("C-1003", "Ann", "Ray", None),
    ]:
        await enroll(client, w.program_a, client_id, first, last, "2024-01-01", date_of_birth=born)
    return w


def hl7(pid5: str, pid7: str, client_id: str = "C-1001", accession: str = "ACC-1") -> bytes:
    segments = [
        "MSH|^~\\&|LABSYS|ACME TOX|IOP|CLINIC|20260312143000-0600||ORU^R01|M1|P|2.5.1",
        f"PID|1||{client_id}^^^IOP^MR||{pid5}||{pid7}",
        f"OBR|1|PL-1|{accession}|DOA^Panel^L|||20260310083000-0600",
        "OBX|1|ST|THC^Cannabinoids screen^L||POSITIVE|ng/mL|50|A|||F||||||EIA^EIA^L",
        "OBX|2|ST|COC^Cocaine screen^L||NEGATIVE|ng/mL|150|N|||F||||||EIA^EIA^L",
    ]
    return ("\r".join(segments) + "\r").encode()


async def upload(client: httpx.AsyncClient, program: int, name: str, data: bytes) -> dict:
    response = await client.post(
        "/api/imports", data={"program_id": str(program)}, files={"file": (name, data)}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def confirm(
    client: httpx.AsyncClient, batch: int, location: str, reason: str
) -> httpx.Response:
    return await client.post(
        f"/api/imports/{batch}/identity-confirmations",
        json={"location": location, "reason": reason},
    )


WHERE = "message 1, OBR segment 1 (line 3)"


async def test_a_known_id_naming_another_person_is_held_until_a_clinician_confirms_it(
    client: httpx.AsyncClient, world: World
) -> None:
    preview = await upload(client, world.program_a, "lab.hl7", hl7("Smith^Wrongname", "19700101"))
    [row] = preview["rows"]
    assert (preview["status"], preview["created"], preview["errors"]) == ("previewed", 1, [])
    assert row["action"] == "create" and preview["unconfirmed"] == 1
    # Beside the record's values: what the file says, what the record says.
    assert row["identity"] == [
        {"field": "PID-5", "label": "last name", "in_file": "Smith", "on_record": "Doe"},
        {"field": "PID-5", "label": "first name", "in_file": "Wrongname", "on_record": "Jane"},
        {
            "field": "PID-7",
            "label": "date of birth",
            "in_file": "1970-01-01",
            "on_record": "1985-02-14",
        },
    ]
    batch = preview["batch_id"]

    # Commit is refused, naming the row, the field and the reason; nothing is stored and
    # the import stays a preview, to be confirmed.
    refused = await client.post(f"/api/imports/{batch}/commit")
    assert refused.status_code == 422
    assert refused.json()["status"] == "previewed"
    errors = refused.json()["errors"]
    assert [(e["location"], e["field"]) for e in errors] == [
        (WHERE, "PID-5"),
        (WHERE, "PID-5"),
        (WHERE, "PID-7"),
    ]
    assert errors[0]["reason"] == (
        "the last name in the file (Smith) is not the last name on the record of client "
        "C-1001, Jane Doe (Doe); a clinician must confirm that this row is that client's, "
        "with a reason, before the file can be stored"
    )
    assert await DrugTest.count() == 0
    stored = await ImportBatch.select().where(ImportBatch.id == batch).first()
    assert stored["status"] == "previewed"

    # A confirmation needs a reason and a row that is held.
    no_reason = await confirm(client, batch, WHERE, "  ")
    assert no_reason.status_code == 422
    assert no_reason.json()["errors"] == [{"field": "reason", "reason": "is required"}]
    elsewhere = await confirm(client, batch, "message 1, OBR segment 2 (line 9)", "Known")
    assert elsewhere.status_code == 422
    assert elsewhere.json()["errors"][0]["field"] == "location"
    assert await AuditEvent.count().where(AuditEvent.action == "import.identity_confirm") == 0

    reason = "Lab confirmed by phone: PID-5 was the collector's error; CCF signed by Jane Doe."
    confirmed = await confirm(client, batch, WHERE, reason)
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    assert body["unconfirmed"] == 0
    assert body["rows"][0]["identity_confirmed"]["reason"] == reason
    assert body["rows"][0]["identity_confirmed"]["confirmed_by"] == "A"
    [event] = await AuditEvent.select().where(AuditEvent.action == "import.identity_confirm")
    assert (event["object_type"], event["object_id"]) == ("import_batch", str(batch))
    detail = json.loads(event["detail"])
    assert detail["location"] == WHERE and detail["fields"] == ["PID-5", "PID-7"]
    assert "reason" not in detail and "Smith" not in event["detail"]  # no free text in the trail
    kept = await ImportBatch.select().where(ImportBatch.id == batch).first()
    [entry] = json.loads(kept["identity_confirmations"])
    assert (entry["location"], entry["reason"], entry["client_id"]) == (WHERE, reason, "C-1001")
    again = await confirm(client, batch, WHERE, "again")
    assert again.status_code == 422 and "was confirmed by A" in again.json()["errors"][0]["reason"]

    done = await client.post(f"/api/imports/{batch}/commit")
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["created"]) == ("committed", 1)
    assert await DrugTest.count() == 1


async def test_a_confirmation_is_for_the_values_confirmed(
    client: httpx.AsyncClient, world: World
) -> None:
    """Once the client's record says something else, the row is held again."""
    preview = await upload(client, world.program_a, "lab.hl7", hl7("DOE^JANE", "19850215"))
    batch = preview["batch_id"]
    assert (await confirm(client, batch, WHERE, "Lab typo in PID-7")).status_code == 200
    person = await Participant.select().where(Participant.client_id == "C-1001").first()
    edited = await client.patch(
        f"/api/participants/{person['id']}", json={"date_of_birth": "1985-02-13"}
    )
    assert edited.status_code == 200, edited.text
    refused = await client.post(f"/api/imports/{batch}/commit")
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert error["field"] == "PID-7"
    assert error["reason"].startswith(
        "the date of birth in the file (1985-02-15) is not the date of birth on the record "
        "of client C-1001, Jane Doe (1985-02-13)"
    )
    assert await DrugTest.count() == 0


async def test_csv_columns_are_checked_and_what_is_missing_is_said(
    client: httpx.AsyncClient, world: World
) -> None:
    csv = (
        "client_id,accession_id,collected_at,last_name,first_name,date_of_birth,analyte,"
        "screen_result\n"
        "C-1002,A-1,2026-03-02 08:15,HALE,Bob,4/12/1988,THC,negative\n"
        "C-1001,A-2,2026-03-02 08:30,D\u00f6e,Jane,1985-02-15,THC,negative\n"
        "C-1003,A-3,2026-03-02 08:45,Ray,Ann,1990-05-05,THC,negative\n"
    ).encode()
    preview = await upload(client, world.program_a, "lab.csv", csv)
    rows = {r["location"]: r for r in preview["rows"]}
    assert rows["line 2"]["identity"] == [] and rows["line 2"]["identity_unchecked"] == []
    assert rows["line 3"]["identity"] == [
        {
            "field": "date_of_birth",
            "label": "date of birth",
            "in_file": "1985-02-15",
            "on_record": "1985-02-14",
        }
    ]
    assert rows["line 4"]["identity_unchecked"] == ["date of birth: the client's record has none"]
    refused = await client.post(f"/api/imports/{preview['batch_id']}/commit")
    assert refused.status_code == 422
    assert [(e["location"], e["field"]) for e in refused.json()["errors"]] == [
        ("line 3", "date_of_birth")
    ]
    assert await DrugTest.count() == 0

    plain = await upload(
        client,
        world.program_a,
        "plain.csv",
        b"client_id,accession_id,collected_at,analyte,screen_result\n"
        b"C-1001,A-9,2026-03-03 08:15,THC,negative\n",
    )
    assert plain["rows"][0]["identity_unchecked"] == [
        "last name: the file does not give it (last_name)",
        "first name: the file does not give it (first_name)",
        "date of birth: the file does not give it (date_of_birth)",
    ]
    assert plain["unconfirmed"] == 0
    done = await client.post(f"/api/imports/{plain['batch_id']}/commit")
    assert done.status_code == 200 and await DrugTest.count() == 1


async def test_an_unknown_client_stays_rejected(client: httpx.AsyncClient, world: World) -> None:
    response = await client.post(
        "/api/imports",
        data={"program_id": str(world.program_a)},
        files={"file": ("lab.hl7", hl7("DOE^JANE", "19850214", client_id="NOBODY"))},
    )
    assert response.status_code == 422
    assert [(e["location"], e["field"]) for e in response.json()["errors"]] == [
        (WHERE, "client_id")
    ]
    assert await DrugTest.count() == 0


async def test_another_programs_import_cannot_be_confirmed(
    client: httpx.AsyncClient, world: World
) -> None:
    preview = await upload(client, world.program_a, "lab.hl7", hl7("Smith^Wrongname", "19700101"))
    await sign_in(client, world.clinician_b)
    response = await confirm(client, preview["batch_id"], WHERE, "Not mine")
    assert response.status_code == 404
    assert await AuditEvent.count().where(AuditEvent.action == "import.identity_confirm") == 0
