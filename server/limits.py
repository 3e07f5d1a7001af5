"""Rate limits shared by every worker: failure counts in a ``limits`` storage.

``RATE_LIMIT_STORAGE`` (``FIELDSYNC_RATE_LIMIT_STORAGE``) is a storage URI: ``memory://`` (the
default) counts in this process only; with several workers (gunicorn) use ``redis://host:6379/0``
so that they all count together. Counts are kept per fixed window of the app's injectable clock,
so tests move time by hand, and are keyed by the caller's address (``FIELDSYNC_TRUSTED_PROXIES``
makes that the real client behind a proxy) and by what it tries (a username, or all enrollment
codes together), so neither many addresses nor many workers multiply the attempts allowed.

Only the storage of the ``limits`` library is used (the one Flask-Limiter is built on): the
counters are asked by the few views that need them (enrollment, sign-in). A Flask-Limiter
extension would check its (empty) list of route limits before and after every request, about
a fifth of the server's time for a small sync request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from limits.storage import storage_from_string

__all__ = ["Counter", "counter", "init_app"]


def init_app(app: Flask) -> None:
    """Open the app's counter storage from its URI (no per-request work)."""
    app.extensions["fieldsync_limits"] = storage_from_string(app.config["RATE_LIMIT_STORAGE"])


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
    prefix = f"{app.config['RATE_LIMIT_PREFIX']}{name}:"
    return Counter(app.extensions["fieldsync_limits"], prefix, max(1, int(window_s)))
