"""The program policy page: the settings, a preview of what a change does to past weeks
and violations, and saving only from that preview (its confirmation travels with the
form; compliance/engine/policy.py checks it)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template

from compliance.core.settings import Settings
from compliance.engine import policy
from compliance.staff import admin
from compliance.staff.accounts import Principal
from compliance.web.common import once
from compliance.web.common.forms import submit
from compliance.web.common.page import Page
from compliance.web.common.principal import origin_of

SAVED_ONCE = "policy_saved_once"


def _proposal(data: dict[str, str]) -> dict[str, str]:
    """The page form as the service reads it: an unticked checkbox sends nothing, so
    every flag is given, on or off."""
    out = {}
    for s in policy.policy_settings():
        if s.kind == "flag":
            out[s.name] = "true" if data.get(s.name) in ("true", "on", "1") else "false"
        elif s.name in data:
            out[s.name] = data[s.name]
    return out


def _values(current: Any) -> dict[str, str]:
    """The settings as a form shows them."""
    out = {}
    for s in policy.policy_settings():
        value = getattr(current, s.name)
        if s.kind == "flag":
            out[s.name] = "true" if value else "false"
        elif s.kind == "decimal":
            out[s.name] = s.words(value)
        else:
            out[s.name] = str(value)
    return out


class PolicyPages(Controller):
    path = "/admin/programs/{program_id:int}/policy"
    include_in_schema = False

    async def _form(
        self,
        principal: Principal,
        program_id: int,
        values: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        status: int = 200,
        saved: dict[str, Any] | None = None,
    ) -> Template:
        current = await admin.program_settings(principal, program_id)
        return Page(
            "pages/admin/policy.html",
            context={
                "principal": principal,
                "program": current,
                "settings": policy.policy_settings(),
                "weekdays": list(enumerate(policy.WEEKDAYS)),
                "values": values or _values(current),
                "errors": errors or {},
                "saved": saved,
            },
            status_code=status,
        )

    @get()
    async def show(
        self, request: Request, principal: NamedDependency[Principal], program_id: FromPath[int]
    ) -> Template:
        saved = once.take(request, SAVED_ONCE, program_id=program_id)
        return await self._form(principal, program_id, saved=saved)

    @post("/preview", status_code=200)
    async def preview(
        self,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        program_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Template:
        """Stores nothing: a refresh only shows the same preview again."""
        proposal = _proposal(data)

        async def previewed(found: Any) -> Template:
            current = await admin.program_settings(principal, program_id)
            return Page(
                "pages/admin/policy_preview.html",
                context={
                    "principal": principal,
                    "program": current,
                    "preview": found,
                    "proposal": proposal,
                    "zone": current.time_zone,
                },
            )

        return await submit(
            admin.preview_policy(principal, settings, program_id, proposal),
            previewed,
            lambda errors: self._form(principal, program_id, proposal, errors, 422),
        )

    @post(status_code=303)
    async def save(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        program_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Template | Redirect:
        proposal = {**_proposal(data), "confirmation": data.get("confirmation", "")}

        def shown_once(saved: Any) -> Redirect:
            once.leave(
                request,
                SAVED_ONCE,
                program_id=program_id,
                summary=saved.summary,
                recorded=saved.violations_recorded,
                withdrawn=saved.violations_withdrawn,
            )
            return Redirect(f"/admin/programs/{program_id}/policy", status_code=303)

        return await submit(
            admin.update_program_settings(
                principal, settings, program_id, proposal, origin_of(request)
            ),
            shown_once,
            lambda errors: self._form(principal, program_id, _proposal(data), errors, 422),
        )


ROUTES = [PolicyPages]
