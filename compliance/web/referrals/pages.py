"""Staff pages for referrals: mandates and phases, recipients, consents (with revocation
and the signed document). Each form posts to the same service function as its API
endpoint."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from compliance.consent import consents
from compliance.consent import templates as consent_templates
from compliance.consent.gate import CATEGORY_WORDS, PURPOSE_WORDS
from compliance.core import db
from compliance.core.settings import Settings
from compliance.core.validation import is_record_id
from compliance.core.vocabulary import (
    ConsentPurpose,
    InformationCategory,
    RecipientKind,
    ReferralSource,
    SessionType,
)
from compliance.records import mandates, participants
from compliance.staff.accounts import Principal
from compliance.tables import Program, Recipient
from compliance.web.common import flow as guided
from compliance.web.common.forms import posted, reasons, refusal_page, submit
from compliance.web.common.page import Page
from compliance.web.common.principal import origin_of
from compliance.web.common.storage import consent_documents

PHASE_ROWS = 3
SESSION_TYPES = [t.value for t in SessionType if t is not SessionType.twelve_step]
PHASE_FIELDS = ("name", "hours", "tests", "started_on", *SESSION_TYPES)
# The service's names for a phase's fields, as the form names them.
PHASE_FORM_NAMES = {
    "name": "name",
    "required_hours_per_week": "hours",
    "required_tests_per_week": "tests",
    "started_on": "started_on",
}
SOURCE_WORDS = {
    ReferralSource.court: "Court",
    ReferralSource.probation: "Probation or parole",
    ReferralSource.eap: "Employer, through an EAP",
    ReferralSource.dot_sap: "DOT Substance Abuse Professional (SAP)",
    ReferralSource.other: "Other",
}
RECIPIENT_WORDS = {
    RecipientKind.probation_officer: "Probation or parole officer",
    RecipientKind.court: "Court",
    RecipientKind.eap_case_manager: "EAP case manager",
    RecipientKind.sap: "DOT Substance Abuse Professional (SAP)",
    RecipientKind.employer_contact: "Employer contact",
    RecipientKind.other: "Other",
}
# A new mandate's first phase holds a typical IOP week (DOMAIN.md: 9 hours or more, tests
# at least twice a week early on), for the clinician to change to what the order says.
PHASE_ONE = {
    "phase0_name": "Phase 1",
    "phase0_hours": "9",
    "phase0_tests": "2",
    "phase0_group": "3",
    "phase0_individual": "1",
}


def _phases_from(values: dict[str, Any]) -> tuple[list[dict[str, Any]], list[int]]:
    """The phase rows with anything typed in them, and which form row each came from."""
    phases, used = [], []
    for n in range(PHASE_ROWS):
        raw = {f: str(values.get(f"phase{n}_{f}", "")).strip() for f in PHASE_FIELDS}
        if not any(raw.values()):
            continue
        used.append(n)
        phases.append(
            {
                "name": raw["name"],
                "required_hours_per_week": raw["hours"],
                "required_tests_per_week": raw["tests"],
                "started_on": raw["started_on"],
                "sessions_per_week": {t: raw[t] for t in SESSION_TYPES if raw[t]},
            }
        )
    return phases, used


def _phase_errors(errors: dict[str, str], used: list[int]) -> dict[str, str]:
    """The service's ``phases[i].required_hours_per_week`` (the i-th phase typed in) as
    the form row's ``phase{n}_hours``, so the reason appears beside its input."""
    out: dict[str, str] = {}
    for name, reason in errors.items():
        if name == "phases":
            out.setdefault("phase0_name", reason)
            continue
        if not name.startswith("phases["):
            out[name] = reason
            continue
        index, _, rest = name[len("phases[") :].partition("].")
        row = used[int(index)] if index.isdigit() and int(index) < len(used) else 0
        part = rest.removeprefix("sessions_per_week.")
        out.setdefault(f"phase{row}_{PHASE_FORM_NAMES.get(part, part)}", reason)
    return out


def _to_participant(view: Any) -> Redirect:
    """The participant's page, after a change to one of their records."""
    return Redirect(f"/participants/{view.participant_id}", status_code=303)


