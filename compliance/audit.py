"""The append-only audit trail: the one function that writes an event, and the one that
checks the trail.

Each event carries a sequence number (1, 2, 3... with no gaps) and an HMAC-SHA256 over
the previous event's MAC, its number and its content. The MAC key is derived from
SECRET_KEY and never stored in the database, so someone who can only write to the
database cannot edit an event and recompute the chain after it. Two copies of the head
live outside the database: ``VAR_DIR/audit-head`` gets one line per event (appended
and fsync'd after the event's transaction commits), and signed checkpoints (sequence,
MAC, time, signed with the program's signing key) are written daily and at every
backup. A chain shorter than either copy has lost its newest events. The head file is
each instance's own (the events it wrote); checkpoints are in REPORTS_DIR, the volume
every instance shares, so any instance holds the chain against all of them.

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
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
HEAD_FILE = "audit-head"
CHECKPOINT_DIR = "audit-checkpoints"
MAC_LABEL = b"compliance/audit-chain/hmac-sha256/v1"
KEYED_ACTION = "audit.chain_keyed"
CHECKPOINT_FORMAT = 1
CHECKPOINT_EVERY = timedelta(days=1)
HEAD_TAIL_BYTES = 8 << 20  # verify reads the newest ~100,000 lines of the head file
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

    @property
    def head_file(self) -> Path:
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
        db.after_commit(_head_writer(config.head_file, seq + 1, digest))
        return digest


def _head_writer(path: Path, seq: int, digest: str) -> db.AfterCommit:
    async def write() -> None:
        await asyncio.to_thread(append_head_line, path, seq, digest)

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
    head: int | None = None  # the highest sequence the head file records
    checkpoints: int = 0
    newest_checkpoint: str = ""

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
            parts.append(f"head #{self.head} matches {HEAD_FILE}")
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
REWRITTEN = (
    f"its MAC is not the one {HEAD_FILE} recorded when it was committed: it was changed "
    "and the chain recomputed with the key"
)
RENUMBERED = "it is older than an event with no sequence number: events were renumbered"


def _missing(first: int, last: int, why: str) -> str:
    """Deleted events, named by number."""
    which = f"#{first}" if first == last else f"#{first}-#{last}"
    return f"event {which} missing (deleted): the chain {why}"


@dataclass
class _Walk:
    """The state of one pass over the chain."""

    key: bytes
    wanted: set[int]
    recorded: dict[int, str]  # the head file's MAC for each recent event
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
        elif self.recorded.get(seq, row["hash"]) != row["hash"]:
            self.note(seq, f"{_describe(seq, row)}: {REWRITTEN}")
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


async def verify_chain() -> ChainReport:
    """Recompute every MAC (and legacy hash) in order, then hold the chain against the head
    file and every signed checkpoint; name the first event that does not fit."""
    config = trail()
    heads = await asyncio.to_thread(read_heads, config.head_file)
    head_line = max(heads.items()) if heads else None
    checkpoints, findings = await asyncio.to_thread(_read_checkpoints, config)
    wanted = {seq for seq, _, _ in checkpoints}
    if head_line is not None:
        wanted.add(head_line[0])
    walk = _Walk(config.mac_key, wanted, heads or {})
    async for row in _rows(AuditEvent.seq == 0, (AuditEvent.id,)):
        walk.legacy(row)
    async for row in _rows(AuditEvent.seq > 0, (AuditEvent.seq, AuditEvent.id)):
        walk.keyed(row)
    last = walk.expected - 1
    outside: list[Finding | None] = []
    if head_line is not None:
        outside.append(_compare(walk, last, *head_line, f"{HEAD_FILE} (in VAR_DIR)"))
    elif not heads and walk.keyed_from is not None:
        outside.append(
            Finding(
                None,
                f"{config.head_file} is missing or empty, yet keyed events up to #{last} were "
                "written (deleted, or VAR_DIR is not this installation's)",
            )
        )
    for seq, mac, name in checkpoints:
        outside.append(_compare(walk, last, seq, mac, f"checkpoint {name}"))
    all_findings = [*walk.findings, *(f for f in outside if f is not None), *findings]
    return ChainReport(
        walk.count,
        tuple(all_findings),
        walk.keyed_from,
        head_line[0] if head_line is not None else None,
        len(checkpoints),
        f"#{checkpoints[-1][0]} ({checkpoints[-1][2]})" if checkpoints else "",
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
