"""The keyed audit chain against an insider with database access (issue 17): deleted
newest events, an edited event with the chain recomputed (plain SHA-256, a wrong key,
the right key), a replaced checkpoint; each named by ``compliance audit verify``. Also:
the legacy SHA-256 segment, the head in every signed report, checkpoints at backup and
daily, a rolled-back event that leaves no trace outside the database, head files from
before they moved to REPORTS_DIR, and backups that carry every head file."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import pkcs12
from pypdf import PdfReader

from compliance import audit
from compliance.core import db
from compliance.core.settings import Settings, load_settings
from compliance.jobs import dispatch
from compliance.reporting.pdf import AUDIT_MAC_KEY, AUDIT_SEQ_KEY
from compliance.reporting.signing import _self_signed_p12
from compliance.tables import AuditEvent
from tests.support.cli import run_cli, settings_env
from tests.support.databases import Databases
from tests.support.demo import court_report, report_pdf, verify_pdf

pytestmark = pytest.mark.db

ALICE = audit.Actor("user:1", "203.0.113.7")


def _run(env: dict[str, str], work: Callable[[], Any]) -> Any:
    """Act in this process on the database the CLI uses: as the service (``record``), or
    as the insider (direct SQL through the tables)."""

    async def go() -> Any:
        settings = load_settings(env)
        db.bind(db.create_engine(settings.database))
        audit.configure(settings)
        return await work()

    return asyncio.run(go())


async def _write(n: int) -> None:
    for i in range(n):
        await audit.record("participant.update", ALICE, "participant", i, {"n": i})


def _cli_world(database_url: str, tmp_path: Path, extra: int) -> dict[str, str]:
    """The demo's events plus ``extra`` more, verified intact through the CLI."""
    env = settings_env(database_url, tmp_path)
    assert run_cli("demo", env=env).returncode == 0
    _run(env, lambda: _write(extra))
    ok = run_cli("audit", "verify", env=env)
    assert ok.returncode == 0, ok.stderr
    return env


def _head_file(env: dict[str, str]) -> Path:
    """The instance's head file: REPORTS_DIR/audit-heads/<the id in VAR_DIR>.log."""
    name = (Path(env["VAR_DIR"]) / "instance-id").read_text().strip()
    return Path(env["REPORTS_DIR"]) / "audit-heads" / f"{name}.log"


def _head_name(env: dict[str, str]) -> str:
    """How ``verify`` names it."""
    return f"audit-heads/{_head_file(env).name} (in REPORTS_DIR)"


