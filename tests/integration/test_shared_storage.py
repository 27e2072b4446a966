"""Nothing an instance needs is on another instance's disk (issue 20 point 4).

Two apps on one database, each with its own VAR_DIR and one shared REPORTS_DIR, as
several instances run: an import previewed on one is confirmed and committed on the
other; a consent document attached through one is downloaded through the other; an
import's file waits in the database until its commit, rejection or expiry, and a commit
that fails keeps it. Each instance appends the audit events it writes to a head file
of its own in the shared REPORTS_DIR, and ``audit verify`` on any instance (also one
that has written nothing) holds the chain against every one of them and every
checkpoint.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from compliance import audit
from compliance.core import db
from compliance.core.settings import Settings, load_settings
from compliance.intake import imports
from compliance.jobs import dispatch
from compliance.records.analytes import seed_program_analytes
from compliance.reporting import signing
from compliance.tables import (
    AuditEvent,
    Consent,
    ConsentDocument,
    DrugTest,
    ImportBatch,
    Participant,
    StagedUpload,
)
from tests.support.app import app_client
from tests.support.cli import settings_env
from tests.support.databases import ENGINE
from tests.support.lab_files import hl7_result
from tests.support.staff import World, make_world, sign_in

pytestmark = pytest.mark.db

Instances = tuple[httpx.AsyncClient, httpx.AsyncClient]


@pytest.fixture
def other_settings(settings: Settings, database_url: str, tmp_path: Path) -> Settings:
    """Instance B: the same database, secret and REPORTS_DIR; a VAR_DIR of its own."""
    return load_settings({**settings_env(database_url, tmp_path), "VAR_DIR": str(tmp_path / "b")})


@pytest.fixture
async def instances(settings: Settings, other_settings: Settings) -> AsyncIterator[Instances]:
    assert settings.var_dir != other_settings.var_dir
    assert settings.reports_dir == other_settings.reports_dir
    async with app_client(settings) as a, app_client(other_settings) as b:
        yield a, b


@pytest.fixture
async def world(instances: Instances) -> World:
    """Program A with Jane Doe (C-1001, the name the lab files carry) and C-1002, whose
    name is not the files': the clinician signed in on both instances."""
    a, b = instances
    w = await make_world()
    await seed_program_analytes(w.program_a)
    await sign_in(a, w.clinician_a)
    await sign_in(b, w.clinician_a)
    for n, (first, last) in enumerate([("Jane", "Doe"), ("Pat", "Test")], start=1):
        enrolled = await a.post(
            "/api/participants",
            json={
                "program_id": w.program_a,
                "client_id": f"C-100{n}",
                "first_name": first,
                "last_name": last,
                "admitted_on": "2024-01-01",
            },
        )
        assert enrolled.status_code == 201, enrolled.text
    return w


