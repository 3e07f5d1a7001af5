"""The server's errors, and every error rendered once: problem+json on API paths, a readable
page on office pages (the CLI renders them once too, as one line: ``server.cli.base``).

The server's error tree::

    sync.ProtocolError            a request the protocol refuses (carries an ErrorCode)
    └── ServerError               root of what the server raises on purpose: an ErrorCode for
        │                         the API, a message ``key`` and ``params`` for people
        ├── NotFound              no such workspace, user, device, ...
        ├── Refused               a use case refused, for the reason ``key`` names
        └── Unavailable           the database failed (busy, gone); ``original`` is its error

``ServerError`` is a ``ProtocolError`` because each kind answers the wire with a protocol code.
Database errors are wrapped in ``Unavailable`` once, in the store; those raised outside it (a
page's query) are wrapped here, at the edge. Other foreign errors are translated here too:
werkzeug's HTTP errors (404, 405, 413, ...), marshmallow's ValidationError and anything
unexpected (500, logged without request data, so no names or phone numbers reach the log).
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from flask import Flask, Response, json, render_template, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from server import metrics
from server.i18n import N_, texts
from sync import ErrorCode, ProtocolError, problem

log = logging.getLogger("fieldsync.server")


class ServerError(ProtocolError):
    """Root of the server's errors: an ErrorCode, and a message ``key`` and ``params``."""

    def __init__(self, code: ErrorCode, key: str, detail: str, **params: Any) -> None:
        extra = {k: v for k, v in params.items() if k == "reason"}
        super().__init__(code, detail, extra=extra)
        self.key = key
        self.params = params


class NotFound(ServerError):
    """No such thing (workspace, user, device, ...): ``key`` says which."""

    def __init__(self, key: str, detail: str, **params: Any) -> None:
        super().__init__(ErrorCode.NOT_FOUND, key, detail, **params)


class Refused(ServerError):
    """A use case refused: ``key`` names the reason (bad name, used code, revoked device)."""


class Unavailable(ServerError):
    """The database failed (busy, locked, unreachable); ``original`` is its error.

    Only the error's class and first line are kept for people (the CLI shows them); the API
    answer says neither, and the log gets the class only: a message may quote data.
    """

    def __init__(self, original: BaseException) -> None:
        first = (str(original).strip().splitlines() or [""])[0][:200]
        detail = "The database is busy or unreachable. Retry shortly."
        super().__init__(ErrorCode.UNAVAILABLE, "database_error", detail)
        self.params = {"kind": type(original).__name__, "detail": first}
        self.original = original


PROBLEM_JSON = "application/problem+json"
HTML_LANG = {"zh": "zh-CN", "en": "en"}

CODE_OF_STATUS = {
    400: ErrorCode.INVALID_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    422: ErrorCode.INVALID_REQUEST,
    426: ErrorCode.UNSUPPORTED_PROTOCOL,
    429: ErrorCode.RATE_LIMITED,
    503: ErrorCode.UNAVAILABLE,
}

# Office error pages (the sentences are in the server's catalogue, ``server.i18n``).
PAGE_TEXT = {
    400: (N_("Bad request"), N_("The submitted data could not be processed. Check it and retry.")),
    401: (N_("Sign-in needed"), N_("Please sign in first.")),
    403: (N_("Forbidden"), N_("You are not allowed to see this page.")),
    404: (N_("Page not found"), N_("There is no such page. Check the address.")),
    405: (N_("Not allowed"), N_("This page does not support that action.")),
    413: (N_("Too large"), N_("What you submitted is too large.")),
    429: (N_("Too many requests"), N_("Please try again later.")),
    500: (N_("Server error"), N_("The server ran into a problem; it has been logged. Try again.")),
    503: (N_("Server busy"), N_("The server is busy. Try again shortly.")),
}
OTHER_PAGE = (N_("Something went wrong"), N_("The request could not be completed."))


def is_api_request() -> bool:
    """Whether the current request is for the API (problem+json) rather than an office page."""
    path = request.path
    if path.startswith("/api/") or path in ("/api", "/healthz", "/metrics"):
        return True
    return request.blueprint == "api"


