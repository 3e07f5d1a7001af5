"""Photos in the field UI: taking them with a visit or on a concern, and showing them.

``read_photos`` checks the files of a multipart form before anything is saved (images only, each
at most the blob limit), so a refused photo keeps the rest of the form as typed; ``attach_photos``
then copies them into the device's blob folder as ``attachment`` records (``field_client.blobs``),
which sync like any other edit. ``/attachments/<id>`` serves a photo from the blob folder; when the
device does not hold it yet (taken on another device), it is fetched from the server if that
answers, else a placeholder image says it will appear after a sync.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from html import escape
from typing import IO, Any

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from field_client import blobs
from field_client.errors import ClientError
from field_client.web import queries
from field_client.web.views import bp, gettext, state, store

__all__ = ["FIELD", "Photo", "attach_photos", "photo_limit", "photos_of", "read_photos"]

FIELD = "photos"  # the form field of the file input
MAX_PHOTOS = 10  # per form
PHOTO_ENDPOINTS = frozenset(
    {"field.create_visit", "field.add_visit_photos", "field.add_concern_photos"}
)
MIB = 1024 * 1024
FETCH_TIMEOUT = 5.0
HEX = frozenset("0123456789abcdef")
CACHE_CONTROL = "private, max-age=31536000, immutable"
PLACEHOLDER = """<svg xmlns="http://www.w3.org/2000/svg" width="240" height="180"
 viewBox="0 0 240 180">
