"""The OpenAPI document of /api/v1, generated from the marshmallow schemas in ``sync.wire`` and
the record types' field rules in ``sync.records``: one definition for code and documentation.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from marshmallow import Schema

from sync import RECORD_TYPES
from sync.wire import (
    CURSOR_PATTERN,
    MAX_PULL_LIMIT,
    NEXT_HEADER,
    PROTOCOL_HEADER,
    STAMP_PATTERN,
    CompactChangeSchema,
    DeviceSchema,
    EnrollRequestSchema,
    EnrollResponseSchema,
    ProblemSchema,
    PullResponseSchema,
    PushRequestSchema,
    PushResponseSchema,
)

PROBLEM = "Problem"
ERRORS_OF = {
    "enroll": ("400", "401", "413", "415", "422", "426", "429"),
    "device": ("401", "403", "426"),
    "device_wiped": ("401", "403", "409", "426"),
    "push": ("400", "401", "403", "409", "413", "415", "422", "426"),
    "pull": ("401", "403", "409", "422", "426"),
    "blobs_missing": ("400", "401", "403", "413", "415", "422", "426"),
    "put_blob": ("400", "401", "403", "413", "415", "422", "426"),
    "get_blob": ("401", "403", "404", "426"),
}
SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
STAMP = {"type": "string", "pattern": STAMP_PATTERN}


def _field_schema(name: str) -> type[Schema]:
    rtype = RECORD_TYPES[name]
    fields = {field: rule.to_marshmallow() for field, rule in rtype.rules.items()}
    title = "".join(part.capitalize() for part in name.split("_"))
    return Schema.from_dict(fields, name=f"{title}Fields")


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


def _op(summary: str, ok: str, body: str, errors: str, **extra: Any) -> dict[str, Any]:
    responses: dict[str, Any] = {ok: {"description": "OK", "content": _json(body)}}
    responses.update({status: PROBLEM for status in ERRORS_OF[errors]})
    op: dict[str, Any] = {
        "summary": summary,
        "parameters": ["Protocol"],
        "security": [{"bearer": []}],
        "responses": responses,
    }
    op.update(extra)
    return op


def build() -> dict[str, Any]:
    """Build the OpenAPI 3.0 document as a dict."""
    spec = APISpec(
        title="Fieldsync device API",
        version="1",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Field sync protocol, version 1 (docs/protocol.md)."},
    )
    for name, schema in (
        ("Problem", ProblemSchema),
        ("EnrollRequest", EnrollRequestSchema),
        ("EnrollResponse", EnrollResponseSchema),
        ("Device", DeviceSchema),
        ("PushRequest", PushRequestSchema),
        ("CompactChange", CompactChangeSchema),
        ("PushResponse", PushResponseSchema),
        ("PullResponse", PullResponseSchema),
    ):
        spec.components.schema(name, schema=schema)
    for name in RECORD_TYPES:
        fields_schema = _field_schema(name)
        spec.components.schema(fields_schema.__name__, schema=fields_schema)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.parameter(
        "Protocol",
        "header",
        {"name": PROTOCOL_HEADER, "required": True, "schema": {"type": "string", "enum": ["1"]}},
    )
    spec.components.response(
        "Problem",
        {
            "description": "An error, as RFC 9457 problem details with a stable code.",
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        },
    )
    _paths(spec)
    document = spec.to_dict()
    _problem_extensions(document["components"]["schemas"]["Problem"])
    _change_forms(document["components"]["schemas"]["PushRequest"])
    return document


def _change_forms(schema: dict[str, Any]) -> None:
    """A push's change is in the long form (``set``) or the compact one (one ``stamp``).

    anyOf, though no change can be both (each form forbids the other's keys): schemathesis'
    negative cases of a oneOf of these sometimes cannot be generated at all."""
    forms = [{"$ref": f"#/components/schemas/{name}"} for name in ("Change", "CompactChange")]
    schema["properties"]["changes"]["items"] = {"anyOf": forms}


def _problem_extensions(schema: dict[str, Any]) -> None:
    """Allow RFC 9457 extension members, and describe the ones this server sends."""
    schema["additionalProperties"] = True
    schema["properties"].update(
        {
            "supported": {"type": "array", "items": {"type": "integer"}},
            "server_time": {**STAMP, "description": "with clock_skew"},
            "reason": {"type": "string", "enum": ["unknown", "used", "expired"]},
            "retry_after": {"type": "integer", "description": "with rate_limited (seconds)"},
            "wipe": {
                "type": "boolean",
                "description": "with device_revoked: the office revoked it with wipe",
            },
            "limit": {"type": "integer", "description": "with payload_too_large (bytes)"},
            "quota": {
                "type": "string",
                "enum": ["blob", "device", "workspace"],
                "description": "with payload_too_large: which limit a blob passes",
            },
            "used": {"type": "integer", "description": "with a quota: bytes already held"},
        }
    )


def _paths(spec: APISpec) -> None:
    health = {
        "type": "object",
        "properties": {
            "status": {"type": "string"},
            "database": {"type": "string"},
            "server_time": STAMP,
        },
    }
    spec.path(
        "/api/v1/healthz",
        operations={
            "get": {
                "summary": "Whether the server and its database are up.",
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {"application/json": {"schema": health}},
                    },
                    "503": PROBLEM,
                },
            }
        },
    )
    spec.path(
        "/api/v1/vocabulary",
        operations={
            "get": {
                "summary": "The names of types, fields, choice values and faults in zh and en.",
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    )
    enroll_body = {"required": True, "content": _json("EnrollRequest")}
    enroll = _op(
        "Exchange an enrollment code for a token.", "201", "EnrollResponse", "enroll",
        requestBody=enroll_body,
    )  # fmt: skip
    enroll["security"] = []
    spec.path("/api/v1/enroll", operations={"post": enroll})
    spec.path(
        "/api/v1/device",
        operations={"get": _op("Describe the calling device.", "200", "Device", "device")},
    )
    wiped = _op("Say that this device, revoked with wipe, deleted its data.", "200", "",
                "device_wiped")  # fmt: skip
    wiped["responses"]["200"]["content"] = {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "device_id": {"type": "string"},
                    "wiped": {"type": "boolean"},
                    "server_time": STAMP,
                },
            }
        }
    }
    spec.path("/api/v1/device/wiped", operations={"post": wiped})
    push_body = {"required": True, "content": _json("PushRequest")}
    push = _op(
        "Push a batch of field changes.", "200", "PushResponse", "push", requestBody=push_body
    )
    spec.path("/api/v1/sync/push", operations={"post": push})
    pull = _op("Pull the next page of changed records.", "200", "PullResponse", "pull")
    pull["parameters"] = [
        *pull["parameters"],
        {
            "name": "cursor",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "pattern": CURSOR_PATTERN},
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PULL_LIMIT},
        },
    ]
    pull["responses"]["200"]["headers"] = {
        NEXT_HEADER: {
            "description": "On a page with more after it: its cursor, to pull the next page"
            " from before this one is read (docs/protocol.md section 6).",
            "schema": {"type": "string", "pattern": CURSOR_PATTERN},
        }
    }
    spec.path("/api/v1/sync/pull", operations={"get": pull})
    _blob_paths(spec)


def _blob_paths(spec: APISpec) -> None:
    """PROTOCOL.md section 7: which blobs to upload, upload one, fetch one."""
    sha_param = {"name": "sha256", "in": "path", "required": True, "schema": SHA256}
    missing_request = {
        "type": "object",
        "required": ["sha256"],
        "properties": {"sha256": {"type": "array", "items": SHA256, "maxItems": 1000}},
    }
    missing_response = {
        "type": "object",
        "properties": {
            "missing": {"type": "array", "items": SHA256},
            "limit": {"type": "integer"},
            "server_time": STAMP,
        },
    }
    missing = _op("Say which blobs the server lacks.", "200", "", "blobs_missing")
    missing["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": missing_request}},
    }
    missing["responses"]["200"]["content"] = {"application/json": {"schema": missing_response}}
    spec.path("/api/v1/blobs/missing", operations={"post": missing})
    saved = {
        "type": "object",
        "properties": {
            "sha256": SHA256,
            "size": {"type": "integer"},
            "created": {"type": "boolean"},
            "server_time": STAMP,
        },
    }
    put = _op("Upload a blob (raw bytes; the name is their SHA-256).", "201", "", "put_blob")
    put["responses"]["201"]["content"] = {"application/json": {"schema": saved}}
    put["responses"]["200"] = {
        "description": "Already there",
        "content": {"application/json": {"schema": saved}},
    }
    put["requestBody"] = {
        "required": True,
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
        },
    }
    get = _op("Fetch a blob an attachment of the device's workspace names.", "200", "", "get_blob")
    get["responses"]["200"]["content"] = {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
    }
    for op in (put, get):
        op["parameters"] = [*op["parameters"], sha_param]
    spec.path("/api/v1/blobs/{sha256}", operations={"put": put, "get": get})


def document(app: Flask) -> dict[str, Any]:
    """Return the app's OpenAPI document (built once)."""
    cached = app.extensions.get("fieldsync_openapi")
    if cached is None:
        cached = app.extensions["fieldsync_openapi"] = build()
    return cached