class ParticipantRecordPages(Controller):
    path = "/participants/{participant_id:int}"
    include_in_schema = False

    # --- mandates ---------------------------------------------------------------
    @get("/mandates/new")
    async def new_mandate(
        self,
        principal: NamedDependency[Principal],
        participant_id: FromPath[int],
        flow: FromQuery[str] = "",
    ) -> Template:
        person = await participants.get_participant(principal, participant_id)
        values = {
            "starts_on": person.admitted_on.isoformat(),
            "add_contact_as_recipient": "true",
            **PHASE_ONE,
        }
        return await self._mandate_form(
            principal, participant_id, values, {}, in_flow=guided.in_flow(flow)
        )

    async def _mandate_form(
        self,
        principal: Principal,
        pid: int,
        values: dict,
        errors: dict,
        status: int = 200,
        *,
        in_flow: bool,
    ) -> Template:
        person = await participants.get_participant(principal, pid)
        later = any(
            values.get(f"phase{n}_{f}") or errors.get(f"phase{n}_{f}")
            for n in range(1, PHASE_ROWS)
            for f in PHASE_FIELDS
        )
        context = {
            "principal": principal,
            "person": person,
            "values": values,
            "errors": errors,
            "sources": [(s.value, SOURCE_WORDS.get(s, s.value)) for s in ReferralSource],
            "rows": range(PHASE_ROWS),
            "types": SESSION_TYPES,
            "later_open": later,
            "flow": in_flow,
            "steps": guided.STEPS,
            "skip": guided.consent_step(pid, "") if in_flow else "",
        }
        return Page("pages/referrals/mandate.html", context=context, status_code=status)

    @post("/mandates", status_code=303)
    async def create_mandate(
        self, request: Request, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> Any:
        values, _ = await posted(request)
        in_flow = guided.in_flow(values.get("flow"))
        phases, used = _phases_from(values)

        def next_step(view: mandates.MandateView) -> Redirect:
            if in_flow:
                template = consent_templates.for_mandate(view)
                return Redirect(guided.consent_step(participant_id, template), status_code=303)
            return Redirect(f"/participants/{participant_id}", status_code=303)

        return await submit(
            mandates.create_mandate(
                principal, participant_id, {**values, "phases": phases}, origin_of(request)
            ),
            next_step,
            lambda errors: self._mandate_form(
                principal, participant_id, values, _phase_errors(errors, used), 422, in_flow=in_flow
            ),
        )

    # --- consents ---------------------------------------------------------------
    @get("/consents/new")
    async def new_consent(
        self,
        principal: NamedDependency[Principal],
        participant_id: FromPath[int],
        flow: FromQuery[str] = "",
        template: FromQuery[str | None] = None,
        recipient_id: FromQuery[int | None] = None,
    ) -> Template:
        """The consent form, pre-filled from a template: the one the latest mandate calls
        for unless another is asked for, naming the mandate's contact as recipient."""
        person = await participants.get_participant(principal, participant_id)
        on_file = await mandates.participant_mandates(principal, participant_id)
        mandate = on_file[-1] if on_file else None
        key = consent_templates.for_mandate(mandate) if template is None else template
        key = key if key in consent_templates.TEMPLATES else ""
        recipient = None
        if recipient_id is not None and is_record_id(recipient_id):
            recipient = (
                await Recipient.select()
                .where((Recipient.id == recipient_id) & (Recipient.program == person.program_id))
                .first()
            )
        elif mandate is not None:
            recipient = await mandates.contact_recipient(person.program_id, mandate)
        program = await Program.select().where(Program.id == person.program_id).first()
        values = consent_templates.prefill(
            key,
            program_name=program["name"],
            client_name=person.name,
            mandate=mandate,
            recipient=recipient,
            today=datetime.now(ZoneInfo(program["time_zone"])).date(),
        )
        values["template"] = key
        return await self._consent_form(
            principal, participant_id, values, {}, in_flow=guided.in_flow(flow)
        )

    async def _consent_form(
        self,
        principal: Principal,
        pid: int,
        values: dict,
        errors: dict,
        status: int = 200,
        *,
        in_flow: bool,
    ) -> Template:
        person = await participants.get_participant(principal, pid)
        recipients = await consents.list_recipients(principal, person.program_id)
        key = values.get("template", "")
        here = guided.consent_step(pid) if in_flow else f"/participants/{pid}/consents/new"
        context = {
            "principal": principal,
            "person": person,
            "errors": errors,
            "values": values,
            "recipients": [
                (r.id, f"{r.name} ({r.organisation or r.kind.replace('_', ' ')})")
                for r in recipients
                if r.active
            ],
            "categories": [(c.value, CATEGORY_WORDS[c]) for c in InformationCategory],
            "purposes": [(p.value, PURPOSE_WORDS[p]) for p in ConsentPurpose],
            "mandates": await mandates.participant_mandates(principal, pid),
            "templates": consent_templates.TEMPLATES,
            "template": consent_templates.TEMPLATES.get(key),
            "template_key": key,
            "flow": in_flow,
            "steps": guided.STEPS,
            "template_url": lambda k: (
                guided.consent_step(pid, k)
                if in_flow
                else f"/participants/{pid}/consents/new?{urlencode({'template': k})}"
            ),
            "add_recipient": "/recipients?" + urlencode({"next": here}),
        }
        return Page("pages/referrals/consent.html", context=context, status_code=status)

    @post("/consents", status_code=303)
    async def create_consent(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        participant_id: FromPath[int],
    ) -> Any:
        values, form = await posted(request)
        in_flow = guided.in_flow(values.get("flow"))
        categories, purposes = (
            form.getall("information_categories", []),
            form.getall("purposes", []),
        )
        data = {**values, "information_categories": categories, "purposes": purposes}
        upload = form.get("document")

        async def store() -> None:
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
                        consent_documents(settings),
                        origin_of(request),
                    )

        after = guided.report_step(participant_id) if in_flow else f"/participants/{participant_id}"
        return await submit(
            store(),
            lambda _: Redirect(after, status_code=303),
            lambda errors: self._consent_form(
                principal, participant_id, data, errors, 422, in_flow=in_flow
            ),
        )


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
        values, _ = await posted(request)
        return await submit(
            mandates.start_phase(principal, mandate_id, sequence, values, origin_of(request)),
            _to_participant,
            lambda errors: refusal_page(principal, "Phase not started", reasons(errors)),
        )

    @post("/consents/{consent_id:int}/revoke", status_code=303)
    async def revoke(
        self, request: Request, principal: NamedDependency[Principal], consent_id: FromPath[int]
    ) -> Any:
        values, _ = await posted(request)
        return await submit(
            consents.revoke_consent(principal, consent_id, values, origin_of(request)),
            _to_participant,
            lambda errors: refusal_page(
                principal, "Consent not revoked", "; ".join(errors.values())
            ),
        )

    @get("/recipients")
    async def recipients(
        self, principal: NamedDependency[Principal], next: FromQuery[str] = ""
    ) -> Template:
        """``next``: the form to return to once the recipient is added (the consent form
        of the new-client flow), which then names them."""
        return await self._recipients(principal, {"next": guided.local_path(next) or ""}, {})

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
            "kinds": [(k.value, RECIPIENT_WORDS.get(k, k.value)) for k in RecipientKind],
            "values": values,
            "errors": errors,
            "back": guided.local_path(values.get("next", "")),
        }
        return Page("pages/referrals/recipients.html", context=context, status_code=status)

    @post("/recipients", status_code=303)
    async def add_recipient(self, request: Request, principal: NamedDependency[Principal]) -> Any:
        values, _ = await posted(request)

        def back_to_form(view: consents.RecipientView) -> Redirect:
            """The form that sent here (naming the new recipient), else the list."""
            back = guided.local_path(values.get("next", ""))
            if back:
                joiner = "&" if "?" in back else "?"
                return Redirect(f"{back}{joiner}recipient_id={view.id}", status_code=303)
            return Redirect("/recipients", status_code=303)

        return await submit(
            consents.create_recipient(principal, values, origin_of(request)),
            back_to_form,
            lambda errors: self._recipients(principal, values, errors, 422),
        )


ROUTES = [ParticipantRecordPages, ReferralPages]
