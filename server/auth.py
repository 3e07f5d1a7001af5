"""Device authentication (bearer tokens) and rate limiting for the API.

Tokens are looked up by their SHA-256 hash (``services.authenticate_device``); this module only
reads the header and keeps the authenticated device on ``flask.g``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, g, request

from server import services
from server.models import Device
from sync import ErrorCode, ProtocolError

F = TypeVar("F", bound=Callable[..., Any])


def bearer_token() -> str | None:
    """Return the token of an ``Authorization: Bearer`` header, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def current_device() -> Device:
    """Return the device that made this request (set by ``device_required``)."""
    return g.device


def device_required(view: F) -> F:
    """Let the view run only for an enrolled, unrevoked device."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.device = services.authenticate_device(bearer_token())
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


class RateLimiter:
    """Count events per key in a sliding window (in memory, per process; the clock is given)."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _fresh(self, key: str, now_s: float) -> deque[float]:
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now_s - self.window_s:
            events.popleft()
        return events

    def retry_after(self, key: str, now_s: float) -> int | None:
        """Return seconds to wait when the key is over its limit, else None."""
        with self._lock:
            events = self._fresh(key, now_s)
            if len(events) < self.limit:
                if not events:
                    self._events.pop(key, None)
                return None
            return max(1, int(events[0] + self.window_s - now_s + 0.999))

    def hit(self, key: str, now_s: float) -> None:
        """Record one event for the key."""
        with self._lock:
            self._fresh(key, now_s).append(now_s)
            if len(self._events) > 100_000:  # bound memory under a flood of addresses
                self._events = {k: v for k, v in self._events.items() if v}


def enroll_limiter() -> RateLimiter:
    """Return the app's limiter of failed enrollment attempts."""
    limiter = current_app.extensions.get("fieldsync_enroll_limiter")
    if limiter is None:
        limiter = RateLimiter(
            current_app.config["ENROLL_RATE_LIMIT"], current_app.config["ENROLL_RATE_WINDOW"]
        )
        current_app.extensions["fieldsync_enroll_limiter"] = limiter
    return limiter


def client_address() -> str:
    """Return the client's address (behind a proxy, configure ProxyFix so this is the client)."""
    return request.remote_addr or "unknown"


def check_enroll_rate(now_s: float) -> None:
    """Raise rate_limited when this address failed too many enrollments lately."""
    wait = enroll_limiter().retry_after(client_address(), now_s)
    if wait is not None:
        raise ProtocolError(
            ErrorCode.RATE_LIMITED,
            f"Too many failed enrollment attempts from this address; retry in {wait} s.",
            extra={"retry_after": wait},
        )


def record_enroll_failure(now_s: float) -> None:
    """Count one failed enrollment attempt from this address."""
    enroll_limiter().hit(client_address(), now_s)
