"""The report store: signed PDFs under REPORTS_DIR, named by their SHA-256, never rewritten.

A file is written to a temporary name in the same folder, flushed to disk and then
linked into place, so a crash leaves either the whole file or none (a stray temporary,
which ``sweep`` removes), never a half-written PDF under a real name.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

SUFFIX = ".pdf"


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def relative_path(digest: str) -> str:
    """Two-character fan-out keeps folders small: ``ab/abcdef....pdf``."""
    return f"{digest[:2]}/{digest}{SUFFIX}"


def put(root: Path, content: bytes) -> tuple[str, str]:
    """Store ``content``; return its SHA-256 and path relative to ``root``. Storing the
    same bytes again finds the existing file and leaves it alone."""
    digest = sha256(content)
    rel = relative_path(digest)
    target = root / rel
    if target.exists():
        return digest, rel
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o440)
        try:
            os.link(tmp, target)  # never replaces: an existing name is left as it is
        except FileExistsError:
            pass
        _sync_dir(target.parent)
    finally:
        os.unlink(tmp)
    return digest, rel


def _sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read(root: Path, rel: str) -> bytes:
    return (root / rel).read_bytes()


def intact(root: Path, rel: str, digest: str) -> bool:
    """The stored file still hashes to its name (and to the database's record)."""
    try:
        return sha256(read(root, rel)) == digest
    except OSError:
        return False
