"""The wire contract: push parsing (hand-written, it is the hot path), cursors, problem details,
and marshmallow schemas for the other bodies and for the OpenAPI document.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema, fields, validate

from sync.errors import ErrorCode, InvalidStamp, ProtocolError
from sync.hlc import Stamp
from sync.merge import Incoming
from sync.records import DELETED, RECORD_TYPES
from sync.strict import INT64_MAX, parse_int
from sync.vocabulary import Fault

__all__ = [
    "DEFAULT_PULL_LIMIT",
    "MAX_PULL_LIMIT",
    "MAX_PUSH_BYTES",
    "MAX_PUSH_CHANGES",
    "PROTOCOL_HEADER",
    "PROTOCOL_VERSION",
    "SUPPORTED_PROTOCOLS",
    "Change",
    "ConflictSchema",
    "DeviceSchema",
    "EnrollRequestSchema",
    "EnrollResponseSchema",
    "ProblemSchema",
    "PullQuerySchema",
    "PullResponseSchema",
    "PushRequest",
    "PushRequestSchema",
    "PushResponseSchema",
    "RecordSchema",
    "Rejection",
    "decode_cursor",
    "encode_cursor",
    "parse_push",
    "problem",
]

PROTOCOL_VERSION = 1
SUPPORTED_PROTOCOLS = (1,)
PROTOCOL_HEADER = "Fieldsync-Protocol"
MAX_PUSH_CHANGES = 1_000
MAX_PUSH_BYTES = 5 * 1024 * 1024
DEFAULT_PULL_LIMIT = 500
MAX_PULL_LIMIT = 5_000


@dataclass(slots=True)
class Change:
    """One record's field writes from a push, in the order it came: each field's value and
    stamp, and the base of the writes that carry one (a new record's writes carry none).

    Held as three dicts, not one object per write: a push carries thousands of writes, and the
    server mostly needs the values (to check them) and the stamps (to store them) as dicts.
    """

    index: int
    type: str
    id: str
    values: dict[str, Any]
    stamps: dict[str, str]
    bases: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, index: int, type: str, id: str, writes: Mapping[str, Incoming]) -> Change:
        """Make a change from one ``Incoming`` per field (a base of None is left out)."""
        bases = {name: w.base for name, w in writes.items() if w.base is not None}
        values = {name: w.value for name, w in writes.items()}
        return cls(index, type, id, values, {name: w.stamp for name, w in writes.items()}, bases)

    @property
    def writes(self) -> dict[str, Incoming]:
        """Each field's write as an ``Incoming`` (for the merge decision)."""
        stamps, bases = self.stamps, self.bases
        return {n: Incoming(v, stamps[n], bases.get(n)) for n, v in self.values.items()}


@dataclass(slots=True)
class Rejection:
    """A change the server refused, with field -> messages (Faults: a code in ``codes`` too)."""

    index: int
    type: Any
    id: Any
    errors: dict[str, list[str]]

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"index": self.index, "type": self.type, "id": self.id}
        body["errors"] = self.errors
        codes = fault_codes(self.errors)
        if codes:
            body["codes"] = codes
        return body


def fault_codes(errors: Mapping[str, list[str]]) -> dict[str, list[dict[str, Any]]]:
    """Return field -> the code and parameters of each message (a plain one: code "message")."""
    return {
        name: [
            m.to_json() if isinstance(m, Fault) else {"code": "message", "params": {"text": m}}
            for m in messages
        ]
        for name, messages in errors.items()
    }


@dataclass(slots=True)
class PushRequest:
    batch_id: str
    device_time: str | None
    changes: list[Change] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    def newest_and_nodes(self) -> tuple[str | None, set[str]]:
        """Return the stamp with the largest wall clock of the push (for the clock-skew check:
        device_time included, as every clock value parsed counts) and the node ids its writes
        name, from one pass over their distinct stamps (a change's writes usually share one)."""
        stamps: set[str] = set().union(*(change.stamps.values() for change in self.changes))
        nodes = {Stamp.node_of(stamp) for stamp in stamps}
        if self.device_time:
            stamps.add(self.device_time)
        return max(stamps, key=lambda s: (Stamp.wall_of(s), s), default=None), nodes


