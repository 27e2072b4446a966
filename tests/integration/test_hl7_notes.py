"""HL7 details a court reads (issue 16, point 7): NTE notes attach to what they follow,
observed collection is read where labs send it, and the confirmation method stored is
the method (LC-MS/MS, GC-MS), never the test's name. The patient's name and date of
birth (PID-5, PID-7) come out for the identity check."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from compliance.intake.hl7 import parse_hl7_results
from compliance.intake.records import DrugTestRecord, ParseResult
from compliance.records.analytes import DEFAULT_ANALYTES
from compliance.tables import AnalyteResult, DrugTest
from tests.support.records import enroll
from tests.support.staff import World, signed_in_world

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=CHICAGO)
CODES = {a.local_code: a.key for a in DEFAULT_ANALYTES} | {
    "CREA": "creatinine",
    "SG": "specific_gravity",
    "PH": "ph",
}


KEYS = {a.key for a in DEFAULT_ANALYTES}


def lookup(coding_system: str, code: str) -> str | None:
    """As the import's lookup: a code of the table, or an analyte's key."""
    return CODES.get(code.upper()) or (code.lower() if code.lower() in KEYS else None)


def parse(
    *segments: str, pid: str = "PID|1||C-1001^^^IOP^MR||DOE^JANE||19850214"
) -> ParseResult[DrugTestRecord]:
    lines = [
        "MSH|^~\\&|LABSYS|ACME TOX|IOP|CLINIC|20260312143000||ORU^R01|M1|P|2.5.1",
        pid,
        *segments,
    ]
    return parse_hl7_results(("\r".join(lines) + "\r").encode(), lookup=lookup, tz=CHICAGO, now=NOW)


def only(result: ParseResult[DrugTestRecord]) -> DrugTestRecord:
    assert result.errors == []
    assert len(result.records) == 1
    return result.records[0]


OBR = "OBR|1|PL-1|ACC-1|DOA^Drug panel^L|||20260310083000"
THC_SCREEN = "OBX|1|ST|THC^Cannabinoids screen^L||POSITIVE|ng/mL|50|A|||F||||||EIA^EIA^L"
THC_CONFIRM = "OBX|2|NM|THC^THC-COOH LC-MS/MS^L||42|ng/mL|15|A|||F"
COC = "OBX|3|ST|COC^Cocaine screen^L||NEGATIVE|ng/mL|150|N|||F||||||EIA^EIA^L"
CREATININE = "OBX|4|NM|CREA^Creatinine^L||45.2|mg/dL|20-400||||F"


# --- notes ------------------------------------------------------------------------------


def test_the_issues_message_a_note_after_creatinine_is_the_specimens_and_says_observed() -> None:
    record = only(
        parse(
            OBR,
            THC_SCREEN,
            THC_CONFIRM,
            COC,
            CREATININE,
            "NTE|1|L|THC confirmed by LC-MS/MS. Specimen observed.",
        )
    )
    assert record.notes == "THC confirmed by LC-MS/MS. Specimen observed."  # no "Creatinine:"
    assert record.observed is True
    thc = next(a for a in record.results if a.analyte_key == "thc")
    assert thc.confirmation_method == "LC-MS/MS"  # not "THC-COOH LC-MS/MS"
    assert thc.screen_method == "EIA"
    assert thc.comment == ""  # the note followed the creatinine OBX, not THC's


def test_each_note_attaches_to_what_it_follows() -> None:
    record = only(
        parse(
            OBR,
            "NTE|1|L|Seal intact on receipt.",
            THC_SCREEN,
            "NTE|1|L|Presumptive positive; sent for confirmation.",
            COC,
            "NTE|1|L|Below the cutoff.",
            CREATININE,
            "NTE|1|L|Verified by repeat analysis.",
            "OBX|5|NM|SG^Specific gravity^L||1.0150||||||F",
            "NTE|1|L|Specific gravity read by refractometer.",
            "SPM|1|ACC-1||UR^Urine^HL70487",
            "NTE|1|L|Received at 4 C.",
        )
    )
    thc = next(a for a in record.results if a.analyte_key == "thc")
    cocaine = next(a for a in record.results if a.analyte_key == "cocaine")
    assert thc.comment == "Presumptive positive; sent for confirmation."
    assert cocaine.comment == "Below the cutoff."
    assert record.notes.split("\n") == [
        "Seal intact on receipt.",  # after the OBR
        # After creatinine, naming nothing else: a remark on the creatinine, so labeled.
        "Creatinine: Verified by repeat analysis.",
        # Naming the measure itself: no label needed.
        "Specific gravity read by refractometer.",
        "Received at 4 C.",  # after the SPM
    ]
    assert record.observed is False


@pytest.mark.parametrize(
    "note",
    [
        "Cocaine negative on repeat.",  # a drug by name (the program's code table)
        "COC repeat negative.",  # a drug by its code
        "Chain of custody form received.",  # the specimen's paperwork
        "Confirmed by GC-MS.",  # a confirmation method
    ],
)
def test_a_note_after_a_validity_result_naming_something_else_is_not_labeled(note: str) -> None:
    record = only(parse(OBR, THC_SCREEN, CREATININE, f"NTE|1|L|{note}"))
    assert record.notes == note


# --- observed collection ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("segments", "observed"),
    [
        # SPM-7, specimen collection method: a lab's code, or its text.
        (["SPM|1|ACC-1||UR^Urine^HL70487|||OBS^Observed collection^L"], True),
        (["SPM|1|ACC-1||UR^Urine^HL70487|||^Directly observed"], True),
        (["SPM|1|ACC-1||UR^Urine^HL70487|||UNOBS^Unobserved^L"], False),
        (["SPM|1|ACC-1||UR^Urine^HL70487|||^Not observed"], False),
        # SPM-14, specimen description.
        (["SPM|1|ACC-1||UR^Urine^HL70487||||||||||Witnessed collection"], True),
        # Notes: only a statement about the collection counts.
        (["NTE|1|L|Collection was directly observed by J. Smith."], True),
        (["NTE|1|L|Observed collection: yes"], True),
        (["NTE|1|L|Observed: N"], False),
        (["NTE|1|L|Collection not observed."], False),
        (["NTE|1|L|No crystals observed in the specimen."], False),
        (["NTE|1|L|Unobserved collection per protocol."], False),
    ],
)
def test_observed_collection_is_read_where_labs_send_it(
    segments: list[str], observed: bool
) -> None:
    record = only(parse(OBR, *segments, THC_SCREEN))
    assert record.observed is observed


@pytest.mark.parametrize(
    ("obr15", "observed"),
    [("UR&Urine&HL70070^^Observed", True), ("UR&Urine&HL70070^^Unobserved", False)],
)
def test_obr15_collection_method_component(obr15: str, observed: bool) -> None:
    obr = f"OBR|1|PL-1|ACC-1|DOA^Drug panel^L|||20260310083000||||||||{obr15}"
    assert only(parse(obr, THC_SCREEN)).observed is observed


def test_obr39_collectors_comment() -> None:
    obr = "OBR|1|PL-1|ACC-1|DOA^Drug panel^L|||20260310083000" + "|" * 32 + "^Observed collection"
    assert only(parse(obr, THC_SCREEN)).observed is True


def test_statements_that_contradict_each_other_are_refused_naming_both() -> None:
    result = parse(
        OBR,
        "NTE|1|L|Observed collection.",
        THC_SCREEN,
        "SPM|1|ACC-1||UR^Urine^HL70487|||^Unobserved",
    )
    assert result.records == []
    [error] = result.errors
    assert (error.location, error.field) == ("message 1, SPM segment 1 (line 6)", "SPM-7")
    assert error.reason == (
        "NTE-3 (NTE segment 1 (line 4)) says the collection was observed but SPM-7 "
        "(SPM segment 1 (line 6)) says it was not"
    )


# --- confirmation method ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("obx17", "method"),
    [
        ("LCMSMS^LC-MS/MS^L", "LC-MS/MS"),
        ("^LC/MS/MS", "LC-MS/MS"),
        ("^Liquid chromatography tandem mass spectrometry", "LC-MS/MS"),
        ("^UPLC-MS/MS", "LC-MS/MS"),
        ("GCMS^Gas chromatography-mass spectrometry^L", "GC-MS"),
        ("^GC/MS", "GC-MS"),
        ("^GC-MS/MS", "GC-MS/MS"),
        ("^LC-QTOF", "LC-HRMS"),
        ("^LC-MS", "LC-MS"),
        ("^Mass spectrometry, in-house", "Mass spectrometry, in-house"),  # kept as written
    ],
)
def test_the_confirmation_method_is_normalized_from_obx17(obx17: str, method: str) -> None:
    record = only(parse(OBR, f"OBX|1|NM|THC^Carboxy-THC^L||31|ng/mL|15|A|||F||||||{obx17}"))
    thc = record.results[0]
    assert thc.confirmation_result is not None
    assert thc.confirmation_method == method


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("THC-COOH LC-MS/MS", "LC-MS/MS"),
        ("THC-COOH GC/MS confirmation", "GC-MS"),
        ("Cannabinoids confirmation", ""),  # a confirmation; the name gives no method
    ],
)
def test_the_test_name_gives_only_a_method_never_itself(name: str, method: str) -> None:
    record = only(parse(OBR, f"OBX|1|NM|THC^{name}^L||31|ng/mL|15|A|||F"))
    assert record.results[0].confirmation_result is not None
    assert record.results[0].confirmation_method == method


def test_a_screen_keeps_its_method_as_written() -> None:
    record = only(parse(OBR, "OBX|1|ST|THC^THC^L||NEG|ng/mL|50||||F||||||EIA^Enzyme immunoassay"))
    assert (record.results[0].screen_method, record.results[0].confirmation_result) == (
        "Enzyme immunoassay",
        None,
    )


# --- who the lab says it is -------------------------------------------------------------


def test_pid5_and_pid7_give_the_name_and_date_of_birth() -> None:
    record = only(
        parse(OBR, THC_SCREEN, pid="PID|1||C-1001^^^IOP^MR||Smith^Wrongname^Q||197001011230")
    )
    assert (record.last_name, record.first_name, record.date_of_birth) == (
        "Smith",
        "Wrongname",
        date(1970, 1, 1),
    )
    bare = only(parse(OBR, THC_SCREEN, pid="PID|1||C-1001^^^IOP^MR"))
    assert (bare.last_name, bare.first_name, bare.date_of_birth) == ("", "", None)


@pytest.mark.parametrize(
    ("pid7", "reason"),
    [
        ("19701301", "the date of birth (PID-7) '19701301' is not a valid HL7 date (YYYYMMDD)"),
        ("1970-01-01", "the date of birth (PID-7) '1970-01-01' is not a valid HL7 date (YYYYMMDD)"),
        ("20300101", "the date of birth (PID-7) 20300101 is in the future"),
    ],
)
def test_an_unreadable_date_of_birth_rejects_the_message(pid7: str, reason: str) -> None:
    result = parse(OBR, THC_SCREEN, pid=f"PID|1||C-1001^^^IOP^MR||DOE^JANE||{pid7}")
    assert result.records == []
    assert [(e.location, e.field, e.reason) for e in result.errors] == [
        ("message 1, PID segment 1 (line 2)", "PID-7", reason)
    ]


# --- through the import -----------------------------------------------------------------


@pytest.fixture
async def world(client: httpx.AsyncClient) -> World:
    w = await signed_in_world(client, analytes=True)
    await enroll(
        client, w.program_a, "C-1001", "Jane", "Doe", "2024-01-01", date_of_birth="1985-02-14"
    )
    return w


async def test_the_issues_message_is_stored_with_its_note_observed_and_method(
    client: httpx.AsyncClient, world: World
) -> None:
    lines = [
        "MSH|^~\\&|LABSYS|ACME TOX|IOP|CLINIC|20260312143000||ORU^R01|M1|P|2.5.1",
        "PID|1||C-1001^^^IOP^MR||DOE^JANE||19850214",
        OBR,
        THC_SCREEN,
        THC_CONFIRM,
        COC,
        CREATININE,
        "NTE|1|L|THC confirmed by LC-MS/MS. Specimen observed.",
    ]
    preview = await client.post(
        "/api/imports",
        data={"program_id": str(world.program_a)},
        files={"file": ("lab.hl7", ("\r".join(lines) + "\r").encode())},
    )
    assert preview.status_code == 201, preview.text
    assert preview.json()["rows"][0]["identity"] == []
    done = await client.post(f"/api/imports/{preview.json()['batch_id']}/commit")
    assert done.status_code == 200, done.text
    test = await DrugTest.select().first()
    assert (test["observed"], test["notes"]) == (
        True,
        "THC confirmed by LC-MS/MS. Specimen observed.",
    )
    thc = await AnalyteResult.select().where(AnalyteResult.analyte_code == "THC").first()
    assert (thc["confirmation_result"], thc["confirmation_method"]) == ("positive", "LC-MS/MS")
    page = await client.get(f"/drug-tests/{test['id']}")
    assert page.status_code == 200 and "LC-MS/MS" in page.text
