"""The job queue in the browser (litestar-saq's view at /admin/queue): administrators
of every program only; on PostgreSQL it shows the queue in the test's database, with
the jobs the app's own worker ran; on SQLite without REDIS_URL there is no queue and it
says so."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx
import pytest

from compliance.core.vocabulary import Role
from compliance.jobs import dispatch
from compliance.tables import AuditEvent, Program
from tests.support.databases import ENGINE
from tests.support.staff import World, make_world, sign_in, staff_member

pytestmark = pytest.mark.db

OPERATOR = "operator@example.org"  # administrator of both programs


@pytest.fixture
async def world(client: httpx.AsyncClient) -> World:
    made = await make_world()
    await staff_member(OPERATOR, [made.program_a, made.program_b], role=Role.admin)
    return made


async def test_only_administrators_of_every_program_see_the_queue(client, world) -> None:
    """The queue is the installation's: its jobs name any program's participants, so
    program A's administrator is refused as a clinician is."""
    client.cookies.clear()
    assert (await client.get("/admin/queue/api/queues")).status_code in (401, 303)
    assert (await client.get("/admin/queue/static/app.js")).status_code in (401, 303)
    retry = "/admin/queue/api/queues/compliance/jobs/any/retry"
    for who in (world.clinician_a, world.admin_a):
        await sign_in(client, who)
        for url in ("/admin/queue", "/admin/queue/api/queues", "/admin/queue/static/app.js"):
            assert (await client.get(url)).status_code == 403, (who, url)
        assert (await client.post(retry, json={})).status_code == 403, who
    assert "/admin/queue/" not in (await client.get("/admin")).text  # admin_a's menu
    await sign_in(client, OPERATOR)
    assert (await client.get("/admin/queue/static/app.js")).status_code == 200
    linked = '<a href="/admin/queue/">Job queue</a>' in (await client.get("/admin")).text
    assert linked == (ENGINE == "postgres")  # only where there is a queue


async def test_the_page_script_is_allowed_by_its_hash_alone(client, world) -> None:
    """SAQ's page starts from one inline script: the policy allows that script's hash,
    never 'unsafe-inline', and only under /admin/queue."""
    await sign_in(client, OPERATOR)
    page = await client.get("/admin/queue")
    assert page.status_code == 200
    inline = re.findall(r"<script>(.*?)</script>", page.text)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    policy = page.headers["content-security-policy"]
    assert (
        f"'sha256-{digest}'" in policy
        and "unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    )
    assert digest not in (await client.get("/")).headers["content-security-policy"]
    script = await client.get("/admin/queue/static/app.js")
    assert script.status_code == 200 and "root_path" in script.text


@pytest.mark.skipif(ENGINE == "postgres", reason="PostgreSQL has a queue")
async def test_without_a_queue_the_view_says_jobs_run_in_the_app(client, world) -> None:
    await sign_in(client, OPERATOR)
    answer = await client.get("/admin/queue/api/queues")
    assert answer.status_code == 404
    assert "runs its jobs itself" in answer.json()["detail"]


@pytest.mark.skipif(ENGINE != "postgres", reason="the queue lives in PostgreSQL")
async def test_the_queue_lists_the_jobs_the_worker_ran_and_retries_by_json_only(
    client, world, settings
) -> None:
    await sign_in(client, OPERATOR)
    # One job through the app's own queue and worker: the periodic delivery's function.
    await dispatch.run(settings, "deliver", key="test:queue-view")
    queues = (await client.get("/admin/queue/api/queues")).json()["queues"]
    assert [q["name"] for q in queues] == ["compliance"]
    assert queues[0]["workers"], "the app's own worker is registered"
    job = (await client.get("/admin/queue/api/queues/compliance/jobs/test:queue-view")).json()
    assert job["job"]["function"] == "deliver" and job["job"]["status"] == "complete"

    retry = "/admin/queue/api/queues/compliance/jobs/test:queue-view/retry"
    token = client.headers.pop("x-csrftoken")  # SAQ's page sends no CSRF token
    assert (
        await client.post(retry, content=b"x", headers={"content-type": "text/plain"})
    ).status_code == 403
    assert (await client.post(retry, data={"a": "b"})).status_code == 403
    assert (await client.post(retry, json={})).status_code == 202
    client.headers["x-csrftoken"] = token
    asked = await AuditEvent.select().where(AuditEvent.action == "queue.retry")
    assert [(e["object_type"], e["object_id"]) for e in asked] == [("job", "test:queue-view")]
    unknown = "/admin/queue/api/queues/compliance/jobs/no-such-job/retry"
    client.headers.pop("x-csrftoken")
    assert (await client.post(unknown, json={})).status_code == 404
    client.headers["x-csrftoken"] = token
    assert await AuditEvent.count().where(AuditEvent.action == "queue.retry") == 1
    assert await Program.count() == 2  # nothing else changed
