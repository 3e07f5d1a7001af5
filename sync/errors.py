"""Errors of the sync protocol.

The tree::

    SyncError                  root of everything this package raises
    ├── InvalidStamp           a stamp string that does not parse
    └── ProtocolError          a request that breaks the wire contract; carries an ErrorCode
                               (the server renders it as problem+json, the client maps it back)

Conflicts are not errors: they are values (``merge.Outcome``) stored for a person to resolve.
"""

from __future__ import annotations

import enum
from typing import Any

__all__ = ["ErrorCode", "InvalidStamp", "ProtocolError", "SyncError", "STATUS_OF"]


class ErrorCode(enum.StrEnum):
    """Stable machine-readable error codes (PROTOCOL.md section 2)."""

    INVALID_REQUEST = "invalid_request"
    UNAUTHORIZED = "unauthorized"
    DEVICE_REVOKED = "device_revoked"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CLOCK_SKEW = "clock_skew"
    RESYNC_REQUIRED = "resync_required"
    CONFLICT = "conflict"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_PROTOCOL = "unsupported_protocol"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    RATE_LIMITED = "rate_limited"
    INTERNAL = "internal_error"
    UNAVAILABLE = "unavailable"


STATUS_OF: dict[ErrorCode, int] = {
    ErrorCode.INVALID_REQUEST: 422,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.DEVICE_REVOKED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.CLOCK_SKEW: 409,
    ErrorCode.RESYNC_REQUIRED: 409,
    ErrorCode.CONFLICT: 409,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.UNSUPPORTED_PROTOCOL: 426,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.INTERNAL: 500,
    ErrorCode.UNAVAILABLE: 503,
}


class SyncError(Exception):
    """Root of every error raised by the sync package."""


class InvalidStamp(SyncError, ValueError):
    """A stamp string that does not parse."""


class ProtocolError(SyncError):
    """A request or response that breaks the wire contract."""

    def __init__(
        self,
        code: ErrorCode,
        detail: str,
        *,
        status: int | None = None,
        errors: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status = status if status is not None else STATUS_OF[code]
        self.errors = errors
        self.extra = extra or {}
