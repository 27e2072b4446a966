"""The append-only audit trail: the one function that writes an event, and the one that
checks the trail.

Each event carries a sequence number (1, 2, 3... with no gaps) and an HMAC-SHA256 over
the previous event's MAC, its number and its content. The MAC key is derived from
SECRET_KEY and never stored in the database, so someone who can only write to the
database cannot edit an event and recompute the chain after it. Two copies of the head
live outside the database, both in REPORTS_DIR, the volume every instance shares:

- head files in ``audit-heads/``, one per instance (``<instance id>.log``; the id is
  kept in ``VAR_DIR/instance-id``, made on the first write). Each gets one line per
  event its instance wrote, appended and fsync'd after the event's transaction
  commits. One file per instance, because appends from several machines to one file
  on a shared (NFS) volume can interleave or get lost; the processes of one instance
  share its VAR_DIR, so its file, and their appends go through one kernel.
- signed checkpoints in ``audit-checkpoints/`` (sequence, MAC, time, signed with the
  program's signing key), written daily and at every backup.

``verify_chain`` holds the chain against every head file (and ``VAR_DIR/audit-head``,
where versions before these files kept an instance's head) and every checkpoint, so
any instance, also one that has written nothing, checks it against all of them. A
chain shorter than any of them has lost its newest events.

Events written before the keyed chain (sequence 0, plain SHA-256, ordered by id) are
the legacy segment: ``verify_chain`` still checks them, and the first keyed event
("audit.chain_keyed") records how many there were and covers the last one's hash.

Writers serialise on one lock inside their transaction, so the event commits (or rolls
back) together with the change it records, and the chain never forks.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compliance.core import db
from compliance.core.files import write_whole
from compliance.tables import AuditEvent

if TYPE_CHECKING:
    from compliance.core.settings import Settings

GENESIS = "0" * 64
LOCK = "compliance.audit"
BATCH = 2000
HEAD_FILE = "audit-head"  # VAR_DIR's, before head files moved to REPORTS_DIR: still read
HEADS_DIR = "audit-heads"
HEAD_SUFFIX = ".log"
INSTANCE_FILE = "instance-id"
CHECKPOINT_DIR = "audit-checkpoints"
MAC_LABEL = b"compliance/audit-chain/hmac-sha256/v1"
KEYED_ACTION = "audit.chain_keyed"
CHECKPOINT_FORMAT = 1
CHECKPOINT_EVERY = timedelta(days=1)
HEAD_TAIL_BYTES = 8 << 20  # verify reads the newest ~100,000 lines of each head file
MAX_FINDINGS = 20
_STAMP = "%Y%m%dT%H%M%S%fZ"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """Who did it: ``user:12``, ``link:4``, ``cli``, ``system``; and from where."""

    ref: str
    origin: str = ""


SYSTEM = Actor("system")
CLI = Actor("cli", "cli")


# --- configuration ------------------------------------------------------------------


@dataclass(frozen=True)
class Trail:
    """What this process needs to extend and check the chain: the MAC key and where the
    copies outside the database live (and the settings that name the signing key)."""

    mac_key: bytes = field(repr=False)
    var_dir: Path
    settings: Settings = field(repr=False)

    @cached_property
    def head_file(self) -> Path:
        """This instance's head file; the id (and the folder) are made on first use, so
        an instance that only verifies leaves nothing behind. Blocking: call it in a
        thread."""
        folder = heads_dir(self.settings)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return folder / f"{instance_id(self.var_dir)}{HEAD_SUFFIX}"

    @property
    def legacy_head_file(self) -> Path:
        return self.var_dir / HEAD_FILE

    @property
    def checkpoint_dir(self) -> Path:
        return checkpoint_dir(self.settings)


_trail: Trail | None = None


def derive_mac_key(secret_key: str) -> bytes:
    """HKDF-SHA256 of SECRET_KEY under a label of its own: the chain's key is not the key
    that seals e-mails or signs sessions, and learning one does not give the others."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=MAC_LABEL).derive(
        secret_key.encode()
    )


def configure(settings: Settings) -> None:
    """Called wherever the database is bound for writing (app, CLI, tests)."""
    global _trail
    _trail = Trail(derive_mac_key(settings.secret_key), settings.var_dir, settings)


def trail() -> Trail:
    if _trail is None:
        raise RuntimeError("the audit trail is not configured: call audit.configure(settings)")
    return _trail


_INSTANCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def instance_id(var_dir: Path) -> str:
    """This instance's name among those sharing REPORTS_DIR: a random id kept in
    ``VAR_DIR/instance-id``, so the same across restarts and distinct between instances.
    Made on first use (written whole; of two processes making it at once, the first
    one's stays). A lost VAR_DIR gets a new id, so a new head file; the old one stays and
    is still read. An operator may write a name of their own (letters, digits, - and _)."""
    path = var_dir / INSTANCE_FILE
    for _ in range(2):
        try:
            found = path.read_text().strip()
        except FileNotFoundError:
            found = None
        if found is not None and _INSTANCE_ID.fullmatch(found):
            return found
        if found is not None:
            log.warning("%s does not hold an instance id; writing a new one", path)
        write_whole(
            path,
            f"{secrets.token_hex(8)}\n".encode(),
            prefix=".instance-id-",
            keep_existing=found is None,
        )
    raise RuntimeError(f"{path} does not hold an instance id")


def heads_dir(settings: Settings) -> Path:
    """Shared by every instance, one file each: a head any instance wrote is held
    against the chain wherever ``verify`` runs."""
    return settings.reports_dir / HEADS_DIR


# --- writing ------------------------------------------------------------------------


def canonical_detail(detail: dict[str, Any] | None) -> str:
    return json.dumps(detail or {}, sort_keys=True, separators=(",", ":"), default=str)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _content(row: dict[str, Any]) -> list[Any]:
    return [
        row["actor"],
        row["action"],
        row["object_type"],
        row["object_id"],
        row["origin"],
        _stamp(row["occurred_at"]),
        row["detail"],
    ]


def event_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """The legacy (pre-key) hash: plain SHA-256, which anyone can recompute."""
    content = json.dumps(_content(row), separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


def event_mac(key: bytes, prev_mac: str, seq: int, row: dict[str, Any]) -> str:
    """The keyed chain: HMAC-SHA256 over the previous MAC, the sequence and the content."""
    content = json.dumps([seq, *_content(row)], separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, f"{prev_mac}\n{content}".encode(), hashlib.sha256).hexdigest()


def _new_row(
    action: str, actor: Actor, object_type: str, object_id: str | int, detail: Any
) -> dict[str, Any]:
    return {
        "actor": actor.ref,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id)[:80],
        "origin": actor.origin[:100],
        "occurred_at": datetime.now(UTC),
        "detail": canonical_detail(detail),
    }


async def _append(key: bytes, seq: int, prev: str, row: dict[str, Any]) -> str:
    digest = event_mac(key, prev, seq, row)
    await AuditEvent.insert(AuditEvent(**row, seq=seq, prev_hash=prev, hash=digest))
    return digest


async def _chain_end(key: bytes) -> tuple[int, str]:
    """The newest event's number and MAC; the first call after an upgrade starts the keyed
    chain with an "audit.chain_keyed" event that covers the legacy segment's last hash."""
    last = (
        await AuditEvent.select(AuditEvent.seq, AuditEvent.hash)
        .order_by(AuditEvent.seq, AuditEvent.id, ascending=False)
        .first()
    )
    if last is None:
        return 0, GENESIS
    if last["seq"] > 0:
        return last["seq"], last["hash"]
    legacy = await AuditEvent.count()
    detail = {"legacy_events": legacy, "legacy_head": last["hash"]}
    row = _new_row(KEYED_ACTION, SYSTEM, "audit_event", "", detail)
    return legacy + 1, await _append(key, legacy + 1, last["hash"], row)


async def record(
    action: str,
    actor: Actor,
    object_type: str = "",
    object_id: str | int = "",
    detail: dict[str, Any] | None = None,
) -> str:
    """Append one event and return its MAC. Joins the caller's transaction if any; the
    head file gets the event's line only once that transaction has committed.

    ``detail`` must never hold tokens, passwords or health information.
    """
    config = trail()
    async with db.transaction():
        await db.serialize(LOCK)
        seq, prev = await _chain_end(config.mac_key)
        row = _new_row(action, actor, object_type, object_id, detail)
        digest = await _append(config.mac_key, seq + 1, prev, row)
        db.after_commit(_head_writer(config, seq + 1, digest))
        return digest


def _head_writer(config: Trail, seq: int, digest: str) -> db.AfterCommit:
    def append() -> None:
        path = config.head_file
        try:
            append_head_line(path, seq, digest)
        except FileNotFoundError:  # the folder was removed while we ran
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            append_head_line(path, seq, digest)

    async def write() -> None:
        await asyncio.to_thread(append)

    return write


