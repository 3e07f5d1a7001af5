"""Sign in and out, the language switch, and the office's own error pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from server import services
from server.office import bp
from server.office.i18n import COOKIE, LANGUAGES
from server.office.security import OFFICE_ROLES, begin_session, end_session, now_ms, throttle


def safe_next(target: str | None) -> str:
    """Only same-site paths are followed after sign-in (no open redirects)."""
    if not target:
        return url_for("office.dashboard")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target[1:2] in ("/", "\\"):
        return url_for("office.dashboard")
    return target


@bp.route("/favicon.ico")
def favicon() -> Any:
    """Point browsers that ask for /favicon.ico at the office's icon."""
    return redirect(url_for("office.static", filename="favicon.svg"), 301)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return render_template("office/login.html", next=request.args.get("next", ""))
    username = request.form.get("username", "").strip()[:100]
    password = request.form.get("password", "")
    key = (username.lower(), request.remote_addr or "-")
    config = current_app.config
    limit = int(config["OFFICE_LOGIN_MAX_FAILURES"])
    lock_ms = int(config["OFFICE_LOGIN_LOCK_SECONDS"]) * 1000
    wait_ms = throttle().locked_for(key, now_ms(), limit, lock_ms)
    if wait_ms:
        minutes = max(1, -(-wait_ms // 60_000))
        body = render_template("office/error.html", status=429, title=_("Too many attempts"),
                               message=_("Too many wrong passwords. Try again in %(n)d minutes.",
                                         n=minutes))  # fmt: skip
        return body, 429, {"Retry-After": str(-(-wait_ms // 1000))}
    user = services.check_password(username, password) if username and password else None
    if user is None:
        throttle().fail(key, now_ms())
        error = _("Wrong username or password.")
        return render_template("office/login.html", error=error, username=username), 401
    if user.role not in OFFICE_ROLES:
        message = _(
            "Representatives use the Fieldsync app on their device. The office pages are for "
            "office staff and administrators."
        )
        title = _("Office pages are for staff")
        return render_template("office/error.html", status=403, title=title, message=message), 403
    throttle().clear(key, now_ms())
    begin_session(user)
    return redirect(safe_next(request.form.get("next")))


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    end_session()
    return redirect(url_for("office.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password() -> Any:
    """Change one's own password (required first after an administrator's reset)."""
    error, status = None, 200
    if request.method == "POST":
        new = request.form.get("new", "")
        if new != request.form.get("confirm", ""):
            error, status = _("The two new passwords differ."), 422
        else:
            try:
                services.change_password(
                    current_user.username, request.form.get("current", ""), new
                )
            except services.ServiceError as exc:
                error, status = _password_message(exc), 422
            else:
                begin_session(services.get_user(current_user.username))  # the others ended
                flash(_("Your password is changed."), "success")
                return redirect(url_for("office.dashboard"))
    forced = current_user.must_change_password
    return render_template("office/password.html", error=error, forced=forced), status


def _password_message(exc: Any) -> str:
    messages = {
        "wrong_password": _("The current password is wrong."),
        "short_password": _("A password needs at least 8 characters."),
        "same_password": _("Choose a password you have not used."),
    }
    return str(messages.get(exc.key, exc.detail))


@bp.route("/lang/<code>")
def set_language(code: str) -> Any:
    """Switch the pages' language (kept in the session and in a long-lived cookie)."""
    if code not in LANGUAGES:
        code = "zh"
    session["lang"] = code
    response = redirect(safe_next(request.args.get("next")))
    response.set_cookie(COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True,
                        secure=bool(current_app.config.get("SESSION_SECURE")))  # fmt: skip
    return response


@bp.app_errorhandler(CSRFError)
def csrf_refused(exc: CSRFError) -> Any:
    """A form without a valid token (forged, or an expired session): refuse, change nothing."""
    title = _("The form could not be accepted")
    message = _(
        "This form was not sent from a page of this site, or your session has expired. "
        "Nothing was changed. Go back, reload the page and try again."
    )
    return render_template("office/error.html", status=400, title=title, message=message), 400


@bp.errorhandler(403)
def forbidden(exc: Any) -> Any:
    title = _("Not allowed")
    message = _("This page is for administrators. Ask an administrator if you need it.")
    return render_template("office/error.html", status=403, title=title, message=message), 403


@bp.errorhandler(404)
def not_found(exc: Any) -> Any:
    title = _("Not found")
    message = _("There is no such page or record in this workspace.")
    return render_template("office/error.html", status=404, title=title, message=message), 404
