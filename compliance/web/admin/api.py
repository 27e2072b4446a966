"""Administrators: staff accounts, invitations and program policy settings (JSON API)."""

from __future__ import annotations

from dataclasses import dataclass, field, make_dataclass

from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from compliance.core.settings import Settings
from compliance.core.vocabulary import Role
from compliance.engine import policy
from compliance.staff import admin
from compliance.staff.accounts import Principal
from compliance.staff.admin import PolicyPreview, ProgramSettings, StaffInvitation, StaffView
from compliance.web.common.errors import documented
from compliance.web.common.plain import plain
from compliance.web.common.principal import origin_of


@dataclass
class NewStaff:
    email: str
    full_name: str
    password: str = field(metadata={"description": "at least 12 characters"})
    role: Role
    program_ids: list[int]
    credentials: str = ""


@dataclass
class Invitation:
    email: str
    full_name: str
    role: Role
    program_ids: list[int]
    credentials: str = field(default="", metadata={"description": 'e.g. "LCSW, LCADC"'})


# Contact details and every policy setting (compliance/engine/policy.py), each optional: only
# what is sent changes. Policy changes need the ``confirmation`` of their preview.
PolicyChanges = make_dataclass(
    "PolicyChanges",
    [
        *[(name, str | None, field(default=None)) for name in admin.CONTACT_FIELDS],
        *[(s.name, s.python_type | None, field(default=None)) for s in policy.policy_settings()],
        (
            "confirmation",
            str | None,
            field(
                default=None,
                metadata={
                    "description": "from POST /api/admin/programs/{id}/policy-preview of "
                    "the same policy changes; needed when any policy setting changes"
                },
            ),
        ),
    ],
)
PolicyProposal = make_dataclass(
    "PolicyProposal",
    [(s.name, s.python_type | None, field(default=None)) for s in policy.policy_settings()],
)


class AdminAPI(Controller):
    path = "/api/admin"
    tags = ["administration"]

    @get(
        "/users",
        operation_id="listStaff",
        responses=documented(401, 403),
        summary="Staff of the programs you administer, with their account status",
    )
    async def users(self, principal: NamedDependency[Principal]) -> list[StaffView]:
        return await admin.list_staff(principal)

    @post(
        "/users",
        operation_id="createStaff",
        responses=documented(401, 403, 422),
        summary="Create a staff account with a password you choose (for automation)",
        description="People are better invited (POST /api/admin/invites): then nobody "
        "but the new user ever knows their password.",
    )
    async def create_user(
        self, request: Request, principal: NamedDependency[Principal], data: JSONBody[NewStaff]
    ) -> StaffView:
        return await admin.create_staff(principal, plain(data), origin_of(request))

    @post(
        "/invites",
        operation_id="inviteStaff",
        responses=documented(401, 403, 422),
        summary="Invite a new staff member: an account and a single-use set-password link",
        description="The account has no usable password until its holder opens the link "
        "(valid 72 hours, once) and chooses one. The link is in this answer and in the "
        "e-mail queued to the new user; only its hash is stored.",
    )
    async def invite(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        data: JSONBody[Invitation],
    ) -> StaffInvitation:
        return await admin.invite_staff(principal, settings, plain(data), origin_of(request))

    @post(
        "/users/{user_id:int}/invite",
        operation_id="reinviteStaff",
        responses=documented(401, 403, 404, 422),
        summary="A new set-password link for an account still waiting for its password",
        description="The earlier link stops working.",
    )
    async def reinvite(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        user_id: FromPath[int],
    ) -> StaffInvitation:
        return await admin.reinvite_staff(principal, settings, user_id, origin_of(request))

    @post(
        "/users/{user_id:int}/deactivate",
        operation_id="deactivateStaff",
        responses=documented(401, 403, 404, 422),
        status_code=200,
        summary="Deactivate an account; its sessions end at once",
    )
    async def deactivate(
        self, request: Request, principal: NamedDependency[Principal], user_id: FromPath[int]
    ) -> StaffView:
        return await admin.set_staff_active(principal, user_id, False, origin_of(request))

    @post(
        "/users/{user_id:int}/activate",
        operation_id="activateStaff",
        responses=documented(401, 403, 404, 422),
        status_code=200,
        summary="Let a deactivated account sign in again",
    )
    async def activate(
        self, request: Request, principal: NamedDependency[Principal], user_id: FromPath[int]
    ) -> StaffView:
        return await admin.set_staff_active(principal, user_id, True, origin_of(request))

    @get(
        "/programs/{program_id:int}",
        operation_id="getProgramSettings",
        responses=documented(401, 403, 404),
        summary="A program's contact details and compliance policy",
    )
    async def settings(
        self, principal: NamedDependency[Principal], program_id: FromPath[int]
    ) -> ProgramSettings:  # type: ignore[valid-type]
        return await admin.program_settings(principal, program_id)

    @post(
        "/programs/{program_id:int}/policy-preview",
        operation_id="previewProgramPolicy",
        responses=documented(401, 403, 404, 422),
        status_code=200,
        summary="What a policy change would do to past weeks and violations; stores nothing",
        description="The program's active clients are judged over their enrolment with "
        "the current and with the proposed settings. Send the answer's confirmation with "
        "the same changes to PATCH /api/admin/programs/{id} within an hour to save them.",
    )
    async def preview(
        self,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        program_id: FromPath[int],
        data: JSONBody[PolicyProposal],  # type: ignore[valid-type]
    ) -> PolicyPreview:
        return await admin.preview_policy(principal, settings, program_id, plain(data))

    @patch(
        "/programs/{program_id:int}",
        operation_id="updateProgramSettings",
        responses=documented(401, 403, 404, 422),
        summary="Change a program's contact details, or its policy after a preview",
        description="A policy change without the confirmation of its preview is refused "
        "(422) and nothing changes.",
    )
    async def update(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        program_id: FromPath[int],
        data: JSONBody[PolicyChanges],  # type: ignore[valid-type]
    ) -> ProgramSettings:  # type: ignore[valid-type]
        saved = await admin.update_program_settings(
            principal, settings, program_id, plain(data), origin_of(request)
        )
        return saved.settings


ROUTES = [AdminAPI]
