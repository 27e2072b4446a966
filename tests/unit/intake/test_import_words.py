"""What an import preview says of a file and of each row: the kind read from the file
itself, and results and attendance in a clinician's words."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from compliance.core.vocabulary import ImportKind
from compliance.intake import import_words as words
from compliance.intake.imports import detect_kind
from compliance.intake.records import ParseError

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures"
CHICAGO = ZoneInfo("America/Chicago")


@pytest.mark.parametrize(
    ("fixture", "kind"),
    [
        ("hl7/oru_r01_251_single.hl7", ImportKind.hl7_oru),
        ("hl7/oru_r01_23_batch_mllp.hl7", ImportKind.hl7_oru),  # framing, FHS/BHS first
        ("hl7/adt_a01.hl7", ImportKind.hl7_oru),  # HL7, refused later for its message type
        ("csv/drug_tests.csv", ImportKind.drug_test_csv),
        ("csv/drug_test_errors.csv", ImportKind.drug_test_csv),
        ("csv/attendance_excel.csv", ImportKind.attendance_csv),  # "Client ID", BOM, CRLF
        ("csv/attendance_unknown_column.csv", ImportKind.attendance_csv),
        ("csv/attendance_missing_column.csv", ImportKind.attendance_csv),
    ],
)
def test_the_kind_is_read_from_the_file(fixture: str, kind: ImportKind) -> None:
    assert detect_kind((FIXTURES / fixture).read_bytes()) is kind


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "the file is empty"),
        ((FIXTURES / "csv" / "spreadsheet.xlsx").read_bytes(), "binary data"),
        (b"name,phone\nDana,555-0100\n", "names none of the columns we know"),
        (b"Hello,\nthis is a letter.\n", "names none of the columns we know"),
    ],
)
def test_a_file_of_no_kind_says_what_was_expected(content: bytes, why: str) -> None:
    with pytest.raises(ParseError) as refused:
        detect_kind(content)
    assert why in refused.value.reason
    for expected in ("attendance CSV", "drug-test CSV", "HL7 results file", "MSH segment"):
        assert expected in refused.value.reason


def test_a_semicolon_csv_is_still_recognized_so_its_parser_can_say_why() -> None:
    content = b"client_id;date;start_time;session_type;scheduled_minutes;status\n"
    assert detect_kind(content) is ImportKind.attendance_csv


def result(name: str, screen: str, **more: object) -> dict[str, object]:
    return {"analyte_name": name, "screen_result": screen, **more}


def test_findings_come_first_and_negatives_are_counted() -> None:
    test = {"collection_status": "collected", "specimen_type": "urine", "observed": True}
    said = words.drug_test_words(
        test,
        [
            result("Cocaine", "negative"),
            result("Oxycodone", "positive"),
            result(
                "THC",
                "positive",
                confirmation_result="positive",
                confirmation_method="Gas chromatography-mass spectrometry",
                level_ng_ml=Decimal("42.000"),
            ),
        ],
    )
    assert said == (
        "Urine, observed: THC positive, confirmed GC-MS 42 ng/mL; "
        "Oxycodone presumptive positive (screen only, not confirmed); others negative"
    )


def test_mro_review_and_a_negative_confirmation_are_said_as_such() -> None:
    test = {"collection_status": "collected", "specimen_type": "oral_fluid"}
    said = words.drug_test_words(
        test,
        [
            result(
                "Oxycodone",
                "positive",
                confirmation_result="positive",
                confirmation_method="LC-MS/MS",
                mro_result="negative",
                mro_comment="Valid prescription",
            ),
            result("Cocaine", "positive", confirmation_result="negative", confirmation_method=""),
        ],
    )
    assert said == (
        "Oral fluid: Oxycodone positive, confirmed LC-MS/MS, MRO verified negative "
        "(Valid prescription); Cocaine screen positive, confirmation negative"
    )


def test_specimen_problems_and_missed_tests() -> None:
    dilute = {"collection_status": "dilute", "creatinine_mg_dl": Decimal("12.40")}
    assert words.drug_test_words(dilute, [result("THC", "negative")] * 3) == (
        "Urine: dilute (creatinine 12.4 mg/dL); all 3 negative"
    )
    assert words.drug_test_words({"collection_status": "substituted"}, []) == (
        "Urine: substituted specimen, counts as positive"
    )
    missed = {"collection_status": "no_show", "called_at": datetime(2026, 3, 5, 6, tzinfo=UTC)}
    assert words.drug_test_words(missed, []) == "Missed test (no-show), counts as positive"
    # Called on a day (no time): the program's day, not 00:00 UTC.
    assert words.drug_test_when(missed, CHICAGO) == "called Thu 5 Mar 2026"
    called = {"called_at": datetime(2026, 3, 5, 14, 30, tzinfo=UTC), "collected_at": None}
    assert words.drug_test_when(called, CHICAGO) == "called Thu 5 Mar 2026 08:30 CST"


def test_attendance_says_the_session_and_how_the_client_attended() -> None:
    row = {"session_type": "group", "scheduled_minutes": 180, "minutes_attended": 150}
    assert words.attendance_words({**row, "status": "late"}, "Relapse prevention") == (
        "Group \u201cRelapse prevention\u201d, 180 min: late, 150 of 180 min"
    )
    assert words.attendance_words({**row, "status": "absent_unexcused"}) == (
        "Group, 180 min: absent (unexcused)"
    )
    meeting = {
        "session_type": "twelve_step",
        "scheduled_minutes": 60,
        "status": "present",
        "meeting_name": "Tuesday Night Hope, AA",
    }
    assert words.attendance_words(meeting) == (
        "12-step meeting \u201cTuesday Night Hope, AA\u201d, 60 min: present"
    )
