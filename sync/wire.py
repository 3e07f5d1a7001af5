"""The wire contract: push parsing (hand-written, it is the hot path), cursors, problem details,
and marshmallow schemas for the other bodies and for the OpenAPI document.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
from marshmallow import Schema, fields, validate

from sync.errors import ErrorCode, InvalidStamp, ProtocolError
from sync.hlc import Stamp
from sync.merge import Incoming
from sync.records import DELETED, RECORD_TYPES, all_lines, lines_re
from sync.strict import INT64_MAX, parse_int
from sync.vocabulary import Fault

__all__ = [
    "DEFAULT_PULL_LIMIT",
    "MAX_PULL_LIMIT",
    "MAX_PUSH_BYTES",
    "MAX_PUSH_CHANGES",
    "NEXT_HEADER",
    "PROTOCOL_HEADER",
    "PROTOCOL_VERSION",
    "SUPPORTED_PROTOCOLS",
    "Change",
    "CompactChangeSchema",
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
    "parse_push_json",
    "problem",
]

PROTOCOL_VERSION = 1
SUPPORTED_PROTOCOLS = (1,)
PROTOCOL_HEADER = "Fieldsync-Protocol"
# Said on a pull page that has more after it: the page's cursor, the one to pull the next page
# from (section 6). A device can ask for the next page as soon as the answer is in, before it
# decodes the page (4 ms for 1,000 visits, while the server sat idle).
NEXT_HEADER = "Fieldsync-Next"
MAX_PUSH_CHANGES = 1_000
MAX_PUSH_BYTES = 5 * 1024 * 1024
DEFAULT_PULL_LIMIT = 500
MAX_PULL_LIMIT = 5_000


class Change(msgspec.Struct):
    """One record's field writes from a push, in the order it came: each field's value and
    stamp, and the base of the writes that carry one (a new record's writes carry none).

    Held as three dicts, not one object per write: a push carries thousands of writes, and the
    server mostly needs the values (to check them) and the stamps (to store them) as dicts.
    A struct, not a dataclass: made in C, a third of the time (1,000 changes: 0.1 against
    0.3 ms).
    """

    index: int
    type: str
    id: str
    values: dict[str, Any]
    stamps: dict[str, str]
    bases: dict[str, str] = {}  # (a new dict for each change)

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
    # The distinct stamps of the changes' writes when the parser collected them on the way
    # (the compact form's one stamp a change), so they are not gathered again field by field.
    write_stamps: set[str] | None = field(default=None, repr=False, compare=False)

    def newest_and_nodes(self) -> tuple[str | None, set[str]]:
        """Return the stamp with the largest wall clock of the push (for the clock-skew check:
        device_time included, as every clock value parsed counts) and the node ids its writes
        name, from one pass over their distinct stamps (a change's writes usually share one)."""
        stamps = self.write_stamps
        if stamps is None:
            stamps = set().union(*(change.stamps.values() for change in self.changes))
        else:
            stamps = set(stamps)
        nodes = {Stamp.node_of(stamp) for stamp in stamps}
        if self.device_time:
            stamps.add(self.device_time)
        # Parsed stamps are canonical (fixed-width wall clock first): text order is time order.
        return max(stamps, default=None), nodes


def _invalid(detail: str, errors: dict[str, list[str]] | None = None) -> ProtocolError:
    return ProtocolError(ErrorCode.INVALID_REQUEST, detail, errors=errors)


# The canonical forms, matched in one step on the hot path (a push carries thousands of them).
# Only these exact forms pass the slower checks below, so the two paths accept the same input.
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CANONICAL_STAMP_RE = re.compile(r"[0-9]{13}-[0-9]{6}-[A-Za-z0-9_.:\-]{1,64}")


def _is_uuid(value: Any) -> bool:
    return type(value) is str and _UUID_RE.fullmatch(value) is not None


@functools.lru_cache(maxsize=4096)
def _is_canonical_stamp(text: str) -> bool:
    # Cached: the writes of one change usually share a stamp, and bases repeat.
    return _CANONICAL_STAMP_RE.fullmatch(text) is not None


def _stamp_fault(text: Any) -> Fault | None:
    """Return why ``text`` is not a stamp in canonical form (None when it is one)."""
    if type(text) is str and _is_canonical_stamp(text):
        return None
    try:
        parsed = str(Stamp.parse(text))
    except InvalidStamp as exc:
        return Fault("bad_stamp", detail=str(exc))
    return None if parsed == text else Fault("stamp_form")


def _base_fault(stamp: str, base: Any) -> Fault | None:
    """Return why ``base`` cannot be the base of a write at ``stamp`` (None when it can)."""
    fault = _stamp_fault(base)
    if fault is None and not stamp > base:
        return Fault("stamp_order")
    return fault


def _parse_write_slowly(name: str, raw: Any, errors: dict[str, list[str]]) -> Incoming | None:
    if not isinstance(raw, dict) or "value" not in raw or "stamp" not in raw:
        errors[name] = [Fault("bad_write")]
        return None
    extra = set(raw) - {"value", "stamp", "base"}
    if extra:
        errors[name] = [_unknown_keys(extra)]
        return None
    stamp, base = raw["stamp"], raw.get("base")
    fault = _stamp_fault(stamp) or (None if base is None else _base_fault(stamp, base))
    if fault is not None:
        errors[name] = [fault]
        return None
    return Incoming(raw["value"], stamp, base)


def _unknown_keys(keys: Iterable[Any]) -> Fault:
    return Fault("unknown_keys", keys=", ".join(sorted(map(str, keys))))


_Writes = tuple[dict[str, Any], dict[str, str], dict[str, str]]  # values, stamps, bases


def _parse_set(writes: Any, errors: dict[str, list[str]]) -> _Writes:
    """Parse the long form: ``set`` maps each field to its value, stamp and base."""
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
    return values, stamps, bases


def _parse_values(raw: dict[str, Any], errors: dict[str, list[str]]) -> _Writes:
    """Parse the compact form: every field of ``values`` written at the change's ``stamp``,
    with the base of those that have one in ``bases``."""
    stamp: Any = raw.get("stamp")
    values: Any = raw.get("values")
    bases: Any = raw.get("bases", {})
    # Not cached as in the long form: each change has its own stamp, checked once.
    canonical = type(stamp) is str and _CANONICAL_STAMP_RE.fullmatch(stamp) is not None
    fault = None if canonical else _stamp_fault(stamp)
    if fault is not None:
        errors["stamp"] = [fault]
    if type(values) is not dict or not values:
        errors["values"] = [Fault("no_writes")]
        values = {}
    if type(bases) is not dict:
        errors["bases"] = [Fault("not_bases")]
        bases = {}
    elif bases:
        _check_bases(stamp if fault is None else None, values, bases, errors)
    return values, dict.fromkeys(values, stamp), bases


def _check_bases(
    stamp: str | None, values: dict[str, Any], bases: dict[str, Any], errors: dict[str, list[str]]
) -> None:
    """Note bases of fields the change does not write, and bases a write at ``stamp`` cannot
    have (not checked against a bad ``stamp``, reported already)."""
    unknown = bases.keys() - values.keys()
    if unknown:
        errors["bases"] = [_unknown_keys(unknown)]
    if stamp is None:
        return
    for name, base in bases.items():
        fault = _base_fault(stamp, base) if name in values else None
        if fault is not None:
            errors[name] = [fault]


_LONG_FORM = frozenset({"type", "id", "set"})
_COMPACT_KEYS = frozenset({"stamp", "values", "bases"})
_COMPACT_FORM = frozenset({"type", "id"}) | _COMPACT_KEYS


def _parse_change(index: int, raw: Any) -> Change | Rejection:
    if type(raw) is not dict:
        return Rejection(index, None, None, {"change": [Fault("bad_write")]})
    rtype: Any = raw.get("type")
    rid: Any = raw.get("id")
    errors: dict[str, list[str]] = {}
    compact = "set" not in raw and not _COMPACT_KEYS.isdisjoint(raw)
    if compact or len(raw) != 3 or "set" not in raw or "type" not in raw or "id" not in raw:
        _check_form(raw, compact, errors)
    if type(rtype) is not str or rtype not in RECORD_TYPES:
        errors["type"] = [Fault("unknown_type", types=", ".join(RECORD_TYPES))]
    if not _is_uuid(rid):
        errors["id"] = [Fault("not_uuid")]
    if compact:
        values, stamps, bases = _parse_values(raw, errors)
    else:
        values, stamps, bases = _parse_set(raw.get("set"), errors)
    if errors:
        return Rejection(index, rtype, rid, errors)
    return Change(index, rtype, rid, values, stamps, bases)


def _check_form(raw: dict[str, Any], compact: bool, errors: dict[str, list[str]]) -> None:
    """Note keys a change may not have: ``set`` beside the compact form's, or unknown ones."""
    if raw.keys() <= (_COMPACT_FORM if compact else _LONG_FORM):
        return
    if "set" in raw and not _COMPACT_KEYS.isdisjoint(raw):
        errors["change"] = [Fault("mixed_forms")]
    else:
        errors["change"] = [_unknown_keys(raw.keys() - _LONG_FORM - _COMPACT_KEYS)]


# Many ids or stamps, one per line, checked in one match: the same patterns as ``_UUID_RE`` and
# ``_CANONICAL_STAMP_RE`` (neither lets a line break into an id or a stamp).
_UUID_LINES_RE = lines_re(_UUID_RE)
_STAMP_LINES_RE = lines_re(_CANONICAL_STAMP_RE)


class _Gathered:
    """The changes of a push read in one pass (``_parse_well_formed``, ``parse_push_json``),
    with the ids, stamps and bases to check in one match each once all are read (``checked``).
    """

    def __init__(self) -> None:
        self.changes: list[Change] = []
        self.stamps: list[str] = []
        self.bases: list[str] = []

    def add(
        self,
        index: int,
        rtype: str,
        rid: str,
        stamp: str,
        values: dict[str, Any],
        bases: dict[str, Any],
    ) -> bool:
        """Take one compact change whose parts have the right types; return False when it is
        not well formed (an unknown type, no values, a base not a stamp before ``stamp`` or of
        a field it does not write)."""
        if rtype not in RECORD_TYPES or not values:
            return False
        if bases:  # (most changes have none)
            for name, base in bases.items():
                if type(base) is not str or not stamp > base or name not in values:
                    return False
                self.bases.append(base)
        self.stamps.append(stamp)
        self.changes.append(Change(index, rtype, rid, values, dict.fromkeys(values, stamp), bases))
        return True

    def checked(self) -> tuple[list[Change], set[str]] | None:
        """The changes and their distinct stamps when every id, stamp and base is canonical
        and no record comes twice, else None."""
        ids = [change.id for change in self.changes]
        if (
            not self.changes
            or len(set(ids)) != len(ids)  # (the change-by-change parse says which is twice)
            or not all_lines(_UUID_LINES_RE, ids)
            or not all_lines(_STAMP_LINES_RE, self.stamps)
            or (self.bases and not all_lines(_STAMP_LINES_RE, self.bases))
        ):
            return None
        return self.changes, set(self.stamps)


def _parse_well_formed(changes: list[Any]) -> tuple[list[Change], set[str]] | None:
    """Parse a push whose changes are all in the compact form and all well formed, with no
    record twice, as the change-by-change parse would, or return None (the usual push of a
    device; anything else is left to that parse, for its exact reasons).

    The canonical ids, stamps and bases are checked in one match each, after the loop. Also
    returns the distinct stamps of the writes (``PushRequest.write_stamps``).
    """
    gathered = _Gathered()
    for index, raw in enumerate(changes):
        if type(raw) is not dict:
            return None
        rtype, rid = raw.get("type"), raw.get("id")
        stamp, values = raw.get("stamp"), raw.get("values")
        # (with these four not None, four keys are exactly these; a fifth may only be "bases")
        if (
            type(rtype) is not str
            or type(rid) is not str
            or type(stamp) is not str
            or type(values) is not dict
        ):
            return None
        if len(raw) == 4:
            bases: dict[str, Any] = {}
        else:
            bases = raw.get("bases")  # type: ignore[assignment]
            if len(raw) != 5 or type(bases) is not dict:
                return None
        if not gathered.add(index, rtype, rid, stamp, values, bases):
            return None
    return gathered.checked()


class _CompactChange(msgspec.Struct, forbid_unknown_fields=True):
    """A change in the compact form, as ``parse_push_json`` reads it."""

    type: str
    id: str
    stamp: str
    values: dict[str, Any]
    bases: dict[str, str] = {}  # (a new dict for each change that has none)


class _CompactPush(msgspec.Struct, forbid_unknown_fields=True):
    """A push of compact changes, as ``parse_push_json`` reads it."""

    batch_id: str
    changes: list[_CompactChange]
    device_time: str | None = None


_COMPACT_PUSH = msgspec.json.Decoder(_CompactPush)


def parse_push_json(data: bytes) -> PushRequest | None:
    """Parse the JSON text of a push whose changes are all compact and well formed in one
    step, or return None: then decode it (``jsonio.loads``) and ``parse_push`` it, for the
    exact answer to what is wrong.

    What this takes, it makes exactly as those two would (the tests compare them): msgspec
    reads JSON as they do (integers of any length up to the interpreter's limit, no NaN, a
    later duplicate key winning) and refuses what they refuse; its typed fields stand for the
    type checks of ``_parse_well_formed``.
    """
    try:
        body = _COMPACT_PUSH.decode(data)
    except (msgspec.DecodeError, RecursionError):  # (ValidationError is a DecodeError)
        return None
    device_time = body.device_time
    if (
        not _is_uuid(body.batch_id)
        or (device_time is not None and not _is_canonical_stamp(device_time))
        or len(body.changes) > MAX_PUSH_CHANGES
    ):
        return None
    gathered = _Gathered()
    for index, raw in enumerate(body.changes):
        if not gathered.add(index, raw.type, raw.id, raw.stamp, raw.values, raw.bases):
            return None
    checked = gathered.checked()
    if checked is None:
        return None
    return PushRequest(body.batch_id, device_time, checked[0], write_stamps=checked[1])


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
    well_formed = _parse_well_formed(changes)
    if well_formed is None:
        request.changes, request.rejected = _parse_each(changes)
    else:
        request.changes, request.write_stamps = well_formed
    return request


def _parse_each(changes: list[Any]) -> tuple[list[Change], list[Rejection]]:
    """Parse the changes of a push one by one: those taken, and those refused with why."""
    accepted: list[Change] = []
    rejected: list[Rejection] = []
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
    return accepted, rejected


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


class CompactChangeSchema(Schema):
    """A change whose writes share one stamp: each field's value, and the base of those that
    have one (the compact form of docs/protocol.md section 5)."""

    type = fields.String(required=True, validate=validate.OneOf(list(RECORD_TYPES)))
    id = fields.UUID(required=True)
    stamp = _stamp(required=True)
    values = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), required=True)
    bases = fields.Dict(keys=fields.String(), values=_stamp())


class PushRequestSchema(Schema):
    # (``changes`` holds either form: ``server.openapi`` says so, marshmallow cannot)
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
    compact = fields.Boolean()  # the server takes the compact form of a change (section 5)


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
    compact = fields.Boolean()  # the server takes the compact form of a change (section 5)


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
