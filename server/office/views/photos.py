"""Photos on the office pages: the attachments of a concern or visit, and their bytes.

The pages ask ``photos_of(record_id)`` (a template helper) for the record's image attachments;
``/photos/<attachment_id>`` streams one from the server's blob store. Both read only the signed-in
user's workspace: another workspace's attachment, a deleted one, or one whose bytes the device
has not uploaded yet is a 404 page. Nothing here writes.
"""

from __future__ import annotations

from typing import Any

from flask import send_file
from werkzeug.wrappers import Response

from server import blobs
from server.office import access, bp
from server.office.access import workspace_id
from server.store.records import attachments_of

__all__ = ["photos_of"]

PHOTO_LIMIT = 100  # per record page
CACHE_CONTROL = "private, max-age=31536000, immutable"


def photos_of(record_id: str) -> list[dict[str, Any]]:
    """Return the live image attachments of a record of the user's workspace, oldest first,
    each with ``here``: whether the workspace holds its bytes (its devices uploaded them)."""
    photos = []
    for record in attachments_of(workspace_id(), record_id, PHOTO_LIMIT):
        fields = record["fields"]
        media_type = str(fields.get("media_type") or "")
        sha = fields.get("sha256")
        if not media_type.startswith("image/") or not blobs.is_hash(sha):
            continue
        photos.append(dict(record, here=access.blob_here(sha)))
    return photos


@bp.app_context_processor
def photo_helpers() -> dict[str, Any]:
    return {"photos_of": photos_of}


@bp.route("/photos/<attachment_id>")
def photo(attachment_id: str) -> Response:
    """Stream the bytes of one of the workspace's attachments, or a 404 page."""
    found: access.Photo = access.owned_or_404("photo", attachment_id)
    response = send_file(
        found.path, mimetype=found.media_type, etag=found.sha256, conditional=True
    )
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
