"""The one authorization helper of the office pages: everything a route reads or writes by id
goes through ``owned``, which finds it only in the signed-in user's workspace.

Another workspace's record, conflict, user, device or blob is as absent as one that never
existed: the same ``None`` (or 404 page), so no page tells whether an id exists elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import abort
from flask_login import current_user

from server import blobs
from server.office import queries

__all__ = ["Photo", "owned", "owned_or_404", "workspace_id"]

KINDS = ("record", "conflict", "user", "device", "photo")


@dataclass(frozen=True)
class Photo:
    """The bytes of an attachment the workspace may show: where they are and their type."""

    sha256: str
    path: Path
    media_type: str


def workspace_id() -> str:
    """The signed-in user's workspace: the only one any office page reads."""
    return str(current_user.workspace_id)


def owned(kind: str, ident: Any, record_type: str | None = None) -> Any:
    """Return the ``kind`` object named ``ident`` if the user's workspace holds it, else None.

    ``record`` (optionally of ``record_type``) gives the decoded record, ``conflict``, ``user``
    and ``device`` their rows, ``photo`` a ``Photo`` for a live attachment whose blob the
    workspace holds (uploaded by one of its devices) and the server has.
    """
    if not isinstance(ident, str) or not 0 < len(ident) <= 64:
        return None
    ws = workspace_id()
    if kind == "record":
        return queries.get(ws, ident, record_type)
    if kind == "conflict":
        return queries.conflict(ws, ident)
    if kind == "user":
        return next((u for u in queries.users(ws) if u.id == ident), None)
    if kind == "device":
        return next((d["device"] for d in queries.devices(ws) if d["device"].id == ident), None)
    if kind == "photo":
        return _photo(ws, ident)
    raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")


def owned_or_404(kind: str, ident: Any, record_type: str | None = None) -> Any:
    """Return what ``owned`` finds, or answer the 404 page."""
    found = owned(kind, ident, record_type)
    if found is None:
        abort(404)
    return found


def blob_here(sha256: Any) -> bool:
    """Whether the user's workspace holds the blob and the server has its bytes."""
    from server.blob_api import blob_store

    if not blobs.is_hash(sha256) or not blobs.held_by(workspace_id(), [sha256]):
        return False
    return blob_store().exists(sha256)


def _photo(ws: str, attachment_id: str) -> Photo | None:
    from server.blob_api import blob_store

    record = queries.get(ws, attachment_id, "attachment")
    if record is None or record["deleted"]:
        return None
    sha = record["fields"].get("sha256")
    if not blob_here(sha):
        return None
    media_type = blobs.attachment_media_type(ws, sha)
    path = blob_store().path(sha)
    if media_type is None or not path.is_file():
        return None
    return Photo(sha, path, media_type)
