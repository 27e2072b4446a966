"""Staff pages for mandates and phases, recipients, consents (with revocation and the
signed document), outside meetings and drug tests typed in by hand. Each form posts to
the same service function as its API endpoint."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from compliance import attendance, consents, db, drug_tests, mandates, participants
from compliance.accounts import Principal
from compliance.tables import Analyte, Program
from compliance.validation import InvalidInput
from compliance.vocabulary import (
    AnalyteOutcome,
    CollectionStatus,
    ConsentPurpose,
    InformationCategory,
    RecipientKind,
    ReferralSource,
    SessionType,
    SpecimenType,
    TestReason,
)
from compliance.web.auth import origin_of
from compliance.web.errors import field_errors
from compliance.web.page import Page

PHASE_ROWS = 3


def options(enum: type) -> list[tuple[str, str]]:
    return [(m.value, m.value.replace("_", " ")) for m in enum]


async def _form(request: Request) -> tuple[dict[str, Any], Any]:
    form = await request.form()
    return {k: v for k, v in form.items() if not isinstance(v, UploadFile)}, form


class ParticipantRecordPages(Controller):
    path = "/participants/{participant_id:int}"
    include_in_schema = False

    # --- mandates ---------------------------------------------------------------
    @get("/mandates/new")
    async def new_mandate(
        self, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> Template:
        return await self._mandate_form(principal, participant_id, {}, {})

    async def _mandate_form(
        self, principal: Principal, pid: int, values: dict, errors: dict, status: int = 200
    ) -> Template:
        person = await participants.get_participant(principal, pid)
        context = {
            "principal": principal,
            "person": person,
            "values": values,
            "errors": errors,
            "sources": options(ReferralSource),
            "rows": range(PHASE_ROWS),
            "types": [t.value for t in SessionType if t is not SessionType.twelve_step],
        }
        return Page("pages/referrals/mandate.html", context=context, status_code=status)

    @post("/mandates", status_code=303)
    async def create_mandate(
        self, request: Request, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> Any:
        values, _ = await _form(request)
        phases = []
        for n in range(PHASE_ROWS):
            name = values.get(f"phase{n}_name", "").strip()
            if not name:
                continue
            phases.append(
                {
                    "name": name,
                    "required_hours_per_week": values.get(f"phase{n}_hours", ""),
                    "required_tests_per_week": values.get(f"phase{n}_tests", ""),
                    "started_on": values.get(f"phase{n}_started_on", ""),
                    "sessions_per_week": {
                        t.value: values.get(f"phase{n}_{t.value}", "")
                        for t in SessionType
                        if values.get(f"phase{n}_{t.value}")
                    },
                }
            )
        try:
            await mandates.create_mandate(
                principal, participant_id, {**values, "phases": phases}, origin_of(request)
            )
        except InvalidInput as exc:
            errors = field_errors(exc)
            return await self._mandate_form(principal, participant_id, values, errors, 422)
        return Redirect(f"/participants/{participant_id}", status_code=303)

    # --- consents ---------------------------------------------------------------
    @get("/consents/new")
    async def new_consent(
        self, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> Template:
        return await self._consent_form(principal, participant_id, {}, [], [], {})

    async def _consent_form(
        self,
        principal: Principal,
        pid: int,
        values: dict,
        categories: list,
        purposes: list,
        errors: dict,
        status: int = 200,
    ) -> Template:
        person = await participants.get_participant(principal, pid)
        recipients = await consents.list_recipients(principal, person.program_id)
        program = await Program.select(Program.name).where(Program.id == person.program_id).first()
        context = {
            "principal": principal,
            "person": person,
            "errors": errors,
            "values": values or {"disclosing_party": program["name"]},
            "recipients": [
                (r.id, f"{r.name} ({r.organisation or r.kind})") for r in recipients if r.active
            ],
            "categories": options(InformationCategory),
            "chosen_categories": categories,
            "purposes": options(ConsentPurpose),
            "chosen_purposes": purposes,
            "mandates": await mandates.participant_mandates(principal, pid),
        }
        return Page("pages/referrals/consent.html", context=context, status_code=status)

    @post("/consents", status_code=303)
    async def create_consent(
        self, request: Request, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> Any:
        values, form = await _form(request)
        categories, purposes = (
            form.getall("information_categories", []),
            form.getall("purposes", []),
        )
        data = {**values, "information_categories": categories, "purposes": purposes}
        upload = form.get("document")
        try:
            # One transaction: a refused document leaves no consent behind.
            async with db.transaction():
                view = await consents.create_consent(
                    principal, participant_id, data, origin_of(request)
                )
                if isinstance(upload, UploadFile) and upload.filename:
                    content = await upload.read()
                    await consents.attach_document(
                        principal,
                        view.id,
                        upload.filename,
                        content,
                        request.app.state.settings.var_dir / "documents",
                        origin_of(request),
                    )
        except InvalidInput as exc:
            return await self._consent_form(
                principal, participant_id, values, categories, purposes, field_errors(exc), 422
            )
        return Redirect(f"/participants/{participant_id}", status_code=303)

    # --- outside meetings and drug tests ----------------------------------------
    @post("/outside-meetings", status_code=303)
    async def outside_meeting(
        self, request: Request, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> Any:
        values, _ = await _form(request)
        try:
            await attendance.record_outside_meeting(
                principal, participant_id, values, origin_of(request)
            )
        except InvalidInput as exc:
            person = await participants.get_participant(principal, participant_id)
            return Page(
                "pages/error.html",
                status_code=422,
                context={
                    "principal": principal,
                    "title": "Meeting not recorded",
                    "message": "; ".join(
                        f"{k.replace('_', ' ')} {v}" for k, v in field_errors(exc).items()
                    )
                    + f". Go back to {person.name} and try again.",
                },
            )
        return Redirect(f"/participants/{participant_id}", status_code=303)

    @get("/drug-tests/new")
    async def new_test(
        self, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> Template:
        return await self._test_form(principal, participant_id, {}, {})

    async def _test_form(
        self, principal: Principal, pid: int, values: dict, errors: dict, status: int = 200
    ) -> Template:
        person = await participants.get_participant(principal, pid)
        analytes = (
            await Analyte.select()
            .where((Analyte.program == person.program_id) & Analyte.active.eq(True))
            .order_by(Analyte.name)
        )
        context = {
            "principal": principal,
            "person": person,
            "values": values,
            "errors": errors,
            "analytes": analytes,
            "outcomes": options(AnalyteOutcome),
            "statuses": options(CollectionStatus),
            "specimens": options(SpecimenType),
            "reasons": options(TestReason),
        }
        return Page("pages/referrals/drug_test.html", context=context, status_code=status)

    @post("/drug-tests", status_code=303)
    async def create_test(
        self, request: Request, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> Any:
        values, _ = await _form(request)
        results = []
        for key in sorted({k.split(":", 1)[1] for k in values if k.startswith("screen:")}):
            if not values.get(f"screen:{key}"):
                continue
            results.append(
                {
                    "analyte": key,
                    "screen_result": values[f"screen:{key}"],
                    "confirmation_result": values.get(f"confirm:{key}", ""),
                    "confirmation_method": values.get(f"method:{key}", ""),
                    "level_ng_ml": values.get(f"level:{key}", ""),
                }
            )
        try:
            view = await drug_tests.record_test(
                principal, participant_id, {**values, "results": results}, origin_of(request)
            )
        except InvalidInput as exc:
            return await self._test_form(principal, participant_id, values, field_errors(exc), 422)
        return Redirect(f"/drug-tests/{view.id}", status_code=303)


class ReferralPages(Controller):
    path = "/"
    include_in_schema = False

    @post("/mandates/{mandate_id:int}/phases/{sequence:int}/start", status_code=303)
    async def start_phase(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        mandate_id: FromPath[int],
        sequence: FromPath[int],
    ) -> Any:
        values, _ = await _form(request)
        try:
            view = await mandates.start_phase(
                principal, mandate_id, sequence, values, origin_of(request)
            )
        except InvalidInput as exc:
            return Page(
                "pages/error.html",
                status_code=422,
                context={
                    "principal": principal,
                    "title": "Phase not started",
                    "message": "; ".join(
                        f"{k.replace('_', ' ')} {v}" for k, v in field_errors(exc).items()
                    ),
                },
            )
        return Redirect(f"/participants/{view.participant_id}", status_code=303)

    @post("/consents/{consent_id:int}/revoke", status_code=303)
    async def revoke(
        self, request: Request, principal: NamedDependency[Principal], consent_id: FromPath[int]
    ) -> Any:
        values, _ = await _form(request)
        try:
            view = await consents.revoke_consent(principal, consent_id, values, origin_of(request))
        except InvalidInput as exc:
            return Page(
                "pages/error.html",
                status_code=422,
                context={
                    "principal": principal,
                    "title": "Consent not revoked",
                    "message": "; ".join(v for v in field_errors(exc).values()),
                },
            )
        return Redirect(f"/participants/{view.participant_id}", status_code=303)

    @get("/recipients")
    async def recipients(self, principal: NamedDependency[Principal]) -> Template:
        return await self._recipients(principal, {}, {})

    async def _recipients(
        self, principal: Principal, values: dict, errors: dict, status: int = 200
    ) -> Template:
        programs = await Program.select(Program.id, Program.name).where(
            Program.id.is_in(sorted(principal.program_ids) or [0])
        )
        context = {
            "principal": principal,
            "recipients": await consents.list_recipients(principal),
            "programs": [(p["id"], p["name"]) for p in programs],
            "kinds": options(RecipientKind),
            "values": values,
            "errors": errors,
        }
        return Page("pages/referrals/recipients.html", context=context, status_code=status)

    @post("/recipients", status_code=303)
    async def add_recipient(self, request: Request, principal: NamedDependency[Principal]) -> Any:
        values, _ = await _form(request)
        try:
            await consents.create_recipient(principal, values, origin_of(request))
        except InvalidInput as exc:
            return await self._recipients(principal, values, field_errors(exc), 422)
        return Redirect("/recipients", status_code=303)


ROUTES = [ParticipantRecordPages, ReferralPages]