def _invalid(detail: str, errors: dict[str, list[str]] | None = None) -> ProtocolError:
    return ProtocolError(ErrorCode.INVALID_REQUEST, detail, errors=errors)


# The canonical forms, matched in one step on the hot path (a push carries thousands of them).
# Only these exact forms pass the slower checks below, so the two paths accept the same input.
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CANONICAL_STAMP_RE = re.compile(r"[0-9]{13}-[0-9]{6}-[A-Za-z0-9_.:\-]{1,64}")
_CHANGE_KEYS = frozenset({"type", "id", "set"})


def _is_uuid(value: Any) -> bool:
    return type(value) is str and _UUID_RE.fullmatch(value) is not None


@functools.lru_cache(maxsize=4096)
def _is_canonical_stamp(text: str) -> bool:
    # Cached: the writes of one change usually share a stamp, and bases repeat.
    return _CANONICAL_STAMP_RE.fullmatch(text) is not None


def _parse_write_slowly(name: str, raw: Any, errors: dict[str, list[str]]) -> Incoming | None:
    if not isinstance(raw, dict) or "value" not in raw or "stamp" not in raw:
        errors[name] = [Fault("bad_write")]
        return None
    extra = set(raw) - {"value", "stamp", "base"}
    if extra:
        errors[name] = [Fault("unknown_keys", keys=", ".join(sorted(map(str, extra))))]
        return None
    try:
        stamp = str(Stamp.parse(raw["stamp"]))
        base = raw.get("base")
        base = None if base is None else str(Stamp.parse(base))
    except InvalidStamp as exc:
        errors[name] = [Fault("bad_stamp", detail=str(exc))]
        return None
    if raw["stamp"] != stamp:
        errors[name] = [Fault("stamp_form")]
        return None
    if base is not None and not stamp > base:
        errors[name] = [Fault("stamp_order")]
        return None
    return Incoming(raw["value"], stamp, base)


def _parse_change(index: int, raw: Any) -> Change | Rejection:
    if not isinstance(raw, dict):
        return Rejection(index, None, None, {"change": [Fault("bad_write")]})
    rtype, rid, writes = raw.get("type"), raw.get("id"), raw.get("set")
    errors: dict[str, list[str]] = {}
    usual = len(raw) == 3 and "type" in raw and "id" in raw and "set" in raw
    extra = () if usual else set(raw) - _CHANGE_KEYS
    if extra:
        errors["change"] = [Fault("unknown_keys", keys=", ".join(sorted(map(str, extra))))]
    if not isinstance(rtype, str) or rtype not in RECORD_TYPES:
        errors["type"] = [Fault("unknown_type", types=", ".join(RECORD_TYPES))]
    if not _is_uuid(rid):
        errors["id"] = [Fault("not_uuid")]
    if not isinstance(writes, dict) or not writes:
        errors["set"] = [Fault("no_writes")]
        writes = {}
    values: dict[str, Any] = {}
    stamps: dict[str, str] = {}
    bases: dict[str, str] = {}
    checked = None  # the last stamp found canonical: a change's writes usually share one
    for name, write in writes.items():
        if type(name) is not str:
            name = str(name)
        # The fast path, inline (a push carries thousands of writes): exactly the canonical
        # forms pass it; anything else gets the slow path's checks and messages.
        if (
            type(write) is dict
            and "value" in write
            and (len(write) == 2 or len(write) == 3 and "base" in write)
        ):
            stamp, base = write.get("stamp"), write.get("base")
            if (
                type(stamp) is str
                and (stamp == checked or _is_canonical_stamp(stamp))
                and (base is None or (type(base) is str and _is_canonical_stamp(base)))
                and (base is None or stamp > base)
            ):
                checked = stamp
                values[name] = write["value"]
                stamps[name] = stamp
                if base is not None:
                    bases[name] = base
                continue
        incoming = _parse_write_slowly(name, write, errors)
        if incoming is not None:
            values[name] = incoming.value
            stamps[name] = incoming.stamp
            if incoming.base is not None:
                bases[name] = incoming.base
    if errors:
        return Rejection(index, rtype, rid, errors)
    return Change(index, str(rtype), str(rid), values, stamps, bases)