def append_head_line(path: Path, seq: int, digest: str) -> None:
    """One line per event, one ``write`` on an O_APPEND descriptor (so lines from several
    processes never interleave), fsync'd before the request goes on."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{seq} {digest}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read_heads(path: Path) -> dict[int, str] | None:
    """The newest lines of the head file as {sequence: MAC} (None: no file). Processes may
    append out of order; a torn last line from a crash is skipped."""
    try:
        with path.open("rb") as handle:
            start = max(0, path.stat().st_size - HEAD_TAIL_BYTES)
            handle.seek(start)
            lines = handle.read().decode("ascii", errors="replace").splitlines()
    except FileNotFoundError:
        return None
    if start > 0:
        lines = lines[1:]  # begins mid-line: "1234 ..." cut to "34 ..." would mislead
    heads: dict[int, str] = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit() and len(parts[1]) == 64:
            heads[int(parts[0])] = parts[1]
    return heads


@dataclass(frozen=True)
class AuditHead:
    """The chain's newest event: its sequence number and MAC (a legacy hash before the
    keyed chain starts, numbered by position)."""

    seq: int
    mac: str

    @property
    def pair(self) -> tuple[int, str]:
        """Picklable, for a worker's job."""
        return (self.seq, self.mac)

    def __str__(self) -> str:
        return f"#{self.seq} {self.mac}"


async def head(engine: db.Engine | None = None) -> AuditHead:
    """The committed head, for signed reports and checkpoints. ``engine``: one not bound
    (a backup reads with its own engine)."""
    engine = engine or db.current_engine()
    rows = await engine.run_ddl(
        'SELECT "seq", "hash" FROM "audit_event" ORDER BY "seq" DESC, "id" DESC LIMIT 1'
    )
    if not rows:
        return AuditHead(0, GENESIS)
    if rows[0]["seq"] > 0:
        return AuditHead(int(rows[0]["seq"]), rows[0]["hash"])
    count = await engine.run_ddl('SELECT COUNT(*) AS "n" FROM "audit_event"')
    return AuditHead(int(count[0]["n"]), rows[0]["hash"])


# --- signed checkpoints -------------------------------------------------------------


