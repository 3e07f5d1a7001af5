"""Durable file writes on every system the field client runs on.

A new file is written under a temporary name, flushed to the disk, then renamed over the old one,
so a crash leaves the old file or the new one, never half of either. On POSIX the folder is
fsynced too (the rename is an entry of the folder). Windows cannot open a folder at all
(``os.open`` of a folder is refused); there NTFS journals the rename itself, and the folder step
is skipped. ``WINDOWS`` picks the path; tests force it to run the Windows path everywhere.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO

__all__ = ["WINDOWS", "fsync_folder", "replace", "write_bytes"]

WINDOWS = os.name == "nt"
TEMP_PREFIX = ".tmp-"


def fsync_folder(folder: Path | str) -> None:
    """Make the renames in ``folder`` reach the disk (nothing to do on Windows)."""
    if WINDOWS:
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace(handle: BinaryIO, temp: Path, target: Path) -> None:
    """Flush the open ``temp`` file to the disk and rename it to ``target``, durably."""
    handle.flush()
    os.fsync(handle.fileno())
    if WINDOWS:
        handle.close()  # Windows renames no file that is still open
    os.replace(temp, target)
    fsync_folder(target.parent)


def write_bytes(target: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a whole small file durably, readable by its owner only (``mode``)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.chmod(temp, mode)
            handle.write(data)
            replace(handle, temp, target)
    finally:
        temp.unlink(missing_ok=True)