def parse_push(body: Any) -> PushRequest:
    """Parse a push body. Envelope errors raise ProtocolError; a bad change becomes a Rejection."""
    if not isinstance(body, dict):
        raise _invalid("The push body must be a JSON object.")
    errors: dict[str, list[str]] = {}
    extra = set(body) - {"batch_id", "device_time", "changes"}
    for key in sorted(map(str, extra)):
        errors[key] = [Fault("unknown_field")]
    batch_id = body.get("batch_id")
    if not _is_uuid(batch_id):
        errors["batch_id"] = [Fault("not_uuid")]
    device_time = body.get("device_time")
    if device_time is not None:
        try:
            Stamp.parse(device_time)
        except InvalidStamp as exc:
            errors["device_time"] = [Fault("bad_stamp", detail=str(exc))]
    changes = body.get("changes")
    if not isinstance(changes, list):
        errors["changes"] = [Fault("not_list")]
    if errors:
        raise _invalid("The push body does not follow the protocol.", errors)
    assert isinstance(changes, list)
    if len(changes) > MAX_PUSH_CHANGES:
        raise ProtocolError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"A push may carry at most {MAX_PUSH_CHANGES} changes; this one has {len(changes)}.",
        )
    request = PushRequest(str(batch_id), device_time)
    accepted, rejected = request.changes, request.rejected
    seen: set[tuple[str, str]] = set()
    for index, raw in enumerate(changes):
        parsed = _parse_change(index, raw)
        if isinstance(parsed, Change):
            ident = (parsed.type, parsed.id)
            if ident not in seen:
                seen.add(ident)
                accepted.append(parsed)
                continue
            parsed = Rejection(index, parsed.type, parsed.id, {"id": [Fault("twice_in_batch")]})
        rejected.append(parsed)
    return request


def encode_cursor(epoch: str, seq: int) -> str:
    """Make the opaque pull cursor for a position in one server epoch."""
    return base64.urlsafe_b64encode(f"1:{epoch}:{seq}".encode()).decode().rstrip("=")


_EPOCH_RE = re.compile(r"[A-Za-z0-9_.\-]{1,64}", re.ASCII)
MAX_CURSOR_CHARS = 200


def decode_cursor(cursor: str) -> tuple[str, int]:
    """Return (epoch, seq) of a cursor; raise ProtocolError(invalid_request) on junk."""
    try:
        if len(cursor) > MAX_CURSOR_CHARS or not cursor.isascii():
            raise ValueError(cursor[:40])
        padded = cursor + "=" * (-len(cursor) % 4)
        version, epoch, seq = base64.urlsafe_b64decode(padded).decode("ascii").split(":")
        if version != "1" or _EPOCH_RE.fullmatch(epoch) is None:
            raise ValueError(cursor[:40])
        return epoch, parse_int(seq, 0, INT64_MAX)
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise _invalid("The cursor is not one this server made.") from exc


