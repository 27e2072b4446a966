"""Participants, their mandates and phases, the people reports go to, and §2.31 consents."""

from decimal import Decimal

from piccolo.columns import (
    Array,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from compliance.core.vocabulary import (
    DischargeReason,
    LevelOfCare,
    RecipientKind,
    ReferralSource,
    SessionType,
)
from compliance.tables.programs import Program, StaffUser


class Participant(Table):
    program = ForeignKey(references=Program, on_delete=OnDelete.restrict, index=True, null=False)
    client_id = Varchar(length=64)  # the program's own id; HL7 PID-3 matches on it
    first_name = Varchar(length=100)
    last_name = Varchar(length=100)
    date_of_birth = Date(null=True, default=None)
    level_of_care = Varchar(
        length=20, choices=LevelOfCare, default=LevelOfCare.intensive_outpatient.value
    )
    diagnosis = Text(default="")
    primary_clinician = ForeignKey(
        references=StaffUser, on_delete=OnDelete.set_null, null=True, default=None
    )
    admitted_on = Date()
    discharged_on = Date(null=True, default=None)
    discharge_reason = Varchar(length=30, choices=DischargeReason, null=True, default=None)
    discharge_note = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Mandate(Table):
    """A referral that obliges the client to attend: court, probation, EAP or DOT SAP."""

    participant = ForeignKey(
        references=Participant, on_delete=OnDelete.restrict, index=True, null=False
    )
    source = Varchar(length=20, choices=ReferralSource)
    case_number = Varchar(length=80, default="")
    court_name = Varchar(length=200, default="")
    referring_agency = Varchar(length=200, default="")
    contact_name = Varchar(length=200, default="")
    contact_email = Varchar(length=254, default="")
    contact_phone = Varchar(length=40, default="")
    starts_on = Date()
    ends_on = Date(null=True, default=None)
    notes = Text(default="")
    created_by = ForeignKey(references=StaffUser, on_delete=OnDelete.set_null, null=True)
    created_at = Timestamptz(default=TimestamptzNow())


class MandatePhase(Table, tablename="mandate_phase"):
    """A phase's weekly requirements. The phase applies from ``started_on`` (set when
    the client steps into it) until the next phase starts."""

    mandate = ForeignKey(references=Mandate, on_delete=OnDelete.cascade, index=True, null=False)
    sequence = Integer()  # 1, 2, 3 ...
    name = Varchar(length=100)
    required_hours_per_week = Numeric(digits=(5, 2), default=Decimal("9"))
    required_tests_per_week = Integer(default=2)
    started_on = Date(null=True, default=None)
    ended_on = Date(null=True, default=None)


class PhaseSessionRequirement(Table, tablename="phase_session_requirement"):
    phase = ForeignKey(references=MandatePhase, on_delete=OnDelete.cascade, index=True, null=False)
    session_type = Varchar(length=20, choices=SessionType)
    sessions_per_week = Integer()


class Recipient(Table):
    """Someone outside the program who may receive disclosures."""

    program = ForeignKey(references=Program, on_delete=OnDelete.restrict, index=True, null=False)
    kind = Varchar(length=30, choices=RecipientKind)
    name = Varchar(length=200)
    title = Varchar(length=120, default="")
    organisation = Varchar(length=200, default="")
    email = Varchar(length=254, default="")
    phone = Varchar(length=40, default="")
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())


class Consent(Table):
    """A 42 CFR §2.31 written consent; every required element is a column.

    ``revocable_after`` / ``irrevocable_until_event`` carry §2.35: criminal-justice
    consents cannot be revoked before a stated date or event.
    """

    participant = ForeignKey(
        references=Participant, on_delete=OnDelete.restrict, index=True, null=False
    )
    mandate = ForeignKey(references=Mandate, on_delete=OnDelete.restrict, null=True)
    recipient = ForeignKey(references=Recipient, on_delete=OnDelete.restrict, null=True, index=True)
    recipient_organisation = Varchar(length=200, default="")
    disclosing_party = Varchar(length=200)  # who may disclose
    information_categories = Array(base_column=Varchar(length=40))
    information_description = Text()  # the specific description the client signed
    purposes = Array(base_column=Varchar(length=40))  # ConsentPurpose values, each one
    purpose_description = Text(default="")
    is_criminal_justice = Boolean(default=False)  # §2.35
    for_court_proceedings = Boolean(default=False)  # may not be combined with another consent
    expires_on = Date(null=True, default=None)
    expiry_event = Text(default="")
    revocable_after = Date(null=True, default=None)
    irrevocable_until_event = Text(default="")
    revocation_instructions = Text()  # the right to revoke and how
    signed_by_name = Varchar(length=200)
    signer_relationship = Varchar(length=60, default="self")
    signed_on = Date()
    document_filename = Varchar(length=255, default="")
    document_media_type = Varchar(length=100, default="")
    document_sha256 = Varchar(length=64, default="")
    document_path = Varchar(length=500, default="")
    revoked_at = Timestamptz(null=True, default=None)
    revoked_by = ForeignKey(references=StaffUser, on_delete=OnDelete.set_null, null=True)
    revocation_note = Text(default="")
    created_by = ForeignKey(references=StaffUser, on_delete=OnDelete.set_null, null=True)
    created_at = Timestamptz(default=TimestamptzNow())
