"""A drug test's page: what it says now in the engine's words, every version as what it
is, and the three ways to add to it: the lab's confirmation, the MRO's review (each a
new version labelled so, no reason asked) and a correction (which must say why). And
the form that records a new test from a lab report (form.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template

from compliance.core.vocabulary import AnalyteOutcome, CollectionStatus
from compliance.records import drug_tests, participants
from compliance.records.drug_tests import DrugTestView
from compliance.records.duplicates import DuplicateRecord
from compliance.reporting import drug_test_rows
from compliance.staff.access import program_zone
from compliance.staff.accounts import Principal
from compliance.web.common.errors import field_errors
from compliance.web.common.forms import posted, submit
from compliance.web.common.page import Page
from compliance.web.common.principal import origin_of
from compliance.web.drug_tests.form import beside_rows, form_page, service_input

OUTCOMES = [("", "")] + [(o.value, o.value.replace("_", " ")) for o in AnalyteOutcome]
STATUSES = [(s.value, s.value.replace("_", " ")) for s in CollectionStatus]
CONFIRMED = [("positive", "positive"), ("negative", "negative"), ("invalid", "invalid")]
VERDICTS = [("negative", "negative"), ("positive", "positive")]
METHODS = ("GC-MS", "LC-MS/MS")
KIND_WORDS = {
    "original": "as first recorded",
    "correction": "correction",
    "confirmation": "lab confirmation",
    "mro_review": "MRO review",
}
CORRECTED = (
    "screen_result",
    "confirmation_result",
    "confirmation_method",
    "level_ng_ml",
    "mro_result",
    "mro_comment",
)


def _local(value: datetime | None, zone: str) -> str:
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M") if value else ""


def to_confirm(test: DrugTestView) -> list[Any]:
    """Analytes a lab confirms: a screen that was not negative, or one confirmed before."""
    wanted = ("positive", "invalid")
    return [r for r in test.results if r.screen_result in wanted or r.confirmation_result]


def to_review(test: DrugTestView) -> list[Any]:
    """Analytes an MRO reviews: a lab positive (screen or confirmation), or one reviewed."""
    return [
        r
        for r in test.results
        if "positive" in (r.screen_result, r.confirmation_result) or r.mro_result
    ]


@dataclass(frozen=True)
class Addition:
    """A form that adds a version to a test, one row per analyte it lists: the lab's
    confirmation, the MRO's review."""

    form: str  # which form a refusal opens again
    rows: Callable[[DrugTestView], list[Any]]  # the analytes the form lists
    fields: tuple[str, ...]  # a row's inputs (``field:key``); the first is the one chosen
    action: Callable[..., Awaitable[DrugTestView]]

    def sent(self, test: DrugTestView, data: dict[str, str]) -> list[dict[str, str]]:
        """One entry per listed analyte whose first field was chosen."""
        keys = [r.analyte_key for r in self.rows(test)]
        return [
            {"analyte": key, **{f: data.get(f"{f}:{key}", "") for f in self.fields}}
            for key in keys
            if data.get(f"{self.fields[0]}:{key}")
        ]


CONFIRMATION = Addition(
    "confirm",
    to_confirm,
    ("confirmation_result", "confirmation_method", "level_ng_ml"),
    drug_tests.add_confirmation,
)
MRO_REVIEW = Addition("mro", to_review, ("mro_result", "mro_comment"), drug_tests.add_mro_review)


# The forms' fields as their labels say, for the reasons above a refused form.
FIELDS = {
    "confirmed_at": "Confirmed",
    "confirmation_lab": "Confirming lab",
    "reviewed_at": "Reviewed",
    "mro_name": "MRO",
    "note": "Note",
    "drug_test_id": "This test:",
    "collection_status": "This test:",
}
# A row's columns as its table heads them, for an error beside the row.
COLUMNS = {
    "confirmation_result": "Confirmation",
    "confirmation_method": "Method",
    "level_ng_ml": "Level",
    "mro_result": "MRO verdict",
    "mro_comment": "Why",
}


def _to_version(view: DrugTestView) -> Redirect:
    """The test's page, at the version just stored."""
    return Redirect(f"/drug-tests/{view.id}", status_code=303)


