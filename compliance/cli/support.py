"""What every ``compliance`` command shares: one-line operator errors and exit codes,
the settings, and running async work against the database."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

from compliance.core import db
from compliance.core.settings import Settings, SettingsError, load_settings

EXIT_SETTINGS = 2
EXIT_UNAVAILABLE = 1


class OperatorError(Exception):
    """A request the operator can fix; printed as its message alone."""


def fail(message: str, code: int = EXIT_UNAVAILABLE) -> NoReturn:
    click.echo(f"compliance: error: {message}", err=True)
    sys.exit(code)


def settings_or_exit() -> Settings:
    """The settings, with the audit trail's key and files configured from them."""
    from compliance import audit

    try:
        settings = load_settings()
    except SettingsError as exc:
        fail(str(exc), EXIT_SETTINGS)
    audit.configure(settings)
    return settings


def run_async(factory: Callable[[], Any]) -> Any:
    try:
        return asyncio.run(factory())
    except db.DatabaseUnavailable as exc:
        fail(f"DATABASE_URL: {exc}")
    except Exception as exc:  # an operator sees one line; the class names the kind
        from compliance.staff.accounts import AccountError

        if isinstance(exc, AccountError | OperatorError):
            fail(str(exc))
        first = (str(exc).strip().splitlines() or [""])[0]
        fail(f"{exc.__class__.__name__}: {first}")


def with_database(settings: Settings, work: Callable[[], Any]) -> Any:
    async def go() -> Any:
        await db.check_reachable(settings.database)
        db.bind(db.create_engine(settings.database, must_exist=True))
        return await work()

    return run_async(go)