def problem_response(
    code: ErrorCode,
    detail: str,
    *,
    status: int,
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """Return a problem+json response."""
    body = problem(code, detail, status=status, errors=errors, **extra)
    metrics.count_error(code.value)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def validation_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Flatten marshmallow's nested messages into field path -> list of messages."""
    if isinstance(messages, dict):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            flat.update(validation_messages(value, name))
        return flat
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "_schema": list(messages)}
    return {prefix or "_schema": [str(messages)]}


def _language() -> str:
    try:
        from flask_babel import get_locale

        locale = get_locale()
    except Exception:  # Babel not set up (H3's office registers it): the default language
        locale = None
    return "en" if locale is not None and str(locale).startswith("en") else "zh"


def page_response(status: int) -> Response:
    """Return the office's HTML error page for a status."""
    lang = _language()
    catalogue = texts(lang)
    title, message = (catalogue.gettext(m) for m in PAGE_TEXT.get(status, OTHER_PAGE))
    text = {"home": catalogue.gettext("Back to the start page"), "lang": HTML_LANG[lang]}
    try:
        html = render_template(
            "error.html", status=status, title=title, message=message, text=text
        )
    except Exception:  # a broken template must not hide the original error
        log.exception("error page template failed")
        html = f"<!doctype html><title>{status}</title><h1>{status} {title}</h1><p>{message}</p>"
    return Response(html, status=status, mimetype="text/html")


def handle_protocol_error(exc: ProtocolError) -> Response:
    if not is_api_request():
        return page_response(exc.status)
    headers = {}
    if exc.code is ErrorCode.RATE_LIMITED and "retry_after" in exc.extra:
        headers["Retry-After"] = str(exc.extra["retry_after"])
    if exc.code is ErrorCode.UNAVAILABLE:
        headers["Retry-After"] = "5"
    return problem_response(
        exc.code, exc.detail, status=exc.status, errors=exc.errors, headers=headers, **exc.extra
    )


def handle_validation_error(exc: ValidationError) -> Response:
    if not is_api_request():
        return page_response(400)
    return problem_response(
        ErrorCode.INVALID_REQUEST,
        "The request does not follow the schema.",
        status=422,
        errors=validation_messages(exc.messages),
    )


def handle_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    if not is_api_request():
        return page_response(status)
    code = CODE_OF_STATUS.get(status, ErrorCode.INVALID_REQUEST if status < 500 else None)
    if code is None:
        code = ErrorCode.INTERNAL
    detail = exc.description or "The request failed."
    if status == 413:
        detail = "The request body is too large."
    response = problem_response(code, detail, status=status)
    if status == 405 and exc.get_response().headers.get("Allow"):
        response.headers["Allow"] = exc.get_response().headers["Allow"]
    return response


def handle_database_error(exc: Exception) -> Response:
    """Render a database error the store did not wrap (a page's own query) as Unavailable."""
    wrapped = exc if isinstance(exc, Unavailable) else Unavailable(exc)
    # Only the exception's class goes to the log: its message may quote data.
    kind = type(wrapped.original).__name__
    log.warning("database unavailable (%s) on %s %s", kind, request.method, _where())
    return handle_protocol_error(wrapped)


def handle_unexpected(exc: Exception) -> Response:
    # Where it failed (file, line, function), never the message, source text or request: those
    # may quote personal data.
    frames = "\n".join(
        f"  {frame.filename}:{frame.lineno} in {frame.name}"
        for frame in traceback.extract_tb(exc.__traceback__)
    )
    log.error("unhandled %s on %s %s\n%s", type(exc).__name__, request.method, _where(), frames)
    if not is_api_request():
        return page_response(500)
    return problem_response(
        ErrorCode.INTERNAL, "The server failed; the failure is logged.", status=500
    )


def _where() -> str:
    return request.url_rule.rule if request.url_rule is not None else "(no route)"


def init_app(app: Flask, database_errors: tuple[type[Exception], ...] = ()) -> None:
    """Register the error handlers on the app (they cover every blueprint).

    ``database_errors`` are the database driver's errors that mean "unavailable" (``server.db``
    knows them), rendered as ``Unavailable``.
    """
    app.register_error_handler(Unavailable, handle_database_error)
    app.register_error_handler(ProtocolError, handle_protocol_error)
    app.register_error_handler(ValidationError, handle_validation_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    for error in database_errors:
        app.register_error_handler(error, handle_database_error)
    app.register_error_handler(Exception, handle_unexpected)
