"""Device authentication (bearer tokens) and rate limiting for the API.

Tokens are looked up by their SHA-256 hash (``services.authenticate_device``); this module only
reads the header and keeps the authenticated device on ``flask.g``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, g, request

from server import limits, services
from server.store.people import DeviceRow
from sync import ErrorCode, ProtocolError

F = TypeVar("F", bound=Callable[..., Any])


def bearer_token() -> str | None:
    """Return the token of an ``Authorization: Bearer`` header, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def current_device() -> DeviceRow:
    """Return the device that made this request (set by ``device_required``)."""
    return g.device


# What a device revoked with wipe may still do before it says it wiped (docs/protocol.md
# section 8): send its changes and the photos they name, and say that it wiped.
WHILE_WIPING = {"api.push", "api.blobs_missing", "api.put_blob", "api.device_wiped"}


def device_required(view: F) -> F:
    """Let the view run only for an enrolled, unrevoked device (or one revoked with wipe, on
    the routes it still needs to send what it holds)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        wiping = request.endpoint in WHILE_WIPING
        g.device = services.authenticate_device(bearer_token(), wiping=wiping)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def client_address() -> str:
    """Return the client's address (behind a proxy, configure ProxyFix so this is the client)."""
    return request.remote_addr or "unknown"


ALL_CODES = "*"  # the key counting failed enrollments from every address together


def _enroll_counter() -> limits.Counter:
    return limits.counter("enroll", current_app.config["ENROLL_RATE_WINDOW"])


def check_enroll_rate(now_s: float) -> None:
    """Raise rate_limited when this address, or everyone together, failed too many
    enrollments lately (counted across every worker in the shared storage)."""
    config, counts = current_app.config, _enroll_counter()
    wait = counts.retry_after(client_address(), now_s, config["ENROLL_RATE_LIMIT"])
    every = counts.retry_after(ALL_CODES, now_s, config["ENROLL_RATE_LIMIT_ALL"])
    if wait is not None or every is not None:
        wait = max(wait or 0, every or 0)
        raise ProtocolError(
            ErrorCode.RATE_LIMITED,
            f"Too many failed enrollment attempts; retry in {wait} s.",
            extra={"retry_after": wait},
        )


def record_enroll_failure(now_s: float) -> None:
    """Count one failed enrollment attempt from this address, and one for everyone."""
    counts = _enroll_counter()
    counts.hit(client_address(), now_s)
    counts.hit(ALL_CODES, now_s)
