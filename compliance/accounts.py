"""Staff accounts: argon2id password hashes and account creation."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from compliance.tables import ProgramMembership, StaffUser
from compliance.vocabulary import Role

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def create_staff_user(
    *,
    email: str,
    full_name: str,
    password: str,
    role: Role,
    program_ids: list[int],
    credentials: str = "",
) -> StaffUser:
    """Create an account and its program memberships; the caller owns the transaction."""
    user = StaffUser(
        email=email.strip().lower(),
        full_name=full_name,
        credentials=credentials,
        role=role.value,
        password_hash=hash_password(password),
    )
    await user.save()
    if program_ids:
        await ProgramMembership.insert(
            *[ProgramMembership(user=user.id, program=pid) for pid in program_ids]
        )
    return user
