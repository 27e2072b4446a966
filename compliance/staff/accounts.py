"""Staff accounts: argon2id password hashes, sign-in with throttling, and who is asking.

Failed sign-ins are audit events; the throttle counts them, so the audit trail is the
one record of sign-in attempts. Hashing runs in a thread: argon2 is deliberately slow
and must not stall the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from piccolo.columns import Column

from compliance import audit
from compliance.core import db
from compliance.core.vocabulary import Role
from compliance.tables import AuditEvent, Program, ProgramMembership, StaffInvite, StaffUser

FAST_HASHES_FOR_TESTS = "COMPLIANCE_TEST_FAST_HASHES"


def make_hasher(environ: dict[str, str] | os._Environ[str] = os.environ) -> PasswordHasher:
    """argon2id with the library's recommended parameters (RFC 9106, 64 MiB, 3 passes).

    The test suite alone sets ``COMPLIANCE_TEST_FAST_HASHES=1`` for the cheapest
    profile: hundreds of tests create and sign in accounts, and at full cost they spent
    a quarter of the suite's time hashing. Hashes made either way verify either way.
    """
    if environ.get(FAST_HASHES_FOR_TESTS) == "1":
        return PasswordHasher.from_parameters(profiles.CHEAPEST)
    return PasswordHasher()


_hasher = make_hasher()


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """Verified against when the e-mail is unknown, so both paths take the same time.
    Made on first use: hashing at import cost every command-line start a quarter second."""
    return _hasher.hash("not a real password")


THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ORIGIN = 20
MIN_PASSWORD_LENGTH = 12
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}")


class SignInRefused(Exception):
    """Wrong e-mail or password, or a deactivated account (the caller cannot tell which)."""


class SignInThrottled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after} s")
        self.retry_after = retry_after


class AccountError(Exception):
    """A bad request about accounts; ``str()`` says what is wrong."""


@dataclass(frozen=True)
class Principal:
    """A signed-in staff member and the programs whose records they may see."""

    id: int
    email: str
    full_name: str
    role: Role
    program_ids: frozenset[int]

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin

    def actor(self, origin: str = "") -> audit.Actor:
        return audit.Actor(f"user:{self.id}", origin)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")


_USER = db.Prepared(lambda: StaffUser.select().where(StaffUser.id == db.Param("user")))
_MEMBERSHIPS = db.Prepared(
    lambda: ProgramMembership.select(ProgramMembership.program).where(
        ProgramMembership.user == db.Param("user")
    )
)


async def load_principal(user_id: int) -> Principal | None:
    """The active user with that id and their programs, or None. Read on every staff
    request (a deactivation or a program change takes effect at once), so its two
    queries are compiled once."""
    found = await _USER.run(user=user_id)
    user = found[0] if found else None
    if user is None or not user["active"]:
        return None
    memberships = await _MEMBERSHIPS.run(user=user_id)
    return Principal(
        id=user["id"],
        email=user["email"],
        full_name=user["full_name"],
        role=Role(user["role"]),
        program_ids=frozenset(m["program"] for m in memberships),
    )


async def _recent_failures(field: Column, value: str) -> list[datetime]:
    """When the failed sign-ins of the throttle window happened, oldest first."""
    since = datetime.now(UTC) - THROTTLE_WINDOW
    rows = (
        await AuditEvent.select(AuditEvent.occurred_at)
        .where(
            (AuditEvent.action == "login.failed")
            & (AuditEvent.occurred_at > since)
            & (field == value)
        )
        .order_by(AuditEvent.occurred_at)
    )
    return [r["occurred_at"] for r in rows]


def _throttled_for(failures: list[datetime], limit: int) -> int:
    """Seconds until fewer than ``limit`` failures remain in the window; 0 if already."""
    if len(failures) < limit:
        return 0
    frees_up = failures[len(failures) - limit] + THROTTLE_WINDOW
    return max(1, int((frees_up - datetime.now(UTC)).total_seconds()))


async def _retry_after(label: str, origin: str) -> int:
    """Seconds until this account and this address may try again; 0 when both may."""
    return max(
        _throttled_for(
            await _recent_failures(AuditEvent.object_id, label), MAX_FAILURES_PER_ACCOUNT
        ),
        _throttled_for(await _recent_failures(AuditEvent.origin, origin), MAX_FAILURES_PER_ORIGIN),
    )


async def authenticate(email: str, password: str, origin: str) -> Principal:
    """Check the credentials; every attempt, good or bad, is an audit event."""
    email = normalise_email(email)
    # What is recorded as the account tried: never a mistyped password pasted into it.
    # No account has a NUL in its address, and PostgreSQL refuses one in a query.
    nul = "\x00" in email
    label = email if not nul and EMAIL.fullmatch(email) else "(not an e-mail address)"
    anonymous = audit.Actor("anonymous", origin)
    outcome: Exception | None = None
    # The password hash is checked before the write lock: argon2 takes a tenth of a
    # second or more, and on SQLite the lock stops every write in the service. The
    # verdict is still decided under the lock (below), so a guess's answer is given only
    # if it was within the limits when recorded. A look first spares the hashing when
    # the address or account is already over its limit.
    user, ok = None, False
    if not await _retry_after(label, origin):
        if not nul:
            user = await StaffUser.select().where(StaffUser.email == email).first()
        stored = user["password_hash"] if user else dummy_hash()
        ok = await asyncio.to_thread(verify_password, stored, password)
    async with db.transaction():
        # One verdict per client address, then per account, at a time: parallel guesses
        # cannot slip under either limit (guesses at many accounts from one address, or
        # at one account from many). Always in this order, so two attempts never deadlock.
        await db.serialize(f"login-origin:{origin}")
        await db.serialize(f"login:{label}")
        retry = await _retry_after(label, origin)
        if user is not None and ok:  # still active now, not only when the hash was read
            user = await StaffUser.select().where(StaffUser.id == user["id"]).first()
        if retry:
            await audit.record("login.throttled", anonymous, "staff_user", label)
            outcome = SignInThrottled(retry)
        elif not ok or user is None or not user["active"]:
            await audit.record("login.failed", anonymous, "staff_user", label)
            outcome = SignInRefused("wrong e-mail or password")
        else:
            await StaffUser.update({StaffUser.last_login_at: datetime.now(UTC)}).where(
                StaffUser.id == user["id"]
            )
            await audit.record(
                "login.success",
                audit.Actor(f"user:{user['id']}", origin),
                "staff_user",
                user["id"],
            )
    if outcome is not None:
        raise outcome
    principal = await load_principal(user["id"])
    assert principal is not None
    return principal


async def create_staff_user(
    *,
    email: str,
    full_name: str,
    password: str,
    role: Role,
    program_ids: list[int],
    credentials: str = "",
    actor: audit.Actor = audit.CLI,
) -> StaffUser:
    """Create an account and its program memberships, recorded in the audit trail."""
    email = normalise_email(email)
    if "@" not in email or not full_name.strip():
        raise AccountError("an account needs an e-mail address and a full name")
    check_password_rules(password)
    password_hash = await asyncio.to_thread(hash_password, password)
    async with db.transaction():
        if await StaffUser.exists().where(StaffUser.email == email):
            raise AccountError(f"an account for {email} already exists")
        user = StaffUser(
            email=email,
            full_name=full_name.strip(),
            credentials=credentials,
            role=role.value,
            password_hash=password_hash,
        )
        await user.save()
        if program_ids:
            await ProgramMembership.insert(
                *[ProgramMembership(user=user.id, program=pid) for pid in program_ids]
            )
        await audit.record(
            "user.create",
            actor,
            "staff_user",
            user.id,
            {"role": role.value, "programs": sorted(program_ids)},
        )
    return user


async def set_active(email: str, active: bool, actor: audit.Actor = audit.CLI) -> None:
    email = normalise_email(email)
    async with db.transaction():
        user = await StaffUser.select(StaffUser.id).where(StaffUser.email == email).first()
        if user is None:
            raise AccountError(f"no account for {email}")
        await StaffUser.update({StaffUser.active: active}).where(StaffUser.id == user["id"])
        action = "user.activate" if active else "user.deactivate"
        await audit.record(action, actor, "staff_user", user["id"])


async def program_ids_for_codes(codes: list[str]) -> list[int]:
    rows = await Program.select(Program.id, Program.code).where(Program.code.is_in(codes or [""]))
    found = {r["code"]: r["id"] for r in rows}
    missing = [c for c in codes if c not in found]
    if missing:
        raise AccountError(f"no program with code {', '.join(missing)}")
    return [found[c] for c in codes]


# --- invitations: the new user sets their own password ------------------------------

INVITE_LIFETIME = timedelta(hours=72)


class InviteGone(Exception):
    """The set-password link cannot be used (any more); ``str()`` says why, in words."""


@dataclass(frozen=True)
class NewInvite:
    id: int
    token: str  # only ever in the link shown once and in the e-mail, never stored
    expires_at: datetime


@dataclass(frozen=True)
class InviteHolder:
    """Whom a valid set-password link is for: what its page shows."""

    invite_id: int
    user_id: int
    email: str
    full_name: str
    expires_at: datetime
    time_zone: str  # the program's clock, for the page's times


def invite_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def unusable_password_hash() -> str:
    """An argon2 hash of a secret nobody keeps: no password matches it, and signing in
    to an account still waiting for its password takes as long as any other refusal."""
    return await asyncio.to_thread(hash_password, secrets.token_urlsafe(32))


async def issue_invite(user_id: int, created_by: int | None) -> NewInvite:
    """A new set-password token (256 bits) for the account; earlier unused ones stop
    working. Call inside the transaction that records why (the invite, its e-mail)."""
    now = datetime.now(UTC)
    await StaffInvite.update({StaffInvite.revoked_at: now}).where(
        (StaffInvite.user == user_id)
        & StaffInvite.used_at.is_null()
        & StaffInvite.revoked_at.is_null()
    )
    token = secrets.token_urlsafe(32)
    expires = now + INVITE_LIFETIME
    rows = await StaffInvite.insert(
        StaffInvite(
            user=user_id,
            token_hash=invite_token_hash(token),
            created_by=created_by,
            created_at=now,
            expires_at=expires,
        )
    ).returning(StaffInvite.id)
    return NewInvite(rows[0]["id"], token, expires)


async def invite_holder(token: str, now: datetime | None = None) -> InviteHolder:
    """The account a set-password token is for; ``InviteGone`` when it is unknown,
    spent, replaced, expired or the account was deactivated."""
    now = now or datetime.now(UTC)
    invite = None
    if token and len(token) <= 100 and "\x00" not in token:
        invite = (
            await StaffInvite.select()
            .where(StaffInvite.token_hash == invite_token_hash(token))
            .first()
        )
    if invite is None:
        raise InviteGone("This set-password link is not valid. Check that you copied all of it.")
    user = await StaffUser.select().where(StaffUser.id == invite["user"]).first()
    if invite["used_at"] is not None:
        raise InviteGone("This link has been used already: the password is set. Sign in.")
    if invite["revoked_at"] is not None:
        raise InviteGone("A newer invitation replaced this link: use the latest e-mail.")
    if invite["expires_at"] <= now:
        raise InviteGone("This link has expired. Ask your administrator for a new invitation.")
    if user is None or not user["active"]:
        raise InviteGone("This account has been deactivated.")
    program = (
        await Program.select(Program.time_zone)
        .where(
            Program.id.is_in(
                ProgramMembership.select(ProgramMembership.program).where(
                    ProgramMembership.user == user["id"]
                )
            )
        )
        .order_by(Program.id)
        .first()
    )
    return InviteHolder(
        invite["id"],
        user["id"],
        user["email"],
        user["full_name"],
        invite["expires_at"],
        program["time_zone"] if program else "UTC",
    )


async def set_password_with_invite(token: str, password: str, origin: str) -> int:
    """Set the invited account's password and spend the token; returns the user's id.
    Two submits of one link race for it: exactly one sets the password."""
    holder = await invite_holder(token)
    check_password_rules(password)
    password_hash = await asyncio.to_thread(hash_password, password)
    now = datetime.now(UTC)
    async with db.transaction():
        spent = (
            await StaffInvite.update({StaffInvite.used_at: now})
            .where(
                (StaffInvite.id == holder.invite_id)
                & StaffInvite.used_at.is_null()
                & StaffInvite.revoked_at.is_null()
                & (StaffInvite.expires_at > now)
            )
            .returning(StaffInvite.id)
        )
        if not spent:
            raise InviteGone("This link has been used already: the password is set. Sign in.")
        await StaffUser.update({StaffUser.password_hash: password_hash}).where(
            StaffUser.id == holder.user_id
        )
        await audit.record(
            "user.password_set",
            audit.Actor(f"user:{holder.user_id}", origin),
            "staff_user",
            holder.user_id,
            {"invite": holder.invite_id},
        )
    return holder.user_id
