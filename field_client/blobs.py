"""Photos and files on the device (PROTOCOL.md section 7).

Blobs live in the device home, named by their SHA-256, one file each::

    <home>/blobs/<first two hex digits>/<sha256>

``attach`` copies a file into that folder (streamed, hashed, fsynced, renamed into place) and
then creates the ``attachment`` record through the store, so the record syncs like any other
edit. ``upload_missing`` runs in the syncer before the push: the server is asked which blobs of
the unpushed attachments it lacks and gets them first, so a pushed attachment never names a
blob the server has not seen. ``fetch`` downloads a blob on demand, checked against its name.
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO, Protocol

from field_client import durable
from field_client.errors import NotFound, Refused, ServerError, ValidationError
from field_client.store import LocalStore
from field_client.transport import Sink
from sync import RECORD_TYPES, ErrorCode, validate_fields

__all__ = [
    "BLOB_FOLDER",
    "BLOB_LIMIT",
    "BlobTransport",
    "UploadReport",
    "attach",
    "blob_path",
    "fetch",
    "has_blob",
    "pending_hashes",
    "store_blob",
    "upload_missing",
]

BLOB_FOLDER = "blobs"
BLOB_LIMIT = 20 * 1024 * 1024  # the server's default limit: bigger files could never upload
MISSING_BATCH = 1000  # hashes per question to the server
CHUNK = 64 * 1024
TEMP_PREFIX = ".part-"
DEFAULT_MEDIA_TYPE = "application/octet-stream"

Source = str | os.PathLike[str] | bytes | IO[bytes]


class BlobTransport(Protocol):
    """What blob transfer needs from a connection (``HttpTransport`` has it)."""

    def missing_blobs(self, hashes: list[str]) -> dict[str, Any]:
        """Ask which of ``hashes`` the server lacks: ``{"missing": [...], "limit": bytes}``."""
        ...

    def upload_blob(self, sha256: str, path: Path) -> bool:
        """Upload one blob from a file, streamed; return whether the server stored it anew."""
        ...

    def download_blob(self, sha256: str, sink: Sink) -> None:
        """Write one blob into ``sink``, streamed."""
        ...


@dataclass
class UploadReport:
    """What ``upload_missing`` did. ``absent``: pending attachments whose blob is not on this
    device; ``refused``: blobs the server would not take (hash -> error code). Neither stops the
    push: the records still sync, and the office sees the attachment without its bytes."""

    checked: int = 0
    uploaded: int = 0
    bytes: int = 0
    absent: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    quota: str | None = None  # "device" or "workspace": the office's quota is reached
    quota_bytes: int = 0


# -- the blob folder -----------------------------------------------------------------------------


def blob_path(home: Path | str, sha256: str) -> Path:
    """Return where blob ``sha256`` lives in a device home (whether or not it is there)."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValidationError("not a hash", {"sha256": ["must be 64 lower-case hex digits"]})
    return Path(home) / BLOB_FOLDER / sha256[:2] / sha256


def has_blob(store: LocalStore, sha256: str) -> bool:
    """Whether this device holds blob ``sha256``."""
    return blob_path(store.home, sha256).is_file()


@contextmanager
def _open_source(source: Source) -> Iterator[BinaryIO]:
    if isinstance(source, bytes):
        yield io.BytesIO(source)
    elif hasattr(source, "read"):
        yield source  # type: ignore[misc]
    else:
        try:
            handle = open(source, "rb")  # noqa: SIM115 (closed below)
        except OSError as exc:
            raise ValidationError(
                "unreadable file", {"file": [f"cannot read {os.fspath(source)}"]}
            ) from exc
        with handle:
            yield handle


@contextmanager
def _temp_in(folder: Path) -> Iterator[tuple[BinaryIO, Path]]:
    """Yield a temporary file in ``folder`` (same file system, so a rename is atomic); it is
    removed unless the block renamed it away."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle, Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def _settle(handle: BinaryIO, temp: Path, target: Path) -> None:
    """Make ``temp`` durable and give it its final name, atomically (on every system)."""
    durable.replace(handle, temp, target)


def store_blob(
    store: LocalStore, source: Source, *, limit: int = BLOB_LIMIT
) -> tuple[str, int, bytes]:
    """Copy a file, bytes or binary stream into the blob folder; return (sha256, size, head).

    ``head`` is the first bytes (to recognise the media type). Streamed: a big file is never
    held in memory. Over ``limit`` bytes: ValidationError, nothing kept.
    """
    folder = Path(store.home) / BLOB_FOLDER
    digest, size, head = hashlib.sha256(), 0, b""
    with _open_source(source) as reader, _temp_in(folder) as (out, temp):
        while chunk := reader.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise ValidationError("file too large", {"file": [f"at most {limit} bytes"]})
            head = head or chunk[:64]
            digest.update(chunk)
            out.write(chunk)
        sha = digest.hexdigest()
        target = blob_path(store.home, sha)
        target.parent.mkdir(exist_ok=True)
        _settle(out, temp, target)
    return sha, size, head


# -- attaching -----------------------------------------------------------------------------------


_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)


def media_type_of(head: bytes, name: str | None = None) -> str:
    """Recognise a media type from a file's first bytes, else from its name."""
    for magic, media_type in _MAGIC:
        if head.startswith(magic):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1"):
            return "image/heic"
        return "video/mp4"
    guessed = mimetypes.guess_type(name)[0] if name else None
    return guessed or DEFAULT_MEDIA_TYPE