async def preview(client: httpx.AsyncClient, world: World, content: bytes) -> dict:
    answer = await client.post(
        "/api/imports",
        data={"program_id": str(world.program_a)},
        files={"file": ("results.hl7", content)},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


async def test_an_import_previewed_on_one_instance_is_confirmed_and_committed_on_another(
    instances: Instances, world: World, settings: Settings, other_settings: Settings
) -> None:
    a, b = instances
    content = hl7_result("ACC-1") + hl7_result("ACC-2", client="C-1002")
    shown = await preview(a, world, content)
    assert (shown["status"], shown["created"], shown["unconfirmed"]) == ("previewed", 2, 1)
    staged = await StagedUpload.select(StagedUpload.sha256, StagedUpload.size_bytes)
    assert staged == [{"sha256": hashlib.sha256(content).hexdigest(), "size_bytes": len(content)}]
    for instance in (settings, other_settings):  # on nobody's disk
        assert not (instance.var_dir / "imports").exists()

    batch = shown["batch_id"]
    page = await b.get(f"/imports/{batch}")
    assert page.status_code == 200 and imports.NOT_KEPT not in page.text
    [held] = [row for row in shown["rows"] if row["identity"]]
    confirmed = await b.post(
        f"/api/imports/{batch}/identity-confirmations",
        json={"location": held["location"], "reason": "Same client; the lab misspelled her name"},
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["unconfirmed"] == 0

    committed = await b.post(f"/api/imports/{batch}/commit")
    assert committed.status_code == 200, committed.text
    assert (committed.json()["status"], committed.json()["created"]) == ("committed", 2)
    assert await DrugTest.count() == 2
    assert await StagedUpload.count() == 0  # committed: the file is no longer kept
    result = await a.get(f"/imports/{batch}")
    assert result.status_code == 200 and "C-1002" in result.text  # what it stored


async def test_a_failed_commit_loses_nothing(instances: Instances, world: World) -> None:
    """The database refuses the commit's write half-way (a trigger, as a full disk or a
    lost connection would): the batch is still previewed with its file, and commits
    whole once the database takes writes again."""
    a, b = instances
    batch = (await preview(a, world, hl7_result("ACC-1")))["batch_id"]
    engine = db.current_engine()
    if ENGINE == "postgres":
        await engine.run_ddl(
            "CREATE FUNCTION refuse_tests() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
        )
        await engine.run_ddl(
            'CREATE TRIGGER "refuse_tests" BEFORE INSERT ON "drug_test" '
            "FOR EACH ROW EXECUTE FUNCTION refuse_tests()"
        )
    else:
        await engine.run_ddl(
            'CREATE TRIGGER "refuse_tests" BEFORE INSERT ON "drug_test" '
            "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        )

    failed = await b.post(f"/api/imports/{batch}/commit")
    assert failed.status_code == 500
    assert await DrugTest.count() == 0
    assert await StagedUpload.count() == 1
    status = await ImportBatch.select(ImportBatch.status).where(ImportBatch.id == batch).first()
    assert status["status"] == "previewed"

    on = ' ON "drug_test"' if ENGINE == "postgres" else ""
    await engine.run_ddl(f'DROP TRIGGER "refuse_tests"{on}')
    committed = await b.post(f"/api/imports/{batch}/commit")
    assert committed.status_code == 200 and committed.json()["status"] == "committed"
    assert await DrugTest.count() == 1
    assert await StagedUpload.count() == 0


async def test_a_rejected_commit_removes_the_file(instances: Instances, world: World) -> None:
    """The records changed since the preview (the client id it names is gone): the
    commit stores nothing, rejects the batch and its file goes."""
    a, b = instances
    batch = (await preview(a, world, hl7_result("ACC-1")))["batch_id"]
    jane = await Participant.select(Participant.id).where(Participant.client_id == "C-1001").first()
    renamed = await a.patch(f"/api/participants/{jane['id']}", json={"client_id": "C-9001"})
    assert renamed.status_code == 200, renamed.text

    rejected = await b.post(f"/api/imports/{batch}/commit")
    assert rejected.status_code == 422 and rejected.json()["status"] == "rejected"
    assert await StagedUpload.count() == 0
    assert await DrugTest.count() == 0


async def test_files_left_past_their_time_are_removed(
    instances: Instances, world: World, settings: Settings
) -> None:
    a, b = instances
    old = (await preview(a, world, hl7_result("ACC-1")))["batch_id"]
    young = (await preview(a, world, hl7_result("ACC-2")))["batch_id"]
    week_ago = datetime.now(UTC) - imports.STAGED_FOR - timedelta(minutes=1)
    await StagedUpload.update({StagedUpload.created_at: week_ago}).where(
        StagedUpload.import_batch == old
    )

    # The periodic job, through whichever dispatcher the app chose (in process or SAQ).
    assert await dispatch.run(settings, "remove_expired_uploads") == 1
    assert await dispatch.run(settings, "remove_expired_uploads") == 0
    left = await StagedUpload.select(StagedUpload.import_batch)
    assert left == [{"import_batch": young}]

    page = await b.get(f"/imports/{old}")
    assert page.status_code == 200 and imports.NOT_KEPT in page.text
    refused = await b.post(f"/api/imports/{old}/commit")
    assert refused.status_code == 422
    assert refused.json()["status"] == "previewed"
    assert refused.json()["errors"][0]["reason"] == imports.NOT_KEPT
    confirm = await b.post(
        f"/api/imports/{old}/identity-confirmations", json={"location": "x", "reason": "y"}
    )
    assert confirm.status_code == 422 and imports.NOT_KEPT in confirm.text
    committed = await b.post(f"/api/imports/{young}/commit")
    assert committed.status_code == 200 and committed.json()["status"] == "committed"


# --- consent documents ----------------------------------------------------------------


async def _consent(client: httpx.AsyncClient, world: World) -> int:
    participant = await Participant.select(Participant.id).first()
    recipient = await client.post(
        "/api/recipients",
        json={
            "program_id": world.program_a,
            "kind": "probation_officer",
            "name": "Pat Officer",
            "email": "pat@probation.example",
        },
    )
    assert recipient.status_code == 201, recipient.text
    made = await client.post(
        f"/api/participants/{participant['id']}/consents",
        json={
            "recipient_id": recipient.json()["id"],
            "information_categories": ["attendance"],
            "information_description": "Attendance",
            "purposes": ["court_supervision"],
            "revocation_instructions": "In writing to the director",
            "signed_by_name": "Jane Doe",
            "signed_on": "2026-01-05",
            "expires_on": "2030-01-01",
        },
    )
    assert made.status_code == 201, made.text
    return made.json()["id"]


SCAN = b"%PDF-1.7\n% signed consent\n" + bytes(range(256)) * 40


async def test_a_consent_document_attached_on_one_instance_is_served_by_another(
    instances: Instances, world: World, settings: Settings, other_settings: Settings
) -> None:
    a, b = instances
    consent = await _consent(a, world)
    url = f"/api/consents/{consent}/document"
    attached = await a.put(url, files={"document": ("signed.pdf", SCAN, "application/pdf")})
    assert attached.status_code == 200, attached.text
    served = await b.get(url)
    assert served.status_code == 200 and served.content == SCAN
    assert served.headers["content-type"] == "application/pdf"
    for instance in (settings, other_settings):
        assert not (instance.var_dir / "documents").exists()

    # The same scan attached to a second consent is kept once.
    second = await _consent(b, world)
    again = await b.put(f"/api/consents/{second}/document", files={"document": ("again.pdf", SCAN)})
    assert again.status_code == 200, again.text
    assert await ConsentDocument.count() == 1
    assert (await a.get(f"/api/consents/{second}/document")).content == SCAN


async def test_a_document_kept_on_disk_before_moves_into_the_database_on_first_download(
    instances: Instances, world: World, settings: Settings
) -> None:
    """As an older installation left it: the file under A's VAR_DIR/documents, its path
    on the consent, nothing in the database. B cannot serve it until A has once."""
    a, b = instances
    consent = await _consent(a, world)
    digest = hashlib.sha256(SCAN).hexdigest()
    legacy = settings.var_dir / "documents" / digest[:2] / digest
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(SCAN)
    await Consent.update(
        {
            Consent.document_filename: "signed.pdf",
            Consent.document_media_type: "application/pdf",
            Consent.document_sha256: digest,
            Consent.document_path: f"{digest[:2]}/{digest}",
        }
    ).where(Consent.id == consent)
    url = f"/api/consents/{consent}/document"

    assert (await b.get(url)).status_code == 404
    assert (await a.get(url)).content == SCAN
    assert await ConsentDocument.count() == 1
    assert (await b.get(url)).content == SCAN


# --- the audit trail ------------------------------------------------------------------


def _instance(settings: Settings, var_dir: Path) -> Settings:
    """Another instance: the same database, SECRET_KEY, SIGNING_P12 and REPORTS_DIR; a
    VAR_DIR of its own (not made yet: an instance that only verifies needs none)."""
    key = signing.signing_config(settings)
    return replace(
        settings,
        var_dir=var_dir,
        signing_p12=Path(key.p12_path),
        signing_passphrase=key.passphrase,
    )


async def _events(instance: Settings, count: int) -> None:
    """``count`` events written by ``instance``: its head file records them."""
    instance.var_dir.mkdir(exist_ok=True)
    audit.configure(instance)  # as a restart does: a new trail, the same instance id
    for n in range(count):
        await audit.record("test.write", audit.SYSTEM, "test", n)


def _head_file(instance: Settings) -> Path:
    return instance.reports_dir / "audit-heads" / f"{audit.instance_id(instance.var_dir)}.log"


def _lines(path: Path) -> list[int]:
    return [int(line.split()[0]) for line in path.read_text().splitlines()]


async def _verify(instance: Settings) -> audit.ChainReport:
    audit.configure(instance)
    return await audit.verify_chain()


@pytest.fixture
async def two_writers(bound_engine: db.Engine, settings: Settings, tmp_path: Path) -> Settings:
    """Instances A (``settings``) and B (returned) wrote #1-#10 in turns: A #1-#3 and
    #8-#9, B #4-#7 and #10."""
    other = _instance(settings, tmp_path / "b")
    await _events(settings, 3)
    await _events(other, 4)
    await _events(settings, 2)
    await _events(other, 1)
    return other


async def test_every_instance_verifies_the_chain_against_every_head_file(
    two_writers: Settings, settings: Settings, tmp_path: Path
) -> None:
    """Each instance appends to a file of its own in the shared REPORTS_DIR/audit-heads,
    named by the id kept in its VAR_DIR; every instance's verify holds the chain against
    all of them, so each sees the head #10 that B wrote. A checkpoint either writes is
    in REPORTS_DIR too, and the daily one is made once."""
    other = two_writers
    ids = {audit.instance_id(i.var_dir) for i in (settings, other)}
    assert len(ids) == 2
    assert sorted(p.name for p in (settings.reports_dir / "audit-heads").iterdir()) == sorted(
        f"{name}.log" for name in ids
    )
    assert _lines(_head_file(settings)) == [1, 2, 3, 8, 9]
    assert _lines(_head_file(other)) == [4, 5, 6, 7, 10]
    assert not (settings.var_dir / audit.HEAD_FILE).exists()

    written = await audit.checkpoint_if_due(other)
    assert written is not None and written.parent == settings.reports_dir / "audit-checkpoints"
    assert await audit.checkpoint_if_due(settings) is None  # B's serves for today
    for instance in (settings, other):
        report = await _verify(instance)
        assert report.intact, report.reason
        assert (report.events, report.head, report.head_files, report.checkpoints) == (
            10,
            10,
            2,
            1,
        )
        assert "head #10 matches 2 head file(s)" in report.summary()

    # A third instance that has written nothing (a new worker machine, a replaced
    # container) holds the chain against every file as well, and leaves nothing behind.
    third = _instance(settings, tmp_path / "c")
    report = await _verify(third)
    assert report.intact, report.reason
    assert (report.events, report.head, report.head_files) == (10, 10, 2)
    assert not third.var_dir.exists()

    # Its first event starts its own file; a lost VAR_DIR just starts another one.
    await _events(third, 1)
    assert _lines(_head_file(third)) == [11]
    shutil.rmtree(third.var_dir)
    await _events(third, 1)
    assert _lines(_head_file(third)) == [12]
    report = await _verify(settings)
    assert report.intact and (report.head, report.head_files) == (12, 4)


async def test_a_truncated_head_file_is_caught_by_another_instance_s(
    two_writers: Settings, settings: Settings, tmp_path: Path
) -> None:
    """The insider deletes the newest events and cuts them from the file that recorded
    the newest (B's): A's file still records #9, and says so wherever verify runs."""
    other = two_writers
    await AuditEvent.delete().where(AuditEvent.seq >= 9)
    b_file = _head_file(other)
    b_file.write_text("".join(f"{n} {mac}\n" for n, mac in _pairs(b_file) if n < 9))
    a_name = f"audit-heads/{audit.instance_id(settings.var_dir)}.log (in REPORTS_DIR)"
    for instance in (settings, other, _instance(settings, tmp_path / "c")):
        report = await _verify(instance)
        assert report.broken_at == 9
        assert report.reason == (
            f"event #9 missing (deleted): the chain ends at #8 but {a_name} records #9"
        )

    # Every head file gone while keyed events exist: named (there is nothing to hold
    # the chain's end against).
    for path in (settings.reports_dir / "audit-heads").iterdir():
        path.unlink()
    report = await _verify(_instance(settings, tmp_path / "c"))
    assert "every audit head file is missing or empty" in report.reason
    assert "keyed events up to #8 were written" in report.reason


def _pairs(path: Path) -> list[tuple[int, str]]:
    return [(int(n), mac) for n, mac in (line.split() for line in path.read_text().splitlines())]


async def test_a_rewritten_head_file_is_caught_by_another_instance_s(
    two_writers: Settings, settings: Settings
) -> None:
    """An insider with SECRET_KEY edits B's event #5, recomputes #5-#10 and rewrites
    B's head file to match: A's file still holds #8's MAC as it was committed."""
    other = two_writers
    key = audit.derive_mac_key(settings.secret_key)
    rows = await AuditEvent.select().where(AuditEvent.seq >= 5).order_by(AuditEvent.seq)
    prev = rows[0]["prev_hash"]
    rows[0]["detail"] = '{"n":"edited"}'
    new_macs: dict[int, str] = {}
    for row in rows:
        mac = audit.event_mac(key, prev, row["seq"], row)
        await AuditEvent.update(
            {AuditEvent.detail: row["detail"], AuditEvent.prev_hash: prev, AuditEvent.hash: mac}
        ).where(AuditEvent.id == row["id"])
        new_macs[row["seq"]] = prev = mac
    b_file = _head_file(other)
    b_file.write_text("".join(f"{n} {new_macs.get(n, mac)}\n" for n, mac in _pairs(b_file)))

    report = await _verify(other)
    a_name = f"audit-heads/{audit.instance_id(settings.var_dir)}.log (in REPORTS_DIR)"
    assert report.broken_at == 8
    assert f"its MAC is not the one {a_name} recorded when it was committed" in report.reason
    assert [f.seq for f in report.findings] == [8, 9, 9]  # #9 also: A's newest line


async def test_checkpoints_written_in_var_dir_before_still_count(
    bound_engine: db.Engine, settings: Settings
) -> None:
    await _events(settings, 2)
    written = await audit.write_checkpoint(settings, "manual")
    older = settings.var_dir / audit.CHECKPOINT_DIR
    older.mkdir()
    written.rename(older / written.name)
    await _events(settings, 1)
    assert audit.checkpoint_files(settings) == [older / written.name]
    report = await audit.verify_chain()
    assert report.intact and report.checkpoints == 1
