"""Errors of the field client.

The tree::

    ClientError                 root of everything field_client raises on purpose
    ├── StoreError              the local database cannot be used (corrupt, locked, unreadable)
    ├── NotEnrolled             the device has no credentials yet (run ``fieldsync init``)
    ├── NotFound                no record with that id (or name)
    ├── AmbiguousName           a name matches several records; carries the candidates
    ├── ValidationError         a local edit breaks the field rules; carries field -> messages
    └── TransportError          talking to the server failed
        ├── Offline             no connection (refused, DNS, timeout) after the retries
        ├── ServerError         the server answered, but not as a Fieldsync server should (5xx,
        │                       HTML, wrong address)
        └── Refused             the server refused: a problem+json answer; ``code`` is the
                                protocol's ErrorCode (not ``sync.ProtocolError``: that one
                                is raised by the protocol's own checks)

Every error carries a message ``key`` and ``params`` so the CLI and the web UI can show it in
Simplified Chinese or English (see ``field_client.messages``). Conflicts are not errors: they are
data kept in the store for a person to see.
"""

from __future__ import annotations

from typing import Any

from sync import ErrorCode

__all__ = [
    "AmbiguousName",
    "ClientError",
    "NotEnrolled",
    "NotFound",
    "Offline",
    "Refused",
    "ServerError",
    "StoreError",
    "TransportError",
    "ValidationError",
]


class ClientError(Exception):
    """Root of every error the field client raises on purpose."""

    key = "error"

    def __init__(self, detail: str = "", **params: Any) -> None:
        super().__init__(detail or self.key)
        self.detail = detail
        self.params = params


class StoreError(ClientError):
    """The local database cannot be used (corrupt, locked, unreadable)."""

    key = "store_error"


class NotEnrolled(ClientError):
    """The device has no credentials yet."""

    key = "not_enrolled"


class NotFound(ClientError):
    """No record with that id or name."""

    key = "not_found"


class AmbiguousName(ClientError):
    """A name matches several records; ``candidates`` lists (id, name) pairs."""

    key = "ambiguous_name"

    def __init__(self, detail: str, candidates: list[tuple[str, str]], **params: Any) -> None:
        super().__init__(detail, **params)
        self.candidates = candidates


class ValidationError(ClientError):
    """A local edit breaks the field rules; ``errors`` maps field -> messages."""

    key = "invalid_fields"

    def __init__(self, detail: str, errors: dict[str, list[str]], **params: Any) -> None:
        super().__init__(detail, **params)
        self.errors = errors


class TransportError(ClientError):
    """Talking to the server failed."""

    key = "transport_error"


class Offline(TransportError):
    """No connection to the server (refused, unreachable, timed out) after the retries."""

    key = "offline"


class ServerError(TransportError):
    """The server answered, but not as a working Fieldsync server (5xx, HTML, wrong address)."""

    key = "server_error"


class Refused(TransportError):
    """The server refused: a problem+json answer; ``code`` is the protocol's error code."""

    key = "protocol_error"

    def __init__(
        self,
        code: ErrorCode | str,
        detail: str,
        *,
        status: int = 0,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        try:
            self.code: ErrorCode | str = ErrorCode(code)
        except ValueError:
            self.code = code
        self.status = status
        self.body = body or {}
