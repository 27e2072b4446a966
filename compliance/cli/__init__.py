"""The ``compliance`` command: Litestar's CLI (``run``, ``routes``, ``schema`` ...) with
our commands added. Operator errors print one line and exit non-zero, never a traceback.

Only the commands that need the app build it: ours run without Litestar's group, and
``compliance --help`` lists everything without loading the app (``main``)."""

from __future__ import annotations

import os
import sys

import click

from compliance.cli import jobs as job_commands
from compliance.cli import serve
from compliance.cli import testing as testing_commands
from compliance.cli.reports_and_backups import COMMANDS
from compliance.cli.support import (
    EXIT_SETTINGS,
    OperatorError,
    fail,
    run_async,
    settings_or_exit,
    with_database,
)
from compliance.core import db, migration_runner
from compliance.core.settings import Settings, SettingsError, require_own_secrets


def preflight(settings: Settings) -> None:
    """Everything ``run`` needs before it binds a port: reachable, fully migrated database."""

    async def check() -> list[str]:
        await db.check_reachable(settings.database)
        return await migration_runner.pending_migrations(db.create_engine(settings.database))

    pending = run_async(check)
    if pending:
        fail(f"{len(pending)} migration(s) not applied; run `compliance migrate` first")


def _listen_target(settings: Settings, run_args: list[str]) -> str:
    """Where ``run`` will listen: ``--host``/``-H`` wins over HOST; a Unix socket or an
    inherited descriptor (``--uds``, ``--fd``) is named as such, since a proxy in front
    of it may serve anyone."""
    target = settings.host
    for i, arg in enumerate(run_args):
        name, eq, value = arg.partition("=")
        if name in ("--uds", "--fd"):
            return f"{name} {value if eq else ' '.join(run_args[i + 1 : i + 2])}".strip()
        if name in ("--host", "-H"):
            target = value if eq else (run_args[i + 1] if i + 1 < len(run_args) else target)
    return target


def _own_secrets_when_public(settings: Settings, run_args: list[str]) -> None:
    """Before anything is made or bound: beyond loopback, SECRET_KEY and SIGNING_P12
    must be the operator's own (settings.require_own_secrets says why)."""
    try:
        require_own_secrets(_listen_target(settings, run_args))
    except SettingsError as exc:
        fail(str(exc), EXIT_SETTINGS)


def _signing_ready(settings: Settings) -> None:
    """Before serving: the signing key loads (the development one is made on first run)."""
    from compliance.reporting import signing

    try:
        config = signing.signing_config(settings)
        subject = signing.certificate_subject(config)
    except signing.SigningUnavailable as exc:
        fail(f"SIGNING_P12: {exc}", EXIT_SETTINGS)
    if config.development:
        click.echo(f"signing with a development certificate ({subject}); see README", err=True)


@click.command("migrate")
@click.option("--check", is_flag=True, help="Only report pending migrations (exit 1 if any).")
def migrate_command(check: bool) -> None:
    """Apply pending database migrations, all in one transaction."""
    settings = settings_or_exit()

    async def go() -> list[str]:
        await db.check_reachable(settings.database)
        engine = db.create_engine(settings.database)
        if check:
            return await migration_runner.pending_migrations(engine)
        from compliance.jobs import queued  # 0.2-0.4 s of imports --check has no use for

        applied = await migration_runner.migrate(engine)
        await queued.prepare(settings)  # the queue's own tables, when they live here
        return applied

    names = run_async(go)
    target = settings.database.display
    if check:
        if names:
            fail(f"{len(names)} migration(s) pending on {target}: {', '.join(names)}")
        click.echo(f"{target}: up to date")
    elif names:
        click.echo(f"{target}: applied {len(names)} migration(s): {', '.join(names)}")
    else:
        click.echo(f"{target}: up to date")


@click.command("demo")
@click.option(
    "--if-empty", is_flag=True, help="Only load when the database has no programs (first run)."
)
def demo_command(if_empty: bool) -> None:
    """Load demonstration data (idempotent). New credentials are printed once."""
    from compliance.ops import demo

    settings = settings_or_exit()

    async def go() -> demo.DemoResult:
        await db.check_reachable(settings.database)
        engine = db.create_engine(settings.database)
        db.bind(engine)
        if await migration_runner.pending_migrations(engine):
            raise db.DatabaseUnavailable("migrations pending; run `compliance migrate` first")
        return await demo.load_demo(if_empty=if_empty)

    result = run_async(go)
    click.echo(result.summary())


