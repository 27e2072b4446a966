"""The report store: signed PDFs under REPORTS_DIR, named by their SHA-256, never rewritten.

A file is written to a temporary name in the same folder, flushed to disk and then
linked into place, so a crash leaves either the whole file or none (a stray temporary,
which ``sweep`` removes), never a half-written PDF under a real name.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from compliance.core.files import write_whole

SUFFIX = ".pdf"
TEMPORARY = ".incoming-"
# A write takes milliseconds; a temporary this old was left by a crash. A younger one
# may belong to a write in progress in another process, so it is left alone.
STALE_AFTER_S = 600.0


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
    # Never replaces: an existing name is left as it is.
    write_whole(target, content, prefix=TEMPORARY, mode=0o440, keep_existing=True)
    _sync_dir(target.parent)
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


def stored_files(root: Path) -> Iterator[str]:
    """Every complete PDF under its real name, as a path relative to ``root``."""
    if not root.is_dir():
        return
    for folder in sorted(root.iterdir()):
        if folder.is_dir():
            for path in sorted(folder.glob(f"*{SUFFIX}")):
                yield f"{folder.name}/{path.name}"


def temporaries(root: Path) -> list[Path]:
    """Files a write left behind: never a PDF under its real name, never referenced."""
    if not root.is_dir():
        return []
    return sorted(root.glob(f"*/{TEMPORARY}*"))


def sweep(root: Path, older_than: float = STALE_AFTER_S) -> list[Path]:
    """Remove temporaries a crash left behind; return what was removed."""
    cutoff = time.time() - older_than
    removed = []
    for path in temporaries(root):
        try:
            if path.stat().st_mtime <= cutoff:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:
            pass  # another process finished or swept it
    return removed


def file_sha256(path: Path) -> str:
    """Hash in chunks: a store can hold large files and a check must not load them whole."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