class DrugTestPages(Controller):
    path = "/drug-tests"
    include_in_schema = False

    @get("/{test_id:int}")
    async def show(self, principal: NamedDependency[Principal], test_id: FromPath[int]) -> Template:
        return await self._show(principal, test_id)

    async def _show(
        self,
        principal: Principal,
        test_id: int,
        *,
        failed: str = "",
        values: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        row_errors: dict[str, str] | None = None,
    ) -> Template:
        history = await drug_tests.test_history(principal, test_id)
        current = history[-1]
        person = await participants.get_participant(principal, current.participant_id)
        zone = await program_zone(person.program_id)
        now = _local(datetime.now(ZoneInfo(zone)), zone)
        lines = drug_test_rows.history(current, history[:-1], ZoneInfo(zone))
        context = {
            "principal": principal,
            "history": history,
            # What each later version added or changed, in the words a report uses.
            "said": dict(zip([v.id for v in history[1:]], lines, strict=True)),
            "current": current,
            "person": person,
            "zone": zone,
            "failed": failed,
            "values": {"confirmed_at": now, "reviewed_at": now, **(values or {})},
            "errors": errors or {},
            "row_errors": row_errors or {},
            "kind_words": KIND_WORDS,
            "outcomes": OUTCOMES,
            "statuses": STATUSES,
            "confirmed": CONFIRMED,
            "verdicts": VERDICTS,
            "methods": METHODS,
            "to_confirm": to_confirm(current),
            "to_review": to_review(current),
            "num": drug_tests.number,
            "labels": FIELDS,
        }
        status = 422 if errors else 200
        return Page("pages/records/drug_test.html", context=context, status_code=status)

    async def _add(
        self,
        request: Request,
        principal: Principal,
        test_id: int,
        data: dict[str, str],
        addition: Addition,
    ) -> Any:
        current = (await drug_tests.test_history(principal, test_id))[-1]
        sent = addition.sent(current, data)
        return await submit(
            addition.action(principal, test_id, {**data, "results": sent}, origin_of(request)),
            _to_version,
            lambda errors: self._show(
                principal,
                test_id,
                failed=addition.form,
                values=data,
                errors=errors,
                row_errors=beside_rows(errors, sent, COLUMNS)[0],
            ),
        )

    @post("/{test_id:int}/confirmation", status_code=303)
    async def confirm(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        test_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        return await self._add(request, principal, test_id, data, CONFIRMATION)

    @post("/{test_id:int}/mro-review", status_code=303)
    async def mro_review(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        test_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        return await self._add(request, principal, test_id, data, MRO_REVIEW)

    @post("/{test_id:int}/correct", status_code=303)
    async def correct(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        test_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        current = (await drug_tests.test_history(principal, test_id))[-1]
        # Only what the form shows is sent; the service keeps everything else as stored.
        values: dict[str, Any] = {
            "collection_status": data.get("collection_status", current.collection_status),
            "correction_reason": data.get("correction_reason", ""),
            "results": [
                {
                    "analyte": r.analyte_key,
                    **{f: data[f"{f}-{n}"] for f in CORRECTED if f"{f}-{n}" in data},
                }
                for n, r in enumerate(current.results)
            ],
        }
        if "notes" in data:
            values["notes"] = data["notes"]
        return await submit(
            drug_tests.correct_test(principal, test_id, values, origin_of(request)),
            _to_version,
            lambda errors: self._show(
                principal, test_id, failed="correct", values=data, errors=errors
            ),
        )


class DrugTestEntryPages(Controller):
    """A drug test typed in from a lab report, from the participant's page."""

    path = "/participants/{participant_id:int}"
    include_in_schema = False

    @get("/drug-tests/new")
    async def new_test(
        self, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> Template:
        return await form_page(principal, participant_id, {}, {}, 200)

    @post("/drug-tests", status_code=303)
    async def create_test(
        self, request: Request, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> Any:
        values, _ = await posted(request)
        data = await service_input(principal, participant_id, values)
        return await submit(
            drug_tests.record_test(principal, participant_id, data, origin_of(request)),
            lambda view: Redirect(f"/drug-tests/{view.id}", status_code=303),
            lambda errors: form_page(principal, participant_id, values, errors, 422),
            # The form again, with a link to the stored test.
            others={
                DuplicateRecord: lambda exc: form_page(
                    principal, participant_id, values, field_errors(exc), 409, existing=exc.url
                )
            },
        )


ROUTES = [DrugTestPages, DrugTestEntryPages]
