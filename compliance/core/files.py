"""Files written whole or not at all: reports, keys and audit checkpoints are read by
other processes and must survive a crash mid-write."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_whole(
    target: Path,
    content: bytes,
    *,
    prefix: str = "tmp",
    mode: int | None = None,
    keep_existing: bool = False,
) -> None:
    """Write ``content`` aside in ``target``'s folder (a name starting ``prefix``),
    fsync it, then move it into place: a crash or a concurrent reader never sees part
    of a file. The temporary is private (0600) unless ``mode`` says otherwise.

    ``keep_existing``: link rather than rename, so a file already at ``target`` (a
    concurrent writer's, complete) stays and this one is dropped."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=prefix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        if keep_existing:
            try:
                os.link(tmp, target)
            except FileExistsError:
                pass
        else:
            os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
