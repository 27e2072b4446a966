"""The consent gate (42 CFR §2.31, §2.35): ``decide`` is pure, so every case is a row.

Consents and recipients are plain mappings shaped like database rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from compliance.consent.gate import Decision, decide
from compliance.core.vocabulary import ConsentPurpose as P
from compliance.core.vocabulary import InformationCategory as C
from compliance.core.vocabulary import ReportKind as K

TODAY = date(2026, 11, 23)
SIGNED = date(2026, 3, 1)
SIGNED_TEXT = "1 Mar 2026"
LABEL = f"the consent signed {SIGNED_TEXT}"

COURT_REQUIRED = frozenset({C.attendance, C.drug_tests, C.compliance_status})
EAP_ALL_WORDS = (
    "attendance, compliance status, drug-test results, fitness to return to work, "
    "treatment progress"
)


def make_recipient(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": 7,
        "name": "Judge Ada Moreno",
        "organisation": "County Drug Court",
        "active": True,
    }
    row.update(overrides)
    return row


def make_consent(**overrides: Any) -> dict[str, Any]:
    """A valid court consent naming recipient 7; override any column."""
    row: dict[str, Any] = {
        "id": 1,
        "recipient": 7,
        "recipient_organisation": "",
        "information_categories": [C.attendance, C.drug_tests, C.compliance_status],
        "information_description": "attendance, drug-test results and compliance status",
        "purposes": [P.court_supervision],
        "expires_on": date(2027, 6, 30),
        "expiry_event": "",
        "revoked_at": None,
        "signed_on": SIGNED,
        "signed_by_name": "Sam Client",
        "disclosing_party": "Riverside Outpatient Program",
    }
    row.update(overrides)
    return row


def assert_refused(decision: Decision, missing: tuple[str, ...]) -> None:
    assert decision.allowed is False
    assert decision.consent_id is None
    assert decision.missing == missing
    assert decision.categories == frozenset()
    assert decision.scope == ""


# --- allowed ---------------------------------------------------------------------------

ALLOWED = [
    pytest.param(
        K.court_progress,
        {},
        None,
        COURT_REQUIRED,
        P.court_supervision,
        id="court-required-only",
    ),
    pytest.param(
        K.court_progress,
        {"information_categories": [*COURT_REQUIRED, C.treatment_progress]},
        None,
        COURT_REQUIRED | {C.treatment_progress},
        P.court_supervision,
        id="court-with-treatment-progress",
    ),
    pytest.param(
        K.court_progress,
        {"information_categories": [*COURT_REQUIRED, C.diagnosis, C.discharge_status]},
        None,
        COURT_REQUIRED,
        P.court_supervision,
        id="court-ignores-categories-the-report-does-not-show",
    ),
    pytest.param(
        K.court_progress,
        {"expires_on": TODAY},
        None,
        COURT_REQUIRED,
        P.court_supervision,
        id="court-expires-today-still-allowed",
    ),
    pytest.param(
        K.court_progress,
        {"signed_on": TODAY},
        None,
        COURT_REQUIRED,
        P.court_supervision,
        id="court-signed-today",
    ),
    pytest.param(
        K.court_progress,
        {"expires_on": None, "expiry_event": "final disposition of the case"},
        None,
        COURT_REQUIRED,
        P.court_supervision,
        id="court-expiry-event-only",
    ),
    pytest.param(
        K.court_progress,
        {"recipient": None, "recipient_organisation": "County Drug Court"},
        None,
        COURT_REQUIRED,
        P.court_supervision,
        id="organisation-exact",
    ),
    pytest.param(
        K.court_progress,
        {"recipient": None, "recipient_organisation": "  county DRUG court \t"},
        None,
        COURT_REQUIRED,
        P.court_supervision,
        id="organisation-case-and-spaces-ignored",
    ),
    pytest.param(
        K.court_progress,
        {"purposes": [P.court_supervision, P.court_proceedings]},
        P.court_proceedings,
        COURT_REQUIRED,
        P.court_proceedings,
        id="court-explicit-purpose-listed",
    ),
    pytest.param(
        K.court_progress,
        {"purposes": [P.employment, P.court_supervision]},
        None,
        COURT_REQUIRED,
        P.court_supervision,
        id="court-purpose-picked-from-those-the-report-allows",
    ),
    pytest.param(
        K.eap_status,
        {"information_categories": [C.attendance], "purposes": [P.employment]},
        None,
        frozenset({C.attendance}),
        P.employment,
        id="eap-attendance-only-excludes-drug-tests",
    ),
    pytest.param(
        K.eap_status,
        {
            "information_categories": [C.fitness_to_return, C.drug_tests, C.diagnosis],
            "purposes": [P.dot_return_to_duty],
        },
        None,
        frozenset({C.fitness_to_return, C.drug_tests}),
        P.dot_return_to_duty,
        id="eap-dot-return-to-duty",
    ),
    pytest.param(
        K.eap_status,
        {"information_categories": list(C), "purposes": [P.employment]},
        P.employment,
        frozenset(
            {
                C.attendance,
                C.compliance_status,
                C.fitness_to_return,
                C.drug_tests,
                C.treatment_progress,
            }
        ),
        P.employment,
        id="eap-everything-but-diagnosis-and-discharge",
    ),
    pytest.param(
        K.discharge_letter,
        {
            "information_categories": [C.discharge_status, C.attendance, C.diagnosis],
            "purposes": [P.treatment_coordination],
        },
        None,
        frozenset({C.discharge_status, C.attendance}),
        P.treatment_coordination,
        id="discharge-letter",
    ),
    pytest.param(
        K.discharge_letter,
        {"information_categories": [C.discharge_status], "purposes": [P.other]},
        P.other,
        frozenset({C.discharge_status}),
        P.other,
        id="discharge-letter-any-purpose",
    ),
]


@pytest.mark.parametrize(("kind", "overrides", "purpose", "categories", "chosen"), ALLOWED)
def test_allowed(
    kind: str,
    overrides: dict[str, Any],
    purpose: str | None,
    categories: frozenset[str],
    chosen: str,
) -> None:
    consent = make_consent(id=41, **overrides)

    decision = decide(kind, make_recipient(), [consent], TODAY, purpose)

    assert decision.allowed is True
    assert decision.consent_id == 41
    assert decision.categories == categories
    assert decision.purpose == chosen
    assert decision.missing == ()
    assert "Judge Ada Moreno" in decision.scope
    signed = consent["signed_on"]
    assert f"Consent signed {signed.day} {signed:%b %Y}" in decision.scope


def test_eap_attendance_only_does_not_cover_drug_tests() -> None:
    consent = make_consent(information_categories=[C.attendance], purposes=[P.employment])

    decision = decide(K.eap_status, make_recipient(), [consent], TODAY)

    assert C.attendance in decision.categories
    assert C.drug_tests not in decision.categories
    assert C.compliance_status not in decision.categories


# --- refused ---------------------------------------------------------------------------

NOBODY_NAMED = ("no consent names Judge Ada Moreno (County Drug Court) as a recipient",)

REFUSED = [
    pytest.param(
        K.court_progress,
        make_recipient(),
        [make_consent(information_categories=[C.attendance, C.compliance_status])],
        None,
        (f"{LABEL} does not cover drug-test results",),
        id="court-missing-drug-tests",
    ),
    pytest.param(
        K.court_progress,
        make_recipient(),
        [make_consent(information_categories=[C.drug_tests, C.treatment_progress])],
        None,
        (f"{LABEL} does not cover attendance, compliance status",),
        id="court-missing-two-categories",
    ),
    pytest.param(
        K.court_progress,
        make_recipient(),
        [make_consent(revoked_at=datetime(2026, 9, 14, 15, 30, tzinfo=UTC))],
        None,
        (f"{LABEL} was revoked on 14 Sep 2026",),
        id="revoked",
    ),
    pytest.param(
        K.court_progress,
        make_recipient(),
        [make_consent(expires_on=date(2026, 11, 22))],
        None,
        (f"{LABEL} expired on 22 Nov 2026",),
        id="expired-yesterday",
    ),
    pytest.param(
        K.court_progress,
        make_recipient(),
        [make_consent(signed_on=date(2026, 11, 24))],
        None,
        ("the consent signed 24 Nov 2026 is dated in the future",),
        id="signed-in-the-future",
    ),
    pytest.param(
        K.court_progress,
        make_recipient(),
        [make_consent(recipient=8)],
        None,
        NOBODY_NAMED,
        id="consent-names-another-recipient",
    ),
    pytest.param(
        K.court_progress,
        make_recipient(),
        [make_consent(recipient=8, recipient_organisation="County Drug Court")],
        None,
        NOBODY_NAMED,
        id="named-recipient-wins-over-matching-organisation",
    ),
    pytest.param(
        K.court_progress,
        make_recipient(),
        [make_consent(recipient=None, recipient_organisation="City Municipal Court")],
        None,
        NOBODY_NAMED,
        id="consent-names-another-organisation",
    ),
    pytest.param(
        K.court_progress,
        make_recipient(organisation=""),
        [make_consent(recipient=None, recipient_organisation="")],
        None,
        ("no consent names Judge Ada Moreno as a recipient",),
        id="empty-organisation-both-sides",
    ),
    pytest.param(
        K.court_progress,
        make_recipient(organisation=""),
        [make_consent(recipient=None, recipient_organisation="   ")],
        None,
        ("no consent names Judge Ada Moreno as a recipient",),
        id="blank-organisation-both-sides",
    ),
    pytest.param(
        K.court_progress,
        make_recipient(),
        [make_consent(recipient=None, recipient_organisation="")],
        None,
        NOBODY_NAMED,
        id="consent-without-recipient-or-organisation",
    ),
    pytest.param(
        K.court_progress,
        make_recipient(),
        [],
        None,
        NOBODY_NAMED,
        id="no-consents",
    ),
    pytest.param(
        K.court_progress,
        make_recipient(active=False),
        [make_consent()],
        None,
        ("Judge Ada Moreno is no longer an active recipient",),
        id="inactive-recipient",
    ),
    pytest.param(
        K.court_progress,
        make_recipient(),
        [make_consent(purposes=[P.employment, P.treatment_coordination])],
        None,
        (f"{LABEL} does not list the purpose court proceedings or court supervision",),
        id="purpose-not-listed",
    ),
    pytest.param(
        K.court_progress,
        make_recipient(),
        [make_consent(purposes=[P.court_supervision])],
        P.court_proceedings,
        (f"{LABEL} does not list the purpose court proceedings",),
        id="explicit-purpose-not-listed-by-consent",
    ),
    pytest.param(
        K.court_progress,
        make_recipient(),
        [make_consent(purposes=[P.court_supervision, P.employment])],
        P.employment,
        ("a court progress report is not made for employment",),
        id="explicit-purpose-not-allowed-for-kind",
    ),
    pytest.param(
        K.eap_status,
        make_recipient(),
        [
            make_consent(
                information_categories=[C.diagnosis, C.discharge_status],
                purposes=[P.employment],
            )
        ],
        None,
        (f"{LABEL} covers nothing this report shows ({EAP_ALL_WORDS})",),
        id="eap-consent-covers-no-eap-category",
    ),
    pytest.param(
        K.eap_status,
        make_recipient(),
        [make_consent()],
        None,
        (
            f"{LABEL} does not list the purpose DOT return-to-duty and follow-up testing "
            "or employment",
        ),
        id="eap-court-consent-purpose-not-listed",
    ),
    pytest.param(
        K.discharge_letter,
        make_recipient(),
        [make_consent(information_categories=[*COURT_REQUIRED, C.treatment_progress])],
        None,
        (f"{LABEL} does not cover discharge status",),
        id="discharge-letter-needs-discharge-status",
    ),
    pytest.param(
        K.court_progress,
        None,
        [make_consent()],
        None,
        ("no recipient was named",),
        id="recipient-none",
    ),
    pytest.param(
        "annual_summary",
        make_recipient(),
        [make_consent()],
        None,
        ("unknown report kind 'annual_summary'",),
        id="unknown-kind",
    ),
    pytest.param(
        "annual_summary",
        None,
        [make_consent()],
        None,
        ("unknown report kind 'annual_summary'",),
        id="unknown-kind-and-no-recipient",
    ),
    pytest.param(
        K.court_progress,
        make_recipient(),
        [
            make_consent(id=1, revoked_at=datetime(2026, 5, 2, 9, 0, tzinfo=UTC)),
            make_consent(id=2, signed_on=date(2025, 1, 10), expires_on=date(2026, 1, 10)),
            make_consent(id=3, recipient=8),
            make_consent(id=4, signed_on=date(2026, 6, 1), information_categories=[]),
        ],
        None,
        (
            f"{LABEL} was revoked on 2 May 2026",
            "the consent signed 10 Jan 2025 expired on 10 Jan 2026",
            "the consent signed 1 Jun 2026 does not cover attendance, compliance status, "
            "drug-test results",
        ),
        id="every-named-consent-explains-itself",
    ),
]


@pytest.mark.parametrize(("kind", "recipient", "consents", "purpose", "missing"), REFUSED)
def test_refused(
    kind: str,
    recipient: dict[str, Any] | None,
    consents: list[dict[str, Any]],
    purpose: str | None,
    missing: tuple[str, ...],
) -> None:
    decision = decide(kind, recipient, consents, TODAY, purpose)

    assert_refused(decision, missing)


def test_eap_report_is_not_made_for_a_court_purpose() -> None:
    consent = make_consent(purposes=[P.employment, P.court_supervision])

    decision = decide(K.eap_status, make_recipient(), [consent], TODAY, P.court_supervision)

    assert decision.allowed is False
    assert decision.consent_id is None
    assert len(decision.missing) == 1
    assert "eap status report is not made for court" in decision.missing[0]


# --- choosing among several valid consents ---------------------------------------------

WITH_PROGRESS = [*COURT_REQUIRED, C.treatment_progress]

CHOICE = [
    pytest.param(
        [
            make_consent(id=1, signed_on=date(2026, 9, 1)),
            make_consent(id=2, signed_on=date(2026, 2, 1), information_categories=WITH_PROGRESS),
        ],
        2,
        id="more-categories-wins-over-newer",
    ),
    pytest.param(
        [
            make_consent(id=1, signed_on=date(2026, 2, 1)),
            make_consent(id=2, signed_on=date(2026, 5, 1)),
        ],
        2,
        id="tie-latest-signed-wins",
    ),
    pytest.param(
        [
            make_consent(id=2, signed_on=date(2026, 5, 1)),
            make_consent(id=1, signed_on=date(2026, 2, 1)),
        ],
        2,
        id="tie-latest-signed-wins-whatever-the-order",
    ),
    pytest.param(
        [
            make_consent(
                id=1,
                signed_on=date(2026, 2, 1),
                information_categories=[*COURT_REQUIRED, C.diagnosis, C.discharge_status],
            ),
            make_consent(id=2, signed_on=date(2026, 5, 1)),
        ],
        2,
        id="categories-the-report-does-not-show-do-not-count",
    ),
    pytest.param(
        [
            make_consent(
                id=1,
                signed_on=date(2026, 8, 1),
                information_categories=WITH_PROGRESS,
                revoked_at=datetime(2026, 10, 1, tzinfo=UTC),
            ),
            make_consent(id=2, signed_on=date(2026, 2, 1)),
        ],
        2,
        id="valid-beats-revoked-with-more",
    ),
    pytest.param(
        [
            make_consent(id=1, recipient=8, information_categories=WITH_PROGRESS),
            make_consent(id=2),
        ],
        2,
        id="consent-for-another-recipient-ignored",
    ),
    pytest.param(
        [
            make_consent(id=1, expires_on=date(2026, 11, 1), information_categories=WITH_PROGRESS),
            make_consent(
                id=2,
                recipient=None,
                recipient_organisation="county drug court",
                signed_on=date(2026, 1, 5),
            ),
        ],
        2,
        id="organisation-consent-beats-expired-named-one",
    ),
]


@pytest.mark.parametrize(("consents", "winner"), CHOICE)
def test_best_consent_wins(consents: list[dict[str, Any]], winner: int) -> None:
    decision = decide(K.court_progress, make_recipient(), consents, TODAY)

    assert decision.allowed is True
    assert decision.consent_id == winner
    chosen = next(c for c in consents if c["id"] == winner)
    assert f"Consent signed {chosen['signed_on'].day} {chosen['signed_on']:%b %Y}" in decision.scope


# --- scope -----------------------------------------------------------------------------


def test_scope_states_the_consent() -> None:
    consent = make_consent(
        information_categories=[*COURT_REQUIRED, C.treatment_progress],
        purposes=[P.court_supervision, P.court_proceedings],
    )

    decision = decide(K.court_progress, make_recipient(), [consent], TODAY)

    assert decision.scope == (
        "Consent signed 1 Mar 2026 by Sam Client authorizes Riverside Outpatient Program "
        "to disclose attendance, compliance status, drug-test results, treatment progress "
        "to Judge Ada Moreno for court supervision, court proceedings, until 30 Jun 2027. "
        "Described as: attendance, drug-test results and compliance status"
    )


def test_scope_names_the_recipient_when_the_consent_names_the_organisation() -> None:
    consent = make_consent(
        recipient=None,
        recipient_organisation="County Drug Court",
        expires_on=None,
        expiry_event="final disposition of the case",
    )

    decision = decide(K.court_progress, make_recipient(), [consent], TODAY)

    assert decision.allowed is True
    assert "to Judge Ada Moreno for court supervision" in decision.scope
    assert f"Consent signed {SIGNED_TEXT}" in decision.scope
    assert "until final disposition of the case." in decision.scope
