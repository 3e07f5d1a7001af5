"""The field client's local web UI: a Flask app over one device's ``LocalStore``.

``create_app(home)`` builds it; ``serve(home)`` runs it on 127.0.0.1 (a free port unless told),
prints the address and opens the browser. Pages are server-rendered Jinja in Simplified Chinese
(English on request) with a little vanilla JavaScript; every asset is local, so the UI works with
no network at all. Forms carry a per-session CSRF token (Flask-WTF), because any web page the
representative opens could otherwise post to a server on localhost.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import sys
import threading
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from field_client import config as client_config
from field_client.errors import ClientError, NotEnrolled, Offline, Refused, ServerError
from field_client.i18n import texts
from field_client.store import LocalStore
from field_client.web.syncjob import Reachability, SyncJob, log

__all__ = ["create_app", "serve"]

CHECK_TIMEOUT = 3.0
SECRET_FILE = "web-secret"  # seconds for the home page's "is the server there" check


def _local_now() -> dt.datetime:
    return dt.datetime.now().astimezone()


def create_app(
    home: Path | str,
    *,
    store: LocalStore | None = None,
    now: Callable[[], dt.datetime] | None = None,
    tz: dt.tzinfo | None = None,
    runner: Callable[..., dict[str, Any]] | None = None,
    check: Callable[[], bool | None] | None = None,
    secret_key: str | None = None,
) -> Flask:
    """Build the field UI for the device home ``home``.

    The keyword arguments are for tests and the demo: an open ``store``, an injected clock
    ``now`` (aware datetimes) and time zone ``tz``, a sync ``runner(progress) -> dict`` and a
    reachability ``check() -> bool | None``. By default sync and check use the real server.
    """
    from field_client.web import attention, capture, concerns, pages, photos  # noqa: F401
    from field_client.web.views import WebState, bp, lang

    home = Path(home)
    store = store or LocalStore(home)
    settings = client_config.load(home)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret_key or _secret_key(home),
        WTF_CSRF_TIME_LIMIT=None,  # a form may stay open for a whole visit
        SESSION_COOKIE_SAMESITE="Strict",
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,  # forms with photos get more (web/photos.py)
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    CSRFProtect(app)
    web = WebState(home=home, store=store, now=now or _local_now, tz=tz)
    web.jobs = SyncJob(runner or _http_runner(store, settings))
    web.extra["reach"] = Reachability(check or _http_check(store))
    web.extra["lang"] = settings.lang  # FIELDSYNC_LANG; the page's toggle overrides it
    app.extensions["fieldsync_web"] = web
    app.register_blueprint(bp)

    @app.context_processor
    def inject() -> dict[str, Any]:
        from field_client.web.forms import format_local
        from field_client.web.pages import attention_count
        from field_client.web.views import L, gettext, new_form_key

        try:
            count = attention_count()
        except ClientError:
            count = 0
        return {
            "_": gettext,
            "L": L,
            "lang": lang(),
            "attention_count": count,
            "fmt_time": format_local,
            "new_form_key": new_form_key,
            "visit_line": _visit_line,
        }

    @app.teardown_request
    def close_connection(exc: BaseException | None) -> None:
        # Each request runs in its own thread; give its SQLite connection back at once.
        if not store.db.in_transaction():
            store.close()

    _register_errors(app)
    app.before_request(_only_its_own_address)
    return app


def _visit_line(visit: dict[str, Any]) -> str:
    """Give a visit a readable line in the page language (see ``queries.visit_line``)."""
    from field_client.web import queries
    from field_client.web.views import L, store

    return queries.visit_line(store(), visit, L("visit_kind", visit.get("kind")))


LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def allowed_host(host: str, app: Flask) -> bool:
    """Whether ``host`` (a Host header) names this UI: a loopback name, and its port once known.

    Any other name is a web page that had its own name resolve to 127.0.0.1 (DNS rebinding):
    it must get nothing, or it could read names and write records through this UI.
    """
    name, port = _split_host(host.lower())
    if name not in LOOPBACK_NAMES:
        return False
    known = app.config.get("FIELDSYNC_WEB_PORT")
    return known is None or port == "" or port == str(known)


def _split_host(host: str) -> tuple[str, str]:
    """Split a Host header into its name and port ("" when none)."""
    if host.startswith("["):
        name, _, rest = host.partition("]")
        return name + "]", rest[1:] if rest.startswith(":") else rest
    name, _, port = host.partition(":")
    return name, port


def _same_origin(origin: str, app: Flask) -> bool:
    scheme, sep, host = origin.partition("://")
    return bool(sep) and scheme == "http" and "/" not in host and allowed_host(host, app)


def _only_its_own_address() -> None:
    """Refuse requests for another host name, and writes sent from another origin's page."""
    from flask import abort, current_app, request

    if not allowed_host(request.host, current_app):
        abort(400)
    if request.method in WRITE_METHODS:
        origin = request.headers.get("Origin")
        if origin is not None and not _same_origin(origin, current_app):
            abort(403)
        referrer = request.headers.get("Referer")
        if (
            origin is None
            and referrer
            and not _same_origin("/".join(referrer.split("/", 3)[:3]), current_app)
        ):
            abort(403)