def problem(
    code: ErrorCode,
    detail: str,
    *,
    status: int,
    title: str | None = None,
    errors: dict[str, list[str]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Build an RFC 9457 problem-details body with the protocol's stable ``code``."""
    body: dict[str, Any] = {
        "type": f"https://fieldsync.invalid/problems/{code.value}",
        "title": title or code.value.replace("_", " ").capitalize(),
        "status": status,
        "detail": detail,
        "code": code.value,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    return body


# -- marshmallow schemas: request bodies that are not the hot path, and the OpenAPI document --

STAMP_PATTERN = r"^[0-9]{13}-[0-9]{6}-[A-Za-z0-9_.:\-]{1,64}$"
CURSOR_PATTERN = r"^[A-Za-z0-9_\-]{1,200}$"


def _stamp(**kwargs: Any) -> fields.String:
    """A stamp's string form, as the OpenAPI document describes it."""
    return fields.String(validate=validate.Regexp(STAMP_PATTERN), **kwargs)


def _cursor(**kwargs: Any) -> fields.String:
    """A pull cursor: base64url without padding."""
    return fields.String(validate=validate.Regexp(CURSOR_PATTERN), **kwargs)


class ProblemSchema(Schema):
    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True, strict=True)
    detail = fields.String(required=True)
    code = fields.String(required=True, validate=validate.OneOf([c.value for c in ErrorCode]))
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class FieldWriteSchema(Schema):
    value = fields.Raw(required=True, allow_none=True)
    stamp = _stamp(required=True)
    base = _stamp(required=True, allow_none=True)


class ChangeSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(list(RECORD_TYPES)))
    id = fields.UUID(required=True)
    set = fields.Dict(keys=fields.String(), values=fields.Nested(FieldWriteSchema), required=True)


class PushRequestSchema(Schema):
    batch_id = fields.UUID(required=True)
    device_time = _stamp(allow_none=True)
    changes = fields.List(
        fields.Nested(ChangeSchema), required=True, validate=validate.Length(max=MAX_PUSH_CHANGES)
    )


class VersionedSchema(Schema):
    value = fields.Raw(allow_none=True)
    stamp = _stamp()


class ConflictSchema(Schema):
    id = fields.String()
    type = fields.String()
    record_id = fields.String()
    field = fields.String()
    kept = fields.Nested(VersionedSchema)
    other = fields.Nested(VersionedSchema)


class RejectionSchema(Schema):
    index = fields.Integer(strict=True)
    type = fields.Raw(allow_none=True)
    id = fields.Raw(allow_none=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    codes = fields.Dict(keys=fields.String(), values=fields.List(fields.Dict()))


class PushResponseSchema(Schema):
    batch_id = fields.String()
    applied = fields.Integer(strict=True)
    unchanged = fields.Integer(strict=True)
    conflicts = fields.List(fields.Nested(ConflictSchema))
    rejected = fields.List(fields.Nested(RejectionSchema))
    server_time = _stamp()
    replayed = fields.Boolean()


class RecordSchema(Schema):
    type = fields.String(validate=validate.OneOf(list(RECORD_TYPES)))
    id = fields.String()
    fields_ = fields.Dict(data_key="fields")
    stamps = fields.Dict(keys=fields.String(), values=_stamp())
    deleted = fields.Boolean()
    meta = fields.Dict()


class StrictInteger(fields.Integer):
    """A whole number from a query string: ASCII digits in canonical form, bounded."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, str):
            try:
                return parse_int(value, -INT64_MAX, INT64_MAX)
            except ValueError as exc:
                raise self.make_error("invalid") from exc
        return int(super()._deserialize(value, attr, data, **kwargs))


class PullQuerySchema(Schema):
    cursor = fields.String(load_default=None, validate=validate.Length(1, MAX_CURSOR_CHARS))
    # (the pattern is documented; a cursor of any other form is refused when decoded)
    limit = StrictInteger(
        load_default=DEFAULT_PULL_LIMIT, validate=validate.Range(1, MAX_PULL_LIMIT)
    )


class PullResponseSchema(Schema):
    records = fields.List(fields.Nested(RecordSchema))
    cursor = _cursor()
    more = fields.Boolean()
    server_time = _stamp()


class EnrollRequestSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(1, 64))
    device_name = fields.String(required=True, validate=validate.Length(1, 100))


class UserSchema(Schema):
    id = fields.String()
    username = fields.String()
    display_name = fields.String()
    role = fields.String()


class WorkspaceSchema(Schema):
    id = fields.String()
    name = fields.String()


class EnrollResponseSchema(Schema):
    device_id = fields.String()
    token = fields.String()
    user = fields.Nested(UserSchema)
    workspace = fields.Nested(WorkspaceSchema)
    server_time = _stamp()


class DeviceSchema(Schema):
    device_id = fields.String()
    name = fields.String()
    user = fields.Nested(UserSchema)
    workspace = fields.Nested(WorkspaceSchema)
    last_sync = fields.String(allow_none=True)
    open_conflicts = fields.List(fields.Nested(ConflictSchema))
    server_time = _stamp()


# The field names of every type, with DELETED, for documentation and clients.
FIELD_NAMES: dict[str, tuple[str, ...]] = {
    name: (*rtype.rules, DELETED) for name, rtype in RECORD_TYPES.items()
}