def _checkpoint_payload(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _signing_material(settings: Settings) -> tuple[Any, Any]:
    """The program's signing key and certificate (the ones that sign reports)."""
    from cryptography.hazmat.primitives.serialization import pkcs12

    from compliance.reporting.signing import signing_config

    config = signing_config(settings)
    data = Path(config.p12_path).read_bytes()
    key, cert, _ = pkcs12.load_key_and_certificates(data, config.passphrase.encode() or None)
    if key is None or cert is None:
        raise RuntimeError(f"{config.p12_path} holds no key and certificate")
    return key, cert


def _signature_args(public_key: Any) -> tuple[Any, ...]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    if isinstance(public_key, rsa.RSAPublicKey):
        return (padding.PKCS1v15(), hashes.SHA256())
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return (ec.ECDSA(hashes.SHA256()),)
    return ()  # Ed25519 / Ed448 take the message alone


def sign_checkpoint(body: dict[str, Any], key: Any, cert: Any) -> dict[str, Any]:
    from cryptography.hazmat.primitives import serialization

    fingerprint = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    body = {**body, "certificate_sha256": fingerprint}
    signature = key.sign(_checkpoint_payload(body), *_signature_args(key.public_key()))
    return {**body, "signature": base64.b64encode(signature).decode()}


def checkpoint_signed_by(document: dict[str, Any], cert: Any) -> bool:
    from cryptography.exceptions import InvalidSignature

    body = {k: v for k, v in document.items() if k != "signature"}
    try:
        signature = base64.b64decode(document["signature"], validate=True)
        public_key = cert.public_key()
        public_key.verify(signature, _checkpoint_payload(body), *_signature_args(public_key))
    except (InvalidSignature, KeyError, ValueError, TypeError):
        return False
    return True


def _write_file(folder: Path, name: str, content: bytes) -> Path:
    """Whole file or nothing: written aside, fsync'd, then renamed into place."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_whole(folder / name, content, prefix=".checkpoint-")
    return folder / name


async def write_checkpoint(
    settings: Settings, reason: str, engine: db.Engine | None = None
) -> Path:
    """Sign the committed head (sequence, MAC, time) with the program's key and keep it in
    ``REPORTS_DIR/audit-checkpoints/``. ``reason``: "daily", "backup" or "manual"."""
    now = datetime.now(UTC)
    current = await head(engine)
    body = {
        "format": CHECKPOINT_FORMAT,
        "seq": current.seq,
        "head": current.mac,
        "written_at": now.isoformat(timespec="seconds"),
        "reason": reason,
    }

    def sign_and_write() -> Path:
        key, cert = _signing_material(settings)
        document = sign_checkpoint(body, key, cert)
        content = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
        name = f"{now.strftime(_STAMP)}-{current.seq:010d}.json"
        return _write_file(checkpoint_dir(settings), name, content)

    return await asyncio.to_thread(sign_and_write)


def checkpoint_dir(settings: Settings) -> Path:
    """Shared by every instance: a checkpoint whichever worker wrote it is held against
    the chain wherever ``verify`` runs, and the daily one is written once for all."""
    return settings.reports_dir / CHECKPOINT_DIR


def checkpoint_files(settings: Settings) -> list[Path]:
    """Oldest first: names start with the UTC time they were written. Those written
    before checkpoints moved to REPORTS_DIR are still read from VAR_DIR."""
    found: dict[str, Path] = {}
    for folder in (settings.var_dir / CHECKPOINT_DIR, checkpoint_dir(settings)):
        if folder.is_dir():
            found.update((path.name, path) for path in folder.glob("*.json"))
    return [found[name] for name in sorted(found)]


def _written_at(path: Path) -> datetime | None:
    try:
        return datetime.strptime(path.name.split("-")[0], _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


async def checkpoint_if_due(settings: Settings, now: datetime | None = None) -> Path | None:
    """The daily checkpoint: written when the newest is a day old (or there is none)."""
    now = now or datetime.now(UTC)
    # A name dated in the future must not put the next checkpoint off (verify names it).
    found = map(_written_at, checkpoint_files(settings))
    times = [t for t in found if t is not None and t <= now]
    if times and now - max(times) < CHECKPOINT_EVERY:
        return None
    return await write_checkpoint(settings, "daily")


# --- verifying ----------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One thing wrong: the first event it concerns (None: a file outside the chain)."""

    seq: int | None
    message: str


@dataclass(frozen=True)
class ChainReport:
    events: int
    findings: tuple[Finding, ...] = ()
    keyed_from: int | None = None  # the first keyed event; before it, the legacy segment
    head: int | None = None  # the highest sequence any head file records
    checkpoints: int = 0
    newest_checkpoint: str = ""
    head_files: int = 0  # how many head files recorded at least one event

    @property
    def intact(self) -> bool:
        return not self.findings

    @property
    def broken_at(self) -> int | None:
        """The sequence number of the first bad event."""
        return self.findings[0].seq if self.findings else None

    @property
    def reason(self) -> str:
        return self.findings[0].message if self.findings else ""

    def summary(self) -> str:
        parts = [f"{self.events} events"]
        if self.keyed_from is None:
            parts.append("no keyed events yet" if self.events else "empty")
        elif self.keyed_from > 1:
            parts.append(
                f"#1-#{self.keyed_from - 1} plain SHA-256 (before the key), "
                f"keyed from #{self.keyed_from}"
            )
        else:
            parts.append("all keyed")
        if self.head is not None:
            parts.append(f"head #{self.head} matches {self.head_files} head file(s)")
        if self.checkpoints:
            parts.append(
                f"{self.checkpoints} signed checkpoint(s), newest {self.newest_checkpoint}"
            )
        return "; ".join(parts)


def _describe(seq: int, row: dict[str, Any]) -> str:
    return f"event #{seq} ({row['action']!r} at {row['occurred_at'].isoformat(timespec='seconds')})"


async def _rows(where: Any, order: tuple[Any, ...]) -> AsyncIterator[dict[str, Any]]:
    """Keyset pages of ``BATCH`` rows, ordered by ``order`` (unique: ends with the id)."""
    last: dict[str, Any] | None = None
    while True:
        query = AuditEvent.select().where(where)
        if last is not None:
            query = query.where(_after(order, last))
        rows = await query.order_by(*order).limit(BATCH)
        if not rows:
            return
        for row in rows:
            yield row
        last = rows[-1]


def _after(order: tuple[Any, ...], last: dict[str, Any]) -> Any:
    if len(order) == 1:
        return order[0] > last[order[0]._meta.name]
    first, second = order
    name = first._meta.name
    return (first > last[name]) | ((first == last[name]) & (second > last[second._meta.name]))


BROKEN_LINK = "its previous-hash does not match the event before (one was deleted or changed)"
BAD_MAC = (
    "its content does not match its MAC: edited, or the chain was recomputed without "
    "this installation's key (or SECRET_KEY is not the one the events were written with)"
)


def _rewritten(source: str) -> str:
    return (
        f"its MAC is not the one {source} recorded when it was committed: it was changed "
        "and the chain recomputed with the key"
    )


RENUMBERED = "it is older than an event with no sequence number: events were renumbered"


def _missing(first: int, last: int, why: str) -> str:
    """Deleted events, named by number."""
    which = f"#{first}" if first == last else f"#{first}-#{last}"
    return f"event {which} missing (deleted): the chain {why}"


@dataclass(frozen=True)
class _HeadFile:
    """One head file's newest lines, and how findings name it."""

    source: str
    heads: dict[int, str]


@dataclass
class _Recorded:
    """Every head file's MAC for each recent event, merged. Each event is written by one
    instance, so one file records it; another MAC for the same number (a copy that
    differs) is kept aside to be checked too."""

    first: dict[int, tuple[str, str]] = field(default_factory=dict)  # seq: (MAC, source)
    differing: dict[int, list[tuple[str, str]]] = field(default_factory=dict)

    def add(self, head_file: _HeadFile) -> None:
        for seq, mac in head_file.heads.items():
            kept = self.first.setdefault(seq, (mac, head_file.source))
            if kept[0] != mac:
                self.differing.setdefault(seq, []).append((mac, head_file.source))

    def other_than(self, seq: int, mac: str) -> str | None:
        """The first head file that records another MAC for ``seq``."""
        kept = self.first.get(seq)
        if kept is None:
            return None
        if kept[0] != mac:
            return kept[1]
        return next((src for other, src in self.differing.get(seq, ()) if other != mac), None)


@dataclass
class _Walk:
    """The state of one pass over the chain."""

    key: bytes
    wanted: set[int]
    recorded: _Recorded
    expected: int = 1
    count: int = 0
    prev: str = GENESIS
    keyed_from: int | None = None
    last_legacy_id: int = 0
    seen: dict[int, str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def note(self, seq: int, message: str) -> None:
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(Finding(seq, message))

    def legacy(self, row: dict[str, Any]) -> None:
        seq = self.expected
        if row["prev_hash"] != self.prev:
            self.note(seq, f"{_describe(seq, row)}: {BROKEN_LINK}")
        elif event_hash(self.prev, row) != row["hash"]:
            self.note(seq, f"{_describe(seq, row)}: its content does not match its hash")
        self.last_legacy_id = row["id"]
        self.advance(seq, row)

    def keyed(self, row: dict[str, Any]) -> None:
        seq = row["seq"]
        if self.keyed_from is None:
            self.keyed_from = seq
        if row["id"] < self.last_legacy_id:
            self.note(seq, f"{_describe(seq, row)}: {RENUMBERED}")
        if seq < self.expected:
            self.note(seq, f"{_describe(seq, row)}: a second event numbered #{seq}")
            return
        if seq > self.expected:
            self.note(self.expected, _missing(self.expected, seq - 1, f"jumps to #{seq}"))
        elif row["prev_hash"] != self.prev:
            self.note(seq, f"{_describe(seq, row)}: {BROKEN_LINK}")
        if event_mac(self.key, row["prev_hash"], seq, row) != row["hash"]:
            self.note(seq, f"{_describe(seq, row)}: {BAD_MAC}")
        elif (source := self.recorded.other_than(seq, row["hash"])) is not None:
            self.note(seq, f"{_describe(seq, row)}: {_rewritten(source)}")
        self.advance(seq, row)

    def advance(self, seq: int, row: dict[str, Any]) -> None:
        self.count += 1
        if seq in self.wanted:
            self.seen[seq] = row["hash"]
        self.prev = row["hash"]
        self.expected = seq + 1


def _load_checkpoint(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text())
    if not isinstance(document, dict) or not isinstance(document.get("seq"), int):
        raise ValueError("not a checkpoint")
    if not isinstance(document.get("head"), str):
        raise ValueError("no head")
    return document


def _compare(walk: _Walk, last: int, seq: int, mac: str, source: str) -> Finding | None:
    """A head kept outside the database against the chain: shorter means deletion, a
    different MAC means the chain was rewritten (recomputed with the key)."""
    if seq > last:
        why = f"ends at #{last} but {source} records #{seq}"
        return Finding(last + 1, _missing(last + 1, seq, why))
    if seq > 0 and walk.seen.get(seq) != mac:
        return Finding(
            seq,
            f"event #{seq} does not match the MAC {source} records for it "
            "(the chain was rewritten after that record)",
        )
    return None


def instance_head_files(settings: Settings) -> list[Path]:
    """Every instance's head file in REPORTS_DIR: any name but a hidden one, so a renamed
    file is still read."""
    folder = heads_dir(settings)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def head_files(settings: Settings) -> list[Path]:
    """Those, then VAR_DIR's from before head files moved to REPORTS_DIR, if present."""
    legacy = settings.var_dir / HEAD_FILE
    return instance_head_files(settings) + ([legacy] if legacy.is_file() else [])


def _read_head_files(config: Trail) -> tuple[list[_HeadFile], list[Finding]]:
    """Each head file's newest lines, named for findings (a file gone since the listing,
    or empty, records nothing); a finding for each one that cannot be read."""
    files: list[_HeadFile] = []
    bad: list[Finding] = []
    for path in head_files(config.settings):
        if path.parent == config.var_dir:
            source = f"{path.name} (in VAR_DIR)"
        else:
            source = f"{path.parent.name}/{path.name} (in REPORTS_DIR)"
        try:
            heads = read_heads(path)
        except OSError as exc:
            bad.append(Finding(None, f"head file {source} is unreadable ({exc})"))
            continue
        if heads:
            files.append(_HeadFile(source, heads))
    return files, bad


async def verify_chain() -> ChainReport:
    """Recompute every MAC (and legacy hash) in order, then hold the chain against every
    head file and every signed checkpoint; name the first event that does not fit."""
    config = trail()
    files, unreadable = await asyncio.to_thread(_read_head_files, config)
    checkpoints, findings = await asyncio.to_thread(_read_checkpoints, config)
    tops = [(max(f.heads), f) for f in files]  # each file's newest line
    recorded = _Recorded()
    for head_file in files:
        recorded.add(head_file)
    walk = _Walk(
        config.mac_key, {seq for seq, _, _ in checkpoints} | {s for s, _ in tops}, recorded
    )
    async for row in _rows(AuditEvent.seq == 0, (AuditEvent.id,)):
        walk.legacy(row)
    async for row in _rows(AuditEvent.seq > 0, (AuditEvent.seq, AuditEvent.id)):
        walk.keyed(row)
    last = walk.expected - 1
    outside: list[Finding | None] = [
        _compare(walk, last, seq, f.heads[seq], f.source) for seq, f in tops
    ]
    if not files and not unreadable and walk.keyed_from is not None:
        outside.append(
            Finding(
                None,
                f"every audit head file is missing or empty ({heads_dir(config.settings)}/, "
                f"{config.legacy_head_file}), yet keyed events up to #{last} were written "
                "(deleted, or REPORTS_DIR is not this installation's)",
            )
        )
    for seq, mac, name in checkpoints:
        outside.append(_compare(walk, last, seq, mac, f"checkpoint {name}"))
    all_findings = [
        *walk.findings,
        *(f for f in outside if f is not None),
        *unreadable,
        *findings,
    ]
    return ChainReport(
        walk.count,
        tuple(all_findings),
        walk.keyed_from,
        max(seq for seq, _ in tops) if tops else None,
        len(checkpoints),
        f"#{checkpoints[-1][0]} ({checkpoints[-1][2]})" if checkpoints else "",
        len(files),
    )


def _read_checkpoints(config: Trail) -> tuple[list[tuple[int, str, str]], list[Finding]]:
    """Every checkpoint whose signature is ours, as (seq, head, file name); a finding for
    each one that is unreadable or signed by another key."""
    files = checkpoint_files(config.settings)
    if not files:
        return [], []
    _, cert = _signing_material(config.settings)
    good: list[tuple[int, str, str]] = []
    bad: list[Finding] = []
    for path in files:
        try:
            document = _load_checkpoint(path)
        except (OSError, ValueError) as exc:
            bad.append(Finding(None, f"checkpoint {path.name} is unreadable ({exc})"))
            continue
        if not checkpoint_signed_by(document, cert):
            bad.append(
                Finding(
                    None,
                    f"checkpoint {path.name}: its signature is not ours (not made with this "
                    "installation's signing key): it was replaced or forged",
                )
            )
            continue
        good.append((document["seq"], document["head"], path.name))
    return good, bad
