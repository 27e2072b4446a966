"""Drug-test record pages: every version side by side, and a correction form."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template

from compliance import drug_tests, participants
from compliance.access import program_zone
from compliance.accounts import Principal
from compliance.validation import InvalidInput
from compliance.vocabulary import AnalyteOutcome, CollectionStatus
from compliance.web.auth import origin_of
from compliance.web.page import Page

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
            "zone": await program_zone(person.program_id),
            "errors": errors,
            "outcomes": OUTCOMES,
            "statuses": STATUSES,
        }
        return Page("pages/records/drug_test.html", context=context, status_code=status)

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
        # Only what the form shows is sent; the service keeps everything else as stored.
        values: dict[str, Any] = {
            "collection_status": data.get("collection_status", current.collection_status),
            "correction_reason": data.get("correction_reason", ""),
            "results": [
                {
                    "analyte": r.analyte_key,
                    **{
                        f: data[f"{f}-{n}"]
                        for f in (
                            "screen_result",
                            "confirmation_result",
                            "confirmation_method",
                            "level_ng_ml",
                            "mro_result",
                            "mro_comment",
                        )
                        if f"{f}-{n}" in data
                    },
                }
                for n, r in enumerate(current.results)
            ],
        }
        try:
            view = await drug_tests.correct_test(principal, test_id, values, origin_of(request))
        except InvalidInput as exc:
            return await self._show(
                principal, test_id, {e.field: e.reason for e in exc.errors}, 422
            )
        return Redirect(f"/drug-tests/{view.id}", status_code=303)


ROUTES = [DrugTestPages]
