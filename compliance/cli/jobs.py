"""``compliance worker`` (take jobs from the queue, on any machine) and
``compliance jobs`` (what the queue holds and who is working on it)."""

from __future__ import annotations

import asyncio
import signal

import click

from compliance.cli.support import EXIT_SETTINGS, fail, run_async, settings_or_exit
from compliance.core import db
from compliance.core.settings import SettingsError, require_own_secrets


@click.command("worker")
def worker_command() -> None:
    """Take jobs (reports, batches, mail, notices, checkpoints) from the queue in
    PostgreSQL or Redis until stopped (SIGTERM or Ctrl-C: the running jobs finish)."""
    from compliance.jobs import queued, worker

    settings = settings_or_exit()
    try:  # its reports must be signed with the same key as every other worker's
        require_own_secrets(settings.host)
    except SettingsError as exc:
        fail(str(exc), EXIT_SETTINGS)
    url = queued.queue_url(settings)
    if url is None:
        fail(
            "no job queue: set REDIS_URL, or use a PostgreSQL DATABASE_URL "
            "(with SQLite and no Redis the app runs its jobs itself)",
            EXIT_SETTINGS,
        )

    async def go() -> None:
        await db.check_reachable(settings.database)
        queue = queued.make_queue(url)
        await queue.connect()
        runner = worker.build(
            queue,
            settings,
            owns_database=True,
            # Once its database pool is open: a supervisor reading this line can rely on it.
            on_ready=lambda: click.echo(
                f"worker {runner.id} taking jobs from {queued.display(url)}", err=True
            ),
        )
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        task = asyncio.create_task(runner.start())
        await asyncio.wait(
            [task, asyncio.create_task(stopping.wait())], return_when=asyncio.FIRST_COMPLETED
        )
        await runner.stop()
        await queue.disconnect()

    run_async(go)


@click.command("jobs")
def jobs_command() -> None:
    """The queue at a glance: jobs waiting and running, and each live worker's counts."""
    from compliance.jobs import queued

    settings = settings_or_exit()
    url = queued.queue_url(settings)
    if url is None:
        click.echo("no job queue: jobs run inside the app (SQLite, no REDIS_URL)")
        return

    async def go() -> list[str]:
        queue = queued.make_queue(url)
        await queue.connect()
        try:
            info = await queue.info()
        finally:
            await queue.disconnect()
        lines = [f"queue {queued.display(url)}: {info['queued']} waiting, {info['active']} running"]
        for worker_id, worker in sorted(info["workers"].items()):
            stats = worker.get("stats") or {}
            lines.append(
                f"  worker {worker_id}: {stats.get('complete', 0)} done, "
                f"{stats.get('failed', 0)} failed, {stats.get('retried', 0)} retried"
            )
        return lines

    for line in run_async(go):
        click.echo(line)


COMMANDS = (worker_command, jobs_command)
