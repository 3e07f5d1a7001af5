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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from server.db import database, is_postgres
from server.models import BlobHolder
from sync import ErrorCode, ProtocolError

__all__ = [
    "DEFAULT_MEDIA_TYPE",
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
    if not isinstance(hashes, list):
        errors = {"sha256": ["must be a list of SHA-256 hex digests"]}
    elif len(hashes) > MAX_MISSING:
        errors = {"sha256": [f"at most {MAX_MISSING} hashes per request"]}
    else:
        bad = [str(index) for index, value in enumerate(hashes) if not is_hash(value)]
        errors = {f"sha256.{index}": ["not a SHA-256 hex digest"] for index in bad[:20]}
    if errors:
        raise ProtocolError(
            ErrorCode.INVALID_REQUEST, 'The body must be {"sha256": [...]}.', errors=errors
        )
    return list(dict.fromkeys(hashes))


def _too_large(limit: int) -> ProtocolError:
    return ProtocolError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        f"The blob is over the limit of {limit} bytes.",
        extra={"limit": limit},
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
        self, sha256: str, stream: BinaryIO, *, limit: int, length: int | None = None
    ) -> Saved:
        """Store the bytes read from ``stream`` as blob ``sha256``, streamed, checked, atomic.

        ``length`` is the announced size (Content-Length), refused at once when over ``limit``.
        Raise payload_too_large past ``limit`` bytes and invalid_request when the bytes do not
        hash to ``sha256``; nothing is stored then.
        """
        target = self.path(sha256)
        if length is not None and length > limit:
            raise _too_large(limit)
        if target.is_file():  # already here: check the upload all the same, keep the file
            size = _check_copy(stream, None, sha256, limit, length)
            return Saved(created=False, size=size)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                size = _check_copy(stream, out, sha256, limit, length)
                out.flush()
                os.fsync(out.fileno())
            created = not target.exists()
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        _fsync_folder(target.parent)
        return Saved(created=created, size=size)

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
    stream: BinaryIO, out: BinaryIO | None, sha256: str, limit: int, length: int | None
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
            raise _too_large(limit)
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


def _json_text(field: str) -> str:
    """SQL for a top-level text value of the records' JSON ``fields`` column."""
    if is_postgres():
        return f"(CAST(fields AS jsonb) ->> '{field}')"
    return f"json_extract(fields, '$.{field}')"


def held_by(workspace_id: str, hashes: Iterable[str]) -> set[str]:
    """Return those of ``hashes`` whose bytes a device of the workspace has uploaded."""
    wanted = list(dict.fromkeys(hashes))
    if not wanted:
        return set()
    query = BlobHolder.select(BlobHolder.sha256).where(
        (BlobHolder.workspace == workspace_id) & BlobHolder.sha256.in_(wanted)
    )
    return {sha for (sha,) in query.tuples()}


def hold(workspace_id: str, sha256: str) -> None:
    """Record that the workspace has uploaded the blob (harmless when already recorded)."""
    BlobHolder.insert(
        workspace=workspace_id, sha256=check_hash(sha256)
    ).on_conflict_ignore().execute()


def attachment_media_type(workspace_id: str, sha256: str) -> str | None:
    """Return the media type of the newest live attachment of the workspace that names the blob,
    or None when no such attachment exists (then the workspace may not read the blob).

    A LIKE on the hash narrows the workspace's attachments before the JSON is parsed; the hash
    is hex, so it holds no LIKE wildcards.
    """
    check_hash(sha256)
    mark = database.param
    sql = (
        f'SELECT {_json_text("media_type")} FROM "record"'
        f" WHERE workspace_id = {mark} AND type = 'attachment' AND deleted = {mark}"
        f" AND fields LIKE {mark} AND {_json_text('sha256')} = {mark}"
        " ORDER BY seq DESC LIMIT 1"
    )
    row = database.execute_sql(sql, (workspace_id, False, f"%{sha256}%", sha256)).fetchone()
    if row is None:
        return None
    media_type = str(row[0] or "").strip().lower()
    return media_type if _MEDIA_TYPE.match(media_type) else DEFAULT_MEDIA_TYPE