@click.command("check")
def check_command() -> None:
    """Check settings, the report store and the database, as `run` does before serving."""
    settings = settings_or_exit()
    preflight(settings)
    click.echo(
        f"settings ok; database {settings.database.display} reachable and migrated; "
        f"reports in {settings.reports_dir}"
    )


AUDIT_ALSO_SHOWN = 4  # after the first finding; the rest usually follow from it


@click.group("audit")
def audit_group() -> None:
    """The keyed, hash-chained audit trail and its signed checkpoints."""


@audit_group.command("verify")
def audit_verify_command() -> None:
    """Recompute the audit chain and hold it against every instance's head file
    (REPORTS_DIR/audit-heads/, and an older VAR_DIR/audit-head) and every signed
    checkpoint; name the first bad event (or deletion), or say it is intact."""
    from compliance import audit

    settings = settings_or_exit()

    async def go() -> audit.ChainReport:
        await db.check_reachable(settings.database)
        db.bind(db.create_engine(settings.database, must_exist=True))
        return await audit.verify_chain()

    report = run_async(go)
    if not report.intact:
        first, *rest = report.findings
        where = f"audit chain broken at event #{first.seq}"
        if first.seq is None:  # a checkpoint or the head file, not one event
            where = "audit trail check failed"
        also = "".join(f"\n  also: {f.message}" for f in rest[:AUDIT_ALSO_SHOWN])
        if len(rest) > AUDIT_ALSO_SHOWN:
            also += f"\n  and {len(rest) - AUDIT_ALSO_SHOWN} more"
        fail(f"{where}: {first.message}{also}")
    click.echo(f"audit chain intact: {report.summary()}")


@audit_group.command("checkpoint")
def audit_checkpoint_command() -> None:
    """Sign the chain's current head with the program's key into REPORTS_DIR/audit-checkpoints
    (the service writes one daily and every backup writes one; this is for cron too)."""
    from compliance import audit

    settings = settings_or_exit()

    async def go() -> str:
        await db.check_reachable(settings.database)
        db.bind(db.create_engine(settings.database, must_exist=True))
        return (await audit.write_checkpoint(settings, "manual")).name

    click.echo(f"signed checkpoint written: {run_async(go)}")


@click.group("users")
def users_group() -> None:
    """Staff accounts."""


@users_group.command("create")
@click.option("--email", required=True)
@click.option("--name", "full_name", required=True, help="Full name, as on signed reports.")
@click.option("--role", type=click.Choice(["admin", "clinician"]), default="clinician")
@click.option("--program", "programs", multiple=True, help="Program code; repeat for several.")
@click.option("--credentials", default="", help='e.g. "LCSW, LCADC", shown when signing.')
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_create_command(
    email: str,
    full_name: str,
    role: str,
    programs: tuple[str, ...],
    credentials: str,
    password_stdin: bool,
) -> None:
    """Create a staff account. Without --password-stdin the password is asked for."""
    from compliance.core.vocabulary import Role
    from compliance.staff import accounts

    settings = settings_or_exit()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def work() -> None:
        program_ids = await accounts.program_ids_for_codes(list(programs))
        await accounts.create_staff_user(
            email=email,
            full_name=full_name,
            password=password,
            role=Role(role),
            program_ids=program_ids,
            credentials=credentials,
        )

    with_database(settings, work)
    click.echo(f"created {role} {accounts.normalise_email(email)}")


@users_group.command("list")
def users_list_command() -> None:
    """List staff accounts with their role, programs and state."""
    from compliance.tables import Program, ProgramMembership, StaffUser

    settings = settings_or_exit()

    async def work() -> list[str]:
        codes = {p["id"]: p["code"] for p in await Program.select(Program.id, Program.code)}
        members: dict[int, list[str]] = {}
        for m in await ProgramMembership.select():
            members.setdefault(m["user"], []).append(codes[m["program"]])
        lines = []
        for u in await StaffUser.select().order_by(StaffUser.email):
            state = "active" if u["active"] else "deactivated"
            programs = ",".join(sorted(members.get(u["id"], []))) or "-"
            lines.append(
                f"{u['email']:<32} {u['role']:<10} {state:<12} {programs:<16} {u['full_name']}"
            )
        return lines

    for line in with_database(settings, work):
        click.echo(line)


