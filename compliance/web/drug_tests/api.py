"""Drug tests typed in by staff, the lab's confirmations and the MRO's reviews added to
them, corrections and history: the JSON API."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from compliance.core.vocabulary import AnalyteOutcome, CollectionStatus, SpecimenType, TestReason
from compliance.engine import violations
from compliance.engine.violations import PendingView
from compliance.records import drug_tests
from compliance.records.drug_tests import DrugTestView
from compliance.staff.accounts import Principal
from compliance.web.common.errors import ALREADY_RECORDED, documented
from compliance.web.common.plain import plain
from compliance.web.common.principal import origin_of


@dataclass
class AnalyteEntry:
    """Fields left out keep their stored value in a correction, or their default."""

    analyte: str = field(metadata={"description": "the program's analyte key, e.g. thc"})
    screen_result: AnalyteOutcome | None = None
    screen_method: str | None = None
    screen_cutoff_ng_ml: Decimal | None = None
    confirmation_result: AnalyteOutcome | None = None
    confirmation_method: str | None = None
    confirmation_cutoff_ng_ml: Decimal | None = None
    level_ng_ml: Decimal | None = None
    mro_result: AnalyteOutcome | None = None
    mro_comment: str | None = None
    comment: str | None = None


@dataclass
class NewDrugTest:
    collection_status: CollectionStatus = CollectionStatus.collected
    collected_at: str | None = None  # local time, YYYY-MM-DDTHH:MM
    called_at: str | None = None
    specimen_type: SpecimenType = SpecimenType.urine
    observed: bool = False
    reason: TestReason = TestReason.random
    lab_name: str = ""
    accession_id: str = ""
    chain_of_custody_id: str = ""
    result_reported_at: str | None = None
    creatinine_mg_dl: Decimal | None = None
    specific_gravity: Decimal | None = None
    ph: Decimal | None = None
    oxidants: str = field(default="", metadata={"description": "negative, positive or empty"})
    nitrite: str = field(default="", metadata={"description": "negative, positive or empty"})
    validity_note: str = ""
    notes: str = ""
    results: list[AnalyteEntry] = field(default_factory=list)
    panel: str | None = field(
        default=None,
        metadata={
            "description": "a preset of the program's analytes: 'panel' (its default panel) "
            "or 'all'; each needs a result"
        },
    )
    all_negative: bool = field(
        default=False,
        metadata={"description": "with a panel: every analyte not in results screened negative"},
    )


@dataclass
class DrugTestCorrection:
    """Only the fields sent change; everything else is carried over from the version
    corrected. ``results`` names analytes by key; analytes not named are kept."""

    correction_reason: str
    collection_status: CollectionStatus | None = None
    collected_at: str | None = None
    called_at: str | None = None
    specimen_type: SpecimenType | None = None
    observed: bool | None = None
    reason: TestReason | None = None
    lab_name: str | None = None
    accession_id: str | None = None
    chain_of_custody_id: str | None = None
    result_reported_at: str | None = None
    creatinine_mg_dl: Decimal | None = None
    specific_gravity: Decimal | None = None
    ph: Decimal | None = None
    oxidants: str | None = None
    nitrite: str | None = None
    validity_note: str | None = None
    notes: str | None = None
    results: list[AnalyteEntry] | None = None


# Required fields are checked by the service, so a missing one is a 422 naming it.
@dataclass
class ConfirmationEntry:
    analyte: str = field(metadata={"description": "the analyte key, e.g. thc"})
    confirmation_result: AnalyteOutcome | None = field(
        default=None, metadata={"description": "required: positive, negative or invalid"}
    )
    confirmation_method: str | None = field(
        default=None, metadata={"description": "required, e.g. GC-MS, LC-MS/MS"}
    )
    level_ng_ml: Decimal | None = None
    confirmation_cutoff_ng_ml: Decimal | None = None


@dataclass
class NewConfirmation:
    """The lab's confirmation of screens: a new version labelled a confirmation."""

    confirmed_at: str | None = field(
        default=None, metadata={"description": "required: when the lab reported it, local time"}
    )
    results: list[ConfirmationEntry] = field(default_factory=list)
    confirmation_lab: str = field(default="", metadata={"description": "default: the test's lab"})
    note: str = ""


