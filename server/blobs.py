"""Blobs (PROTOCOL.md section 7): photos and files, stored on disk under their SHA-256.

A blob lives at ``<BLOB_DIR>/<first two hex digits>/<sha256>``. An upload streams into a
temporary file in that same folder while its hash and size are checked; only a blob whose bytes
match its name is fsynced and renamed into place (atomically), so a reader never sees a partial
or wrong blob and a crash leaves at most a temporary file (``sweep`` removes old ones). Uploading
a blob twice is harmless: the second upload is checked and changes nothing.

Who may do what: a blob is named by its content, so any enrolled device may upload one; reading
one needs a live ``attachment`` record of the reader's workspace that names it
(``attachment_media_type``). That query runs in the database, over the workspace's attachments.

This module knows the disk and the database, not HTTP; refusals are ``sync.ProtocolError``.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

from server.store import blobs as holders
from server.store.blobs import held_by, usage
from sync import ErrorCode, ProtocolError

__all__ = [
    "DEFAULT_MEDIA_TYPE",
    "held_by",
    "hold",
    "usage",
    "MAX_MISSING",
    "BlobStore",
    "Saved",
    "attachment_media_type",
    "check_hash",
    "hashes_from",
    "is_hash",
]

HASH = re.compile(r"^[0-9a-f]{64}$")
MAX_MISSING = 1000  # hashes per ``missing`` question
CHUNK = 64 * 1024
TEMP_PREFIX = ".upload-"
DEFAULT_MEDIA_TYPE = "application/octet-stream"
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")


def is_hash(value: Any) -> bool:
    """Whether ``value`` is a SHA-256 hex digest as the protocol writes it (64 lower-case hex)."""
    return isinstance(value, str) and HASH.match(value) is not None


def check_hash(value: Any) -> str:
    """Return ``value`` if it is a SHA-256 hex digest; raise invalid_request otherwise."""
    if not is_hash(value):
        raise ProtocolError(
            ErrorCode.INVALID_REQUEST,
            "A blob is named by its SHA-256: 64 lower-case hex digits.",
            status=400,
        )
    return str(value)


def hashes_from(body: Any) -> list[str]:
    """Return the hashes of a ``{"sha256": [...]}`` body (duplicates dropped, order kept);
    raise invalid_request naming what is wrong."""
    hashes = body.get("sha256") if isinstance(body, dict) else None
    errors: dict[str, list[str]]
    if not isinstance(hashes, list):
        errors = {"sha256": ["must be a list of SHA-256 hex digests"]}
    elif len(hashes) > MAX_MISSING:
        errors = {"sha256": [f"at most {MAX_MISSING} hashes per request"]}
    else:
        bad = [str(index) for index, value in enumerate(hashes) if not is_hash(value)]
        errors = {f"sha256.{index}": ["not a SHA-256 hex digest"] for index in bad[:20]}
    if errors or not isinstance(hashes, list):
        raise ProtocolError(
            ErrorCode.INVALID_REQUEST, 'The body must be {"sha256": [...]}.', errors=errors
        )
    return list(dict.fromkeys(hashes))


def _too_large(limit: int) -> ProtocolError:
    return ProtocolError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        f"The blob is over the limit of {limit} bytes.",
        extra={"limit": limit, "quota": "blob"},
    )


@dataclass(frozen=True, slots=True)
class Saved:
    """The outcome of an upload: whether it created the blob (False: it was there) and its size."""

    created: bool
    size: int


class BlobStore:
    """The blobs in one folder (created on first write)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        """Return where the blob named ``sha256`` lives (whether or not it is there)."""
        return self.root / check_hash(sha256)[:2] / sha256

    def exists(self, sha256: str) -> bool:
        """Whether the blob is stored."""
        return self.path(sha256).is_file()

    def missing(self, hashes: Iterable[str]) -> list[str]:
        """Return those of ``hashes`` that are not stored, in the order given."""
        return [sha for sha in dict.fromkeys(hashes) if not self.exists(sha)]

    def save(
        self, sha256: str, stream: IO[bytes], *, limit: int, length: int | None = None
    ) -> Saved:
        """Store the bytes read from ``stream`` as blob ``sha256``, streamed, checked, atomic.

        ``length`` is the announced size (Content-Length), refused at once when over ``limit``.
        Raise payload_too_large past ``limit`` bytes and invalid_request when the bytes do not
        hash to ``sha256``; nothing is stored then.
        """
        temp, size = self.receive(sha256, stream, limit=limit, length=length)
        return Saved(created=self.settle(temp, sha256), size=size)

    def receive(
        self,
        sha256: str,
        stream: IO[bytes],
        *,
        limit: int,
        length: int | None = None,
        too_large: Callable[[], ProtocolError] | None = None,
    ) -> tuple[Path, int]:
        """Copy an upload into a temporary file beside its blob, checked and fsynced; return
        (the temporary file, its size). ``settle`` puts it in place (or drops it when the
        blob is there), ``discard`` drops it. ``too_large`` makes the refusal past ``limit``."""
        refuse = too_large or (lambda: _too_large(limit))
        target = self.path(sha256)
        if length is not None and length > limit:
            raise refuse()
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
        temp = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                size = _check_copy(stream, out, sha256, limit, length, refuse)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return temp, size

    def settle(self, temp: Path, sha256: str) -> bool:
        """Put a received upload in place as blob ``sha256`` unless the blob is there already
        (then the copy is dropped); return whether it was created. Call it while holding the
        write lock when ``prune`` may run, so a blob is never deleted under a new holder."""
        target = self.path(sha256)
        if target.is_file():
            temp.unlink(missing_ok=True)
            return False
        os.replace(temp, target)
        _fsync_folder(target.parent)
        return True

    @staticmethod
    def discard(temp: Path) -> None:
        """Drop a received upload that will not be kept."""
        temp.unlink(missing_ok=True)

    def remove(self, sha256: str) -> bool:
        """Delete a stored blob (``prune``); return whether it was there."""
        try:
            self.path(sha256).unlink()
        except FileNotFoundError:
            return False
        return True

    def open_blob(self, sha256: str) -> BinaryIO:
        """Open a stored blob for reading; raise not_found when it is not stored."""
        try:
            return open(self.path(sha256), "rb")  # noqa: SIM115 (the caller closes it)
        except FileNotFoundError:
            raise ProtocolError(ErrorCode.NOT_FOUND, "No such blob.") from None

    def sweep(self, older_than_s: float = 24 * 3600, now_s: float | None = None) -> int:
        """Remove temporary files of uploads that died (crash, cut connection); return how many.

        Only files older than ``older_than_s`` go, so uploads in progress are left alone.
        """
        now_s = time.time() if now_s is None else now_s
        removed = 0
        for temp in self.root.glob(f"??/{TEMP_PREFIX}*"):
            try:
                if temp.stat().st_mtime < now_s - older_than_s:
                    temp.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


