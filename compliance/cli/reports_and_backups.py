"""``compliance verify FILE.pdf`` and ``compliance reports batch``: the shell's way to
check a PDF and to sign a whole caseload's reports."""

from __future__ import annotations

import hashlib
import os
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from compliance.cli.support import OperatorError, fail, settings_or_exit, with_database

EXIT_SUPERSEDED = 3
EXIT_REVOKED = 4
EXIT_NOT_OURS = 5
EXIT_CHANGED = 6
EXIT_CODES = {
    "authentic_current": 0,
    "authentic_superseded": EXIT_SUPERSEDED,
    "revoked": EXIT_REVOKED,
    "changed_after_signing": EXIT_CHANGED,
}


@click.command("verify")
@click.argument("pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def verify_command(pdf: Path) -> None:
    """Is FILE.pdf a report we signed, unchanged, and still current? Exit 0 authentic
    and current, 3 superseded, 4 revoked, 5 not ours, 6 signed here but changed after
    signing. The verdict is the same sentence /verify shows."""
    from compliance.core.local_time import spoken
    from compliance.reporting import signing, store, verification

    settings = settings_or_exit()
    content = pdf.read_bytes()
    verdict = with_database(
        settings, lambda: verification.verify_bytes(content, store.of(settings))
    )
    check = signing.check_signature(content, signing.signing_config(settings))
    zone = verdict.program_time_zone or "UTC"
    click.echo(verdict.verdict)
    if verdict.change:
        click.echo(f"  change      {verdict.change}")
    click.echo(f"  sha256      {hashlib.sha256(content).hexdigest()}")
    if verdict.report_id:
        click.echo(f"  report      {verdict.report_id}, version {verdict.version}")
        click.echo(f"  kind        {verdict.kind_label}")
        click.echo(f"  period      {verdict.period_start} to {verdict.period_end}")
        click.echo(f"  program     {verdict.program}")
        click.echo(f"  signed      {spoken(verdict.signed_at, zone)}")
        if verdict.superseded_at:
            newer = f" by {verdict.superseded_by}" if verdict.superseded_by else ""
            click.echo(f"  superseded  {spoken(verdict.superseded_at, zone)}{newer}")
        if verdict.current_report_id and verdict.current_report_id != verdict.superseded_by:
            click.echo(f"  newest      {verdict.current_report_id}")
        if verdict.revoked_at:
            click.echo(f"  revoked     {spoken(verdict.revoked_at, zone)}")
    if check.signed:
        state = "intact" if check.intact else "BROKEN (the signed bytes were changed)"
        trusted = "our certificate" if check.ours else "NOT our certificate"
        scope = "the whole file" if check.whole_file else "PART of the file"
        click.echo(f"  signature   {state}, {trusted}, covers {scope}")
    else:
        click.echo(f"  signature   none found ({check.problem})")
    raise SystemExit(EXIT_CODES.get(verdict.status, EXIT_NOT_OURS))


@click.group("reports")
def reports_group() -> None:
    """Signed reports."""


@reports_group.command("batch")
@click.option("--program", "program_code", required=True, help="program code")
@click.option("--signer", required=True, help="e-mail of the staff member who signs")
@click.option(
    "--kind",
    default="court_progress",
    type=click.Choice(["court_progress", "eap_status", "sap_followup"]),
)
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), help="first day (default: last week)")
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), help="last day (default: last week)")
def batch_command(
    program_code: str,
    signer: str,
    kind: str,
    start: datetime | None,
    end: datetime | None,
) -> None:
    """Render and sign one report per active participant, across all cores; failures are
    listed per participant and do not stop the batch (exit 1 if any)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from compliance.core.validation import InvalidInput
    from compliance.engine.rules import week_start
    from compliance.jobs import serving
    from compliance.reporting import batch, service
    from compliance.staff.accounts import load_principal, normalise_email
    from compliance.tables import Program, StaffUser

    settings = settings_or_exit()
    # A batch is background work like its workers' (which inherit this): the server's
    # requests come first when both want the CPU.
    os.nice(settings.worker_niceness)

    async def work() -> batch.BatchResult:
        program = await Program.select().where(Program.code == program_code).first()
        if program is None:
            raise OperatorError(f"no program with code {program_code!r}")
        user = (
            await StaffUser.select(StaffUser.id)
            .where(StaffUser.email == normalise_email(signer))
            .first()
        )
        principal = await load_principal(user["id"]) if user else None
        if principal is None or program["id"] not in principal.program_ids:
            raise OperatorError(f"{signer} is not an active staff member of {program_code}")
        today = datetime.now(ZoneInfo(program["time_zone"])).date()
        this_week = week_start(today, program["week_starts_on"])
        first: date = start.date() if start else this_week - timedelta(days=7)
        last: date = end.date() if end else this_week - timedelta(days=1)
        try:
            service.check_period(first, last, today)
        except InvalidInput as exc:
            flags = {"period_start": "--start", "period_end": "--end"}
            raise OperatorError(
                "; ".join(f"{flags.get(e.field, e.field)}: {e.reason}" for e in exc.errors)
            ) from None
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        ) as bar:
            task = bar.add_task(f"{kind} {first} to {last}", total=None)
            # With a job queue every worker makes reports, this command too while it
            # waits: it never waits on nobody, and a worker lost mid-batch costs a retry.
            async with serving.running(settings, take_jobs=True, periodic=False):
                return await batch.run(
                    principal,
                    settings,
                    program["id"],
                    kind,
                    first,
                    last,
                    lambda done, total: bar.update(task, completed=done, total=total),
                )

    result = with_database(settings, work)
    click.echo(f"signed {len(result.made)} report(s); {len(result.failed)} failed")
    for client_id, reason in sorted(result.failed):
        click.echo(f"  {client_id}: {reason}")
    if result.failed:
        raise SystemExit(1)


@reports_group.command("schedules")
@click.option("--program", "program_code", default=None, help="only this program's")
def schedules_command(program_code: str | None) -> None:
    """Every report schedule: the client, report, recipient, when, and its last run
    (sent, or skipped and why). The scheduler sends them; this only lists."""
    from compliance.disclosure import schedules
    from compliance.tables import Program

    settings = settings_or_exit()

    async def work() -> list[str]:
        program_id = None
        if program_code is not None:
            program = await Program.select().where(Program.code == program_code).first()
            if program is None:
                raise OperatorError(f"no program with code {program_code!r}")
            program_id = program["id"]
        lines = []
        for s in await schedules.listing(program_id):
            when = schedules.when_words(s["frequency"], s["send_day"])
            state = " (ended)" if s["ended_at"] else ""
            run = s["last_run"]
            last = (
                f"last: {run['period_start']} to {run['period_end']} {run['outcome']}"
                + (f" ({run['reason']})" if run["reason"] else "")
                if run
                else "not run yet"
            )
            lines.append(
                f"#{s['id']} {s['program_code']} {s['client_id']}: {s['kind']} to "
                f"{s['recipient_name']}, {when}{state}; {last}"
            )
        return lines or ["no report schedules"]

    for line in with_database(settings, work):
        click.echo(line)


@reports_group.command("check")
def check_command() -> None:
    """Re-hash every stored report against the database. Exit 0 when every report's file
    is there and unchanged, 1 naming each missing or changed one."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress

    from compliance.reporting import store, store_check

    settings = settings_or_exit()

    async def work() -> store_check.StoreCheck:
        with Progress("re-hashing", BarColumn(), MofNCompleteColumn(), transient=True) as bar:
            task = bar.add_task("", total=None)
            return await store_check.check(
                store.of(settings),
                lambda done, total: bar.update(task, completed=done, total=total),
            )

    result = with_database(settings, work)
    removed = store.of(settings).sweep()
    click.echo(f"{result.intact} of {result.reports} report(s) intact in {settings.reports_dir}")
    for report_id, rel in result.missing:
        click.echo(f"  MISSING  report {report_id}: {rel}")
    for report_id, rel in result.changed:
        click.echo(f"  CHANGED  report {report_id}: {rel} no longer hashes to its record")
    if result.unreferenced:
        click.echo(
            f"  {len(result.unreferenced)} stored file(s) no report names "
            "(left by an interrupted report; never disclosed)"
        )
    if removed:
        click.echo(f"  removed {len(removed)} temporary file(s) left by an interrupted write")
    if not result.ok:
        raise SystemExit(1)