@users_group.command("deactivate")
@click.argument("email")
def users_deactivate_command(email: str) -> None:
    """Deactivate an account: its sessions stop working at once."""
    from compliance.staff import accounts

    settings = settings_or_exit()
    with_database(settings, lambda: accounts.set_active(email, False))
    click.echo(f"deactivated {accounts.normalise_email(email)}")


@click.group("programs")
def programs_group() -> None:
    """Programs (each with its time zone, policy and analyte table)."""


@programs_group.command("create")
@click.option("--code", required=True, help="Short unique code, e.g. RIVERBEND.")
@click.option("--name", required=True)
@click.option("--time-zone", "time_zone", required=True, help="IANA zone, e.g. America/Chicago.")
@click.option("--address", default="")
@click.option("--phone", default="")
@click.option("--email", "contact_email", default="", help="Contact shown to link recipients.")
def programs_create_command(
    code: str, name: str, time_zone: str, address: str, phone: str, contact_email: str
) -> None:
    """Create a program with the default analyte table (DOMAIN.md cutoffs)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from compliance import audit
    from compliance.records.analytes import seed_program_analytes
    from compliance.tables import Program

    settings = settings_or_exit()
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"--time-zone: {time_zone!r} is not an IANA time zone", EXIT_SETTINGS)

    async def work() -> int:
        async with db.transaction():
            if await Program.exists().where(Program.code == code.upper()):
                raise OperatorError(f"a program with code {code.upper()} already exists")
            program = Program(
                code=code.upper(),
                name=name,
                time_zone=time_zone,
                address=address,
                phone=phone,
                contact_email=contact_email,
            )
            await program.save()
            await seed_program_analytes(program.id)
            await audit.record("program.create", audit.CLI, "program", program.id)
            return program.id

    program_id = with_database(settings, work)
    click.echo(f"created program {code.upper()} (id {program_id})")


@programs_group.command("list")
def programs_list_command() -> None:
    """List programs."""
    from compliance.tables import Program

    settings = settings_or_exit()

    async def work() -> list[dict]:
        return await Program.select().order_by(Program.code)

    for p in with_database(settings, work):
        click.echo(f"{p['code']:<16} {p['time_zone']:<24} {p['name']}")


OWN_COMMANDS = (
    migrate_command,
    demo_command,
    check_command,
    audit_group,
    users_group,
    programs_group,
)


HELP_OPTIONS = ("--help", "-h")


def _help_only(args: list[str]) -> bool:
    """``compliance``, ``compliance --help``: the list of commands, which needs no app."""
    return not args or args[0] in HELP_OPTIONS


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    os.environ.setdefault("LITESTAR_APP", serve.APP_PATH)
    os.environ.setdefault("PICCOLO_CONF", "compliance.piccolo_conf")
    # Litestar's group builds the app before any command runs, so a bad setting must be
    # caught here to stay one line instead of a traceback.
    settings = settings_or_exit()
    every = (*OWN_COMMANDS, *COMMANDS, *job_commands.COMMANDS, *testing_commands.COMMANDS)
    ours = {c.name: c for c in every}
    if args and args[0] in ours:
        # Our commands need no app: skipping Litestar's group (which imports and builds
        # it) saves about a second on every `compliance users ...` or `migrate`.
        group = click.Group("compliance", commands=ours)
        group.main(args=args, prog_name="compliance")
        return
    if args and args[0] == "run":
        # Before Litestar's CLI is even imported: a refused start costs no more than this.
        _own_secrets_when_public(settings, args[1:])
        preflight(settings)
        _signing_ready(settings)
        os.environ.setdefault("LITESTAR_HOST", settings.host)
        os.environ.setdefault("LITESTAR_PORT", str(settings.port))
    from litestar.cli.main import litestar_group

    for command in ours.values():
        litestar_group.add_command(command)
    if _help_only(args) and os.environ["LITESTAR_APP"].startswith("compliance."):
        # Litestar loads the app before printing the list, only to let the app's CLI
        # plugins add commands. Ours has none (tests/integration/test_cli_entry.py), so
        # the list is the same without the second it takes to build.
        litestar_group._prepare_done = True
    litestar_group.main(args=args, prog_name="compliance")


if __name__ == "__main__":
    main()
