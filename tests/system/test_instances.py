"""Two app instances and a worker on one PostgreSQL database and one Redis (issue 20,
"Done when"): they share only DATABASE_URL, REDIS_URL, SECRET_KEY, SIGNING_P12 and
REPORTS_DIR, each with its own VAR_DIR, and neither app takes jobs (WORKER_IN_APP=0).
A browser signed in on A is signed in on B; an import previewed on A commits on B; a
link's opens are counted across both; a report asked of A is rendered by the worker and
downloaded, the same bytes, from B; a worker killed mid-batch is replaced and the batch
ends with exactly one report per client. Each run makes its own database and Redis
database number and removes them (tests/support/instances.py)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from subprocess import TimeoutExpired
from typing import Any

import httpx
import pytest

from compliance.web.common.sign_in_sessions import SESSION_COOKIE
from tests.support.demo import PERIOD
from tests.support.instances import (
    SIGNER,
    Cluster,
    children,
    cli_batch,
    cluster,
    pg_fetch,
    queue_jobs,
    unreachable,
)
from tests.support.lab_files import LAB_CSV
from tests.support.live import Server
from tests.support.staff import PASSWORD

# The demo's court client and these many copies of him: a batch long enough to be
# caught in the middle.
CLONES = 23
COURT_CLIENTS = CLONES + 1
LINK_LIMIT = 10
# Not the web report's period: each client's one report in it is the batch's.
BATCH_PERIOD = ("2026-11-16", "2026-11-22")
UNFINISHED = ("new", "queued", "active", "aborting")


class Instances:
    """The running instances, and the shared database and queue a test checks them by."""

    def __init__(self, made: Cluster, a: Server, b: Server) -> None:
        self.cluster, self.a, self.b = made, a, b

    @property
    def database_url(self) -> str:
        return self.cluster.shared["DATABASE_URL"]

    @property
    def queue_url(self) -> str:
        return self.cluster.shared["REDIS_URL"]

    def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        return asyncio.run(pg_fetch(self.database_url, sql, *args))

    def ids(self) -> tuple[int, int, int]:
        """The demo program, its court client and his officer."""
        person = self.fetch("SELECT id, program FROM participant WHERE client_id = 'RB-1001'")[0]
        officer = self.fetch("SELECT id FROM recipient WHERE name = 'Dana Whitfield'")[0]
        return person["program"], person["id"], officer["id"]


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instances]:
    why = unreachable()
    if why:
        pytest.skip(why)
    root = tmp_path_factory.mktemp("instances")
    with cluster(root, CLONES) as made:
        limits = {"LINK_RATE_PER_TOKEN": str(LINK_LIMIT), "LINK_RATE_PER_CLIENT": "1000"}
        made.worker("worker-1")
        a = made.app("app-a", **limits)
        b = made.app("app-b", **limits)
        yield Instances(made, a, b)


@contextmanager
def signed_in(on: Server) -> Iterator[httpx.Client]:
    """A browser signed in on ``on``: its session and CSRF cookies, the token as a header."""
    with httpx.Client(timeout=60) as browser:
        browser.get(f"{on.url}/login").raise_for_status()
        answer = browser.post(
            f"{on.url}/api/session",
            json={"email": SIGNER, "password": PASSWORD},
            headers={"x-csrftoken": browser.cookies["csrftoken"]},
        )
        assert answer.status_code == 200, answer.text
        browser.headers["x-csrftoken"] = browser.cookies["csrftoken"]
        yield browser


def test_a_session_signed_in_on_one_instance_is_good_on_the_other(instances: Instances) -> None:
    with signed_in(instances.a) as browser:
        page = browser.get(f"{instances.b.url}/caseload")
        assert page.status_code == 200, page.text[:500]
        assert "RB-1001" in page.text
        # and back: B's answer kept the session A made
        assert browser.get(f"{instances.a.url}/caseload").status_code == 200
        kept = browser.cookies[SESSION_COOKIE]
        assert browser.delete(f"{instances.b.url}/api/session").status_code == 204
    # Signed out on B is signed out on A, even for a copy of the cookie kept from before.
    with httpx.Client(cookies={SESSION_COOKIE: kept}) as copy:
        assert copy.get(f"{instances.a.url}/api/session").status_code == 401
    with httpx.Client() as stranger:
        assert stranger.get(f"{instances.b.url}/caseload").status_code in (302, 303, 401)


def test_an_import_previewed_on_one_instance_commits_on_the_other(instances: Instances) -> None:
    program, _, _ = instances.ids()
    with signed_in(instances.a) as browser:
        preview = browser.post(
            f"{instances.a.url}/api/imports",
            data={"program_id": str(program), "kind": "drug_test_csv"},
            files={"file": ("prairie-tox.csv", LAB_CSV)},
        )
        assert preview.status_code == 201, preview.text
        batch = preview.json()
        assert batch["status"] == "previewed" and batch["created"] == 2
        done = browser.post(f"{instances.b.url}/api/imports/{batch['batch_id']}/commit")
        assert done.status_code == 200, done.text[:2000]
        assert done.json()["status"] == "committed"
    stored = instances.fetch(
        "SELECT count(*) AS n FROM drug_test WHERE accession_id IN ('PT-0001', 'PT-0002')"
    )
    assert stored[0]["n"] == 2


def test_a_links_opens_are_counted_across_instances(instances: Instances) -> None:
    _, person, officer = instances.ids()
    with signed_in(instances.a) as browser:
        made = browser.post(
            f"{instances.a.url}/api/participants/{person}/links", json={"recipient_id": officer}
        )
        assert made.status_code == 201, made.text
    path = "/l/" + made.json()["url"].rsplit("/", 1)[1]
    with httpx.Client(timeout=30) as phone:
        codes = [
            phone.get(f"{(instances.a, instances.b)[n % 2].url}{path}").status_code
            for n in range(2 * LINK_LIMIT)
        ]
    assert codes.count(200) == LINK_LIMIT, codes
    assert codes == [200] * LINK_LIMIT + [429] * LINK_LIMIT


def test_a_report_asked_of_one_instance_is_made_by_the_worker_and_served_by_the_other(
    instances: Instances,
) -> None:
    _, person, officer = instances.ids()
    worker = instances.cluster.workers[-1]
    with signed_in(instances.a) as browser:
        made = browser.post(
            f"{instances.a.url}/api/participants/{person}/reports",
            json={"kind": "court_progress", "recipient_id": officer, **PERIOD},
        )
        assert made.status_code == 201, made.text
        report = made.json()
        from_b = browser.get(f"{instances.b.url}/api/reports/{report['id']}/pdf")
        from_a = browser.get(f"{instances.a.url}/api/reports/{report['id']}/pdf")
    assert from_b.status_code == 200, from_b.text[:500]
    assert from_b.headers["content-type"] == "application/pdf"
    assert from_b.content == from_a.content
    row = instances.fetch("SELECT sha256, job_key FROM report WHERE id = $1", report["id"])[0]
    assert hashlib.sha256(from_b.content).hexdigest() == row["sha256"]

    job = queue_jobs(instances.queue_url, [row["job_key"]])[row["job_key"]]
    assert job is not None, "the report was not made through the queue"
    assert (job.function, job.status.value, job.worker_id) == ("make_report", "complete", worker.id)
    # WORKER_IN_APP=0: A never started a process to render in.
    assert children(instances.a.process.pid) == []
    shown = instances.cluster.cli("jobs")
    assert shown.returncode == 0, shown.stderr
    assert f"worker {worker.id}: " in shown.stdout, shown.stdout


def _reports_by_client(instances: Instances, start: str, end: str) -> dict[str, list[int]]:
    rows = instances.fetch(
        "SELECT p.client_id, r.version FROM report r JOIN participant p ON p.id = r.participant"
        " WHERE r.kind = 'court_progress' AND r.period_start = $1 AND r.period_end = $2",
        date.fromisoformat(start),
        date.fromisoformat(end),
    )
    out: dict[str, list[int]] = {}
    for row in rows:
        out.setdefault(row["client_id"], []).append(row["version"])
    return out


def test_a_worker_killed_mid_batch_is_replaced_and_each_client_gets_one_report(
    instances: Instances,
) -> None:
    start, end = BATCH_PERIOD
    made = instances.cluster
    first = made.workers[-1]
    batch = cli_batch(made, start, end)
    try:
        deadline = time.monotonic() + 60
        while not _reports_by_client(instances, start, end):
            assert batch.poll() is None, f"the batch ended first:\n{_log(made)}"
            assert time.monotonic() < deadline, f"no report after 60 s:\n{_log(made)}"
            time.sleep(0.05)
        keys = [
            r["job_key"]
            for r in instances.fetch(
                "SELECT job_key FROM report WHERE period_start = $1", date.fromisoformat(start)
            )
        ]
        assert all(queue_jobs(instances.queue_url, keys).values()), (
            "the batch's reports are not made through the queue"
        )
        assert batch.poll() is None, "the batch ended before the worker could be killed"
        first.kill()
        second = made.worker("worker-after-" + first.id[:8])
        try:
            batch.wait(timeout=120)
        except TimeoutExpired:
            pytest.fail(f"the batch did not end:\n{_log(made)}")
    finally:
        if batch.poll() is None:
            batch.kill()
            batch.wait()

    by_client = _reports_by_client(instances, start, end)
    court = {"RB-1001"} | {f"RB-9{k:03}" for k in range(CLONES)}
    assert set(by_client) == court, _log(made)
    assert all(versions == [1] for versions in by_client.values()), by_client
    assert f"signed {COURT_CLIENTS} report(s)" in _log(made)

    keys = [
        r["job_key"]
        for r in instances.fetch(
            "SELECT job_key FROM report WHERE period_start = $1", date.fromisoformat(start)
        )
    ]
    # Every job ends complete; one a sweep took again may still be running as the
    # command ends, and is given time. "aborting" is a sweep in progress (SAQ waits up to
    # 5 s for the old worker, then retries the job): on a loaded machine a live worker's
    # heartbeat can lapse too, and its job is run again, to the same report.
    deadline = time.monotonic() + 40
    while True:
        jobs = queue_jobs(instances.queue_url, keys)
        running = [job for job in jobs.values() if job.status.value in UNFINISHED]
        if not running or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    unfinished = {
        key: (job.status.value, job.attempts, job.worker_id, (job.error or "")[-300:])
        for key, job in jobs.items()
        if job.status.value != "complete"
    }
    assert not unfinished, unfinished
    # What the killed worker held was swept and taken again by a live worker (the new
    # one, or the command's own while it waits), and made once all the same.
    again = [job for job in jobs.values() if job.attempts > 1]
    assert again, "no job was taken again"
    assert first.id not in {job.worker_id for job in again}
    assert second.process.poll() is None, second.output()


def _log(made: Cluster) -> str:
    return (made.root / "batch-cli.log").read_text(errors="replace")[-3000:]
