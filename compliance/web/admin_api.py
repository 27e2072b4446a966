"""Administrators: staff accounts and program policy settings (JSON API)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from compliance import admin
from compliance.accounts import Principal
from compliance.admin import ProgramSettings, StaffView
from compliance.vocabulary import Role
from compliance.web.auth import origin_of
from compliance.web.errors import documented


@dataclass
class NewStaff:
    email: str
    full_name: str
    password: str = field(metadata={"description": "at least 12 characters"})
    role: Role
    program_ids: list[int]
    credentials: str = ""


@dataclass
class PolicyChanges:
    name: str | None = None
    address: str | None = None
    phone: str | None = None
    contact_email: str | None = None
    week_starts_on: int | None = None
    dilute_counts_as_positive: bool | None = None
    excused_absence_counts_toward_hours: bool | None = None
    dilute_creatinine_mg_dl: Decimal | None = None
    results_due_hours: int | None = None
    collection_window_hours: int | None = None
    stepdown_compliant_weeks: int | None = None
    stepdown_consecutive_negative_tests: int | None = None
    notice_window_hours: int | None = None


def admin_only_handler(request: Request, exc: admin.AdminOnly) -> Response[Any]:
    return Response({"status_code": 403, "detail": str(exc)}, status_code=403)


class AdminAPI(Controller):
    path = "/api/admin"
    tags = ["administration"]

    @get(
        "/users",
        operation_id="listStaff",
        responses=documented(401, 403),
        summary="Staff of the programs you administer",
    )
    async def users(self, principal: NamedDependency[Principal]) -> list[StaffView]:
        return await admin.list_staff(principal)

    @post(
        "/users",
        operation_id="createStaff",
        responses=documented(401, 403, 422),
        summary="Create a staff account",
    )
    async def create_user(
        self, request: Request, principal: NamedDependency[Principal], data: JSONBody[NewStaff]
    ) -> StaffView:
        values = {**asdict(data), "role": data.role.value}
        return await admin.create_staff(principal, values, origin_of(request))

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

    @get(
        "/programs/{program_id:int}",
        operation_id="getProgramSettings",
        responses=documented(401, 403, 404),
        summary="A program's contact details and compliance policy",
    )
    async def settings(
        self, principal: NamedDependency[Principal], program_id: FromPath[int]
    ) -> ProgramSettings:
        return await admin.program_settings(principal, program_id)

    @patch(
        "/programs/{program_id:int}",
        operation_id="updateProgramSettings",
        responses=documented(401, 403, 404, 422),
        summary="Change a program's contact details or policy",
    )
    async def update(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        program_id: FromPath[int],
        data: JSONBody[PolicyChanges],
    ) -> ProgramSettings:
        changes = {k: v for k, v in asdict(data).items() if v is not None}
        return await admin.update_program_settings(
            principal, program_id, changes, origin_of(request)
        )


ROUTES = [AdminAPI]