@click.command("signing")
def signing_command() -> None:
    """Show the signing certificate (and make the development one if none is configured)."""
    from compliance.reporting import signing

    settings = settings_or_exit()
    config = signing.signing_config(settings)
    click.echo(f"certificate  {signing.certificate_subject(config)}")
    click.echo(f"sha256       {signing.certificate_sha256(config)}")
    click.echo(f"file         {config.p12_path}")
    if config.development:
        click.echo(
            "development certificate: set SIGNING_P12 and SIGNING_P12_PASSPHRASE for real use"
        )


@click.command("backup")
@click.argument("destination", type=click.Path(file_okay=False, path_type=Path))
def backup_command(destination: Path) -> None:
    """Copy the database (one consistent snapshot, while the service runs), the report
    store and the keys into DESTINATION, a new or empty folder."""
    from compliance.ops import backup

    settings = settings_or_exit()
    try:
        manifest = backup.backup(settings, destination)
    except backup.BackupError as exc:
        fail(str(exc))
    click.echo(
        f"backed up the {manifest.engine} database, {manifest.reports} report(s) and "
        f"{', '.join(manifest.var) or 'no keys'} into {destination}"
    )


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
def restore_command(source: Path) -> None:
    """Load a backup into the configured (empty) database, REPORTS_DIR and VAR_DIR."""
    from compliance.ops import backup

    settings = settings_or_exit()
    try:
        manifest = backup.restore(settings, source)
    except backup.BackupError as exc:
        fail(str(exc))
    click.echo(
        f"restored the backup of {manifest.created_at}: {manifest.reports} report(s); "
        "run `compliance migrate` if this version is newer, then `compliance reports check`"
    )


COMMANDS = (verify_command, reports_group, signing_command, backup_command, restore_command)
