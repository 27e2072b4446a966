"""``compliance testing draw`` (a day's random-testing draw by hand; the job scheduler
makes it daily on its own) and ``compliance testing groups`` (each program's groups)."""

from __future__ import annotations

from datetime import datetime

import click

from compliance.cli.support import OperatorError, settings_or_exit, with_database


@click.group("testing")
def testing_group() -> None:
    """Random drug testing: the daily draw and the testing groups."""


async def _program(code: str) -> dict:
    from compliance.tables import Program

    row = await Program.select().where(Program.code == code).first()
    if row is None:
        raise OperatorError(f"no program with code {code!r}")
    return row


@testing_group.command("draw")
@click.option("--program", "program_code", required=True, help="the program's code")
@click.option(
    "--date",
    "day",
    type=click.DateTime(["%Y-%m-%d"]),
    help="the day to draw: today (default) or tomorrow, on the program's clock",
)
def draw_command(program_code: str, day: datetime | None) -> None:
    """Make the program's draw for the day, or show it if it was made (a day is drawn
    once: running this again, or the scheduler, changes nothing)."""
    from compliance import audit
    from compliance.core.validation import InvalidInput
    from compliance.random_testing import draws

    settings = settings_or_exit()

    async def work() -> tuple[draws.DrawView, bool]:
        program = await _program(program_code)
        try:
            return await draws.draw(program["id"], day.date() if day else None, audit.CLI)
        except InvalidInput as exc:
            raise OperatorError("; ".join(f"--{e.field}: {e.reason}" for e in exc.errors)) from None

    view, made = with_database(settings, work)
    called = [g.name for g in view.groups if g.called]
    click.echo(
        f"{program_code} {view.day.isoformat()}: "
        + ("drawn now" if made else f"drawn already at {view.drawn_at:%Y-%m-%d %H:%M} UTC")
        + f"; groups called: {', '.join(called) or 'none'} of {len(view.groups)}"
        + f"; {len(view.calls)} participant(s) to test"
    )
    for call in view.calls:
        why = call.group_name if call.reason == "group" else call.reason.replace("_", " ")
        click.echo(f"  {call.client_id}  {call.last_name}, {call.first_name}  ({why})")


@testing_group.command("groups")
@click.option("--program", "program_code", required=True, help="the program's code")
def groups_command(program_code: str) -> None:
    """The program's testing groups, their tests a week and members today."""
    from compliance.random_testing import groups
    from compliance.staff.access import program_today
    from compliance.tables import TestingGroup

    settings = settings_or_exit()

    async def work() -> list[str]:
        program = await _program(program_code)
        today = await program_today(program["id"])
        members = await groups.members_on(program["id"], today)
        rows = (
            await TestingGroup.select()
            .where(TestingGroup.program == program["id"])
            .order_by(TestingGroup.name)
        )
        lines = []
        for r in rows:
            count = sum(1 for g in members.values() if g == r["id"])
            state = " (retired)" if r["retired_at"] else ""
            lines.append(f"{r['name']}: {r['tests_per_week']} a week, {count} member(s){state}")
        return lines or [f"{program_code} has no testing groups"]

    for line in with_database(settings, work):
        click.echo(line)


@testing_group.command("phone-key")
@click.option("--program", "program_code", required=True, help="the program's code")
@click.option("--label", default="", help="whose phone line, e.g. the IVR vendor's name")
def phone_key_command(program_code: str, label: str) -> None:
    """Make a key for the program's phone line (IVR) to call POST /api/call-in with
    (Authorization: Bearer KEY). Printed once: only its hash is kept."""
    from compliance import audit
    from compliance.random_testing import call_in

    settings = settings_or_exit()

    async def work() -> str:
        program = await _program(program_code)
        return await call_in.new_phone_line_key(program["id"], label, audit.CLI)

    key = with_database(settings, work)
    click.echo(f"phone-line key for {program_code} (shown once; keep it in the IVR's settings):")
    click.echo(key)


COMMANDS = (testing_group,)
