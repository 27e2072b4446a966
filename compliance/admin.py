"""What only administrators do: staff accounts and program settings (policy), within
their own programs. Clinicians get 403; other programs' records stay "not found"."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from compliance import access, accounts, audit, db, violations
from compliance.accounts import Principal
from compliance.tables import Participant, Program, ProgramMembership, StaffUser
from compliance.validation import Form
from compliance.vocabulary import Role

POLICY_INTEGERS = {  # field: (minimum, maximum)
    "week_starts_on": (0, 6),
    "results_due_hours": (1, 720),
    "collection_window_hours": (1, 72),
    "stepdown_compliant_weeks": (0, 52),
    "stepdown_consecutive_negative_tests": (0, 100),
    "notice_window_hours": (1, 720),
}
POLICY_FLAGS = ("dilute_counts_as_positive", "excused_absence_counts_toward_hours")
CONTACT_FIELDS = ("name", "address", "phone", "contact_email")


class AdminOnly(Exception):
    """The caller is not an administrator."""


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise AdminOnly("administrators only")


@dataclass
class StaffView:
    id: int
    email: str
    full_name: str
    credentials: str
    role: str
    active: bool
    program_ids: list[int]


@dataclass
class ProgramSettings:
    id: int
    code: str
    name: str
    time_zone: str
    address: str
    phone: str
    contact_email: str
    week_starts_on: int
    dilute_counts_as_positive: bool
    excused_absence_counts_toward_hours: bool
    dilute_creatinine_mg_dl: Decimal
    results_due_hours: int
    collection_window_hours: int
    stepdown_compliant_weeks: int
    stepdown_consecutive_negative_tests: int
    notice_window_hours: int


async def list_staff(principal: Principal) -> list[StaffView]:
    require_admin(principal)
    memberships = await ProgramMembership.select().where(
        ProgramMembership.program.is_in(sorted(principal.program_ids) or [0])
    )
    by_user: dict[int, list[int]] = {}
    for m in memberships:
        by_user.setdefault(m["user"], []).append(m["program"])
    users = (
        await StaffUser.select()
        .where(StaffUser.id.is_in(sorted(by_user) or [0]))
        .order_by(StaffUser.email)
    )
    return [
        StaffView(
            u["id"],
            u["email"],
            u["full_name"],
            u["credentials"],
            u["role"],
            u["active"],
            sorted(by_user[u["id"]]),
        )
        for u in users
    ]


async def create_staff(principal: Principal, data: Mapping[str, Any], origin: str) -> StaffView:
    require_admin(principal)
    form = Form(data)
    role = form.choice("role", Role)
    programs = data.get("program_ids") or []
    if not isinstance(programs, list) or not programs:
        form.errors.add("program_ids", "choose at least one program")
    elif any(p not in principal.program_ids for p in programs):
        form.errors.add("program_ids", "may only name programs you administer")
    form.errors.raise_if_any()
    try:
        user = await accounts.create_staff_user(
            email=str(data.get("email", "")),
            full_name=str(data.get("full_name", "")),
            password=str(data.get("password", "")),
            role=role,
            program_ids=programs,  # type: ignore[arg-type]
            credentials=str(data.get("credentials", "")),
            actor=principal.actor(origin),
        )
    except accounts.AccountError as exc:
        form.errors.add(
            "email" if "account" in str(exc) or "e-mail" in str(exc) else "password", str(exc)
        )
        form.errors.raise_if_any()
        raise
    return next(s for s in await list_staff(principal) if s.id == user.id)


async def set_staff_active(
    principal: Principal, user_id: int, active: bool, origin: str
) -> StaffView:
    require_admin(principal)
    staff = {s.id: s for s in await list_staff(principal)}
    if user_id not in staff:
        raise access.NotFound("no such account")
    if user_id == principal.id and not active:
        form = Form({})
        form.errors.add("user_id", "you cannot deactivate your own account")
        form.errors.raise_if_any()
    await accounts.set_active(staff[user_id].email, active, principal.actor(origin))
    return next(s for s in await list_staff(principal) if s.id == user_id)


async def program_settings(principal: Principal, program_id: int) -> ProgramSettings:
    require_admin(principal)
    access.require_program(principal, program_id)
    row = await Program.select().where(Program.id == program_id).first()
    return ProgramSettings(**{k: row[k] for k in ProgramSettings.__dataclass_fields__})


async def update_program_settings(
    principal: Principal, program_id: int, data: Mapping[str, Any], origin: str
) -> ProgramSettings:
    await program_settings(principal, program_id)
    form = Form(data)
    changes: dict[str, Any] = {}
    for name, (low, high) in POLICY_INTEGERS.items():
        if name in data:
            changes[name] = form.integer(name, minimum=low, maximum=high)
    for name in POLICY_FLAGS:
        if name in data:
            changes[name] = bool(data[name]) if isinstance(data[name], bool) else form.boolean(name)
    for name in CONTACT_FIELDS:
        if name in data:
            changes[name] = form.text(name, required=name == "name", max_length=500)
    if "dilute_creatinine_mg_dl" in data:
        try:
            value = Decimal(str(data["dilute_creatinine_mg_dl"]))
            if not value.is_finite() or not 0 < value <= 100:
                raise ValueError
            changes["dilute_creatinine_mg_dl"] = value
        except (ValueError, ArithmeticError):
            form.errors.add("dilute_creatinine_mg_dl", "must be a number between 0 and 100")
    form.errors.raise_if_any()
    if changes:
        async with db.transaction():
            await Program.update(changes).where(Program.id == program_id)
            if "dilute_counts_as_positive" in changes:  # dilutes become violations or not
                await violations.refresh(
                    await Participant.select(Participant.id)
                    .where(Participant.program == program_id)
                    .output(as_list=True)
                )
            await audit.record(
                "program.settings",
                principal.actor(origin),
                "program",
                program_id,
                {"fields": sorted(changes)},
            )
    return await program_settings(principal, program_id)
