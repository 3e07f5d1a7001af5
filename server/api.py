"""The device API at /api/v1 (PROTOCOL.md): parse (wire) -> service or store -> dump.

Every route but ``healthz`` and ``openapi.json`` needs ``Fieldsync-Protocol: 1``; every route but
those and ``enroll`` needs a device's bearer token. Request bodies may be gzipped (decompressed
under the same 5 MiB limit, so a small bomb cannot grow past it); responses are gzipped when the
client accepts it and the body is big enough to gain.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, current_app, request
from isal import isal_zlib

from server import auth, metrics, openapi, services, store
from server.store.reads import pull_json_page
from sync import ErrorCode, ProtocolError, jsonio, parse_push, parse_push_json, vocabulary
from sync.wire import (
    NEXT_HEADER,
    PROTOCOL_HEADER,
    SUPPORTED_PROTOCOLS,
    DeviceSchema,
    EnrollRequestSchema,
    EnrollResponseSchema,
    PullQuerySchema,
)

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Routes that anyone may call without the protocol header (monitoring, documentation).
NO_PROTOCOL_HEADER = {"api.healthz", "api.openapi_document", "api.vocabulary_document"}
JSON_TYPES = ("application/json",)
_READ_CHUNK = 64 * 1024
_GZIP_LEVEL = 2  # ISA-L's levels are 0-3; 3 is as slow as zlib's and compresses no better here
_GZIP_WBITS = 16 + 15  # a gzip stream (header and CRC), 32 KiB window

# Said on every enrollment and push answer: this server takes the compact form of a change
# (docs/protocol.md section 5). A device sends that form only to a server that says so, so a
# device updated before its office server keeps sending the long form, which every server takes.
_TAKES_COMPACT = {"compact": True}

# One instance of each schema, shared by every request: building a schema deep-copies its
# declared fields, a tenth of the CPU of a small pull; loading and dumping keep no state on it.
_ENROLL_REQUEST = EnrollRequestSchema()
_ENROLL_RESPONSE = EnrollResponseSchema()
_DEVICE = DeviceSchema()
_PULL_QUERY = PullQuerySchema()


def now_ms() -> int:
    """Return the server's clock in epoch milliseconds (injected through config NOW_MS)."""
    return int(current_app.config["NOW_MS"]())


@bp.before_request
def require_protocol_version() -> None:
    """Refuse requests that do not speak a protocol version this server supports."""
    if request.endpoint in NO_PROTOCOL_HEADER:
        return
    sent = request.headers.get(PROTOCOL_HEADER, "").strip()
    if sent not in {str(v) for v in SUPPORTED_PROTOCOLS}:
        shown = repr(sent[:20]) if sent else "none"
        raise ProtocolError(
            ErrorCode.UNSUPPORTED_PROTOCOL,
            f"This server speaks protocol version 1 ({PROTOCOL_HEADER}: 1); the request sent "
            f"{shown}.",
            extra={"supported": list(SUPPORTED_PROTOCOLS)},
        )


@bp.after_request
def compress_response(response: Response) -> Response:
    """Gzip the response when the client accepts it and it is big enough to matter.

    ISA-L's deflate (``isal``), level 2: on a pull page it is five times faster than zlib's
    fastest level (5 ms against 26 ms for 10,000 records) and the body is 12% smaller. Its
    output is ordinary gzip; any client inflates it.
    """
    headers = response.headers
    headers.add("Vary", "Accept-Encoding")
    if response.direct_passthrough or response.is_streamed or "Content-Encoding" in headers:
        return response
    data = response.get_data()
    # The size first: most answers to a device are small, and then its Accept-Encoding header
    # need not be parsed.
    if len(data) < current_app.config["GZIP_MIN_BYTES"] or request.accept_encodings["gzip"] <= 0:
        return response
    response.set_data(isal_zlib.compress(data, _GZIP_LEVEL, wbits=_GZIP_WBITS))
    headers["Content-Encoding"] = "gzip"
    return response


# -- request bodies --


def _invalid(detail: str, status: int = 400) -> ProtocolError:
    return ProtocolError(ErrorCode.INVALID_REQUEST, detail, status=status)


def _too_large(limit: int) -> ProtocolError:
    return ProtocolError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        f"The request body is over {limit} bytes (uncompressed); split the push.",
    )


def _read_limited(limit: int) -> bytes:
    """Read the raw body, refusing to hold more than ``limit`` bytes of it."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise _too_large(limit)
    return data


def _gunzip_limited(data: bytes, limit: int) -> bytes:
    """Decompress a gzip body, stopping as soon as it passes ``limit``.

    One call: the inflater stops at ``limit + 1`` bytes of output, so a bomb never grows past
    that, and a body within the limit comes back as one buffer (no growing copy of it, then
    another). ISA-L's inflater (``isal``, as for responses) takes a fifth of zlib's CPU (3
    against 14 ms for the 10 bodies of a 10,000-visit push) and checks the same (CRC, length).
    """
    inflater = isal_zlib.decompressobj(wbits=_GZIP_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
        if len(out) > limit or inflater.unconsumed_tail:  # (output stopped at the bound)
            raise _too_large(limit)
        rest = inflater.flush()
    except isal_zlib.error as exc:  # type: ignore[misc]  # its stub says instance, not class
        raise _invalid("The body says Content-Encoding: gzip but is not valid gzip.") from exc
    if rest:
        out += rest
        if len(out) > limit:
            raise _too_large(limit)
    if not inflater.eof:
        raise _invalid("The gzip body is truncated.")
    return out


def read_json(limit: int) -> Any:
    """Return the request's JSON body, enforcing content type, encoding and size limit."""
    return decode_json(read_body(limit))


