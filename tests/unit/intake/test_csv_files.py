"""The attendance and drug-test CSV parsers: real files as spreadsheets and labs write
them, every kind of broken file, daylight saving time, and random damage."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance.core.vocabulary import (
    AnalyteOutcome,
    AttendanceStatus,
    CollectionStatus,
    SessionType,
    SpecimenType,
)
from compliance.core.vocabulary import (
    TestReason as Reason,
)
from compliance.intake import csv_files
from compliance.intake.csv_files import parse_attendance_csv, parse_drug_test_csv
from compliance.intake.records import (
    AnalyteRecord,
    AttendanceRecord,
    DrugTestRecord,
    ParseError,
    ParseResult,
    RowError,
)
from compliance.records.analytes import DEFAULT_ANALYTES
from tests.support.lab_files import make_drug_test_csv

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures" / "csv"
CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=CHICAGO)
CODES = {a.local_code: a.key for a in DEFAULT_ANALYTES} | {"CREAT": "creatinine"}
CST = timedelta(hours=-6)
CDT = timedelta(hours=-5)


def lookup(coding_system: str, code: str) -> str | None:
    return CODES.get(code.upper())


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def attendance(data: bytes, now: datetime = NOW) -> ParseResult[AttendanceRecord]:
    return parse_attendance_csv(data, tz=CHICAGO, now=now)


def drug_tests(data: bytes, now: datetime = NOW) -> ParseResult[DrugTestRecord]:
    return parse_drug_test_csv(data, lookup=lookup, tz=CHICAGO, now=now)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHICAGO)  # type: ignore[misc]


# --- attendance: a valid Excel export -----------------------------------------------


def test_excel_attendance_file_is_read_with_every_value() -> None:
    data = fixture("attendance_excel.csv")
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data and data.endswith(b",,,,,,,,,,\r\n")

    result = attendance(data)

    assert result.errors == []
    assert result.records == [
        AttendanceRecord(
            location="line 2",
            client_id="C-1001",
            session_type=SessionType.group,
            occurred_at=local(2026, 3, 3, 18, 0),
            scheduled_minutes=180,
            status=AttendanceStatus.present,
            minutes_attended=180,
            session_title="Relapse prevention, week 2",
        ),
        AttendanceRecord(
            location="line 3",
            client_id="C-1002",
            session_type=SessionType.group,
            occurred_at=local(2026, 3, 3, 18, 0),
            scheduled_minutes=180,
            status=AttendanceStatus.late,
            minutes_attended=150,
            session_title="Relapse prevention, week 2",
            note="Arrived 30 min late, traffic",
        ),
        AttendanceRecord(
            location="line 4",
            client_id="C-1003",
            session_type=SessionType.individual,
            occurred_at=local(2026, 3, 4, 10, 30),
            scheduled_minutes=60,
            status=AttendanceStatus.absent_excused,
            minutes_attended=0,
            note='Doctor\'s note: "flu"',
        ),
        AttendanceRecord(
            location="line 5",  # its proof spans lines 5 and 6
            client_id="C-1001",
            session_type=SessionType.twelve_step,
            occurred_at=local(2026, 3, 5, 19, 0),
            scheduled_minutes=60,
            status=AttendanceStatus.present,
            minutes_attended=60,
            meeting_name="Tuesday Night Hope, AA",
            proof="Signed slip\nchair J. Doe",
        ),
        AttendanceRecord(
            location="line 7",
            client_id="C-1002",
            session_type=SessionType.family,
            occurred_at=local(2026, 3, 6, 12, 0),
            scheduled_minutes=90,
            status=AttendanceStatus.left_early,
            minutes_attended=45,
            session_title="Family session",
        ),
        AttendanceRecord(
            location="line 9",  # line 8 is a blank row
            client_id="C-1004",
            session_type=SessionType.education,
            occurred_at=local(2026, 3, 9, 9, 0),
            scheduled_minutes=120,
            status=AttendanceStatus.absent_unexcused,
            minutes_attended=0,
            session_title="Medication education",
        ),
    ]
    # Standard time before 8 March 2026, daylight time after.
    assert result.records[0].occurred_at.utcoffset() == CST
    assert result.records[-1].occurred_at.utcoffset() == CDT


def test_the_same_file_without_bom_and_with_lf_reads_the_same() -> None:
    data = fixture("attendance_excel.csv").removeprefix(b"\xef\xbb\xbf").replace(b"\r\n", b"\n")
    assert attendance(data).records == attendance(fixture("attendance_excel.csv")).records


HEADER = "client_id,date,start_time,session_type,scheduled_minutes,status,minutes_attended,proof"


@pytest.mark.parametrize(
    ("session_type", "status", "expected_type", "expected_status"),
    [
        ("12 step", "present", SessionType.twelve_step, AttendanceStatus.present),
        ("12-Step", "PRESENT", SessionType.twelve_step, AttendanceStatus.present),
        ("Twelve Step", "present", SessionType.twelve_step, AttendanceStatus.present),
        ("group", "excused", SessionType.group, AttendanceStatus.absent_excused),
        ("group", "Unexcused", SessionType.group, AttendanceStatus.absent_unexcused),
        ("group", "Absent - Unexcused", SessionType.group, AttendanceStatus.absent_unexcused),
        ("group", "absent (excused)", SessionType.group, AttendanceStatus.absent_excused),
        ("group", "Left Early", SessionType.group, AttendanceStatus.left_early),
    ],
)
def test_spreadsheet_spellings_of_types_and_statuses(
    session_type: str,
    status: str,
    expected_type: SessionType,
    expected_status: AttendanceStatus,
) -> None:
    minutes = "30" if expected_status is AttendanceStatus.left_early else ""
    data = f"{HEADER}\nC-1,2026-03-03,18:00,{session_type},60,{status},{minutes},slip\n"
    [record] = attendance(data.encode()).records
    assert (record.session_type, record.status) == (expected_type, expected_status)


@pytest.mark.parametrize(
    "when",
    ["2026-03-03T18:00", "2026-03-03 18:00:00", "3/3/2026 6:00 PM", "2026-03-03T18:00-06:00"],
)
def test_date_column_may_hold_date_and_time(when: str) -> None:
    data = f"client_id,date,session_type,scheduled_minutes,status\nC-1,{when},group,60,present\n"
    [record] = attendance(data.encode()).records
    assert record.occurred_at == local(2026, 3, 3, 18, 0)
    assert record.occurred_at.tzinfo is not None


def test_a_date_without_a_time_needs_start_time() -> None:
    data = b"client_id,date,session_type,scheduled_minutes,status\nC-1,3/3/2026,group,60,present\n"
    assert attendance(data).errors == [
        RowError(
            "line 2",
            "start_time",
            "is required: add a start_time column or give date as a date and time, "
            "e.g. 2026-03-03 18:00",
        )
    ]


def test_a_time_that_disagrees_with_the_datetime_is_an_error() -> None:
    data = f"{HEADER}\nC-1,2026-03-03 18:00,19:00,group,60,present,,\n".encode()
    assert attendance(data).errors == [
        RowError(
            "line 2",
            "start_time",
            "'19:00' disagrees with the time in date ('2026-03-03 18:00')",
        )
    ]


# --- attendance: broken files ---------------------------------------------------------


def test_every_row_error_in_a_file_is_reported_with_line_field_and_reason() -> None:
    result = attendance(fixture("attendance_errors.csv"))

    assert [r.client_id for r in result.records] == ["C-1001"]
    assert result.errors == [
        RowError(
            "line 3",
            "date",
            "'3/32/2026' is not a date (use YYYY-MM-DD or M/D/YYYY, optionally followed by a time)",
        ),
        RowError("line 4", "date", "2026-04-01 18:00 is in the future"),
        RowError(
            "line 5",
            "status",
            "'sick' is not one of: present, late, left_early, absent_excused, absent_unexcused",
        ),
        RowError("line 6", "scheduled_minutes", "must be at most 600"),
        RowError("line 7", "minutes_attended", "must be at most 180"),
        RowError(
            "line 8",
            "proof",
            "is required for a twelve_step (outside) meeting: describe the proof, "
            "e.g. signed attendance slip",
        ),
        RowError("line 9", "minutes_attended", "is required"),
        RowError("line 10", "minutes_attended", "must be 0 for an absence"),
        RowError(
            "line 11", "start_time", "'25:00' is not a time (use HH:MM, 24-hour, or h:MM AM/PM)"
        ),
        RowError(
            "line 11",
            "session_type",
            "'therapy' is not one of: group, individual, family, education, twelve_step",
        ),
    ]


def test_present_with_fewer_minutes_is_an_error() -> None:
    data = f"{HEADER}\nC-1,2026-03-03,18:00,group,180,present,120,\n".encode()
    assert attendance(data).errors == [
        RowError(
            "line 2",
            "minutes_attended",
            "present means all 180 minutes; use late or left early for fewer",
        )
    ]


def test_missing_required_column_is_named() -> None:
    with pytest.raises(ParseError) as caught:
        attendance(fixture("attendance_missing_column.csv"))
    assert caught.value.reason == (
        "missing required column: scheduled_minutes; an attendance CSV has the columns: "
        "client_id, date, start_time, session_type, scheduled_minutes, status, "
        "minutes_attended, session_title, meeting_name, proof, note"
    )


def test_unknown_column_is_named_so_a_misspelling_is_not_ignored() -> None:
    with pytest.raises(ParseError) as caught:
        attendance(fixture("attendance_unknown_column.csv"))
    assert caught.value.reason.startswith(
        "unknown columns: sesion_type, facilitator; missing required column: session_type; "
    )


def test_drug_test_file_given_to_attendance_parser() -> None:
    with pytest.raises(ParseError) as caught:
        attendance(fixture("drug_tests.csv"))
    assert caught.value.reason == "this looks like a drug-test CSV, not an attendance CSV"


def test_attendance_file_given_to_drug_test_parser() -> None:
    with pytest.raises(ParseError) as caught:
        drug_tests(fixture("attendance_excel.csv"))
    assert caught.value.reason == "this looks like an attendance CSV, not a drug-test CSV"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (fixture("empty.csv"), "the file is empty"),
        (b"\xef\xbb\xbf\r\n\r\n  \r\n", "the file is empty"),
        (
            fixture("spreadsheet.xlsx"),
            "the file is not a CSV text file (it holds binary data); "
            "save the spreadsheet as CSV UTF-8 and upload that",
        ),
        (
            f"{HEADER}\nC-1,2026-03-03,18:00,group,60,present,,Caf\xe9\n".encode("latin-1"),
            'the file is not UTF-8 text (line 2); save the spreadsheet as "CSV UTF-8 (comma '
            'delimited)" and upload that',
        ),
        (f"{HEADER}\r\n\r\n".encode(), "the file has a header but no rows"),
        (
            b"C-1,2026-03-03,18:00,group,60,present\n",
            "the first line is not a header; it must name the columns, for example: "
            "client_id,date,session_type,scheduled_minutes,status",
        ),
        (
            HEADER.replace(",", ";").encode() + b"\n",
            "the columns are separated by semicolons or tabs, not commas; "
            "save the spreadsheet as CSV UTF-8 (comma delimited)",
        ),
        (
            b"client_id,date,Client ID,status\n",
            "the header names the same column twice: client_id",
        ),
        (
            b"MSH|^~\\&|LAB|||\rPID|1||C-1\r",
            "this looks like an HL7 results file, not a CSV; upload it as HL7",
        ),
    ],
    ids=[
        "empty",
        "blank",
        "binary",
        "not-utf8",
        "header-only",
        "no-header",
        "semicolons",
        "duplicate",
        "hl7",
    ],
)
def test_unusable_files_raise_parse_error(data: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        attendance(data)
    assert caught.value.reason == reason


def test_a_row_with_more_values_than_columns_is_one_error() -> None:
    data = f"{HEADER}\nC-1,2026-03-03,18:00,group,60,present,,slip, from AA\n".encode()
    assert attendance(data).errors == [
        RowError(
            "line 2",
            "column 9",
            "has a value ('from AA') but the header names only 8 columns; "
            "put quotes around a value that contains a comma",
        )
    ]


def test_blank_unnamed_columns_from_a_spreadsheet_are_ignored() -> None:
    data = (
        f"{HEADER},,\n"
        "C-1,2026-03-03,18:00,group,60,present,,,,\n"
        "C-2,2026-03-03,18:00,group,60,present,,,,stray\n"
    ).encode()
    result = attendance(data)
    assert [r.client_id for r in result.records] == ["C-1"]
    assert result.errors == [
        RowError("line 3", "column 10", "has a value but no column name in the header")
    ]


def test_more_than_the_row_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_files, "MAX_DATA_ROWS", 2)
    row = "C-1,2026-03-03,18:00,group,60,present,,\n"
    assert len(attendance(f"{HEADER}\n{row * 2}".encode()).records) == 2
    with pytest.raises(ParseError) as caught:
        attendance(f"{HEADER}\n{row * 3}".encode())
    assert caught.value.reason == "the file has more than 2 rows; split it into smaller files"


# --- daylight saving time -------------------------------------------------------------


def test_a_time_the_clocks_skip_is_an_error_naming_the_field() -> None:
    data = f"{HEADER}\nC-1,2026-03-08,02:30,group,60,present,,\n".encode()
    assert attendance(data).errors == [
        RowError(
            "line 2",
            "start_time",
            "2026-03-08 02:30 does not exist in America/Chicago: the clocks skip that hour "
            "for daylight saving time",
        )
    ]
    data = b"client_id,collected_at,analyte,screen_result\nC-1,3/8/2026 2:30 AM,THC,neg\n"
    assert [(e.location, e.field) for e in drug_tests(data).errors] == [("line 2", "collected_at")]


def test_a_time_the_clocks_repeat_takes_the_first_occurrence() -> None:
    data = f"{HEADER}\nC-1,2026-11-01,01:30,group,60,present,,\n".encode()
    [record] = attendance(data, now=local(2026, 11, 20, 12, 0)).records
    assert record.occurred_at == local(2026, 11, 1, 1, 30)
    assert record.occurred_at.utcoffset() == CDT  # still daylight time: the first 01:30
    assert record.occurred_at.fold == 0


# --- drug tests -----------------------------------------------------------------------


def test_lab_file_with_confirmed_positive_dilute_and_no_show() -> None:
    result = drug_tests(fixture("drug_tests.csv"))

    assert result.errors == []
    positive, dilute, no_show, prescribed = result.records

    assert positive == DrugTestRecord(
        location="line 2",
        client_id="C-1001",
        collected_at=local(2026, 3, 2, 8, 15),
        collection_status=CollectionStatus.collected,
        specimen_type=SpecimenType.urine,
        observed=True,
        reason=Reason.random,
        called_at=local(2026, 3, 2, 0, 0),
        lab_name="Quest Diagnostics",
        accession_id="A-100",
        chain_of_custody_id="CCF-5501",
        creatinine_mg_dl=Decimal("85.0"),
        specific_gravity=Decimal("1.015"),
        ph=Decimal("6.2"),
        results=(
            AnalyteRecord(
                analyte_key="thc",
                code="THC",
                coding_system="",
                name="THC",
                screen_result=AnalyteOutcome.negative,
                screen_cutoff_ng_ml=Decimal(50),
            ),
            AnalyteRecord(
                analyte_key="cocaine",
                code="COC",
                coding_system="",
                name="COC",
                screen_result=AnalyteOutcome.positive,
                screen_cutoff_ng_ml=Decimal(150),
                confirmation_result=AnalyteOutcome.positive,
                confirmation_method="LC-MS/MS",
                confirmation_cutoff_ng_ml=Decimal(100),
                level_ng_ml=Decimal("412.5"),
                mro_result=AnalyteOutcome.positive,
                mro_comment="Confirmed with donor",
                comment="Benzoylecgonine, confirmed",
            ),
            AnalyteRecord(
                analyte_key="oxycodone",
                code="OXY",
                coding_system="",
                name="OXY",
                screen_result=AnalyteOutcome.negative,
                screen_cutoff_ng_ml=Decimal(100),
            ),
        ),
    )

    assert dilute.location == "line 5"
    # Blank status: the parser states nothing; creatinine 12.4 is the program's to judge.
    assert dilute.collection_status is CollectionStatus.collected
    assert dilute.validity_note == ""
    assert dilute.creatinine_mg_dl == Decimal("12.4")
    assert dilute.collected_at == local(2026, 3, 4, 14, 40)
    assert dilute.reason is Reason.follow_up
    assert dilute.notes == "Client drank a lot of water"
    assert [(r.analyte_key, r.screen_result) for r in dilute.results] == [
        ("thc", AnalyteOutcome.negative),
        ("cocaine", AnalyteOutcome.negative),
    ]

    assert no_show == DrugTestRecord(
        location="line 7",
        client_id="C-1003",
        collected_at=None,
        collection_status=CollectionStatus.no_show,
        called_at=local(2026, 3, 5, 0, 0),
        notes="Did not answer the call-in line",
    )

    # No accession id: grouped by client and collection time. Lab positive, MRO negative.
    assert prescribed.location == "line 8"
    assert prescribed.accession_id == ""
    assert prescribed.collected_at == local(2026, 3, 6, 9, 5)
    assert prescribed.specimen_type is SpecimenType.oral_fluid
    assert prescribed.reason is Reason.for_cause
    assert prescribed.observed is False
    oxy, fentanyl = prescribed.results
    assert (oxy.screen_result, oxy.confirmation_result, oxy.mro_result) == (
        AnalyteOutcome.positive,
        AnalyteOutcome.positive,
        AnalyteOutcome.negative,
    )
    assert (oxy.confirmation_method, oxy.level_ng_ml) == ("GC-MS", Decimal(250))
    assert oxy.mro_comment == "Valid prescription (oxycodone 5 mg)"
    assert fentanyl.analyte_key == "fentanyl"


def test_every_drug_test_row_error_is_reported() -> None:
    result = drug_tests(fixture("drug_test_errors.csv"))

    assert result.records == []
    assert result.errors == [
        RowError(
            "line 3",
            "analyte",
            "'XYZ' is not a known analyte code; check the spelling or add the code to the "
            "program's analytes",
        ),
        RowError(
            "line 3",
            "lab_name",
            "disagrees with line 2 for the same specimen (Quest there, LabCorp here)",
        ),
        RowError("line 4", "analyte", "must be blank for a no-show (there is no specimen)"),
        RowError("line 4", "screen_result", "must be blank for a no-show (there is no specimen)"),
        RowError("line 5", "creatinine_mg_dl", "'-3' is negative; it must be 0 or more"),
        RowError("line 5", "analyte", "a collected specimen needs at least one analyte result row"),
        RowError(
            "line 6",
            "screen_result",
            "'maybe' is not one of: negative, positive, invalid, not_tested",
        ),
        RowError(
            "line 6",
            "level_ng_ml",
            "'<15' is not a number; give the number alone (15) and put '<' in the comment",
        ),
        RowError(
            "line 7", "called_at", "is required for a refusal: when was the client called to test?"
        ),
        RowError(
            "line 8",
            "collected_at",
            "'2026-03-03' has no time; give the date and time, e.g. 2026-03-03 18:00",
        ),
    ]


DRUG_HEADER = "client_id,accession_id,collected_at,collection_status,creatinine_mg_dl,analyte,"
DRUG_HEADER += "screen_result"


def test_rows_of_one_accession_must_agree_on_collection_time() -> None:
    data = (
        f"{DRUG_HEADER}\nC-1,A-1,2026-03-02 08:15,,,THC,neg\nC-1,A-1,2026-03-02 08:45,,,COC,neg\n"
    ).encode()
    assert drug_tests(data).errors == [
        RowError(
            "line 3",
            "collected_at",
            "disagrees with line 2 for the same specimen (2026-03-02 08:15 there, "
            "2026-03-02 08:45 here)",
        )
    ]


def test_an_analyte_reported_twice_for_one_specimen_is_an_error() -> None:
    data = (
        f"{DRUG_HEADER}\nC-1,A-1,2026-03-02 08:15,,,THC,neg\nC-1,A-1,2026-03-02 08:15,,,thc,pos\n"
    )
    assert drug_tests(data.encode()).errors == [
        RowError("line 3", "analyte", "thc is already reported for this specimen on line 2")
    ]


def test_a_validity_code_is_not_an_analyte() -> None:
    data = f"{DRUG_HEADER}\nC-1,A-1,2026-03-02 08:15,,,CREAT,neg\n".encode()
    assert drug_tests(data).errors == [
        RowError(
            "line 2",
            "analyte",
            "'CREAT' is a specimen-validity test, not a drug; put its value in the "
            "creatinine_mg_dl column or the notes",
        )
    ]


def test_creatinine_of_twenty_is_not_dilute_and_a_refusal_stays_a_refusal() -> None:
    data = (
        f"{DRUG_HEADER},called_at\n"
        "C-1,A-1,2026-03-02 08:15,collected,20,THC,neg,\n"
        "C-2,,,refused,,,,2026-03-02 07:00\n"
    ).encode()
    collected, refused = drug_tests(data).records
    assert (collected.collection_status, collected.validity_note) == (
        CollectionStatus.collected,
        "",
    )
    assert refused.collection_status is CollectionStatus.refused
    assert refused.called_at == local(2026, 3, 2, 7, 0)
    assert refused.results == ()


def test_a_no_show_has_no_collection_time() -> None:
    data = f"{DRUG_HEADER},called_at\nC-1,,2026-03-02 08:15,No Show,,,,2026-03-02 07:00\n"
    assert drug_tests(data.encode()).errors == [
        RowError(
            "line 2",
            "collected_at",
            "must be blank for a no-show (nothing was collected); put when the client was "
            "called in called_at",
        )
    ]


def test_a_no_show_is_a_single_row() -> None:
    data = f"{DRUG_HEADER},called_at\n" + "C-1,,,no-show,,,,2026-03-02 07:00\n" * 2
    assert drug_tests(data.encode()).errors == [
        RowError(
            "line 3",
            "collection_status",
            "repeats the no-show on line 2; a no-show is a single row",
        )
    ]


def test_collected_at_and_collected_date_together_are_refused() -> None:
    data = b"client_id,collected_at,collected_date,analyte,screen_result\nC-1,,,THC,neg\n"
    with pytest.raises(ParseError) as caught:
        drug_tests(data)
    assert caught.value.reason.startswith(
        "give either collected_at or collected_date and collected_time, not both; "
    )


def test_drug_test_file_without_collection_column() -> None:
    with pytest.raises(ParseError) as caught:
        drug_tests(b"client_id,analyte,screen_result\nC-1,THC,neg\n")
    assert caught.value.reason.startswith(
        "missing required column: collected_at (or collected_date and collected_time); "
    )


def test_generated_file_parses_completely() -> None:
    data = make_drug_test_csv(rows_per_specimen=4, specimens=30)
    result = drug_tests(data)
    assert result.errors == []
    assert len(result.records) == 30
    assert all(len(r.results) == 4 for r in result.records)
    first = result.records[0]
    assert first.collected_at == local(2025, 1, 6, 7, 0)
    assert (first.collection_status, first.creatinine_mg_dl) == (  # dilute, once judged
        CollectionStatus.collected,
        Decimal("14.5"),
    )
    assert [r.screen_result for r in first.results if r.analyte_key == "cocaine"] == [
        AnalyteOutcome.positive
    ]
    assert result.records[-1].collected_at == local(2025, 1, 7, 11, 30)


# --- random damage ------------------------------------------------------------------

VALID_FILES = [fixture("attendance_excel.csv"), fixture("drug_tests.csv")]
PARSERS: list[Callable[[bytes], ParseResult]] = [attendance, drug_tests]  # type: ignore[type-arg]
NASTY_BYTES = [b'"', b",", b"\n", b"\r", b"\x00", b"\xff", b"\xef\xbb\xbf", b"-", b"9", b" "]


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(VALID_FILES)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "duplicate", "truncate"]))
        if not data:
            break
        if kind == "flip":
            at = draw(st.integers(0, len(data) - 1))
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            at = draw(st.integers(0, len(data)))
            data[at:at] = draw(st.sampled_from(NASTY_BYTES))
        elif kind == "truncate":
            del data[draw(st.integers(0, len(data) - 1)) :]
        else:
            lines = bytes(data).split(b"\n")
            at = draw(st.integers(0, len(lines) - 1))
            if kind == "delete":
                del lines[at]
            else:
                lines.insert(at, lines[at])
            data = bytearray(b"\n".join(lines))
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged())
def test_damaged_files_give_row_errors_or_parse_error_and_nothing_else(data: bytes) -> None:
    for parse in PARSERS:
        try:
            result = parse(data)
        except ParseError as exc:
            assert exc.reason
            continue
        for error in result.errors:
            assert re.fullmatch(r"line [1-9]\d*", error.location)
            assert error.field and error.reason
        for record in result.records:
            when = getattr(record, "occurred_at", None) or getattr(record, "collected_at", None)
            assert when is None or (when.tzinfo is not None and when <= NOW)
