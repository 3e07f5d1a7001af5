"""The office web pages: review, casework, conflicts, reports, users and devices.

``init_app(app)`` registers the blueprint ``bp`` at ``/`` together with what the pages need:
Flask-Login sessions (staff and admin only), CSRF protection on every form (the JSON API is exempt:
devices authenticate with bearer tokens) and Flask-Babel (Simplified Chinese by default).
"""

from __future__ import annotations

from flask import Blueprint, Flask
from flask_wtf.csrf import CSRFProtect

bp = Blueprint(
    "office",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/office-static",
)

csrf = CSRFProtect()

# The views register their routes on ``bp`` when imported.
from server.office.views import (  # noqa: E402, F401
    admin,
    auth,
    casework,
    concerns,
    conflicts,
    dashboard,
    exports,
    imports,
    lists,
    photos,
    records,
    review,
    street,
)


def init_app(app: Flask) -> None:
    """Register the office pages and their extensions on the app."""
    from server.office import i18n, security, templating

    app.config.setdefault("OFFICE_PAGE_SIZE", 50)
    app.config.setdefault("OFFICE_EXPORT_CAP", 50_000)
    app.config.setdefault("OFFICE_TIMEZONE", "Asia/Shanghai")
    app.config.setdefault("OFFICE_LOGIN_MAX_FAILURES", 5)
    app.config.setdefault("OFFICE_LOGIN_LOCK_SECONDS", 300)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # a form may stay open all day
    app.config.setdefault("OFFICE_SESSION_SECONDS", 12 * 3600)  # then sign in again
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SECURE"] = bool(app.config.get("SESSION_SECURE"))
    app.after_request(security.add_security_headers)
    csrf.init_app(app)
    _exempt_api(app)
    i18n.babel.init_app(
        app, default_locale=i18n.DEFAULT_LANGUAGE, locale_selector=i18n.select_language
    )
    security.init_login(app)
    templating.init_templating(app)
    app.register_blueprint(bp, url_prefix="/")


def _exempt_api(app: Flask) -> None:
    """Exempt the device API from CSRF (bearer tokens, no cookies), whenever it is registered."""
    try:
        from server.api import bp as api_bp
    except ImportError:  # the API is not part of this app (e.g. a minimal test app)
        return
    csrf.exempt(api_bp)