def read_body(limit: int) -> bytes:
    """Return the request's JSON text (inflated), enforcing content type, encoding and size
    limit, not decoded yet."""
    if request.mimetype not in JSON_TYPES:
        raise _invalid(
            f"The body must be JSON (Content-Type: application/json), not "
            f"{request.mimetype or 'none'!r}.",
            status=415,
        )
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip", ""):
        raise _invalid(f"Content-Encoding {encoding!r} is not supported; use gzip.", 415)
    # A gzip body is bounded too: compressed data never legitimately exceeds the plain limit much.
    data = _read_limited(limit + 64 * 1024 if encoding == "gzip" else limit)
    if encoding == "gzip":
        data = _gunzip_limited(data, limit)
    return data


def decode_json(data: bytes) -> Any:
    """Decode a request's JSON text: a number no field holds is a 422, other junk a 400."""
    try:
        return jsonio.loads(data)
    except jsonio.NumberOutOfRange as exc:  # well-formed JSON whose number no field can hold
        raise _invalid(f"The body holds a number out of range: {exc}.", status=422) from exc
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _invalid("The body is not valid UTF-8 JSON.") from exc


def json_response(body: Any, status: int = 200) -> Response:
    """Return a JSON response (UTF-8, Chinese kept readable)."""
    return Response(jsonio.dumps_bytes(body), status=status, mimetype="application/json")


# -- routes --


@bp.get("/healthz")
def healthz() -> Response:
    """Answer whether the server and its database are up (no authentication)."""
    services.check_database()
    body = {"status": "ok", "database": "ok", "server_time": services.server_time(now_ms())}
    return json_response(body)


@bp.get("/openapi.json")
def openapi_document() -> Response:
    """Return the OpenAPI document, generated from the wire schemas."""
    return json_response(openapi.document(current_app))


@bp.get("/vocabulary")
def vocabulary_document() -> Response:
    """Return the one vocabulary (names of types, fields, choices and faults in zh and en)."""
    return json_response(vocabulary.export())


@bp.post("/enroll")
def enroll() -> Response:
    """Exchange an enrollment code for a device id and token."""
    now = now_ms()
    auth.check_enroll_rate(now / 1000)
    body = _ENROLL_REQUEST.load(_object(read_json(64 * 1024)))
    try:
        result = services.enroll(body["code"], body["device_name"], now=now)
    except ProtocolError as exc:
        if exc.code is ErrorCode.UNAUTHORIZED:
            auth.record_enroll_failure(now / 1000)
        raise
    return json_response(_ENROLL_RESPONSE.dump({**result, **_TAKES_COMPACT}), 201)


@bp.get("/device")
@auth.device_required
def device() -> Response:
    """Describe the calling device: user, workspace, last sync, open conflicts."""
    info = services.device_info(auth.current_device(), now=now_ms())
    return json_response(_DEVICE.dump(info))


@bp.post("/device/wiped")
@auth.device_required
def device_wiped() -> Response:
    """Hear that a device revoked with wipe has deleted its personal data (its last request)."""
    device = auth.current_device()
    if device.wipe_requested_at is None:
        raise ProtocolError(
            ErrorCode.CONFLICT, "The office has not asked this device to wipe its data."
        )
    return json_response(services.confirm_wiped(device, now=now_ms()))


@bp.post("/sync/push")
@auth.device_required
def push() -> Response:
    """Apply a batch of changes (PROTOCOL.md section 5)."""
    start = time.perf_counter()
    # Parsed straight from the body: the decoded JSON is dropped before the batch is applied, so
    # a batch is not held twice through the transaction. The usual push (compact changes, all
    # well formed) is decoded and parsed in one step; any other is decoded, then parsed change
    # by change, for the exact answer to what is wrong with it.
    data = read_body(current_app.config["PUSH_MAX_BYTES"])
    parsed = parse_push_json(data)
    if parsed is None:
        parsed = parse_push(decode_json(data))
    # What the push built (its changes, their rows) is freed once the answer is sent, not
    # before: freeing it costs 11 ms of CPU for 10,000 visits, which the device need not wait
    # for (the server sends the answer, then closes the response).
    built: list[Any] = []
    result = store.push(
        auth.current_device(),
        parsed,
        now_ms=now_ms(),
        max_skew_ms=current_app.config["MAX_SKEW_MS"],
        keep=built,
    )
    response = json_response({**result, **_TAKES_COMPACT})
    response.call_on_close(built.clear)
    if not result.get("replayed"):
        size = len(parsed.changes) + len(parsed.rejected)
        conflicts, rejected = len(result["conflicts"]), result["rejected"]
        metrics.observe_push(time.perf_counter() - start, size, conflicts, rejected)
    return response


@bp.get("/sync/pull")
@auth.device_required
def pull() -> Response:
    """Return the next page of changed records (PROTOCOL.md section 6)."""
    start = time.perf_counter()
    query = _PULL_QUERY.load(request.args.to_dict(flat=True))
    limit = min(query["limit"], current_app.config["PULL_MAX_LIMIT"])
    device, now = auth.current_device(), now_ms()
    data, following = pull_json_page(
        device.workspace_id, query["cursor"] or None, limit, now_ms=now, device_id=device.id
    )
    services.note_pull(device, now=now)
    metrics.observe_pull(time.perf_counter() - start, len(data))
    response = Response(data, mimetype="application/json")
    if following is not None:
        response.headers[NEXT_HEADER] = following
    return response


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _invalid("The body must be a JSON object.", 422)
    return body


from server import blob_api  # noqa: E402, F401  (its routes, PROTOCOL.md section 7, join bp)
