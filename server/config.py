"""Server configuration: defaults -> instance ``config.py`` -> ``FIELDSYNC_*`` environment ->
``test_config``, later sources winning.

This is the only module of the server that reads the environment.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from sync.wire import MAX_PULL_LIMIT, MAX_PUSH_BYTES, MAX_PUSH_CHANGES

ENV_PREFIX = "FIELDSYNC_"
SECRET_KEY_FILE = "secret_key"
LANGUAGES = ("zh", "en")


def wall_clock_ms() -> int:
    """Return the wall clock in epoch milliseconds (the default NOW_MS)."""
    return time.time_ns() // 1_000_000


DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,  # None: sqlite:///<instance>/fieldsync.db
    "SECRET_KEY": None,  # None: generated once and kept in <instance>/secret_key (mode 0600)
    "MAX_SKEW_MS": 15 * 60 * 1000,
    "NOW_MS": wall_clock_ms,
    "BLOB_LIMIT": 20 * 1024 * 1024,
    "BLOB_DIR": None,  # None: <instance>/blobs (server.blob_api)
    "BLOB_QUOTA_DEVICE": 2 * 1024**3,  # bytes of blobs one device may have uploaded
    "BLOB_QUOTA_WORKSPACE": 20 * 1024**3,  # bytes of blobs one workspace may hold
    "BLOB_PRUNE_DAYS": 30,  # prune: blobs no attachment names, untouched this long, go
    "PUSH_MAX_CHANGES": MAX_PUSH_CHANGES,
    "PUSH_MAX_BYTES": MAX_PUSH_BYTES,
    "PULL_MAX_LIMIT": MAX_PULL_LIMIT,
    "ENROLL_CODE_TTL": 72 * 3600,  # seconds
    "ENROLL_RATE_LIMIT": 10,  # failed enrollment attempts per address ...
    "ENROLL_RATE_WINDOW": 600,  # ... per this many seconds
    "GZIP_MIN_BYTES": 1024,  # smaller responses are not worth compressing
    "TRUSTED_PROXIES": 0,  # reverse proxies in front (nginx: 1), so rate limits see the client
    "RATE_LIMIT_STORAGE": "memory://",  # redis://127.0.0.1:6379/0 with several workers
    "RATE_LIMIT_PREFIX": "fieldsync:",  # keys in that storage start with this
    "ENROLL_RATE_LIMIT_ALL": 100,  # failed enrollments from all addresses together, per window
    "SESSION_SECURE": False,  # True behind HTTPS: office cookies only ever travel encrypted
    "AUTO_UPGRADE": False,  # tests and demos only: run migrations in create_app
    "OFFICE_PAGES": True,  # False: serve the device API only
    "LANG": "zh",
    "SMTP_URL": None,  # smtp://user:password@host:port (smtps:// for TLS): reminder e-mails
    "SMTP_FROM": "fieldsync@localhost",
    "METRICS_TOKEN": None,  # /metrics needs "Authorization: Bearer <this>" (server.metrics)
    "METRICS_ALLOW": None,  # /metrics only to these addresses/networks: "127.0.0.1,10.0.0.0/8"
}

# Environment values are text; these keys are converted.
_INT_KEYS = {k for k, v in DEFAULTS.items() if isinstance(v, int) and not isinstance(v, bool)}
_BOOL_KEYS = {"AUTO_UPGRADE", "OFFICE_PAGES", "SESSION_SECURE"}
_TEXT_KEYS = {
    "DATABASE_URL", "SECRET_KEY", "LANG", "BLOB_DIR", "RATE_LIMIT_STORAGE", "RATE_LIMIT_PREFIX",
    "SMTP_URL", "SMTP_FROM", "METRICS_TOKEN", "METRICS_ALLOW",
}  # fmt: skip


def instance_path_from_env() -> str | None:
    """Return the instance folder named by ``FIELDSYNC_INSTANCE_PATH``, if set."""
    return os.environ.get(ENV_PREFIX + "INSTANCE_PATH") or None


def prometheus_multiproc_dir() -> str | None:
    """Return prometheus_client's folder for several worker processes' metrics, if set."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def environment_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the known ``FIELDSYNC_*`` settings from the environment, converted."""
    environ = os.environ if environ is None else environ
    found: dict[str, Any] = {}
    for key in _INT_KEYS | _BOOL_KEYS | _TEXT_KEYS:
        raw = environ.get(ENV_PREFIX + key)
        if raw is None or raw == "":
            continue
        if key in _BOOL_KEYS:
            found[key] = raw.strip().lower() in ("1", "true", "yes", "on")
        elif key in _INT_KEYS:
            try:
                found[key] = int(raw)
            except ValueError as exc:
                raise ValueError(f"{ENV_PREFIX}{key} must be a whole number") from exc
        else:
            found[key] = raw
    return found


def language(explicit: str | None = None) -> str:
    """Return the language for people-facing CLI text: explicit, else FIELDSYNC_LANG, else zh."""
    lang = (explicit or os.environ.get(ENV_PREFIX + "LANG") or "zh").lower()[:2]
    return lang if lang in LANGUAGES else "zh"


def load(app: Flask, test_config: Mapping[str, Any] | None = None) -> None:
    """Fill ``app.config`` from every source, in order, and complete the derived values."""
    app.config.update(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(environment_config())
    if test_config:
        app.config.update(test_config)
    instance = Path(app.instance_path)
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = f"sqlite:///{instance / 'fieldsync.db'}"
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = persistent_secret_key(instance)


def persistent_secret_key(instance: Path) -> str:
    """Return the instance's secret key, creating it (readable by the owner only) on first use."""
    path = instance / SECRET_KEY_FILE
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key