@dataclass
class MroEntry:
    analyte: str
    mro_result: AnalyteOutcome | None = field(
        default=None, metadata={"description": "required: positive or negative"}
    )
    mro_comment: str = field(
        default="", metadata={"description": "why; required for a negative verdict"}
    )


@dataclass
class NewMroReview:
    """A Medical Review Officer's verdict: a new version labelled an MRO review."""

    mro_name: str | None = field(default=None, metadata={"description": "required"})
    reviewed_at: str | None = field(
        default=None, metadata={"description": "required: when the MRO reviewed it, local time"}
    )
    results: list[MroEntry] = field(default_factory=list)
    note: str = ""


class DrugTestsAPI(Controller):
    path = "/api"
    tags = ["drug tests"]

    @get(
        "/participants/{participant_id:int}/drug-tests",
        operation_id="listDrugTests",
        responses=documented(401, 404),
        summary="Current drug tests of a participant, newest first",
    )
    async def for_participant(
        self, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> list[DrugTestView]:
        return await drug_tests.participant_tests(principal, participant_id)

    @post(
        "/participants/{participant_id:int}/drug-tests",
        operation_id="recordDrugTest",
        responses={**documented(401, 403, 404, 422), 409: ALREADY_RECORDED},
        summary="Record a drug test with per-analyte results",
        description="The same test twice is refused (409, pointing at the stored one): "
        "the same client and accession id; without one, the same client, call time and "
        "status for a no-show, refusal or unable-to-provide, or the same collection time.",
    )
    async def record(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        participant_id: FromPath[int],
        data: JSONBody[NewDrugTest],
    ) -> DrugTestView:
        return await drug_tests.record_test(
            principal, participant_id, plain(data), origin_of(request)
        )

    @post(
        "/drug-tests/{test_id:int}/corrections",
        operation_id="correctDrugTest",
        responses=documented(401, 403, 404, 409, 422),
        summary="Correct a test (adds a version; the original stays)",
    )
    async def correct(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        test_id: FromPath[int],
        data: JSONBody[DrugTestCorrection],
    ) -> DrugTestView:
        return await drug_tests.correct_test(principal, test_id, plain(data), origin_of(request))

    @post(
        "/drug-tests/{test_id:int}/confirmations",
        operation_id="addDrugTestConfirmation",
        responses=documented(401, 403, 404, 409, 422),
        summary="Add the lab's confirmation (adds a version labelled a confirmation)",
    )
    async def confirm(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        test_id: FromPath[int],
        data: JSONBody[NewConfirmation],
    ) -> DrugTestView:
        return await drug_tests.add_confirmation(
            principal, test_id, plain(data), origin_of(request)
        )

    @post(
        "/drug-tests/{test_id:int}/mro-reviews",
        operation_id="addDrugTestMroReview",
        responses=documented(401, 403, 404, 409, 422),
        summary="Add an MRO review (adds a version labelled an MRO review)",
    )
    async def mro_review(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        test_id: FromPath[int],
        data: JSONBody[NewMroReview],
    ) -> DrugTestView:
        return await drug_tests.add_mro_review(principal, test_id, plain(data), origin_of(request))

    @get(
        "/participants/{participant_id:int}/pending-confirmations",
        operation_id="listPendingConfirmations",
        responses=documented(401, 404),
        summary="Presumptive positives awaiting confirmation that policy does not count yet",
    )
    async def pending(
        self, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> list[PendingView]:
        return await violations.pending_confirmations(principal, participant_id)

    @get(
        "/drug-tests/{test_id:int}/history",
        operation_id="drugTestHistory",
        responses=documented(401, 404),
        summary="Every version of a drug test, oldest first",
    )
    async def history(
        self, principal: NamedDependency[Principal], test_id: FromPath[int]
    ) -> list[DrugTestView]:
        return await drug_tests.test_history(principal, test_id)


ROUTES = [DrugTestsAPI]
