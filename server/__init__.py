"""The Fieldsync office server: the device API, the office pages, the store, the CLI."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, opened without a signer when the request sent no session
    cookie (every device request): its session is a new, empty one either way, and building the
    signer cost a tenth of the CPU of a small pull."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Create the server app: config, database, API blueprint, error handlers, office pages.

    ``test_config`` wins over every other source. ``INSTANCE_PATH`` in it (or the environment's
    FIELDSYNC_INSTANCE_PATH) moves the instance folder; ``AUTO_UPGRADE`` runs the migrations
    (tests and demos; a real deployment runs ``fieldsync-server db upgrade``). ``OFFICE_PAGES``
    False serves the device API alone.
    """
    from server import api, config, errors, field_app, limits, malloc, metrics
    from server.db import UNAVAILABLE_ERRORS, open_database

    malloc.keep_large_blocks_out_of_the_heap()

    test_config = dict(test_config or {})
    instance = test_config.pop("INSTANCE_PATH", None) or config.instance_path_from_env()
    app = Flask(
        __name__,
        instance_path=str(Path(instance).resolve()) if instance else None,
        instance_relative_config=True,
    )
    config.load(app, test_config)
    app.session_interface = CookieSessions()
    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]  # Flask's documented way
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )
    db = open_database(app.config["DATABASE_URL"])
    app.extensions["fieldsync_db"] = db
    if app.config["AUTO_UPGRADE"]:
        from server import migrations

        migrations.upgrade(db)
        if not db.is_closed():
            db.close()

    @app.before_request
    def _connect() -> None:
        db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(_exc: BaseException | None) -> None:
        if not db.is_closed():
            db.close()

    errors.init_app(app, database_errors=UNAVAILABLE_ERRORS)
    limits.init_app(app)
    app.register_blueprint(api.bp)
    field_app.init_app(app)
    app.add_url_rule("/healthz", "healthz", api.healthz)
    metrics.init_app(app)
    if app.config["OFFICE_PAGES"] and importlib.util.find_spec("server.office") is not None:
        office = importlib.import_module("server.office")
        if hasattr(office, "init_app"):
            office.init_app(app)
    return app
