"""Invitations to set a password: how a new staff account gets its first password
without an administrator ever typing or seeing it."""

from piccolo.columns import ForeignKey, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from compliance.tables.programs import StaffUser


class StaffInvite(Table, tablename="staff_invite"):
    """One single-use set-password link. Only the token's SHA-256 is stored: the token
    is in the link shown to the administrator once and in the e-mail to the new user."""

    user = ForeignKey(references=StaffUser, on_delete=OnDelete.cascade, index=True, null=False)
    token_hash = Varchar(length=64, unique=True)
    created_by = ForeignKey(references=StaffUser, on_delete=OnDelete.set_null, null=True)
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)  # the password was set with it
    revoked_at = Timestamptz(null=True, default=None)  # a newer invitation replaced it
