"""Rate limits shared by every worker: failure counts in Flask-Limiter's storage.

``RATE_LIMIT_STORAGE`` (``FIELDSYNC_RATE_LIMIT_STORAGE``) is a storage URI: ``memory://`` (the
default) counts in this process only; with several workers (gunicorn) use ``redis://host:6379/0``
so that they all count together. Counts are kept per fixed window of the app's injectable clock,
so tests move time by hand, and are keyed by the caller's address (``FIELDSYNC_TRUSTED_PROXIES``
makes that the real client behind a proxy) and by what it tries (a username, or all enrollment
codes together), so neither many addresses nor many workers multiply the attempts allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from flask_limiter import Limiter

__all__ = ["Counter", "counter", "init_app"]


def init_app(app: Flask) -> None:
    """Give the app a Flask-Limiter on its storage URI (no per-route limits of its own)."""
    app.config["RATELIMIT_STORAGE_URI"] = app.config["RATE_LIMIT_STORAGE"]
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    limiter = Limiter(key_func=lambda: "-", app=app, key_prefix=app.config["RATE_LIMIT_PREFIX"])
    app.extensions["fieldsync_limiter"] = limiter


@dataclass(frozen=True)
class Counter:
    """Counts events per key in fixed windows of ``window_s`` seconds."""

    storage: Any
    prefix: str
    window_s: int

    def _key(self, key: str, now_s: float) -> str:
        return f"{self.prefix}{key}:{int(now_s // self.window_s)}"

    def hit(self, key: str, now_s: float) -> int:
        """Count one event; return the count of the window so far."""
        return int(self.storage.incr(self._key(key, now_s), self.window_s * 2))

    def count(self, key: str, now_s: float) -> int:
        return int(self.storage.get(self._key(key, now_s)) or 0)

    def retry_after(self, key: str, now_s: float, limit: int) -> int | None:
        """Seconds until the key may try again when it reached ``limit``, else None."""
        if self.count(key, now_s) < limit:
            return None
        return max(1, int(self.window_s - now_s % self.window_s + 0.999))

    def clear(self, key: str, now_s: float) -> None:
        self.storage.clear(self._key(key, now_s))


def counter(name: str, window_s: int, app: Flask | None = None) -> Counter:
    """Return the counter ``name`` of the app's shared storage."""
    app = app or current_app
    limiter: Limiter = app.extensions["fieldsync_limiter"]
    prefix = f"{app.config['RATE_LIMIT_PREFIX']}{name}:"
    return Counter(limiter.storage, prefix, max(1, int(window_s)))
