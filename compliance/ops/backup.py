"""``compliance backup`` and ``compliance restore``: the database, the report store and
the keys that make both usable, copied while the service runs.

Consistency comes from the order. A signed audit checkpoint is written and the audit
head files and checkpoints are copied before the database: they only ever record
committed events, so the copied database is never shorter than any copied head. Then
the database (one snapshot), then the store. A report's file is stored before its row
commits and is never rewritten, so every report the copied database names is already on
disk when the store is copied. The secret key (it seals queued e-mails and keys the
audit chain) and the development signing key travel with them; uploaded files (consent
documents, imports waiting for their commit) are in the database; sessions do not
travel (a restore signs everyone out).

The backup's ``var/`` holds every instance's head file (``audit-heads/``, from
REPORTS_DIR, shared by every instance), VAR_DIR's ``audit-head`` where an older version
left one, and every checkpoint, those in REPORTS_DIR (where they are written) and any
older ones still in VAR_DIR. A restore puts the head files and checkpoints back into
REPORTS_DIR and ``audit-head`` into VAR_DIR; backups made before the head files moved
(``var/audit-head`` alone) restore as they did. The instance id is not copied: the
restored installation writes a head file of its own beside the old ones.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from compliance import audit
from compliance.core import db
from compliance.core.settings import Settings
from compliance.ops import database_copy
from compliance.reporting import store

MANIFEST = "MANIFEST.json"
FORMAT = 1
# "documents": consent documents attached before they moved into the database, until
# their first download moves them there.
VAR_ITEMS = ("secret_key", "signing", "documents")


class BackupError(Exception):
    """Shown to the operator as one line."""


@dataclass
class Manifest:
    format: int
    created_at: str
    engine: str
    database: str
    reports: int
    var: list[str]


def _empty_or_new(folder: Path) -> None:
    if folder.exists() and any(folder.iterdir()):
        raise BackupError(f"{folder} is not empty; back up into a new folder")
    folder.mkdir(parents=True, exist_ok=True)


def _copy_store(source: Path, target: Path) -> int:
    count = 0
    for rel in store.stored_files(source):
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / rel, target / rel)
        count += 1
    return count


def _copy_var(source: Path, target: Path, items: tuple[str, ...] = VAR_ITEMS) -> list[str]:
    copied = []
    for item in items:
        path = source / item
        if path.is_dir():
            shutil.copytree(path, target / item, dirs_exist_ok=True)
        elif path.is_file():
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / item)
        else:
            continue
        copied.append(item)
    return copied


def _copy_audit(settings: Settings, target: Path) -> list[str]:
    """Every head file and every signed checkpoint, into the backup's var/."""
    copied = _copy_var(settings.var_dir, target, (audit.HEAD_FILE,))
    for folder, files in (
        (audit.HEADS_DIR, audit.instance_head_files(settings)),
        (audit.CHECKPOINT_DIR, audit.checkpoint_files(settings)),
    ):
        if files:
            (target / folder).mkdir(parents=True, exist_ok=True)
            for path in files:
                shutil.copy2(path, target / folder / path.name)
            copied.append(folder)
    return copied


def backup(settings: Settings, destination: Path) -> Manifest:
    """Write a backup into ``destination`` (new or empty). Blocking: run it in a thread
    or from the shell."""
    _empty_or_new(destination)
    _audit_checkpoint(settings)
    audit_items = _copy_audit(settings, destination / "var")  # before the database
    try:
        database = database_copy.snapshot_to(settings.database, destination)
    except database_copy.CopyFailed as exc:
        raise BackupError(str(exc)) from None
    reports = _copy_store(settings.reports_dir, destination / "reports")
    var = _copy_var(settings.var_dir, destination / "var") + audit_items
    manifest = Manifest(
        format=FORMAT,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        engine=settings.database.engine,
        database=database,
        reports=reports,
        var=var,
    )
    (destination / MANIFEST).write_text(json.dumps(asdict(manifest), indent=2) + "\n")
    return manifest


def _audit_checkpoint(settings: Settings) -> None:
    """Every backup signs the audit chain's head: deleting events older than the newest
    backup then shows, even to someone who can also rewrite the head files."""

    async def write() -> None:
        engine = db.create_engine(settings.database, must_exist=True)
        await audit.write_checkpoint(settings, "backup", engine)

    try:
        asyncio.run(write())
    except Exception as exc:
        raise BackupError(f"cannot write the audit checkpoint: {exc}") from None


def read_manifest(source: Path) -> Manifest:
    try:
        data = json.loads((source / MANIFEST).read_text())
        manifest = Manifest(**data)
    except FileNotFoundError:
        raise BackupError(f"{source} holds no {MANIFEST}: not a compliance backup") from None
    except (ValueError, TypeError) as exc:
        raise BackupError(f"{source / MANIFEST} is damaged: {exc}") from None
    if manifest.format != FORMAT:
        raise BackupError(f"backup format {manifest.format} is not one this version reads")
    return manifest


def restore(settings: Settings, source: Path) -> Manifest:
    """Load a backup into the configured database (empty), REPORTS_DIR (no reports yet)
    and VAR_DIR. The secret key and signing key from the backup replace any the new
    folder generated, so sealed e-mails open and new reports carry the same signer."""
    manifest = read_manifest(source)
    if manifest.engine != settings.database.engine:
        raise BackupError(
            f"this backup is of a {manifest.engine} database; DATABASE_URL names "
            f"{settings.database.engine}"
        )
    if any(store.of(settings).names()):
        raise BackupError(f"{settings.reports_dir} already holds reports; restore into a new one")
    try:
        database_copy.restore_from(source / manifest.database, settings.database)
    except database_copy.CopyFailed as exc:
        raise BackupError(str(exc)) from None
    _copy_store(source / "reports", settings.reports_dir)
    _copy_var(source / "var", settings.var_dir, (*VAR_ITEMS, audit.HEAD_FILE))
    _copy_var(source / "var", settings.reports_dir, (audit.CHECKPOINT_DIR, audit.HEADS_DIR))
    return manifest
