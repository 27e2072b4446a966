"""The HL7 v2 ORU^R01 results parser: real-looking lab files (single messages, MLLP-framed
batches, escapes, specimen validity, corrections), every kind of broken file, and random
damage."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance.core.vocabulary import AnalyteOutcome, CollectionStatus, SpecimenType
from compliance.engine.specimen_validity import Measures, Thresholds, judge
from compliance.intake.hl7 import parse_hl7_results
from compliance.intake.records import (
    AnalyteRecord,
    DrugTestRecord,
    ParseError,
    ParseResult,
    RowError,
)

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures" / "hl7"
CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
EST = timedelta(hours=-5)
CDT = timedelta(hours=-5)
CODES = {
    ("L", "THC"): "thc",
    ("LN", "3426-4"): "cocaine",
    ("L", "OXY"): "oxycodone",
    ("L", "AMP"): "amphetamine",
    ("L", "PCP"): "pcp",
    ("LN", "2161-8"): "creatinine",
    ("L", "CREA"): "creatinine",
    ("L", "SG"): "specific_gravity",
    ("L", "PH"): "ph",
    ("L", "OXID"): "oxidants",
    ("L", "NIT"): "nitrite",
}
VALID_FIXTURES = (
    "oru_r01_251_single.hl7",
    "oru_r01_23_batch_mllp.hl7",
    "oru_r01_escapes.hl7",
    "oru_r01_dilute.hl7",
    "oru_r01_adulterated.hl7",
    "oru_r01_substituted.hl7",
    "oru_r01_corrected.hl7",
)


def lookup(coding_system: str, code: str) -> str | None:
    return CODES.get((coding_system, code))


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse(data: bytes, now: datetime = NOW) -> ParseResult[DrugTestRecord]:
    return parse_hl7_results(data, lookup=lookup, tz=CHICAGO, now=now)


def only(result: ParseResult[DrugTestRecord]) -> DrugTestRecord:
    assert result.errors == []
    assert len(result.records) == 1
    return result.records[0]


def analyte(record: DrugTestRecord, key: str) -> AnalyteRecord:
    (found,) = [a for a in record.results if a.analyte_key == key]
    return found


MSH = "MSH|^~\\&|LABSYS|ACME TOXICOLOGY|COMPLIANCE|IOP|20240312143000||ORU^R01|M1|P|{version}"
PID = "PID|1||C-9001^^^IOP^MR||DOE^JOHN"
OBR = "OBR|1|PL-1|ACC-1|DOA^Drug panel^L|||{collected}"
SCREEN = "OBX|1|ST|THC^Cannabinoids screen^L||{value}|ng/mL|50|{flag}|||{status}"


def message(
    *segments: str,
    version: str = "2.5.1",
    collected: str = "20240310083000",
    sep: str = "\r",
) -> bytes:
    header = [MSH.format(version=version), PID, OBR.format(collected=collected)]
    return (sep.join([*header, *segments]) + sep).encode()


def screen(value: str = "NEG", flag: str = "", status: str = "F") -> str:
    return SCREEN.format(value=value, flag=flag, status=status)


# --- valid files ------------------------------------------------------------------------


def test_single_251_message_with_screen_confirmation_and_notes() -> None:
    record = only(parse(fixture("oru_r01_251_single.hl7")))

    assert record.location == "message 1, OBR segment 1 (line 4)"
    assert record.client_id == "C-1001"
    assert record.collected_at == datetime(2024, 3, 10, 8, 30, tzinfo=UTC) + timedelta(hours=5)
    assert record.collected_at.utcoffset() == EST
    assert record.result_reported_at == datetime(2024, 3, 12, 19, 0, tzinfo=UTC)
    assert record.accession_id == "ACC-2024-0001"
    assert record.chain_of_custody_id == "CCF-778899"
    assert record.lab_name == "ACME TOX DALLAS"  # OBR-3's filler namespace beats MSH-4
    assert record.specimen_type == SpecimenType.urine
    assert record.collection_status == CollectionStatus.collected
    assert record.validity_note == ""
    assert (record.creatinine_mg_dl, record.specific_gravity, record.ph) == (
        Decimal("85.3"),
        Decimal("1.0150"),
        Decimal("6.2"),
    )
    assert record.notes == "Specimen received intact, seal verified.\nCollection observed by staff."
    assert record.observed is True  # the note says so
    assert (record.last_name, record.first_name, record.date_of_birth) == (
        "DOE",
        "JANE",
        date(1985, 2, 14),
    )
    assert record.corrected is False
    assert [a.analyte_key for a in record.results] == ["thc", "cocaine", "oxycodone"]

    thc = analyte(record, "thc")
    assert (thc.code, thc.coding_system, thc.name) == ("THC", "L", "Cannabinoids screen")
    assert thc.screen_result == AnalyteOutcome.positive
    assert thc.screen_method == "Enzyme immunoassay"
    assert thc.screen_cutoff_ng_ml == Decimal(50)
    assert thc.confirmation_result == AnalyteOutcome.positive
    assert thc.confirmation_method == "GC-MS"  # OBX-17 "Gas chromatography-mass spectrometry"
    assert thc.confirmation_cutoff_ng_ml == Decimal(15)
    assert thc.level_ng_ml == Decimal("62.5")
    assert thc.units == "ng/mL"
    assert thc.abnormal_flag == "A"
    assert thc.comment == "Presumptive positive; sent for confirmation.\nConfirmed by GC-MS."

    cocaine = analyte(record, "cocaine")
    assert cocaine.code == "3426-4" and cocaine.coding_system == "LN"
    assert cocaine.screen_result == AnalyteOutcome.negative
    assert cocaine.screen_cutoff_ng_ml == Decimal(150)  # from "<150"
    assert cocaine.confirmation_result is None
    assert cocaine.level_ng_ml is None

    oxycodone = analyte(record, "oxycodone")  # numeric 40 against "cutoff 100"
    assert oxycodone.screen_result == AnalyteOutcome.negative
    assert oxycodone.level_ng_ml == Decimal(40)
    assert oxycodone.screen_cutoff_ng_ml == Decimal(100)


def test_23_batch_with_mllp_framing_and_crlf() -> None:
    result = parse(fixture("oru_r01_23_batch_mllp.hl7"))

    assert result.errors == []
    assert [r.client_id for r in result.records] == ["C-2001", "C-2002", "C-2003"]
    assert [r.location for r in result.records] == [
        "message 1, OBR segment 1 (line 5)",
        "message 2, OBR segment 1 (line 10)",
        "message 3, OBR segment 1 (line 15)",
    ]
    first, second, third = result.records
    # No offset in OBR-7: the program's zone (CDT on 11 March 2024, the day after DST began).
    assert first.collected_at == datetime(2024, 3, 11, 9, 15, tzinfo=CHICAGO)
    assert first.collected_at.utcoffset() == CDT
    assert first.lab_name == "REGIONAL LAB"
    assert first.accession_id == "ACC-23-1"
    assert [a.screen_result for a in first.results] == [AnalyteOutcome.negative] * 2

    cocaine = analyte(second, "cocaine")  # LC-MS/MS confirmation only, in ug/L
    assert cocaine.screen_result == AnalyteOutcome.positive
    assert cocaine.screen_method == ""
    assert cocaine.confirmation_result == AnalyteOutcome.positive
    assert cocaine.confirmation_method == "LC-MS/MS"
    assert cocaine.level_ng_ml == Decimal(412)
    assert cocaine.units == "ng/mL"
    assert cocaine.confirmation_cutoff_ng_ml == Decimal(100)

    assert third.collected_at == datetime(2024, 3, 11, 19, 30, tzinfo=UTC)
    assert third.collected_at.utcoffset() == timedelta(hours=-8)
    assert analyte(third, "thc").screen_result == AnalyteOutcome.negative  # "NOT DETECTED"


def test_escape_sequences_use_each_messages_own_encoding_characters() -> None:
    result = parse(fixture("oru_r01_escapes.hl7"))

    assert result.errors == []
    default, custom = result.records
    assert default.notes == "Seal | tape intact ^ label & box ~ bag \\ ok\nCafé cup\nsecond line"
    assert default.results[0].comment == "Temp 34°C"  # \XB0\ is not UTF-8: read as Latin-1
    # MSH-2 "^~$!": "$" escapes, "!" separates subcomponents; backslashes are plain text.
    assert custom.notes == "Path C:\\lab\\x $ sub ! field | café"
    assert custom.specimen_type == SpecimenType.urine
    assert custom.collected_at == datetime(2024, 3, 10, 9, 0, tzinfo=CHICAGO)


def judged(record: DrugTestRecord) -> tuple[CollectionStatus, str]:
    """The record's status under the default policy: the parser reports the figures,
    the one validity rule (compliance.engine.specimen_validity) decides."""
    measures = Measures(
        record.creatinine_mg_dl, record.specific_gravity, record.ph, record.oxidants, record.nitrite
    )
    return judge(record.collection_status, measures, Thresholds())


def test_dilute_specimen() -> None:
    record = only(parse(fixture("oru_r01_dilute.hl7")))
    assert record.collection_status == CollectionStatus.collected  # the parser decides nothing
    assert record.creatinine_mg_dl == Decimal("14.2")
    assert record.specific_gravity == Decimal("1.0020")
    assert judged(record) == (
        CollectionStatus.dilute,
        "Dilute: creatinine 14.2 mg/dL < 20, specific gravity 1.0020",
    )
    assert [a.analyte_key for a in record.results] == ["thc"]  # validity rows are not analytes


def test_adulterated_specimen() -> None:
    record = only(parse(fixture("oru_r01_adulterated.hl7")))
    assert (record.ph, record.oxidants) == (Decimal("3.2"), "positive")
    assert judged(record) == (
        CollectionStatus.adulterated,
        "Adulterated: pH 3.2 < 4, oxidants positive",
    )
    assert [a.analyte_key for a in record.results] == ["thc"]


def test_substituted_specimen() -> None:
    record = only(parse(fixture("oru_r01_substituted.hl7")))
    assert judged(record) == (
        CollectionStatus.substituted,
        "Substituted: creatinine 1.2 mg/dL < 2 and specific gravity 1.0005 < 1.0010",
    )


def test_corrected_result() -> None:
    record = only(parse(fixture("oru_r01_corrected.hl7")))
    assert record.corrected is True
    assert record.client_id == "C-5001"
    thc = analyte(record, "thc")
    assert thc.screen_result == AnalyteOutcome.negative
    assert thc.comment == "Corrected: transcription error in original report."


@pytest.mark.parametrize(
    ("creatinine", "sg", "ph", "status", "note"),
    [
        ("14.2", None, None, CollectionStatus.dilute, "Dilute: creatinine 14.2 mg/dL < 20"),
        (
            "15",
            "1.0150",
            None,
            CollectionStatus.collected,
            "Not dilute: creatinine 15 mg/dL < 20 but specific gravity 1.0150",
        ),
        ("120", "1.0150", "11.0", CollectionStatus.adulterated, "Adulterated: pH 11 >= 11"),
        (
            "1.5",
            "1.0250",
            None,
            CollectionStatus.substituted,
            "Substituted: creatinine 1.5 mg/dL < 2 and specific gravity 1.0250 >= 1.0200",
        ),
        ("20", "1.0020", "7", CollectionStatus.collected, ""),
    ],
)
def test_validity_rules(
    creatinine: str, sg: str | None, ph: str | None, status: CollectionStatus, note: str
) -> None:
    rows = [screen(), f"OBX|2|NM|CREA^Creatinine^L||{creatinine}|mg/dL|||||F"]
    if sg is not None:
        rows.append(f"OBX|3|NM|SG^Specific gravity^L||{sg}||||||F")
    if ph is not None:
        rows.append(f"OBX|4|NM|PH^pH^L||{ph}||||||F")
    record = only(parse(message(*rows)))
    assert judged(record) == (status, note)


def test_creatinine_in_umol_per_litre_is_converted() -> None:
    record = only(parse(message(screen(), "OBX|2|NM|CREA^Creatinine^L||1255.6|umol/L|||||F")))
    assert record.creatinine_mg_dl == Decimal("14.2")
    assert judged(record)[0] == CollectionStatus.dilute


def test_nitrite_positive_by_flag_is_adulterated() -> None:
    record = only(parse(message(screen(), "OBX|2|NM|NIT^Nitrite^L||620|ug/mL||A|||F")))
    assert record.nitrite == "positive"
    assert judged(record) == (CollectionStatus.adulterated, "Adulterated: nitrite positive")


def test_numeric_results_against_cutoff_flag_and_units() -> None:
    record = only(
        parse(
            message(
                "OBX|1|NM|THC^THC screen^L||75|ng/mL|<50||||F",  # above cutoff
                "OBX|2|SN|AMP^Amphetamine^L||>^2000|ng/mL|||||F||||||IA^Immunoassay",
                "OBX|3|NM|OXY^Oxycodone^L||0.3|ug/mL||H|||F||||||LCMSMS^LC-MS/MS^L",
            )
        )
    )
    thc, amp, oxy = record.results
    assert (thc.screen_result, thc.level_ng_ml, thc.screen_cutoff_ng_ml) == (
        AnalyteOutcome.positive,
        Decimal(75),
        Decimal(50),
    )
    assert amp.screen_result == AnalyteOutcome.positive
    assert amp.screen_method == "Immunoassay"
    assert amp.level_ng_ml == Decimal(2000)
    assert amp.comment == "reported as >2000 ng/mL"
    assert oxy.confirmation_result == AnalyteOutcome.positive
    assert oxy.screen_result == AnalyteOutcome.positive  # confirmed, so presumptive positive
    assert oxy.level_ng_ml == Decimal(300)  # 0.3 ug/mL
    assert oxy.units == "ng/mL"


def test_other_units_keep_the_number() -> None:
    record = only(parse(message("OBX|1|NM|THC^THC hair^L||12|pg/mg|1|A|||F")))
    thc = record.results[0]
    assert (thc.level_ng_ml, thc.units, thc.screen_result) == (
        Decimal(12),
        "pg/mg",
        AnalyteOutcome.positive,
    )


def test_confirmation_named_in_obx3_text_when_obx17_is_empty() -> None:
    record = only(
        parse(
            message(
                screen("POS", "A"),
                "OBX|2|NM|THC^THC-COOH GC/MS confirmation^L||31|ng/mL|15|A|||F",
            )
        )
    )
    thc = record.results[0]
    assert (thc.screen_result, thc.confirmation_result) == (
        AnalyteOutcome.positive,
        AnalyteOutcome.positive,
    )
    assert thc.confirmation_method == "GC-MS"  # the method, not the test's name
    assert thc.level_ng_ml == Decimal(31)


def test_kims_immunoassay_is_a_screen_not_mass_spectrometry() -> None:
    record = only(parse(message("OBX|1|ST|THC^THC^L||NEG|ng/mL|50||||F||||||KIMS")))
    assert record.results[0].screen_method == "KIMS"
    assert record.results[0].confirmation_result is None


def test_preliminary_result_is_kept_and_invalid_value_read() -> None:
    record = only(parse(message(screen("INVALID", status="P"))))
    assert record.results[0].screen_result == AnalyteOutcome.invalid


def test_lf_endings_bom_and_trailing_blank_lines() -> None:
    data = b"\xef\xbb\xbf" + message(screen(), sep="\n") + b"\n\n\n"
    record = only(parse(data))
    assert record.client_id == "C-9001"


def test_specimen_type_from_spm_and_obr15() -> None:
    data = message(screen(), "SPM|1|S1||OF^Oral fluid^HL70487")
    assert only(parse(data)).specimen_type == SpecimenType.oral_fluid
    hair = message(screen()).replace(b"|20240310083000", b"|20240310083000||||||||HAIR&Hair")
    assert only(parse(hair)).specimen_type == SpecimenType.hair


def test_several_obr_in_one_message() -> None:
    data = message(
        screen(),
        "OBR|2|PL-2|ACC-2|DOA^Drug panel^L|||20240311090000",
        "NTE|1||Second specimen.",
        screen("POS", "A"),
    )
    result = parse(data)
    assert result.errors == []
    assert [(r.accession_id, r.location, r.notes) for r in result.records] == [
        ("ACC-1", "message 1, OBR segment 1 (line 3)", ""),
        ("ACC-2", "message 1, OBR segment 2 (line 5)", "Second specimen."),
    ]
    assert result.records[1].results[0].screen_result == AnalyteOutcome.positive


# --- row errors -------------------------------------------------------------------------


def test_unknown_code_is_an_error_not_skipped() -> None:
    result = parse(fixture("oru_r01_unknown_code.hl7"))
    assert result.records == []
    assert result.errors == [
        RowError(
            "message 1, OBX segment 2 (line 5)",
            "OBX-3",
            "unknown analyte code 'XYZ' (system 'L'); add it to the program's analyte table",
        )
    ]


def test_missing_pid() -> None:
    result = parse(fixture("oru_r01_missing_pid.hl7"))
    assert result.records == []
    assert [(e.location, e.field) for e in result.errors] == [
        ("message 1, MSH segment 1 (line 1)", "PID")
    ]
    assert "no PID segment" in result.errors[0].reason


def test_empty_pid3() -> None:
    data = message(screen()).replace(b"C-9001^^^IOP^MR", b"")
    result = parse(data)
    assert result.records == []
    assert result.errors == [
        RowError("message 1, PID segment 1 (line 2)", "PID-3", "the client id (PID-3) is empty")
    ]


def test_obr_without_obx() -> None:
    result = parse(fixture("oru_r01_no_obx.hl7"))
    assert result.records == []
    assert result.errors == [
        RowError("message 1, OBR segment 1 (line 3)", "OBX", "the OBR has no OBX (result) segments")
    ]


def test_oru_without_obr() -> None:
    data = f"{MSH.format(version='2.4')}\r{PID}\r".encode()
    result = parse(data)
    assert [(e.location, e.field) for e in result.errors] == [
        ("message 1, MSH segment 1 (line 1)", "OBR")
    ]


@pytest.mark.parametrize(
    ("collected", "reason"),
    [
        ("", "the collection date/time (OBR-7) is missing"),
        ("2024031", "the collection date/time (OBR-7) '2024031' is not a valid HL7 date/time"),
        ("20240230", "'20240230' is not a valid HL7 date/time"),
        ("202403100830+2500", "is not a valid HL7 date/time"),
        ("20240610083000", "collection date/time 2024-06-10T08:30:00-05:00 is in the future"),
    ],
)
def test_bad_collection_time(collected: str, reason: str) -> None:
    result = parse(message(screen(), collected=collected))
    assert result.records == []
    (error,) = result.errors
    assert (error.location, error.field) == ("message 1, OBR segment 1 (line 3)", "OBR-7")
    assert reason in error.reason


@pytest.mark.parametrize(
    ("status", "words"), [("X", "cannot be obtained"), ("D", "deleted"), ("W", "wrong")]
)
def test_unusable_result_status(status: str, words: str) -> None:
    result = parse(message(screen(status=status)))
    (error,) = result.errors
    assert (error.location, error.field) == ("message 1, OBX segment 1 (line 4)", "OBX-11")
    assert words in error.reason


def test_wrong_value_types() -> None:
    result = parse(
        message(
            "OBX|1|NM|CREA^Creatinine^L||high|mg/dL|||||F",
            "OBX|2|NM|THC^THC^L||120|ng/mL|||||F",  # no cutoff, no flag
            "OBX|3|ST|OXY^Oxycodone^L||maybe|ng/mL|100||||F",
            "OBX|4|NM|AMP^Amphetamine^L||40|ng/mL|500|A|||F",  # flag contradicts cutoff
            "OBX|5|NM|PH^pH^L||15||||||F",
            "OBX|6|NM|PCP^PCP^L||NEG|ng/mL|25||||F",
        )
    )
    assert result.records == []
    assert [(e.location, e.field) for e in result.errors] == [
        ("message 1, OBX segment 1 (line 4)", "OBX-5"),
        ("message 1, OBX segment 2 (line 5)", "OBX-7"),
        ("message 1, OBX segment 3 (line 6)", "OBX-5"),
        ("message 1, OBX segment 4 (line 7)", "OBX-8"),
        ("message 1, OBX segment 5 (line 8)", "OBX-5"),
        ("message 1, OBX segment 6 (line 9)", "OBX-5"),
    ]
    assert result.errors[0].reason == "the value 'high' is not a number, but OBX-2 says NM"
    assert result.errors[1].reason == (
        "cannot tell whether the thc result 120 is positive: no cutoff in the reference "
        "range (OBX-7) and no abnormal flag (OBX-8)"
    )


def test_conflicting_screens_for_one_analyte() -> None:
    result = parse(message(screen("NEG"), screen("POS", "A")))
    (error,) = result.errors
    assert error.location == "message 1, OBX segment 2 (line 5)"
    assert "disagrees with negative at OBX segment 1 (line 4)" in error.reason


def test_unsupported_version() -> None:
    result = parse(message(screen(), version="2.7"))
    assert result.records == []
    assert result.errors == [
        RowError(
            "message 1, MSH segment 1 (line 1)",
            "MSH-12",
            "HL7 version '2.7' is not supported (2.3 to 2.5.1)",
        )
    ]


def test_all_errors_in_a_batch_are_collected() -> None:
    good = message(screen())
    unknown = message("OBX|1|ST|XYZ^Mystery^L||NEG|ng/mL|10||||F")
    future = message(screen(), collected="20300101")
    adt = b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|X|P|2.5\rPID|1||C-1\r"
    data = good + unknown + future + adt + b"garbage line\r" + b"BTS|5\r"
    result = parse(data)
    assert len(result.records) == 1
    assert [(e.location, e.field) for e in result.errors] == [
        ("message 4, line 15", "segment"),
        ("line 16", "BTS-1"),
        ("message 2, OBX segment 1 (line 8)", "OBX-3"),
        ("message 3, OBR segment 1 (line 11)", "OBR-7"),
        ("message 4, MSH segment 1 (line 13)", "MSH-9"),
    ]
    assert result.errors[1].reason == (
        "the trailer says 5 messages but 4 were found; the file may be truncated"
    )
    assert result.errors[4].reason == "message type 'ADT^A01' is not a lab result (ORU^R01)"


def test_unreadable_header_is_an_error() -> None:
    result = parse(b"MSH|^^\\&|LAB\rPID|1||C-1\r")
    assert [(e.location, e.field) for e in result.errors] == [
        ("message 1, MSH segment 1 (line 1)", "MSH-2")
    ]


# --- whole-file errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("adt_a01.hl7", "not a lab results file: message type 'ADT^A01' (expected ORU^R01)"),
        ("binary.bin", "the file is binary (it contains NUL bytes), not an HL7 text file"),
        ("empty.hl7", "the file is empty"),
    ],
)
def test_unusable_files(name: str, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse(fixture(name))
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\x0b\x1c\r\r\n  \n", "empty"),
        (b"name,date\nJane,2024-01-01\n", "no MSH"),
        (b"MSH|^~\\&|\xff\xfe", "not UTF-8"),
        (b"MSH|^~\\&|x\x07y", "control character 0x07"),
    ],
)
def test_not_hl7(data: bytes, words: str) -> None:
    with pytest.raises(ParseError, match=words):
        parse(data)


# --- random damage ----------------------------------------------------------------------


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    data = bytearray(fixture(draw(st.sampled_from(VALID_FIXTURES))))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["replace", "insert", "delete", "drop_line"]))
        if kind == "drop_line":
            lines = bytes(data).split(b"\r")
            if len(lines) > 1:
                del lines[draw(st.integers(0, len(lines) - 1))]
            data = bytearray(b"\r".join(lines))
            continue
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        byte = draw(
            st.one_of(
                st.sampled_from(b"|^~\\&\r\n\x0b\x1cX0123456789.-+<>CFXPN"),
                st.integers(0, 255),
            )
        )
        if kind == "replace":
            data[at] = byte
        elif kind == "insert":
            data.insert(at, byte)
        else:
            del data[at]
    return bytes(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged())
def test_random_damage_gives_records_or_errors_or_parse_error(data: bytes) -> None:
    try:
        result = parse(data)
    except ParseError as exc:
        assert exc.reason
        return
    assert result.records or result.errors
    for record in result.records:
        assert record.client_id
        assert record.collected_at is not None and record.collected_at.tzinfo is not None
        assert record.collected_at <= NOW
        assert record.location.startswith("message ")
    for error in result.errors:
        assert error.location and error.field and error.reason
