"""The field app at ``/field/``: the static files of ``field_client/pwa`` served as package data.

The server imports no Python from ``field_client``: it only finds where that package's files
are. The service worker is served with the app's version (a hash of every asset) and the list of
assets to precache filled in, so any change to a file installs a new version and drops the old
caches. The words come from the one vocabulary (``sync.vocabulary``), served as ``vocabulary.json``
with the casework steps (``sync.casework.export``) beside them.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
from functools import cache, lru_cache
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, current_app, redirect, request

from sync import casework, rules, vocabulary

bp = Blueprint("field_app", __name__)

TYPES = {
    ".html": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
WORDS = "vocabulary.json"  # made from sync.vocabulary, not a file of the app
WORKER = "sw.js"
# The office's policy (scripts only from the server's own files), and the app's photos, which
# it shows from IndexedDB through blob: addresses.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
PACKED = {".html", ".css", ".js", ".json", ".webmanifest", ".svg"}  # text: worth gzipping


def app_folder() -> Path | None:
    """Return the folder of the field app's files (without importing ``field_client``)."""
    configured = current_app.config.get("FIELD_APP_DIR")
    if configured:
        return Path(configured)
    spec = importlib.util.find_spec("field_client")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "pwa"
    return folder if folder.is_dir() else None


@cache
def _assets(folder: Path, stamp: float) -> tuple[list[str], str]:
    """Return the app's asset paths and its version (a hash of every asset and the words)."""
    del stamp  # part of the cache key only
    names = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.suffix in TYPES and p.name != WORKER
    )
    digest = hashlib.sha256(_words())
    for name in [*names, WORKER]:
        digest.update(name.encode() + b"\0" + (folder / name).read_bytes())
    return names, digest.hexdigest()[:16]


def _newest(folder: Path) -> float:
    return max(p.stat().st_mtime for p in folder.rglob("*") if p.is_file())


@cache
def _words() -> bytes:
    """The one vocabulary, with the casework rules and the record rules' limits the app needs
    (generated from ``sync``, never copied into the app)."""
    data = {
        **vocabulary.export(),
        "casework": casework.export(),
        "rules": {"field_allowance_ms": rules.FIELD_ALLOWANCE_MS},
    }
    return json.dumps(data, ensure_ascii=False, sort_keys=True).encode()


def _folder_or_404() -> Path:
    folder = app_folder()
    if folder is None:
        abort(404)
    return folder


@bp.get("/field")
def field_root() -> Response:
    """Send /field to /field/ (the app's scope)."""
    return redirect("/field/", code=308)  # type: ignore[return-value]


@bp.get("/field/")
@bp.get("/field/<path:name>")
def field_file(name: str = "index.html") -> Response:
    """Serve one file of the field app."""
    folder = _folder_or_404()
    if name == WORDS:
        return _send(_words(), ".json")
    if name == WORKER:
        return _send(_worker(folder, _newest(folder)), ".js")
    path = (folder / name).resolve()
    if not path.is_relative_to(folder.resolve()) or not path.is_file() or path.suffix not in TYPES:
        abort(404)
    return _send(_read(path, path.stat().st_mtime), path.suffix)


@lru_cache(maxsize=256)
def _read(path: Path, stamp: float) -> bytes:
    del stamp  # part of the cache key only: a changed file is read again
    return path.read_bytes()


@lru_cache(maxsize=256)
def _packed(data: bytes) -> bytes:
    """The gzip form of a text asset, made once per content."""
    return gzip.compress(data, compresslevel=9, mtime=0)


@lru_cache(maxsize=8)
def _worker(folder: Path, stamp: float) -> bytes:
    names, version = _assets(folder, stamp)
    text = (folder / WORKER).read_text(encoding="utf-8")
    text = text.replace('"__VERSION__"', json.dumps(version))
    text = text.replace('["__ASSETS__"]', json.dumps(["./", *names, WORDS]))
    return text.encode()


def _send(data: bytes, suffix: str) -> Response:
    """Answer with ``data`` (gzipped when the browser accepts it and it is text), an ETag for
    a 304 when nothing changed, and no-cache: online the browser asks each time, offline the
    service worker answers."""
    response = Response(mimetype=TYPES[suffix])
    response.headers["Vary"] = "Accept-Encoding"
    if suffix in PACKED and request.accept_encodings["gzip"] > 0:
        response.set_data(_packed(data))
        response.headers["Content-Encoding"] = "gzip"
        response.set_etag(hashlib.sha256(data).hexdigest()[:32] + "-gz")
    else:
        response.set_data(data)
        response.set_etag(hashlib.sha256(data).hexdigest()[:32])
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.make_conditional(request)  # answers 304 in place when the ETag matches
    return response


def init_app(app: Flask) -> None:
    """Serve the field app at /field/."""
    app.register_blueprint(bp)
