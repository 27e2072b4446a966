"""The controlled terms of the domain (shared/DOMAIN.md), as enums.

Tables store the enum values as strings; keeping every allowed value here means the
database, the API schema and the forms all agree on one list.
"""

from enum import StrEnum


class Role(StrEnum):
    admin = "admin"
    clinician = "clinician"


class LevelOfCare(StrEnum):
    outpatient = "1"  # ASAM 1
    intensive_outpatient = "2.1"
    partial_hospitalization = "2.5"
    aftercare = "aftercare"


class DischargeReason(StrEnum):
    completed = "completed"
    administrative = "administrative"
    against_advice = "against_advice"
    transferred = "transferred"
    incarcerated = "incarcerated"
    moved = "moved"
    deceased = "deceased"
    other = "other"


class ReferralSource(StrEnum):
    court = "court"
    probation = "probation"
    eap = "eap"
    dot_sap = "dot_sap"
    other = "other"


class RecipientKind(StrEnum):
    probation_officer = "probation_officer"
    court = "court"
    eap_case_manager = "eap_case_manager"
    sap = "sap"
    employer_contact = "employer_contact"
    other = "other"


class InformationCategory(StrEnum):
    """What a §2.31 consent may allow to be disclosed."""

    attendance = "attendance"
    drug_tests = "drug_tests"
    compliance_status = "compliance_status"
    treatment_progress = "treatment_progress"
    diagnosis = "diagnosis"
    discharge_status = "discharge_status"
    fitness_to_return = "fitness_to_return"


class ConsentPurpose(StrEnum):
    court_supervision = "court_supervision"
    court_proceedings = "court_proceedings"
    employment = "employment"
    dot_return_to_duty = "dot_return_to_duty"
    treatment_coordination = "treatment_coordination"
    other = "other"


class SessionType(StrEnum):
    group = "group"
    individual = "individual"
    family = "family"
    education = "education"
    twelve_step = "twelve_step"  # outside meeting, needs proof


class AttendanceStatus(StrEnum):
    present = "present"
    late = "late"
    left_early = "left_early"
    absent_excused = "absent_excused"
    absent_unexcused = "absent_unexcused"


class SpecimenType(StrEnum):
    urine = "urine"
    oral_fluid = "oral_fluid"
    hair = "hair"
    breath = "breath"
    blood = "blood"
    sweat_patch = "sweat_patch"


class TestReason(StrEnum):
    random = "random"
    scheduled = "scheduled"
    for_cause = "for_cause"
    follow_up = "follow_up"
    return_to_duty = "return_to_duty"


class CallReason(StrEnum):
    """Why a participant was called to test on a day (random_testing)."""

    group = "group"  # their testing group was drawn
    follow_up_plan = "follow_up_plan"  # their SAP follow-up plan's count (49 CFR 40.307)
    for_cause = "for_cause"  # called by staff, with a reason


class CollectionStatus(StrEnum):
    collected = "collected"
    no_show = "no_show"
    refused = "refused"
    dilute = "dilute"
    adulterated = "adulterated"
    substituted = "substituted"
    unable_to_provide = "unable_to_provide"


class AnalyteOutcome(StrEnum):
    negative = "negative"
    positive = "positive"
    invalid = "invalid"
    not_tested = "not_tested"


class RecordSource(StrEnum):
    manual = "manual"
    csv = "csv"
    hl7 = "hl7"
    demo = "demo"
    system = "system"  # the service's own: a called test's window closed with no specimen


class ImportKind(StrEnum):
    attendance_csv = "attendance_csv"
    drug_test_csv = "drug_test_csv"
    hl7_oru = "hl7_oru"


class ImportStatus(StrEnum):
    previewed = "previewed"
    committed = "committed"
    rejected = "rejected"


class ReportKind(StrEnum):
    court_progress = "court_progress"
    eap_status = "eap_status"
    sap_followup = "sap_followup"  # DOT follow-up testing, for a Substance Abuse Professional
    discharge_letter = "discharge_letter"
    # The client's own accounting of disclosures (42 CFR 2.24): signed like a report but
    # made on request for the client, never through the consent gate.
    disclosure_accounting = "disclosure_accounting"


# What each kind is called wherever a person reads it: PDFs, pages, e-mails, /verify.
REPORT_TITLES = {
    ReportKind.court_progress: "Court progress report",
    ReportKind.eap_status: "EAP status report",
    ReportKind.sap_followup: "DOT follow-up testing report",
    ReportKind.discharge_letter: "Discharge / completion letter",
    ReportKind.disclosure_accounting: "Accounting of disclosures",
}


# A week's status (compliance/engine/rules.py) as people read it: pages, links and reports.
WEEK_STATUS_WORDS = {
    "compliant": "Compliant",
    "non_compliant": "Not compliant",
    "in_progress": "In progress",
    "partial": "Partial week",
    "not_yet_due": "Not yet due",
    "no_requirement": "No requirement",
}


class ReportStatus(StrEnum):
    current = "current"
    superseded = "superseded"
    revoked = "revoked"


class LinkScope(StrEnum):
    participant = "participant"
    report = "report"


class DisclosureKind(StrEnum):
    report_sent = "report_sent"
    link_created = "link_created"
    link_opened = "link_opened"
    report_downloaded = "report_downloaded"
    notice_sent = "notice_sent"


class ViolationKind(StrEnum):
    missed_test = "missed_test"
    refused_test = "refused_test"
    confirmed_positive = "confirmed_positive"
    adulterated_specimen = "adulterated_specimen"
    substituted_specimen = "substituted_specimen"
    dilute_specimen = "dilute_specimen"
    unexcused_absence = "unexcused_absence"
    # A screen positive not yet confirmed, when the program's policy counts it before
    # confirmation (Program.presumptive_counts_before_confirmation).
    presumptive_positive = "presumptive_positive"
    # Not checking in on a testing day, when the program's policy counts it
    # (Program.missed_check_in_counts).
    missed_check_in = "missed_check_in"


class OutboxStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"


class FollowUpSubstances(StrEnum):
    """What a DOT follow-up test covers: the SAP may direct drugs, alcohol or both
    (49 CFR 40.307(c))."""

    drugs = "drugs"
    alcohol = "alcohol"
    both = "both"


class VersionKind(StrEnum):
    """What a new version of a drug test is: the lab's confirmation and the MRO's review
    are facts added to the test, not corrections of a mistake, and are said as such."""

    original = "original"
    correction = "correction"  # a mistake fixed, or a lab's corrected report: needs a reason
    confirmation = "confirmation"  # GC-MS / LC-MS-MS result of a screen
    mro_review = "mro_review"  # a Medical Review Officer's verdict


class Weekday(StrEnum):
    """A group's meeting days, in the order of Python's ``date.weekday()`` (Monday 0)."""

    mon = "mon"
    tue = "tue"
    wed = "wed"
    thu = "thu"
    fri = "fri"
    sat = "sat"
    sun = "sun"

    @property
    def number(self) -> int:
        return list(Weekday).index(self)
