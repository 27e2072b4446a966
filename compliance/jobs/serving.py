"""Jobs for the life of a process: the app's lifespan and the commands that submit jobs
open ``running`` once; inside it, ``dispatch.run`` goes where this process's jobs go."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from compliance.core.settings import Settings
from compliance.jobs import dispatch


@asynccontextmanager
async def running(
    settings: Settings, *, take_jobs: bool, periodic: bool
) -> AsyncIterator[dispatch.Dispatcher]:
    """``take_jobs``: with a queue, this process runs a worker too (the app unless
    WORKER_IN_APP=0; the batch command, so it never waits on nobody). ``periodic``: the
    periodic jobs run here (in-process) or this worker takes them (queued)."""
    from compliance.jobs import queued

    url = queued.queue_url(settings)
    if url is None:
        local = dispatch.InProcess(settings)
        dispatch.use(local)
        try:
            async with local.periodic() if periodic else contextlib.nullcontext():
                yield local
        finally:
            dispatch.use(None)
        return

    from compliance.jobs import worker

    queue = queued.make_queue(url)
    await queue.connect()
    through_queue = queued.Queued(queue)
    dispatch.use(through_queue)
    runner = worker.build(queue, settings, owns_database=False, periodic=periodic)
    task = asyncio.create_task(runner.start()) if take_jobs else None
    try:
        yield through_queue
    finally:
        dispatch.use(None)
        if task is not None:
            await runner.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await queue.disconnect()
