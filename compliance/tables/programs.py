"""Programs, their staff, their policy and their analyte catalogue."""

from decimal import Decimal

from piccolo.columns import (
    Boolean,
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

from compliance.core.vocabulary import Role


class Program(Table):
    """An IOP. Policy numbers live here so each program can set its own (DOMAIN.md defaults)."""

    code = Varchar(length=32, unique=True)
    name = Varchar(length=200)
    time_zone = Varchar(length=64, default="America/New_York")
    address = Text(default="")
    phone = Varchar(length=40, default="")
    contact_email = Varchar(length=254, default="")
    # Policy (issue 4 reads these; defaults from shared/DOMAIN.md).
    week_starts_on = Integer(default=0)  # 0 = Monday ... 6 = Sunday
    dilute_counts_as_positive = Boolean(default=False)
    # Off: a screen positive awaiting confirmation is pending, and counts for nothing yet.
    presumptive_counts_before_confirmation = Boolean(default=False)
    excused_absence_counts_toward_hours = Boolean(default=False)
    dilute_creatinine_mg_dl = Numeric(digits=(6, 2), default=Decimal("20"))
    # With creatinine under the threshold, a measured specific gravity at or above this
    # says the specimen is not dilute (federal criteria: 1.0030).
    dilute_specific_gravity = Numeric(digits=(6, 4), default=Decimal("1.0030"))
    results_due_hours = Integer(default=48)
    collection_window_hours = Integer(default=8)  # urine within 8 h of notice
    # Random testing: the call-in opens at this time on the program's clock (a day's
    # draw is made before it), and where a called participant gives their specimen.
    testing_opens_at = Varchar(length=5, default="06:00")
    testing_site = Text(default="")
    # Off: a missed check-in is recorded and shown to staff; on: it counts against its
    # week as a violation (random_testing/check_ins.py).
    missed_check_in_counts = Boolean(default=False)
    stepdown_compliant_weeks = Integer(default=4)
    stepdown_consecutive_negative_tests = Integer(default=6)
    notice_window_hours = Integer(default=24)
    created_at = Timestamptz(default=TimestamptzNow())


class StaffUser(Table, tablename="staff_user"):
    email = Varchar(length=254, unique=True)
    full_name = Varchar(length=200)
    credentials = Varchar(length=120, default="")  # e.g. "LCSW, LCADC" for signature blocks
    role = Varchar(length=20, choices=Role, default=Role.clinician.value)
    password_hash = Varchar(length=255, secret=True)
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())
    last_login_at = Timestamptz(null=True, default=None)


class ProgramMembership(Table, tablename="program_membership"):
    user = ForeignKey(references=StaffUser, on_delete=OnDelete.cascade, index=True, null=False)
    program = ForeignKey(references=Program, on_delete=OnDelete.cascade, index=True, null=False)
    created_at = Timestamptz(default=TimestamptzNow())


class Analyte(Table):
    """One drug or metabolite a program tests for, with its cutoffs in ng/mL; or an
    immunoassay class ("opiates"): one screen for the class, confirmed per member drug.

    Never deleted: a retired analyte (``active`` false) leaves new entry and the presets
    but stays on the records and reports that name it."""

    program = ForeignKey(references=Program, on_delete=OnDelete.restrict, index=True, null=False)
    key = Varchar(length=40)  # stable short name, e.g. "thc", "cocaine", "etg"
    name = Varchar(length=120)
    screen_cutoff_ng_ml = Numeric(digits=(10, 3), null=True, default=None)
    confirmation_cutoff_ng_ml = Numeric(digits=(10, 3), null=True, default=None)
    active = Boolean(default=True)
    in_default_panel = Boolean(default=True)  # screened by default: the form's preset
    kind = Varchar(length=10, default="drug")  # "drug", or "class" (analytes.KINDS)
    drug_class = Varchar(length=80, default="")  # e.g. "Opioids", "Sedatives"
    # The immunoassay class whose screen this drug's confirmation answers (a class's
    # members point at it); none for a drug screened on its own.
    member_of = ForeignKey(references="self", on_delete=OnDelete.restrict, null=True)


class AnalyteCode(Table, tablename="analyte_code"):
    """Maps a lab's code (LOINC or the lab's local code) to an analyte."""

    program = ForeignKey(references=Program, on_delete=OnDelete.restrict, index=True, null=False)
    analyte = ForeignKey(references=Analyte, on_delete=OnDelete.cascade, index=True, null=False)
    coding_system = Varchar(length=40)  # "LN" for LOINC, or the lab's name for local codes
    code = Varchar(length=40)
