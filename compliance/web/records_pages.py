"""Drug-test record pages: every version side by side, and a correction form."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template

from compliance import drug_tests, participants
from compliance.accounts import Principal
from compliance.attendance import program_zone
from compliance.validation import InvalidInput
from compliance.vocabulary import AnalyteOutcome, CollectionStatus
from compliance.web.auth import origin_of

OUTCOMES = [("", "")] + [(o.value, o.value.replace("_", " ")) for o in AnalyteOutcome]
STATUSES = [(s.value, s.value.replace("_", " ")) for s in CollectionStatus]


def _local(value: Any) -> str:
    return value.strftime("%Y-%m-%dT%H:%M") if value else ""


class DrugTestPages(Controller):
    path = "/drug-tests"
    include_in_schema = False

    @get("/{test_id:int}")
    async def show(self, principal: NamedDependency[Principal], test_id: FromPath[int]) -> Template:
        return await self._show(principal, test_id, {}, status=200)

    async def _show(
        self, principal: Principal, test_id: int, errors: dict, status: int
    ) -> Template:
        history = await drug_tests.test_history(principal, test_id)
        person = await participants.get_participant(principal, history[0].participant_id)
        context = {
            "principal": principal,
            "history": history,
            "current": history[-1],
            "person": person,
            "errors": errors,
            "outcomes": OUTCOMES,
            "statuses": STATUSES,
        }
        return Template("pages/records/drug_test.html", context=context, status_code=status)

    @post("/{test_id:int}/correct", status_code=303)
    async def correct(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        test_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        history = await drug_tests.test_history(principal, test_id)
        current = history[-1]
        person = await participants.get_participant(principal, current.participant_id)
        tz = await program_zone(person.program_id)
        values: dict[str, Any] = {
            k: getattr(current, k)
            for k in (
                "specimen_type",
                "observed",
                "reason",
                "lab_name",
                "accession_id",
                "chain_of_custody_id",
                "creatinine_mg_dl",
                "specific_gravity",
                "ph",
                "validity_note",
                "notes",
            )
        }
        for stamp in ("called_at", "collected_at", "result_reported_at"):
            moment = getattr(current, stamp)
            values[stamp] = _local(moment.astimezone(tz)) if moment else ""
        values["collection_status"] = data.get("collection_status", current.collection_status)
        values["correction_reason"] = data.get("correction_reason", "")
        values["results"] = [
            {
                "analyte": r.analyte_key,
                **{
                    f: data.get(f"{f}-{n}", "" if getattr(r, f) is None else str(getattr(r, f)))
                    for f in (
                        "screen_result",
                        "confirmation_result",
                        "confirmation_method",
                        "level_ng_ml",
                        "mro_result",
                        "mro_comment",
                        "comment",
                    )
                },
                "screen_method": r.screen_method,
            }
            for n, r in enumerate(current.results)
        ]
        try:
            view = await drug_tests.correct_test(principal, test_id, values, origin_of(request))
        except InvalidInput as exc:
            return await self._show(
                principal, test_id, {e.field: e.reason for e in exc.errors}, 422
            )
        return Redirect(f"/drug-tests/{view.id}", status_code=303)


ROUTES = [DrugTestPages]
