"""The one specimen-validity rule (compliance.engine.specimen_validity): federal order of the
verdicts, the program's dilute thresholds, a lab's own verdict kept unless the figures
show worse. Staff's entry, the CSV and the HL7 imports all call it (tested through them
in test_intake_writes.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from compliance.core.vocabulary import CollectionStatus as S
from compliance.engine.specimen_validity import Measures, Thresholds, judge

D = Decimal


@pytest.mark.parametrize(
    ("stated", "measures", "thresholds", "expected"),
    [
        (S.collected, Measures(), Thresholds(), (S.collected, "")),
        (
            S.collected,
            Measures(D("19.99")),
            Thresholds(),
            (S.dilute, "Dilute: creatinine 19.99 mg/dL < 20"),
        ),
        (S.collected, Measures(D(20)), Thresholds(), (S.collected, "")),
        # The program's threshold, not a constant.
        (S.collected, Measures(D(18)), Thresholds(D(15)), (S.collected, "")),
        (
            S.collected,
            Measures(D(14)),
            Thresholds(D("15.5")),
            (S.dilute, "Dilute: creatinine 14 mg/dL < 15.5"),
        ),
        # A specific gravity at or above the program's says not dilute.
        (
            S.collected,
            Measures(D(15), D("1.0030")),
            Thresholds(),
            (S.collected, "Not dilute: creatinine 15 mg/dL < 20 but specific gravity 1.0030"),
        ),
        (
            S.collected,
            Measures(D(15), D("1.0030")),
            Thresholds(specific_gravity=D("1.0100")),
            (S.dilute, "Dilute: creatinine 15 mg/dL < 20, specific gravity 1.0030"),
        ),
        # Substituted before adulterated before dilute; every finding is noted.
        (
            S.collected,
            Measures(D("1.5"), D("1.0005"), D(3)),
            Thresholds(),
            (
                S.substituted,
                "Substituted: creatinine 1.5 mg/dL < 2 and specific gravity 1.0005 < 1.0010; "
                "Adulterated: pH 3 < 4",
            ),
        ),
        (
            S.collected,
            Measures(D(12), ph=D(11), nitrite="positive"),
            Thresholds(),
            (S.adulterated, "Adulterated: pH 11 >= 11, nitrite positive"),
        ),
        # The lab's own verdict stays; figures showing worse win.
        (S.dilute, Measures(D(96)), Thresholds(), (S.dilute, "")),
        (
            S.dilute,
            Measures(D(96), oxidants="positive"),
            Thresholds(),
            (S.adulterated, "Adulterated: oxidants positive"),
        ),
        # No specimen, nothing to judge.
        (S.no_show, Measures(D(5)), Thresholds(), (S.no_show, "")),
    ],
)
def test_judge(stated: S, measures: Measures, thresholds: Thresholds, expected: tuple) -> None:
    assert judge(stated, measures, thresholds) == expected


def test_thresholds_come_from_the_programs_row_with_domain_defaults() -> None:
    assert Thresholds.of({}) == Thresholds(D(20), D("1.0030"))
    row = {"dilute_creatinine_mg_dl": D("15.00"), "dilute_specific_gravity": D("1.0100")}
    assert Thresholds.of(row) == Thresholds(D(15), D("1.01"))
