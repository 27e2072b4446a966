"""The report store: signed PDFs named by their SHA-256, never rewritten.

``ReportStore`` is what the rest of the app needs of it: put, get, exists and sweep,
by hash, plus the listing that ``reports check`` and backups walk. ``of(settings)``
chooses the store in one place, and every caller goes through it: today always the
folder REPORTS_DIR (one volume every instance mounts), which an S3-compatible store can
join later without its callers changing.

In the folder, a file is written to a temporary name beside its place, flushed to disk
and then linked into place, so a crash leaves either the whole file or none (a stray
temporary, which ``sweep`` removes), never a half-written PDF under a real name.

The two module-level functions taking a folder (``put``, ``stored_files``) read and
fill a backup's copy of the store, which is a folder whatever the live store is.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from compliance.core.files import write_whole

if TYPE_CHECKING:
    from compliance.core.settings import Settings

SUFFIX = ".pdf"
TEMPORARY = ".incoming-"
# A write takes milliseconds; a temporary this old was left by a crash. A younger one
# may belong to a write in progress in another process, so it is left alone.
STALE_AFTER_S = 600.0


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def relative_path(digest: str) -> str:
    """A stored PDF's name in any store. Two-character fan-out keeps folders small:
    ``ab/abcdef....pdf``."""
    return f"{digest[:2]}/{digest}{SUFFIX}"


class ReportStore(Protocol):
    """Where signed PDFs are kept, each under ``relative_path`` of its SHA-256. Blocking:
    callers on the event loop use ``asyncio.to_thread``."""

    def put(self, content: bytes) -> tuple[str, str]:
        """Keep ``content`` whole or not at all; its SHA-256 and name. The same bytes
        again leave the stored ones as they are."""
        ...

    def get(self, digest: str) -> bytes:
        """The PDF stored under ``digest``; FileNotFoundError when there is none."""
        ...

    def read(self, name: str) -> bytes:
        """The file stored under ``name`` (a report row's ``stored_path``)."""
        ...

    def exists(self, digest: str) -> bool: ...

    def sweep(self, older_than: float = STALE_AFTER_S) -> list[str]:
        """Remove what interrupted writes left (never a stored PDF); their names."""
        ...

    def names(self) -> Iterator[str]:
        """Every complete PDF's name, for ``reports check`` and backups."""
        ...

    def temporaries(self) -> list[str]:
        """What interrupted writes left, however young."""
        ...

    def hash_of(self, name: str) -> str:
        """The SHA-256 of what is stored under ``name``, read in chunks (FileNotFoundError
        when nothing is; OSError when it cannot be read)."""
        ...


@dataclass(frozen=True)
class DirectoryStore:
    """The store as a folder (REPORTS_DIR): a local disk, or a volume shared by every
    instance (NFS, EFS ...), which needs only whole files renamed into place."""

    root: Path

    def put(self, content: bytes) -> tuple[str, str]:
        digest = sha256(content)
        name = relative_path(digest)
        target = self.root / name
        if target.exists():
            return digest, name
        target.parent.mkdir(parents=True, exist_ok=True)
        # Never replaces: an existing name is left as it is.
        write_whole(target, content, prefix=TEMPORARY, mode=0o440, keep_existing=True)
        _sync_dir(target.parent)
        return digest, name

    def get(self, digest: str) -> bytes:
        return self.read(relative_path(digest))

    def read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def exists(self, digest: str) -> bool:
        return (self.root / relative_path(digest)).is_file()

    def names(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.iterdir()):
            if folder.is_dir():
                for path in sorted(folder.glob(f"*{SUFFIX}")):
                    yield f"{folder.name}/{path.name}"

    def temporaries(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return [str(p.relative_to(self.root)) for p in sorted(self.root.glob(f"*/{TEMPORARY}*"))]

    def sweep(self, older_than: float = STALE_AFTER_S) -> list[str]:
        cutoff = time.time() - older_than
        removed = []
        for name in self.temporaries():
            path = self.root / name
            try:
                if path.stat().st_mtime <= cutoff:
                    path.unlink()
                    removed.append(name)
            except FileNotFoundError:
                pass  # another process finished or swept it
        return removed

    def hash_of(self, name: str) -> str:
        return file_sha256(self.root / name)


def of(settings: Settings) -> ReportStore:
    """The report store these settings name: the one place a store is chosen."""
    return DirectoryStore(settings.reports_dir)


def _sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_sha256(path: Path) -> str:
    """Hash in chunks: a store can hold large files and a check must not load them whole."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- a folder holding a store's files (a backup's copy) ----------------------------------


def put(root: Path, content: bytes) -> tuple[str, str]:
    """Store ``content``; return its SHA-256 and path relative to ``root``."""
    return DirectoryStore(root).put(content)


def stored_files(root: Path) -> Iterator[str]:
    """Every complete PDF under its real name, as a path relative to ``root``."""
    return DirectoryStore(root).names()
