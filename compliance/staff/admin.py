"""What only administrators do: staff accounts and program settings (policy), within
their own programs. Clinicians get 403; other programs' records stay "not found".

A new account is made by invitation: the administrator names the person, the service
makes the account with no usable password and a single-use set-password link, shown
to the administrator once and e-mailed to the person through the outbox. Nobody but
the new user ever knows their password.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, make_dataclass
from datetime import UTC, datetime
from typing import Any

from compliance import audit
from compliance.core import db
from compliance.core.local_time import spoken
from compliance.core.settings import Settings
from compliance.core.validation import FieldError, Form, InvalidInput
from compliance.core.vocabulary import Role
from compliance.disclosure import outbox
from compliance.engine import policy, violations
from compliance.staff import access, accounts
from compliance.staff.accounts import Principal
from compliance.tables import Participant, Program, ProgramMembership, StaffInvite, StaffUser

CONTACT_FIELDS = ("name", "address", "phone", "contact_email")


class AdminOnly(Exception):
    """The caller is not an administrator."""


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise AdminOnly("administrators only")


async def administers_installation(principal: Principal) -> bool:
    """An administrator of every program here: what is shared by all programs (the job
    queue, whose jobs name any program's participants) is theirs to see, not a single
    program's administrator's."""
    if not principal.is_admin:
        return False
    programs = await Program.select(Program.id).output(as_list=True)
    return set(programs) <= principal.program_ids


# --- staff accounts ----------------------------------------------------------------


@dataclass
class StaffView:
    id: int
    email: str
    full_name: str
    credentials: str
    role: str
    active: bool
    program_ids: list[int]
    # "active", "invited" (the set-password link is waiting), "invitation expired",
    # or "deactivated".
    status: str = "active"
    invite_expires_at: datetime | None = None
    last_login_at: datetime | None = None


@dataclass
class StaffInvitation:
    """A new set-password link: ``url`` is given only in this answer and the e-mail."""

    invite_id: int
    user: StaffView
    url: str
    expires_at: datetime
    emailed_to: str


def _status(user: dict[str, Any], invites: list[dict[str, Any]], now: datetime) -> str:
    if not user["active"]:
        return "deactivated"
    if not invites or any(i["used_at"] is not None for i in invites):
        return "active"  # made with a password (command line), or the link was used
    latest = max(invites, key=lambda i: i["id"])
    live = latest["revoked_at"] is None and latest["expires_at"] > now
    return "invited" if live else "invitation expired"


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
    invites: dict[int, list[dict[str, Any]]] = {}
    for i in await StaffInvite.select().where(StaffInvite.user.is_in(sorted(by_user) or [0])):
        invites.setdefault(i["user"], []).append(i)
    now = datetime.now(UTC)
    out = []
    for u in users:
        status = _status(u, invites.get(u["id"], []), now)
        pending = [i for i in invites.get(u["id"], []) if i["revoked_at"] is None]
        out.append(
            StaffView(
                u["id"],
                u["email"],
                u["full_name"],
                u["credentials"],
                u["role"],
                u["active"],
                sorted(by_user[u["id"]]),
                status,
                max(i["expires_at"] for i in pending) if status == "invited" else None,
                u["last_login_at"],
            )
        )
    return out


async def staff_member(principal: Principal, user_id: int) -> StaffView:
    found = next((s for s in await list_staff(principal) if s.id == user_id), None)
    if found is None:
        raise access.NotFound("no such account")
    return found


def _read_account(principal: Principal, data: Mapping[str, Any]) -> tuple[Form, Role | None, list]:
    """The fields an account needs, checked, with every error at once."""
    form = Form(data)
    email = form.text("email", max_length=254)
    if email and not accounts.EMAIL.fullmatch(accounts.normalise_email(email)):
        form.errors.add("email", "is not an e-mail address")
    form.text("full_name", max_length=200)
    form.text("credentials", required=False, max_length=120)
    role = form.choice("role", Role)
    programs = data.get("program_ids") or []
    if not isinstance(programs, list) or not programs:
        form.errors.add("program_ids", "choose at least one program")
    elif any(not isinstance(p, int) or p not in principal.program_ids for p in programs):
        form.errors.add("program_ids", "may only name programs you administer")
    else:
        programs = sorted(set(programs))  # a program named twice is one membership
    return form, role, programs


async def create_staff(principal: Principal, data: Mapping[str, Any], origin: str) -> StaffView:
    """An account with a password the caller chose (the API, for automation; people
    are invited instead)."""
    require_admin(principal)
    form, role, programs = _read_account(principal, data)
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
    return await staff_member(principal, user.id)


def _invitation_email(
    name: str, inviter: str, program: str, url: str, expires: datetime, zone: str
) -> str:
    """Plain text with short lines, as e-mail readers expect; the link on a line alone."""
    made = (
        f"{inviter} has made you a staff account for the compliance reporting service of {program}."
    )
    expiry = (
        f"The link expires {spoken(expires, zone)}. If it has expired, ask your administrator "
        "for a new invitation. If you did not expect this e-mail, ignore it."
    )
    return (
        f"Hello {name},\n\n{textwrap.fill(made, 72)}\n\n"
        f"Choose your password here (the link works once):\n{url}\n\n"
        f"{textwrap.fill(expiry, 72)}\n"
    )


async def _send_invitation(
    principal: Principal,
    settings: Settings,
    user_id: int,
    email: str,
    name: str,
    program_id: int,
    origin: str,
    action: str,
) -> tuple[accounts.NewInvite, str]:
    """A fresh link for the account, its e-mail and its audit event; inside the
    caller's transaction."""
    made = await accounts.issue_invite(user_id, principal.id)
    url = f"{settings.base_url}/set-password/{made.token}"
    program = await Program.select().where(Program.id == program_id).first()
    await outbox.enqueue(
        settings,
        to=email,
        subject=f"Your staff account at {program['name']}",
        body=_invitation_email(
            name, principal.full_name, program["name"], url, made.expires_at, program["time_zone"]
        ),
        program=program_id,
    )
    await audit.record(
        action,
        principal.actor(origin),
        "staff_user",
        user_id,
        {"invite": made.id, "expires_at": made.expires_at.isoformat(timespec="seconds")},
    )
    return made, url


async def invite_staff(
    principal: Principal, settings: Settings, data: Mapping[str, Any], origin: str
) -> StaffInvitation:
    """Make the account (no usable password) and its set-password link and e-mail."""
    require_admin(principal)
    form, role, programs = _read_account(principal, data)
    email = accounts.normalise_email(str(data.get("email") or ""))
    # Only a well-formed address is looked up (PostgreSQL refuses a NUL in a query).
    well_formed = email and not any(e.field == "email" for e in form.errors.items)
    if well_formed and await StaffUser.exists().where(StaffUser.email == email):
        form.errors.add("email", f"an account for {email} already exists")
    form.errors.raise_if_any()
    assert role is not None
    name = str(data["full_name"]).strip()
    unusable = await accounts.unusable_password_hash()
    async with db.transaction():
        await db.serialize(f"staff-email:{email}")  # two invitations at once: one account
        if await StaffUser.exists().where(StaffUser.email == email):
            raise InvalidInput([FieldError("email", f"an account for {email} already exists")])
        user = StaffUser(
            email=email,
            full_name=name,
            credentials=str(data.get("credentials") or "").strip(),
            role=role.value,
            password_hash=unusable,
        )
        await user.save()
        await ProgramMembership.insert(
            *[ProgramMembership(user=user.id, program=pid) for pid in programs]
        )
        await audit.record(
            "user.create",
            principal.actor(origin),
            "staff_user",
            user.id,
            {"role": role.value, "programs": sorted(programs), "invited": True},
        )
        made, url = await _send_invitation(
            principal, settings, user.id, email, name, min(programs), origin, "user.invite"
        )
    return StaffInvitation(
        made.id, await staff_member(principal, user.id), url, made.expires_at, email
    )


async def reinvite_staff(
    principal: Principal, settings: Settings, user_id: int, origin: str
) -> StaffInvitation:
    """A new link for an account still waiting for its password; the old link stops."""
    staff = await staff_member(principal, user_id)
    if staff.status not in ("invited", "invitation expired"):
        reason = (
            "the account is deactivated"
            if staff.status == "deactivated"
            else "this account has set its password already"
        )
        raise InvalidInput([FieldError("user_id", reason)])
    program = min(p for p in staff.program_ids if p in principal.program_ids)
    async with db.transaction():
        made, url = await _send_invitation(
            principal,
            settings,
            user_id,
            staff.email,
            staff.full_name,
            program,
            origin,
            "user.reinvite",
        )
    return StaffInvitation(
        made.id, await staff_member(principal, user_id), url, made.expires_at, staff.email
    )


async def set_staff_active(
    principal: Principal, user_id: int, active: bool, origin: str
) -> StaffView:
    staff = await staff_member(principal, user_id)
    if user_id == principal.id and not active:
        raise InvalidInput([FieldError("user_id", "you cannot deactivate your own account")])
    await accounts.set_active(staff.email, active, principal.actor(origin))
    return await staff_member(principal, user_id)


# --- program settings and policy ----------------------------------------------------

# The program's identity and contact details, then every policy setting the program
# table has (compliance/engine/policy.py): a new setting column appears here by itself.
ProgramSettings = make_dataclass(
    "ProgramSettings",
    [
        ("id", int),
        ("code", str),
        ("name", str),
        ("time_zone", str),
        ("address", str),
        ("phone", str),
        ("contact_email", str),
        *[(s.name, s.python_type) for s in policy.policy_settings()],
    ],
)
ProgramSettings.__doc__ = "A program's contact details and compliance policy."


async def _program_row(principal: Principal, program_id: int) -> dict[str, Any]:
    require_admin(principal)
    access.require_program(principal, program_id)
    row = await Program.select().where(Program.id == program_id).first()
    if row is None:
        raise access.NotFound("no such program")
    return row


async def program_settings(principal: Principal, program_id: int) -> Any:
    row = await _program_row(principal, program_id)
    return ProgramSettings(**{k: row[k] for k in ProgramSettings.__dataclass_fields__})


@dataclass
class PolicyPreview:
    """What the proposed settings would do; saving them needs ``confirmation``."""

    program_id: int
    clients_judged: int
    changes: list[policy.SettingChange]
    summary: str
    weeks_changed: int
    weeks: list[policy.WeekChange]
    new_violations: list[policy.ViolationChange]
    withdrawn_violations: list[policy.ViolationChange]
    regrouped: list[policy.RegroupedClient]
    confirmation: str


def _policy_changes(row: dict[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    form = Form(data)
    changes = policy.read_changes(data, row, form)
    form.errors.raise_if_any()
    return changes


async def preview_policy(
    principal: Principal, settings: Settings, program_id: int, data: Mapping[str, Any]
) -> PolicyPreview:
    row = await _program_row(principal, program_id)
    changes = _policy_changes(row, data)
    effect = await policy.preview(row, changes)
    return PolicyPreview(
        program_id=program_id,
        clients_judged=effect.clients,
        changes=effect.changes,
        summary=effect.summary,
        weeks_changed=effect.weeks_changed,
        weeks=effect.weeks,
        new_violations=effect.new_violations,
        withdrawn_violations=effect.withdrawn_violations,
        regrouped=effect.regrouped,
        confirmation=policy.confirmation(settings.secret_key, row, changes) if changes else "",
    )


@dataclass
class SavedPolicy:
    settings: Any  # ProgramSettings
    summary: str  # what the saved change did, as its preview said
    violations_recorded: int
    violations_withdrawn: int


async def update_program_settings(
    principal: Principal,
    settings: Settings,
    program_id: int,
    data: Mapping[str, Any],
    origin: str,
) -> SavedPolicy:
    """Contact details change at once; policy changes only with the confirmation of a
    preview of exactly these changes against the settings as they are now."""
    row = await _program_row(principal, program_id)
    form = Form(data)
    changes = policy.read_changes(data, row, form)
    contact = {}
    for name in CONTACT_FIELDS:
        if name in data and data[name] is not None:
            contact[name] = form.text(name, required=name == "name", max_length=500)
    form.errors.raise_if_any()
    problem = (
        policy.confirmation_problem(settings.secret_key, row, changes, data.get("confirmation"))
        if changes
        else ""
    )
    if problem:
        raise InvalidInput([FieldError("confirmation", problem)])
    effect = await policy.preview(row, changes) if changes else None
    found = violations.Changes()
    if changes or contact:
        async with db.transaction():
            await db.serialize(f"program-settings:{program_id}")
            now_row = await Program.select().where(Program.id == program_id).first()
            if any(now_row[k] != row[k] for k in changes):  # another admin got in first
                raise InvalidInput(
                    [FieldError("confirmation", "the settings changed meanwhile: preview again")]
                )
            await Program.update({**changes, **contact}).where(Program.id == program_id)
            if changes:  # weeks and violations are judged anew under the new policy
                found = await violations.refresh(
                    await Participant.select(Participant.id)
                    .where(Participant.program == program_id)
                    .output(as_list=True)
                )
            await audit.record(
                "program.settings",
                principal.actor(origin),
                "program",
                program_id,
                {
                    "fields": sorted({*changes, *contact}),
                    "policy": {k: [str(row[k]), str(v)] for k, v in changes.items()},
                    "effect": {
                        "weeks_changed": effect.weeks_changed if effect else 0,
                        "violations_recorded": found.recorded,
                        "violations_withdrawn": found.withdrawn,
                    },
                },
            )
    return SavedPolicy(
        await program_settings(principal, program_id),
        effect.summary if effect else "",
        found.recorded,
        found.withdrawn,
    )
