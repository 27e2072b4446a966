"""Administrators' pages: the admin menu, staff accounts (list, invite, deactivate), and
the outbox chooser every staff member's menu links to.

An invitation's set-password link is shown to the administrator exactly once, after
the redirect (Post/Redirect/Get, as web/links/pages.py does for secure links): it waits in
the administrator's server-side session for the one page that shows it.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template

from compliance.core.settings import Settings
from compliance.core.vocabulary import Role
from compliance.staff import access, admin
from compliance.staff.accounts import Principal
from compliance.staff.admin import StaffInvitation
from compliance.tables import Program, StaffInvite
from compliance.web.admin import queue_view
from compliance.web.common import once
from compliance.web.common.forms import submit
from compliance.web.common.page import Page
from compliance.web.common.principal import origin_of

SHOWN_ONCE = "invite_shown_once"
ROLE_OPTIONS = [(Role.clinician.value, "Clinician"), (Role.admin.value, "Administrator")]


async def _programs(principal: Principal) -> list[dict[str, Any]]:
    return (
        await Program.select(Program.id, Program.code, Program.name, Program.time_zone)
        .where(Program.id.is_in(sorted(principal.program_ids) or [0]))
        .order_by(Program.name)
    )


def _show_once(request: Request, made: StaffInvitation) -> Redirect:
    once.leave(request, SHOWN_ONCE, invite_id=made.invite_id, url=made.url)
    return Redirect(f"/admin/staff/invites/{made.invite_id}", status_code=303)


def _account_form(data: dict[str, str], programs: list[dict[str, Any]]) -> dict[str, Any]:
    """A page form as the service reads it: one checkbox per program (``program_ID``)."""
    chosen = [p["id"] for p in programs if data.get(f"program_{p['id']}")]
    return {
        "email": data.get("email", ""),
        "full_name": data.get("full_name", ""),
        "credentials": data.get("credentials", ""),
        "role": data.get("role", ""),
        "program_ids": chosen,
    }


class AdminPages(Controller):
    path = "/admin"
    include_in_schema = False

    @get()
    async def index(self, principal: NamedDependency[Principal]) -> Template:
        admin.require_admin(principal)
        return Page(
            "pages/admin/index.html",
            context={
                "principal": principal,
                "programs": await _programs(principal),
                "queue_view": await queue_view.offered_to(principal),
            },
        )

    @get("/staff")
    async def staff(self, principal: NamedDependency[Principal]) -> Template:
        staff = await admin.list_staff(principal)
        programs = await _programs(principal)
        return Page(
            "pages/admin/staff.html",
            context={
                "principal": principal,
                "staff": staff,
                "codes": {p["id"]: p["code"] for p in programs},
                "zone": programs[0]["time_zone"] if programs else "UTC",
            },
        )

    async def _invite_form(
        self, principal: Principal, values: dict[str, Any], errors: dict[str, str], status: int
    ) -> Template:
        programs = await _programs(principal)
        if not values.get("program_ids") and len(programs) == 1 and status == 200:
            values = {**values, "program_ids": [programs[0]["id"]]}
        return Page(
            "pages/admin/invite.html",
            context={
                "principal": principal,
                "programs": programs,
                "values": values,
                "errors": errors,
                "role_options": ROLE_OPTIONS,
            },
            status_code=status,
        )

    @get("/staff/new")
    async def new(self, principal: NamedDependency[Principal]) -> Template:
        admin.require_admin(principal)
        return await self._invite_form(principal, {"role": Role.clinician.value}, {}, 200)

    @post("/staff/new", status_code=303)
    async def invite(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        data: URLEncodedBody[dict[str, str]],
    ) -> Template | Redirect:
        admin.require_admin(principal)
        values = _account_form(data, await _programs(principal))
        return await submit(
            admin.invite_staff(principal, settings, values, origin_of(request)),
            lambda made: _show_once(request, made),
            lambda errors: self._invite_form(principal, values, errors, 422),
        )

    @get("/staff/invites/{invite_id:int}")
    async def invited(
        self, request: Request, principal: NamedDependency[Principal], invite_id: FromPath[int]
    ) -> Template:
        """The new link, once: a refresh or a second visit finds it gone."""
        admin.require_admin(principal)
        row = await StaffInvite.select().where(StaffInvite.id == invite_id).first()
        if row is None:
            raise access.NotFound("no such invitation")
        member = await admin.staff_member(principal, row["user"])
        shown = once.take(request, SHOWN_ONCE, invite_id=invite_id) or {}
        programs = await _programs(principal)
        return Page(
            "pages/admin/invited.html",
            context={
                "principal": principal,
                "member": member,
                "url": shown.get("url"),
                "expires_at": row["expires_at"],
                "zone": programs[0]["time_zone"] if programs else "UTC",
                "outbox": min(member.program_ids) if member.program_ids else None,
            },
        )

    @post("/staff/{user_id:int}/invite", status_code=303)
    async def reinvite(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        user_id: FromPath[int],
    ) -> Redirect:
        made = await admin.reinvite_staff(principal, settings, user_id, origin_of(request))
        return _show_once(request, made)

    @post("/staff/{user_id:int}/deactivate", status_code=303)
    async def deactivate(
        self, request: Request, principal: NamedDependency[Principal], user_id: FromPath[int]
    ) -> Redirect:
        await admin.set_staff_active(principal, user_id, False, origin_of(request))
        return Redirect(f"/admin/staff#staff-{user_id}", status_code=303)

    @post("/staff/{user_id:int}/reactivate", status_code=303)
    async def reactivate(
        self, request: Request, principal: NamedDependency[Principal], user_id: FromPath[int]
    ) -> Redirect:
        await admin.set_staff_active(principal, user_id, True, origin_of(request))
        return Redirect(f"/admin/staff#staff-{user_id}", status_code=303)


@get("/outbox", include_in_schema=False)
async def outbox_menu(principal: NamedDependency[Principal]) -> Template | Redirect:
    """The menu's "Outbox": straight to it with one program, a choice with several."""
    programs = await _programs(principal)
    if len(programs) == 1:
        return Redirect(f"/programs/{programs[0]['id']}/outbox", status_code=303)
    return Page(
        "pages/admin/outbox_menu.html", context={"principal": principal, "programs": programs}
    )


ROUTES = [AdminPages, outbox_menu]