def _verify_fails(env: dict[str, str]) -> str:
    done = run_cli("audit", "verify", env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    return done.stderr


def test_deleting_the_newest_events_is_named(database_url: str, tmp_path: Path) -> None:
    env = _cli_world(database_url, tmp_path, extra=7)  # 3 demo events + 7 = #1-#10
    _run(env, lambda: AuditEvent.delete().where(AuditEvent.seq > 5))
    stderr = _verify_fails(env)
    assert "audit chain broken at event #6: event #6-#10 missing (deleted)" in stderr
    assert f"ends at #5 but {_head_name(env)} records #10" in stderr


def test_a_checkpoint_shows_deletions_even_with_the_head_file_rewritten(
    database_url: str, tmp_path: Path
) -> None:
    """The insider also rewrites the head file: the signed checkpoint still shows every
    deletion up to it; deletions after the newest checkpoint are what they can hide."""
    env = _cli_world(database_url, tmp_path, extra=5)  # #1-#8
    made = run_cli("audit", "checkpoint", env=env)
    assert made.returncode == 0, made.stderr
    name = made.stdout.split(": ")[1].strip()
    assert name.endswith("-0000000008.json")
    _run(env, lambda: _write(2))  # #9, #10: after the checkpoint

    head_file = _head_file(env)
    lines = head_file.read_text().splitlines()
    head_file.write_text("".join(f"{line}\n" for line in lines if int(line.split()[0]) <= 5))
    _run(env, lambda: AuditEvent.delete().where(AuditEvent.seq > 5))
    stderr = _verify_fails(env)
    assert "event #6-#8 missing (deleted): the chain ends at #5" in stderr
    assert f"checkpoint {name} records #8" in stderr

    head_file.unlink()  # and without any head file at all
    stderr = _verify_fails(env)
    assert "audit trail check failed: every audit head file is missing or empty" in stderr
    assert "yet keyed events up to #5 were written" in stderr
    assert f"checkpoint {name} records #8" in stderr


async def _recompute(from_seq: int, digest: Callable[[str, dict[str, Any]], str]) -> None:
    """The insider's edit: change one event's detail, then rewrite every later link."""
    rows = await AuditEvent.select().where(AuditEvent.seq >= from_seq).order_by(AuditEvent.seq)
    prev = rows[0]["prev_hash"]
    rows[0]["detail"] = '{"n":"edited"}'
    for row in rows:
        new = digest(prev, row)
        await AuditEvent.update(
            {AuditEvent.detail: row["detail"], AuditEvent.prev_hash: prev, AuditEvent.hash: new}
        ).where(AuditEvent.id == row["id"])
        prev = new


WRONG_KEY = audit.derive_mac_key("not-this-installations-secret-key-" + "y" * 20)


@pytest.mark.parametrize(
    "recompute",
    [
        pytest.param(audit.event_hash, id="plain-sha256"),
        pytest.param(
            lambda prev, row: audit.event_mac(WRONG_KEY, prev, row["seq"], row), id="wrong-key"
        ),
    ],
)
def test_an_edit_recomputed_without_the_key_names_the_edited_event(
    database_url: str, tmp_path: Path, recompute: Callable[[str, dict[str, Any]], str]
) -> None:
    env = _cli_world(database_url, tmp_path, extra=6)  # #1-#9
    _run(env, lambda: _recompute(5, recompute))
    stderr = _verify_fails(env)
    assert "audit chain broken at event #5: event #5 ('participant.update' at " in stderr
    assert "its content does not match its MAC" in stderr


def test_an_edit_recomputed_with_the_key_is_named_by_the_head_file(
    database_url: str, tmp_path: Path
) -> None:
    """An insider who also has SECRET_KEY makes every MAC fit; the head file kept outside
    the database still holds each event's MAC as it was committed."""
    env = _cli_world(database_url, tmp_path, extra=6)
    key = audit.derive_mac_key(env["SECRET_KEY"])
    _run(env, lambda: _recompute(5, lambda p, r: audit.event_mac(key, p, r["seq"], r)))
    stderr = _verify_fails(env)
    assert "audit chain broken at event #5: event #5 ('participant.update' at " in stderr
    assert f"its MAC is not the one {_head_name(env)} recorded when it was committed" in stderr


def _other_signer() -> tuple[Any, Any]:
    """A key and certificate that are not the program's."""
    key, cert, _ = pkcs12.load_key_and_certificates(_self_signed_p12("other"), b"other")
    return key, cert


def test_a_replaced_checkpoint_is_not_ours(database_url: str, tmp_path: Path) -> None:
    env = _cli_world(database_url, tmp_path, extra=2)
    made = run_cli("audit", "checkpoint", env=env)
    assert made.returncode == 0, made.stderr
    path = Path(env["REPORTS_DIR"]) / "audit-checkpoints" / made.stdout.split(": ")[1].strip()
    original = json.loads(path.read_text())
    ok = run_cli("audit", "verify", env=env)
    assert ok.returncode == 0 and "1 signed checkpoint(s), newest #5" in ok.stdout, ok.stderr

    # Signed by another key: e.g. to move the checkpoint back before deleted events.
    body = {k: v for k, v in original.items() if k not in ("signature", "certificate_sha256")}
    forged = audit.sign_checkpoint({**body, "seq": 3}, *_other_signer())
    path.write_text(json.dumps(forged))
    stderr = _verify_fails(env)
    assert f"checkpoint {path.name}: its signature is not ours" in stderr

    # Our signature, but an edited field.
    path.write_text(json.dumps({**original, "seq": 3}))
    assert f"checkpoint {path.name}: its signature is not ours" in _verify_fails(env)


async def test_every_signed_report_carries_the_audit_head(
    client: httpx.AsyncClient, demo: dict, settings: Settings
) -> None:
    before = await audit.head()
    report = await court_report(client, demo)
    pdf = await report_pdf(client, report)
    info = PdfReader(BytesIO(pdf)).metadata
    seq = int(info[f"/{AUDIT_SEQ_KEY}"])
    assert seq == before.seq  # the head when it was rendered; the report's event follows
    event = await AuditEvent.select().where(AuditEvent.seq == seq).first()
    assert info[f"/{AUDIT_MAC_KEY}"] == event["hash"]
    assert (await audit.verify_chain()).intact
    # The metadata is inside what the signature covers: the report still verifies.
    assert (await verify_pdf(client, pdf))["status"] == "authentic_current"


async def _legacy_events(n: int) -> None:
    """Events as the pre-key version wrote them: sequence 0, plain SHA-256."""
    prev = audit.GENESIS
    for i in range(n):
        row = audit._new_row("login.success", ALICE, "staff_user", i, {})
        digest = audit.event_hash(prev, row)
        await AuditEvent.insert(AuditEvent(**row, seq=0, prev_hash=prev, hash=digest))
        prev = digest


async def test_the_legacy_segment_is_verified_and_anchored(bound_engine: db.Engine) -> None:
    await _legacy_events(3)
    await _write(1)
    rows = await AuditEvent.select().where(AuditEvent.seq > 0).order_by(AuditEvent.seq)
    assert [(r["seq"], r["action"]) for r in rows] == [
        (4, audit.KEYED_ACTION),
        (5, "participant.update"),
    ]
    legacy_head = (await AuditEvent.select().order_by(AuditEvent.id))[2]["hash"]
    assert json.loads(rows[0]["detail"]) == {"legacy_events": 3, "legacy_head": legacy_head}
    report = await audit.verify_chain()
    assert report.intact and report.events == 5 and report.keyed_from == 4
    assert "#1-#3 plain SHA-256 (before the key), keyed from #4" in report.summary()

    # Rewriting the legacy segment (anyone can recompute SHA-256) breaks the keyed link.
    legacy = await AuditEvent.select().where(AuditEvent.seq == 0).order_by(AuditEvent.id)
    prev = legacy[0]["hash"]
    for row in legacy[1:]:
        row["actor"] = "user:2"
        new = audit.event_hash(prev, row)
        await AuditEvent.update(
            {AuditEvent.actor: "user:2", AuditEvent.prev_hash: prev, AuditEvent.hash: new}
        ).where(AuditEvent.id == row["id"])
        prev = new
    report = await audit.verify_chain()
    assert report.broken_at == 4
    assert "its previous-hash does not match the event before" in report.reason


async def test_a_rolled_back_event_leaves_no_head_line(
    bound_engine: db.Engine, settings: Settings
) -> None:
    await _write(2)
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await audit.record("program.create", ALICE, "program", "X")
            raise RuntimeError("abort")
    [head_file] = audit.instance_head_files(settings)
    assert [line.split()[0] for line in head_file.read_text().splitlines()] == ["1", "2"]
    await _write(1)
    report = await audit.verify_chain()
    assert report.intact and report.head == 3


def test_every_backup_writes_a_signed_checkpoint(database_url: str, tmp_path: Path) -> None:
    env = _cli_world(database_url, tmp_path, extra=1)
    done = run_cli("backup", str(tmp_path / "backup"), env=env)
    assert done.returncode == 0, done.stderr
    [live] = list((Path(env["REPORTS_DIR"]) / "audit-checkpoints").glob("*.json"))
    assert json.loads(live.read_text())["reason"] == "backup"
    assert json.loads(live.read_text())["seq"] == 4
    copied = tmp_path / "backup" / "var" / "audit-checkpoints" / live.name
    assert copied.read_text() == live.read_text()
    head = _head_file(env)
    assert (tmp_path / "backup" / "var" / "audit-heads" / head.name).read_text() == head.read_text()
    ok = run_cli("audit", "verify", env=env)
    assert ok.returncode == 0 and "1 signed checkpoint(s), newest #4" in ok.stdout


async def test_the_periodic_jobs_write_the_daily_checkpoint(
    bound_engine: db.Engine, settings: Settings
) -> None:
    await _write(3)
    async with dispatch.InProcess(settings).periodic():  # the app's, with no job queue
        for _ in range(400):
            if audit.checkpoint_files(settings):
                break
            await asyncio.sleep(0.05)
    [first] = audit.checkpoint_files(settings)
    assert json.loads(first.read_text())["reason"] == "daily"
    assert await audit.checkpoint_if_due(settings) is None  # one a day
    later = datetime.now(UTC) + timedelta(hours=25)
    assert await audit.checkpoint_if_due(settings, now=later) is not None
    report = await audit.verify_chain()
    assert report.intact and report.checkpoints == 2


async def test_verify_pages_through_long_chains(
    bound_engine: db.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both segments are read in pages (keyset on id, then on sequence and id)."""
    await _legacy_events(5)
    await _write(6)  # #6 audit.chain_keyed, #7-#12
    monkeypatch.setattr(audit, "BATCH", 2)
    report = await audit.verify_chain()
    assert report.intact and report.events == 12 and report.keyed_from == 6
    await AuditEvent.delete().where(AuditEvent.seq == 9)
    assert (await audit.verify_chain()).reason.startswith("event #9 missing (deleted)")


def test_the_head_file_tail_never_starts_mid_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the newest lines are read; the first, cut where reading began, is dropped
    (a "1233 ..." line cut to "33 ..." would name the wrong event)."""
    path = tmp_path / "audit-head"
    for seq in (1233, 1234, 1235):
        audit.append_head_line(path, seq, f"{seq:064x}")
    # Lines are 70 bytes; reading starts two bytes in, at "33 <MAC of #1233>".
    monkeypatch.setattr(audit, "HEAD_TAIL_BYTES", 3 * 70 - 2)
    assert audit.read_heads(path) == {1234: f"{1234:064x}", 1235: f"{1235:064x}"}
    assert audit.read_heads(tmp_path / "none") is None


async def test_a_head_file_from_before_the_move_still_counts(
    bound_engine: db.Engine, settings: Settings
) -> None:
    """An installation from before head files moved to REPORTS_DIR kept its head in
    VAR_DIR/audit-head: verify still holds the chain against it, beside the new file."""
    await _write(4)
    [current] = audit.instance_head_files(settings)
    current.rename(settings.var_dir / "audit-head")  # as the older version left it
    report = await audit.verify_chain()
    assert report.intact and (report.head, report.head_files) == (4, 1)

    await _write(2)  # from now on, into the instance's file in REPORTS_DIR
    assert [line.split()[0] for line in current.read_text().splitlines()] == ["5", "6"]
    report = await audit.verify_chain()
    assert report.intact and (report.head, report.head_files) == (6, 2)

    await AuditEvent.delete().where(AuditEvent.seq >= 4)
    current.unlink()
    report = await audit.verify_chain()
    assert report.reason == (
        "event #4 missing (deleted): the chain ends at #3 but audit-head (in VAR_DIR) records #4"
    )


async def test_every_head_file_that_records_an_event_is_checked(
    bound_engine: db.Engine, settings: Settings
) -> None:
    """Two files record the same events (VAR_DIR's old file was kept as a copy): an
    insider with SECRET_KEY who rewrites the chain and one of them is named by the other."""
    await _write(4)
    [current] = audit.instance_head_files(settings)
    shutil.copy2(current, settings.var_dir / "audit-head")
    assert (await audit.verify_chain()).intact
    key = audit.derive_mac_key(settings.secret_key)
    await _recompute(2, lambda p, r: audit.event_mac(key, p, r["seq"], r))
    rows = await AuditEvent.select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq)
    current.write_text("".join(f"{r['seq']} {r['hash']}\n" for r in rows))
    report = await audit.verify_chain()
    assert report.broken_at == 2
    assert "its MAC is not the one audit-head (in VAR_DIR) recorded" in report.reason


def _files(folder: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(folder.iterdir())}


def test_backup_and_restore_carry_every_head_file(
    database_url: str, databases: Databases, tmp_path: Path
) -> None:
    """Instance A (an older version's VAR_DIR/audit-head, then its file in REPORTS_DIR)
    and instance B: the backup holds all three head files and restores them, and the
    restored service verifies against them. A backup from before the move (its
    ``var/audit-head`` alone) still restores and verifies."""
    env = settings_env(database_url, tmp_path)
    assert run_cli("demo", env=env).returncode == 0  # #1-#3
    _head_file(env).rename(Path(env["VAR_DIR"]) / "audit-head")
    _run(env, lambda: _write(2))  # #4-#5
    env_b = {**env, "VAR_DIR": str(tmp_path / "b")}
    _run(env_b, lambda: _write(3))  # #6-#8
    heads = Path(env["REPORTS_DIR"]) / "audit-heads"
    assert len(_files(heads)) == 2

    backup = tmp_path / "backup"
    done = run_cli("backup", str(backup), env=env)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((backup / "MANIFEST.json").read_text())
    assert {"audit-head", "audit-heads", "audit-checkpoints"} <= set(manifest["var"])
    assert _files(backup / "var" / "audit-heads") == _files(heads)
    legacy = (Path(env["VAR_DIR"]) / "audit-head").read_text()
    assert (backup / "var" / "audit-head").read_text() == legacy
    assert not (backup / "var" / "instance-id").exists()  # the restored one gets its own

    restored = settings_env(databases.new(), tmp_path / "restored")
    done = run_cli("restore", str(backup), env=restored)
    assert done.returncode == 0, done.stderr
    assert _files(Path(restored["REPORTS_DIR"]) / "audit-heads") == _files(heads)
    assert (Path(restored["VAR_DIR"]) / "audit-head").read_text() == legacy
    ok = run_cli("audit", "verify", env=restored)
    assert ok.returncode == 0, ok.stderr
    assert "8 events; all keyed; head #8 matches 3 head file(s)" in ok.stdout

    # A backup made before head files moved: one var/audit-head, no audit-heads/.
    old = tmp_path / "old-backup"
    shutil.copytree(backup, old)
    lines = sorted(
        (
            line
            for text in _files(old / "var" / "audit-heads").values()
            for line in text.splitlines()
        ),
        key=lambda line: int(line.split()[0]),
    )
    shutil.rmtree(old / "var" / "audit-heads")
    (old / "var" / "audit-head").write_text("".join(f"{line}\n" for line in lines))
    manifest["var"].remove("audit-heads")
    (old / "MANIFEST.json").write_text(json.dumps(manifest))
    restored_old = settings_env(databases.new(), tmp_path / "restored-old")
    done = run_cli("restore", str(old), env=restored_old)
    assert done.returncode == 0, done.stderr
    assert not (Path(restored_old["REPORTS_DIR"]) / "audit-heads").exists()
    ok = run_cli("audit", "verify", env=restored_old)
    assert ok.returncode == 0, ok.stderr
    assert "head #8 matches 1 head file(s)" in ok.stdout
