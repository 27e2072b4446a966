"""Drug tests, one row per analyte result, and the import batches that brought them in.

A drug test is versioned like attendance: a correction (a lab's corrected result, an
MRO review, a typo fixed) is a new ``DrugTest`` row with its own analyte rows."""

from piccolo.columns import (
    JSON,
    UUID,
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

from compliance.core.vocabulary import (
    AnalyteOutcome,
    CollectionStatus,
    ImportKind,
    ImportStatus,
    RecordSource,
    SpecimenType,
    TestReason,
    VersionKind,
)
from compliance.tables.people import Participant
from compliance.tables.programs import Analyte, Program, StaffUser


class ImportBatch(Table, tablename="import_batch"):
    program = ForeignKey(references=Program, on_delete=OnDelete.restrict, index=True, null=False)
    kind = Varchar(length=20, choices=ImportKind)
    filename = Varchar(length=255, default="")
    sha256 = Varchar(length=64, index=True)
    size_bytes = Integer(default=0)
    status = Varchar(length=20, choices=ImportStatus)
    created_count = Integer(default=0)
    updated_count = Integer(default=0)
    duplicate_count = Integer(default=0)
    rejected_count = Integer(default=0)
    errors = JSON(default="[]")
    # Rows whose name or date of birth differs from the client's record, confirmed by a
    # clinician with a reason (compliance.intake.imports.confirm_identity).
    identity_confirmations = JSON(default="[]")
    uploaded_by = ForeignKey(references=StaffUser, on_delete=OnDelete.restrict, null=True)
    uploaded_at = Timestamptz(default=TimestamptzNow())


class DrugTest(Table, tablename="drug_test"):
    record_uid = UUID(index=True)
    version = Integer(default=1)
    corrects = ForeignKey(references="self", on_delete=OnDelete.restrict, null=True)
    is_current = Boolean(default=True, index=True)
    participant = ForeignKey(
        references=Participant, on_delete=OnDelete.restrict, index=True, null=False
    )
    called_at = Timestamptz(null=True, default=None)  # when the client was told to test
    collected_at = Timestamptz(null=True, default=None, index=True)  # null for a no-show
    specimen_type = Varchar(length=20, choices=SpecimenType, default=SpecimenType.urine.value)
    observed = Boolean(default=False)
    reason = Varchar(length=20, choices=TestReason, default=TestReason.random.value)
    collection_status = Varchar(length=20, choices=CollectionStatus)
    lab_name = Varchar(length=200, default="")
    accession_id = Varchar(length=80, default="", index=True)
    chain_of_custody_id = Varchar(length=80, default="")
    result_reported_at = Timestamptz(null=True, default=None)
    creatinine_mg_dl = Numeric(digits=(8, 2), null=True, default=None)
    specific_gravity = Numeric(digits=(6, 4), null=True, default=None)
    ph = Numeric(digits=(4, 2), null=True, default=None)
    oxidants = Varchar(length=20, default="")  # "", "negative" or "positive"
    nitrite = Varchar(length=20, default="")  # likewise: kept so a correction can judge again
    validity_note = Text(default="")  # nitrites, lab's validity comments
    notes = Text(default="")
    source = Varchar(length=10, choices=RecordSource, default=RecordSource.manual.value)
    import_batch = ForeignKey(references=ImportBatch, on_delete=OnDelete.restrict, null=True)
    recorded_by = ForeignKey(references=StaffUser, on_delete=OnDelete.restrict, null=True)
    recorded_at = Timestamptz(default=TimestamptzNow())
    correction_reason = Text(default="")  # a correction's reason; a confirmation's note
    # What this version is; rows stored before kinds existed read "original", and a
    # later version among them is a correction (drug_tests.version_kind).
    version_kind = Varchar(length=20, choices=VersionKind, default=VersionKind.original.value)
    mro_name = Varchar(length=200, default="")  # the Medical Review Officer who reviewed it


class AnalyteResult(Table, tablename="analyte_result"):
    """One analyte of one test version: screen, confirmation and MRO review side by side."""

    drug_test = ForeignKey(references=DrugTest, on_delete=OnDelete.restrict, index=True, null=False)
    analyte = ForeignKey(references=Analyte, on_delete=OnDelete.restrict, null=True)
    analyte_code = Varchar(length=40)
    analyte_name = Varchar(length=120)
    screen_result = Varchar(length=20, choices=AnalyteOutcome)
    screen_cutoff_ng_ml = Numeric(digits=(10, 3), null=True, default=None)
    screen_method = Varchar(length=40, default="")  # e.g. "immunoassay"
    confirmation_result = Varchar(length=20, choices=AnalyteOutcome, null=True, default=None)
    confirmation_method = Varchar(length=40, default="")  # "GC-MS", "LC-MS/MS"
    confirmation_lab = Varchar(length=200, default="")  # when not the screening lab
    confirmation_cutoff_ng_ml = Numeric(digits=(10, 3), null=True, default=None)
    confirmed_at = Timestamptz(null=True, default=None)  # when the lab reported it
    level_ng_ml = Numeric(digits=(12, 3), null=True, default=None)
    units = Varchar(length=20, default="ng/mL")
    reference_range = Varchar(length=60, default="")
    abnormal_flag = Varchar(length=10, default="")
    mro_result = Varchar(length=20, choices=AnalyteOutcome, null=True, default=None)
    mro_comment = Text(default="")
    mro_verified_at = Timestamptz(null=True, default=None)
    comment = Text(default="")  # NTE segments