def _check_copy(
    stream: IO[bytes],
    out: BinaryIO | None,
    sha256: str,
    limit: int,
    length: int | None,
    too_large: Callable[[], ProtocolError],
) -> int:
    """Copy ``stream`` to ``out`` (None: only read it) chunk by chunk; return the size.

    Raise payload_too_large as soon as more than ``limit`` bytes came, invalid_request when the
    size differs from ``length`` or the bytes do not hash to ``sha256``.
    """
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise too_large()
        digest.update(chunk)
        if out is not None:
            out.write(chunk)
    if length is not None and size != length:
        raise ProtocolError(
            ErrorCode.INVALID_REQUEST,
            f"The body ended after {size} of the {length} bytes announced.",
            status=400,
        )
    if digest.hexdigest() != sha256:
        raise ProtocolError(
            ErrorCode.INVALID_REQUEST,
            "The bytes do not match the SHA-256 in the address; nothing was stored.",
            status=422,
            errors={"sha256": ["does not match the body"]},
        )
    return size


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (the entry, not only the file, must reach the disk)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


GIB = 1024**3


def human_bytes(n: int) -> str:
    """Return a size for people: 2 GiB, 512 MiB, 300 KiB, 12 bytes."""
    for unit, size in (("GiB", GIB), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


@dataclass(frozen=True, slots=True)
class Room:
    """How many bytes one upload may still bring, and which limit says so."""

    limit: int
    quota: str  # blob | device | workspace
    quota_bytes: int
    used: int

    def refusal(self) -> ProtocolError:
        """The 413 problem naming the limit an upload passed."""
        if self.quota == "blob":
            return _too_large(self.limit)
        whose = "This device's" if self.quota == "device" else "This workspace's"
        return ProtocolError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"{whose} photos and files on the server would pass its quota of "
            f"{human_bytes(self.quota_bytes)} ({human_bytes(self.used)} used); ask the office "
            "to make room.",
            extra={"limit": self.quota_bytes, "quota": self.quota, "used": self.used},
        )