def _secret_key(home: Path) -> str:
    """Return the UI's session key, kept in the device home (0600) so that a form left open
    across a restart still posts."""
    path = home / SECRET_FILE
    try:
        key = path.read_text(encoding="utf-8").strip()
        if len(key) >= 32:
            return key
    except OSError:
        pass
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(key)
    except OSError:
        pass  # a read-only home: sessions then last as long as this process
    return key


def _register_errors(app: Flask) -> None:
    from field_client.web.views import gettext

    @app.errorhandler(CSRFError)
    def csrf_failed(exc: CSRFError) -> tuple[str, int]:
        return render_template(
            "error.html",
            title=gettext("This page expired; please submit it again."),
            message=gettext("This page expired; please submit it again."),
        ), 400

    @app.errorhandler(404)
    def not_found(exc: Exception) -> tuple[str, int]:
        body = render_template(
            "error.html", title=gettext("Not found"), message=gettext("That record was not found.")
        )
        return body, 404

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int]:
        message = gettext("That request could not be handled; go home and retry.")
        return render_template("error.html", title=message, message=message), exc.code or 400

    @app.errorhandler(ClientError)
    def store_failed(exc: ClientError) -> tuple[str, int]:
        if isinstance(exc, NotEnrolled):
            message = gettext(
                "This device is not enrolled yet, so nothing can be saved. Run fieldsync "
                "init first."
            )
        else:
            message = gettext(
                "The local database could not be written: %(detail)s", detail=exc.detail or exc.key
            )
        return render_template("error.html", title=message, message=message), 503


def _http_runner(store: LocalStore, settings: Any) -> Callable[..., dict[str, Any]]:
    """Return a runner that syncs the store with its enrolled server over HTTP."""

    def run(progress: Callable[[str, int, int | None], None]) -> dict[str, Any]:
        from field_client.syncer import sync_once
        from field_client.transport import HttpTransport

        try:
            creds = store.credentials()
        except NotEnrolled:
            return {"failed": True, "not_enrolled": True}
        transport = HttpTransport(
            creds["server_url"], creds["token"], timeout=settings.timeout,
            retries=settings.retries, backoff=settings.backoff,
        )  # fmt: skip
        try:
            report = sync_once(store, transport, store.clock, progress)
        except ClientError as exc:  # the local store failed (locked, damaged)
            log.warning("sync failed: %s (%s)", type(exc).__name__, exc.key)
            return {"failed": True, "reason_key": exc.key, "reason": exc.detail}
        finally:
            transport.close()
            store.close()  # this thread's connection
        return report_dict(report.to_json())

    return run


def report_dict(report: dict[str, Any]) -> dict[str, Any]:
    """Mark a SyncReport's JSON as failed (with a reason key) when it did not run to the end."""
    result = dict(report)
    if result.get("error"):
        result["failed"] = True
        result["reason_key"] = result["error"]
    return result


def _http_check(store: LocalStore) -> Callable[[], bool | None]:
    """Return a quick check (one request, short timeout, no retries) of the enrolled server."""

    def check() -> bool | None:
        from field_client.transport import HttpTransport

        try:
            creds = store.credentials()
        except (NotEnrolled, ClientError):
            return None
        transport = HttpTransport(
            creds["server_url"], creds["token"], timeout=CHECK_TIMEOUT, retries=0
        )
        try:
            transport.device()
            return True
        except Refused:
            return True  # it answered as a Fieldsync server (say, with device_revoked)
        except (Offline, ServerError):
            return False
        finally:
            transport.close()

    return check


def _handler_class() -> type:
    """A request handler whose log lines leave out query strings (searches hold names)."""
    from werkzeug.serving import WSGIRequestHandler

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            path = getattr(self, "path", "").split("?", 1)[0]
            self.log("info", '"%s %s" %s', self.command, path, code)

    return QuietHandler


def serve(
    home: Path | str, host: str = "127.0.0.1", port: int = 0, open_browser: bool = True
) -> None:
    """Serve the field UI on ``host`` (loopback) at ``port`` (0: a free one) until interrupted."""
    from werkzeug.serving import make_server

    app = create_app(home)
    server = make_server(host, port, app, threaded=True, request_handler=_handler_class())
    app.config["FIELDSYNC_WEB_PORT"] = server.server_port  # now the Host must name this port
    url = f"http://{host}:{server.server_port}/"
    lang = client_config.load(home).lang
    print(
        texts(lang).gettext("Field UI running at %(url)s  (Ctrl+C to stop)", url=url), flush=True
    )
    if open_browser:
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print(texts(lang).gettext("Field UI stopped."), file=sys.stderr)
    finally:
        server.server_close()
