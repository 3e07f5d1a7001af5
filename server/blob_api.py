"""The blob routes of /api/v1 (PROTOCOL.md section 7), on the API blueprint ``server.api.bp``.

They share its protocol-version check, device authentication and problem+json errors; the
bytes go through ``server.blobs`` (disk and database), never whole into memory.

    POST /blobs/missing  {"sha256": [...]} -> {"missing": [...]}      which blobs to upload
    PUT  /blobs/<sha256> raw bytes -> 201 created / 200 already there
    GET  /blobs/<sha256> the bytes, for a device whose workspace has an attachment naming it
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import Response, current_app, request, send_file

from server import auth, blobs, services
from server.api import bp, json_response, now_ms, read_json
from sync import ErrorCode, ProtocolError

# A year: a blob never changes (its name is its content), but only its workspace may see it.
CACHE_CONTROL = "private, max-age=31536000, immutable"
MISSING_BODY_LIMIT = 128 * 1024  # 1,000 hashes of 64 digits, quoted, fit well within


def blob_store() -> blobs.BlobStore:
    """Return the app's blob store (BLOB_DIR, default ``<instance>/blobs``)."""
    found = current_app.extensions.get("fieldsync_blobs")
    if found is None:
        root = current_app.config.get("BLOB_DIR") or Path(current_app.instance_path) / "blobs"
        found = current_app.extensions["fieldsync_blobs"] = blobs.BlobStore(root)
    return found


def _not_found() -> ProtocolError:
    return ProtocolError(ErrorCode.NOT_FOUND, "No such blob in this workspace.")


@bp.post("/blobs/missing")
@auth.device_required
def blobs_missing() -> Response:
    """Say which of the given blobs the server does not have yet."""
    hashes = blobs.hashes_from(read_json(MISSING_BODY_LIMIT))
    # A blob counts as here only when this workspace uploaded it: whether another workspace has
    # the same bytes is not this device's business, and its upload proves it holds them.
    # The device names these in an attachment soon: prune keeps them the grace period from now.
    held = blobs.held_and_touched(auth.current_device().workspace_id, hashes, _moment())
    store = blob_store()
    body = {
        "missing": [
            sha for sha in dict.fromkeys(hashes) if sha not in held or not store.exists(sha)
        ],
        "limit": current_app.config["BLOB_LIMIT"],  # bigger blobs need not be sent at all
        "server_time": services.server_time(now_ms()),
    }
    return json_response(body)


@bp.put("/blobs/<sha256>")
@auth.device_required
def put_blob(sha256: str) -> Response:
    """Store a blob from the raw request body, streamed and checked against its hash."""
    blobs.check_hash(sha256)
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("identity", ""):
        raise ProtocolError(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            "Send blobs as they are (no Content-Encoding): photos do not compress.",
        )
    device, config, store = auth.current_device(), current_app.config, blob_store()
    quotas = {
        "blob_limit": config["BLOB_LIMIT"],
        "device_quota": config["BLOB_QUOTA_DEVICE"],
        "workspace_quota": config["BLOB_QUOTA_WORKSPACE"],
    }
    if blobs.held_by(device.workspace_id, [sha256]):  # not charged again: only the blob limit
        space = blobs.Room(config["BLOB_LIMIT"], "blob", config["BLOB_LIMIT"], 0)
    else:
        space = blobs.room(device.workspace_id, device.id, **quotas)
    temp, size = store.receive(
        sha256, request.stream, limit=space.limit, length=request.content_length,
        too_large=space.refusal,
    )  # fmt: skip
    try:
        created = blobs.keep_upload(
            store, temp, sha256, size, workspace_id=device.workspace_id, device_id=device.id,
            quotas=quotas, now=_moment(),
        )  # fmt: skip
    finally:
        store.discard(temp)  # already moved into place, unless something failed
    body = {
        "sha256": sha256,
        "size": size,
        "created": created,
        "server_time": services.server_time(now_ms()),
    }
    return json_response(body, 201 if created else 200)


def _moment() -> dt.datetime:
    """The server's clock as the tables store time (naive UTC)."""
    return dt.datetime.fromtimestamp(now_ms() / 1000, dt.UTC).replace(tzinfo=None)


@bp.get("/blobs/<sha256>")
@auth.device_required
def get_blob(sha256: str) -> Response:
    """Send a blob that an attachment of the device's workspace names."""
    if not blobs.is_hash(sha256):
        raise _not_found()
    workspace_id = auth.current_device().workspace_id
    media_type = blobs.attachment_media_type(workspace_id, sha256)
    if media_type is None or not blobs.held_by(workspace_id, [sha256]):
        raise _not_found()
    path = blob_store().path(sha256)
    if not path.is_file():  # referenced, but its device has not uploaded it (yet)
        raise _not_found()
    response = send_file(path, mimetype=media_type, etag=sha256, conditional=True)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Whatever the attachment claims to be, a browser must not run it as a page.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