def room(
    workspace_id: str, device_id: str, *, blob_limit: int, device_quota: int, workspace_quota: int
) -> Room:
    """Return how big an upload of this device may be: the tightest of the blob limit and
    what is left of the device's and the workspace's quotas."""
    device_used, workspace_used = usage(workspace_id, device_id)
    options = [
        Room(blob_limit, "blob", blob_limit, 0),
        Room(max(device_quota - device_used, 0), "device", device_quota, device_used),
        Room(max(workspace_quota - workspace_used, 0), "workspace", workspace_quota,
             workspace_used),
    ]  # fmt: skip
    return min(options, key=lambda r: r.limit)


def keep_upload(
    store: BlobStore,
    temp: Path,
    sha256: str,
    size: int,
    *,
    workspace_id: str,
    device_id: str,
    quotas: dict[str, int],
    now: Any,
) -> bool:
    """Put a received upload in place and record the workspace as its holder, in one write
    transaction: the quotas are checked again there (two uploads at once cannot both pass
    them), and ``prune`` cannot delete the file in between. Return whether the file was new.
    A workspace that holds the blob already is not charged again; the holder is touched."""

    def check_room() -> None:
        space = room(workspace_id, device_id, **quotas)
        if size > space.limit:
            store.discard(temp)
            raise space.refusal()

    return holders.keep_upload(
        workspace_id, device_id, sha256, size, now,
        check_room=check_room, settle=lambda: store.settle(temp, sha256),
    )  # fmt: skip


def hold(workspace_id: str, sha256: str) -> None:
    """Record that the workspace has uploaded the blob (harmless when already recorded)."""
    holders.hold(workspace_id, check_hash(sha256))


def held_and_touched(workspace_id: str, hashes: Iterable[str], now: Any) -> set[str]:
    """Return those of ``hashes`` the workspace holds, touched under the write lock (so a
    running ``prune`` either removed them first, and they are reported missing, or keeps them
    the grace period from now, while the device pushes the attachments naming them)."""
    wanted = list(dict.fromkeys(hashes))
    if not held_by(workspace_id, wanted):
        return set()  # the usual case for new photos: no write
    return holders.held_and_touched(workspace_id, wanted, now)


def attachment_media_type(workspace_id: str, sha256: str) -> str | None:
    """Return the media type of the newest live attachment of the workspace that names the blob,
    or None when no such attachment exists (then the workspace may not read the blob)."""
    stored = holders.attachment_row_media_type(workspace_id, check_hash(sha256))
    if stored is None:
        return None
    media_type = stored.strip().lower()
    return media_type if _MEDIA_TYPE.match(media_type) else DEFAULT_MEDIA_TYPE
