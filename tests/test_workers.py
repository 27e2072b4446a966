"""The worker pool: a job past its time limit is killed and the pool recovers; workers
are replaced after their quota of jobs; a dead worker is an error, not a hang."""

from __future__ import annotations

import os
import time

import pytest

from compliance import workers


@pytest.fixture
def pool():  # type: ignore[no-untyped-def]
    made = workers.Pool(None, size=1, jobs_per_worker=2)
    yield made
    made.close()


async def test_a_job_past_its_time_limit_is_killed_and_the_pool_recovers(pool) -> None:
    first = await pool.run(os.getpid, time_limit=60)
    began = time.monotonic()
    with pytest.raises(workers.JobTimedOut, match=r"sleep ran past 0\.5 s"):
        await pool.run(time.sleep, 30, time_limit=0.5)
    assert time.monotonic() - began < 10
    with pytest.raises(ProcessLookupError):
        os.kill(first, 0)  # the stuck worker is gone, not left running
    again = await pool.run(os.getpid, time_limit=60)
    assert again != first


async def test_workers_are_replaced_after_their_quota_of_jobs(pool) -> None:
    pids = [await pool.run(os.getpid, time_limit=60) for _ in range(5)]
    assert pids[0] == pids[1]
    assert pids[2] != pids[1]  # two jobs each, then a fresh process
    assert pids[2] == pids[3] and pids[4] != pids[3]


async def test_a_worker_that_dies_is_reported(pool) -> None:
    with pytest.raises(workers.WorkersFailed):
        await pool.run(os._exit, 3, time_limit=60)
    assert await pool.run(os.getpid, time_limit=60) > 0