<rect width="240" height="180" fill="#f1f3f5" stroke="#adb5bd" stroke-dasharray="6 4"/>
<text x="120" y="95" font-size="14" text-anchor="middle" fill="#495057">{text}</text></svg>"""


@dataclass
class Photo:
    """One checked file of a form: its stream, name and recognised media type."""

    stream: IO[bytes]
    name: str
    media_type: str


def _is_hash(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in HEX for c in value)


def _mib(size: int) -> str:
    return f"{size / MIB:.3g}"


def photo_limit() -> int:
    """Bytes allowed per photo (the server's blob limit: bigger ones could never sync)."""
    return int(current_app.config.get("FIELDSYNC_PHOTO_LIMIT", blobs.BLOB_LIMIT))


def _size(stream: IO[bytes]) -> int:
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    return size


def read_photos(files: Any) -> tuple[list[Photo], str | None]:
    """Return the form's photos, or an error for the field (then none is to be saved)."""
    chosen = [f for f in files.getlist(FIELD) if isinstance(f, FileStorage) and f.filename]
    if len(chosen) > MAX_PHOTOS:
        return [], gettext("At most %(n)s photos at a time.", n=MAX_PHOTOS)
    limit = photo_limit()
    photos = []
    for upload in chosen:
        name = os.path.basename(upload.filename or "")[:120]
        size = _size(upload.stream)
        if size > limit:
            return [], gettext(
                "The photo “%(name)s” is over %(mib)s MiB and cannot be saved. Please "
                "choose a smaller one.",
                name=name,
                mib=_mib(limit),
            )
        head = upload.stream.read(64)
        upload.stream.seek(0)
        media_type = blobs.media_type_of(head)
        if size == 0 or not media_type.startswith("image/"):
            return [], gettext(
                "“%(name)s” is not a photo (only JPEG, PNG, GIF, WebP or HEIC images can "
                "be added).",
                name=name,
            )
        photos.append(Photo(upload.stream, name, media_type))
    return photos, None


def attach_photos(subject_type: str, subject_id: str, photos: list[Photo]) -> int:
    """Attach checked photos to a record; return how many were attached."""
    for photo in photos:
        blobs.attach(store(), subject_type, subject_id, photo.stream, media_type=photo.media_type)
    return len(photos)


def photos_of(subject_id: str) -> list[dict[str, Any]]:
    """Return a record's photos, oldest first, each with ``local``: whether the device has it."""
    rows = [queries.flat(a) for a in store().list("attachment", subject=subject_id)]
    rows = [a for a in rows if str(a.get("media_type") or "").startswith("image/")]
    for row in rows:
        sha = row.get("sha256") or ""
        row["local"] = _is_hash(sha) and blobs.has_blob(store(), sha)
    rows.reverse()  # the store lists newest first
    return rows


@bp.app_context_processor
def photo_helpers() -> dict[str, Any]:
    return {"photos_of": photos_of, "photo_field": FIELD, "photo_limit_mib": _mib(photo_limit())}


def _add(subject_type: str, subject_id: str, page: str) -> Response:
    record = store().get(subject_type, subject_id)
    if record is None or record["deleted"]:
        abort(404)
    photos, error = read_photos(request.files)
    if error is None and not photos:
        error = gettext("Please choose a photo first.")
    if error is None:
        try:
            count = attach_photos(subject_type, subject_id, photos)
        except ClientError as exc:
            error = gettext(
                "The local database could not be written: %(detail)s", detail=exc.detail or exc.key
            )
        else:
            flash(
                gettext("%(n)s photo(s) added.", n=count)
                + " "
                + gettext("Saved on this device; %(n)s to sync.", n=store().status()["pending"])
            )
    if error is not None:
        flash(error, "error")
    if subject_type == "visit":
        return redirect(url_for(page, visit_id=subject_id) + "#photos")
    return redirect(url_for(page, concern_id=subject_id) + "#photos")


@bp.post("/visits/<visit_id>/photos")
def add_visit_photos(visit_id: str) -> Response:
    """Add photos to a saved visit."""
    return _add("visit", visit_id, "field.visit")


@bp.post("/concerns/<concern_id>/photos")
def add_concern_photos(concern_id: str) -> Response:
    """Add photos to a concern."""
    return _add("concern", concern_id, "field.concern")


def _placeholder() -> Response:
    body = PLACEHOLDER.format(text=escape(gettext("Appears after sync")))
    response = Response(body, status=200, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "no-store"
    return response


def _fetch(sha: str) -> bool:
    """Download a blob from the enrolled server; return whether it is now on the device."""
    fetcher = state().extra.get("blob_fetcher")
    try:
        if fetcher is not None:
            fetcher(sha)
        else:
            from field_client.transport import HttpTransport

            creds = store().credentials()
            transport = HttpTransport(
                creds["server_url"], creds["token"], timeout=FETCH_TIMEOUT, retries=0
            )
            try:
                blobs.fetch(store(), transport, sha)
            finally:
                transport.close()
    except ClientError:
        return False
    return blobs.has_blob(store(), sha)


@bp.get("/attachments/<attachment_id>")
def attachment(attachment_id: str) -> Response:
    """Serve a photo from the blob folder (fetched first when online), else a placeholder."""
    record = store().get("attachment", attachment_id)
    if record is None or record["deleted"]:
        abort(404)
    fields = record["fields"]
    sha = fields.get("sha256") or ""
    media_type = str(fields.get("media_type") or "")
    if not _is_hash(sha) or not media_type.startswith("image/"):
        abort(404)
    if not blobs.has_blob(store(), sha) and not _fetch(sha):
        return _placeholder()
    path = blobs.blob_path(store().home, sha)
    response = send_file(path, mimetype=media_type, etag=sha, conditional=True)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.before_app_request
def room_for_photos() -> None:
    """Let the forms that carry photos be as large as their photos may be (others stay small)."""
    if request.endpoint in PHOTO_ENDPOINTS:
        request.max_content_length = MAX_PHOTOS * photo_limit() + 2 * MIB


@bp.app_errorhandler(RequestEntityTooLarge)
def too_large(exc: RequestEntityTooLarge) -> tuple[str, int]:
    if request.endpoint in PHOTO_ENDPOINTS:
        message = gettext(
            "The photos are too large: at most %(mib)s MiB each; choose fewer or smaller ones.",
            mib=_mib(photo_limit()),
        )
    else:
        message = gettext("That request could not be handled; go home and retry.")
    return render_template("error.html", title=message, message=message), 413
