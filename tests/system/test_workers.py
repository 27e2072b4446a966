"""The worker pool: a job's time limit starts when the job does and the worker survives
an overrun; a job deaf to signals is killed by the parent and the pool recovers;
workers are replaced after their quota of jobs; a dead worker is an error, not a hang;
workers and the resource tracker exit when the server is killed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compliance import PROJECT_ROOT
from compliance.core import workers
from compliance.core.settings import SettingsError, load_settings
from tests.support.worker_jobs import sleep_deaf


@pytest.fixture
def pool():  # type: ignore[no-untyped-def]
    made = workers.Pool(None, size=1, jobs_per_worker=3)
    yield made
    made.close()


async def test_a_job_past_its_time_limit_stops_and_the_worker_carries_on(pool) -> None:
    first = await pool.run(os.getpid, time_limit=60)
    began = time.monotonic()
    with pytest.raises(workers.JobTimedOut, match=r"sleep ran past 0\.5 s"):
        await pool.run(time.sleep, 30, time_limit=0.5)
    assert time.monotonic() - began < 10
    assert await pool.run(os.getpid, time_limit=60) == first


async def test_time_waiting_for_a_busy_worker_does_not_count(pool) -> None:
    slow = asyncio.ensure_future(pool.run(time.sleep, 1.5, time_limit=10))
    await asyncio.sleep(0.2)
    quick = await pool.run(os.getpid, time_limit=1)  # queued behind 1.5 s of work
    assert quick > 0
    await slow


async def test_a_job_deaf_to_signals_is_killed_by_the_parent(pool) -> None:
    first = await pool.run(os.getpid, time_limit=60)
    with pytest.raises(workers.JobTimedOut):
        await pool.run(sleep_deaf, 30, time_limit=0.5, hard_limit=2)
    with pytest.raises(ProcessLookupError):
        os.kill(first, 0)  # the stuck worker is gone, not left running
    assert await pool.run(os.getpid, time_limit=60) != first


async def test_workers_are_replaced_after_their_quota_of_jobs(pool) -> None:
    pids = [await pool.run(os.getpid, time_limit=60) for _ in range(4)]
    assert pids[0] == pids[1] == pids[2]
    assert pids[3] != pids[2]  # three jobs each, then a fresh process


async def test_a_worker_that_dies_is_reported(pool) -> None:
    with pytest.raises(workers.WorkersFailed):
        await pool.run(os._exit, 3, time_limit=60)
    assert await pool.run(os.getpid, time_limit=60) > 0


async def test_workers_step_back_for_the_server() -> None:
    """Rendering in the background yields the CPU to requests someone is waiting on:
    the shared pools run at WORKER_NICENESS (10 unless set; the suite sets 0, so its
    own parallel tests do not starve the renders they wait for)."""
    from tests.support.worker_jobs import niceness

    assert load_settings({}).worker_niceness == 10
    with pytest.raises(SettingsError, match="WORKER_NICENESS"):
        load_settings({"WORKER_NICENESS": "20"})
    made = workers.Pool(None, size=1, niceness=10)
    try:
        ours = os.nice(0)
        assert await made.run(niceness, time_limit=60) == max(ours, 10)
    finally:
        made.close()


# --- workers die with the server ------------------------------------------------------

_PARENT = """
import multiprocessing.resource_tracker as rt, sys, time
from compliance.core import workers
pool = workers.Pool(None, size=2)
pool.warm()
busy = pool._pool().submit(time.sleep, 300)  # one worker in the middle of a job
children = [p.pid for p in pool._executor._processes.values()]
print(" ".join(map(str, children + [rt._resource_tracker._pid])), flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def test_workers_and_the_resource_tracker_exit_when_the_server_is_killed() -> None:
    """kill -9 of the server left its spawned workers (one busy, one idle) and the
    multiprocessing resource tracker running for good. Now they are all gone within
    seconds."""
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        pids = [int(p) for p in line.split()]
        assert len(pids) == 3 and all(_alive(p) for p in pids), line
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.2)
        left = [p for p in pids if _alive(p)]
        assert not left, f"still running after the parent died: {left}"
    finally:
        if parent.poll() is None:
            parent.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(parent.pid, signal.SIGKILL)
