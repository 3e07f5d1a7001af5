"""The Fieldsync protocol as a pure library: stamps, record rules, merge decision, wire format.

It does no IO and never reads the wall clock, so both the server and the field client share it
and it can be tested exhaustively in isolation.
"""

from __future__ import annotations

from sync.errors import ErrorCode, InvalidStamp, ProtocolError, SyncError
from sync.hlc import Clock, Stamp
from sync.merge import Current, Decision, Incoming, Outcome, decide
from sync.records import DELETED, RECORD_TYPES, RESOLVED_STATUSES, RecordType, validate_fields
from sync.wire import (
    MAX_PULL_LIMIT,
    MAX_PUSH_BYTES,
    MAX_PUSH_CHANGES,
    NEXT_HEADER,
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    SUPPORTED_PROTOCOLS,
    Change,
    PushRequest,
    Rejection,
    decode_cursor,
    encode_cursor,
    parse_push,
    parse_push_json,
    problem,
)

__all__ = [
    "DELETED",
    "MAX_PULL_LIMIT",
    "MAX_PUSH_BYTES",
    "MAX_PUSH_CHANGES",
    "NEXT_HEADER",
    "PROTOCOL_HEADER",
    "PROTOCOL_VERSION",
    "RECORD_TYPES",
    "RESOLVED_STATUSES",
    "SUPPORTED_PROTOCOLS",
    "Change",
    "Clock",
    "Current",
    "Decision",
    "ErrorCode",
    "Incoming",
    "InvalidStamp",
    "Outcome",
    "ProtocolError",
    "PushRequest",
    "RecordType",
    "Rejection",
    "Stamp",
    "SyncError",
    "decide",
    "decode_cursor",
    "encode_cursor",
    "parse_push",
    "parse_push_json",
    "problem",
    "validate_fields",
]