def attach(
    store: LocalStore,
    subject_type: str,
    subject_id: str,
    path_or_bytes: Source,
    caption: str = "",
    media_type: str | None = None,
) -> str:
    """Attach a photo or file to a record; return the new attachment's id.

    The bytes are copied into the blob folder first, then the attachment record is created
    through the store (into the outbox): a crash in between leaves only an unused blob.
    """
    fields: dict[str, Any] = {
        "subject_type": subject_type,
        "subject_id": subject_id,
        "sha256": "0" * 64,  # until the copy says
        "media_type": media_type or DEFAULT_MEDIA_TYPE,
        "size": 0,
        "caption": caption,
    }
    errors = validate_fields(RECORD_TYPES["attachment"], fields, is_new=True)
    if errors:  # before any copying, so a refused attachment leaves nothing behind
        raise ValidationError("invalid fields", errors)
    if store.get(subject_type, subject_id) is None:
        raise NotFound("unknown id", type=subject_type, id=subject_id)
    sha, size, head = store_blob(store, path_or_bytes)
    name = None if isinstance(path_or_bytes, bytes) else _name_of(path_or_bytes)
    fields.update(sha256=sha, size=size, media_type=media_type or media_type_of(head, name))
    return store.create("attachment", fields)


def _name_of(source: Any) -> str | None:
    name = getattr(source, "filename", None) or getattr(source, "name", None) or source
    return os.fspath(name) if isinstance(name, str | os.PathLike) else None


# -- sync: upload before the push, download on demand --------------------------------------------


class PendingBlobs(Protocol):
    """What uploading needs of a store: its home (the blob files) and the pending hashes."""

    home: Path

    def pending_blob_hashes(self) -> list[str]:
        """The blobs named by attachments with unpushed edits."""
        ...


def pending_hashes(store: PendingBlobs) -> list[str]:
    """Return the blob hashes named by attachments with unpushed edits (deleted ones left out:
    a photo removed before it was ever sent is not sent)."""
    return store.pending_blob_hashes()


def upload_missing(
    store: PendingBlobs,
    transport: BlobTransport,
    progress: Callable[[int, int], None] | None = None,
) -> UploadReport:
    """Upload the blobs of unpushed attachments that the server lacks; return what happened.

    Offline and server failures propagate (then the push waits: records never go before their
    blobs); a blob the server refuses (too large, corrupt copy) is reported and skipped.
    """
    report = UploadReport()
    hashes = pending_hashes(store)
    if not hashes:
        return report
    known, wanted = set(hashes), []
    limit: int | None = None
    for start in range(0, len(hashes), MISSING_BATCH):
        answer = transport.missing_blobs(hashes[start : start + MISSING_BATCH])
        wanted += [str(sha) for sha in answer.get("missing", []) if str(sha) in known]
        limit = answer.get("limit") if isinstance(answer.get("limit"), int) else limit
    report.checked = len(hashes)
    for done, sha in enumerate(wanted, 1):
        if report.quota is not None:  # the office is full: the rest would be refused too
            report.refused[sha] = str(ErrorCode.PAYLOAD_TOO_LARGE)
            continue
        path = blob_path(store.home, sha)
        if not path.is_file():
            report.absent.append(sha)
            continue
        if limit is not None and path.stat().st_size > limit:  # refused anyway: do not send
            report.refused[sha] = str(ErrorCode.PAYLOAD_TOO_LARGE)
            continue
        try:
            transport.upload_blob(sha, path)
        except Refused as exc:
            if exc.code not in (ErrorCode.INVALID_REQUEST, ErrorCode.PAYLOAD_TOO_LARGE):
                raise
            report.refused[sha] = str(exc.code)
            if exc.body.get("quota") in ("device", "workspace"):
                report.quota = str(exc.body["quota"])
                report.quota_bytes = int(exc.body.get("limit") or 0)
            continue
        report.uploaded += 1
        report.bytes += path.stat().st_size
        if progress is not None:
            progress(done, len(wanted))
    return report


class _LimitedSink:
    """A file that refuses to grow past ``limit`` bytes (a broken server cannot fill the disk)."""

    def __init__(self, out: BinaryIO, limit: int) -> None:
        self.out, self.limit = out, limit

    def write(self, data: bytes) -> int:
        if self.out.tell() + len(data) > self.limit:
            raise ServerError("blob larger than the limit", limit=self.limit)
        return self.out.write(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.out.seek(offset, whence)

    def truncate(self, size: int | None = None) -> int:
        return self.out.truncate(size)


def fetch(
    store: LocalStore, transport: BlobTransport, sha256: str, *, limit: int = BLOB_LIMIT
) -> Path:
    """Return the path of blob ``sha256``, downloading it first when this device lacks it.

    The download (at most ``limit`` bytes) is checked against the hash before it takes its
    name. Raises Refused ``not_found`` when the server has no such blob for this
    workspace (not uploaded yet), ServerError when the bytes are too many or wrong.
    """
    target = blob_path(store.home, sha256)
    if target.is_file():
        return target
    with _temp_in(target.parent) as (out, temp):
        transport.download_blob(sha256, _LimitedSink(out, limit))
        out.flush()
        if _hash_file(temp) != sha256:
            raise ServerError("blob damaged in transit", sha256=sha256)
        _settle(out, temp, target)
    return target


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
