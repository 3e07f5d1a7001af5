"""Who may use the office pages: sessions, roles and the login throttle.

Only ``staff`` and ``admin`` users may sign in; representatives use their field devices. Every
office page needs a signed-in user (checked once, in ``bp.before_request``); admin pages add
``admin_required``. Wrong passwords are throttled per username and client address.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import wraps
from typing import Any

from flask import Flask, abort, current_app, redirect, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from server import limits, services
from server.office import bp

OFFICE_ROLES = frozenset({"staff", "admin"})
PUBLIC_ENDPOINTS = frozenset(
    {"office.login", "office.set_language", "office.static", "office.favicon"}
)

CHANGE_ENDPOINTS = frozenset({"office.change_password", "office.logout"})

login_manager = LoginManager()


@dataclass(frozen=True)
class OfficeUser(UserMixin):
    """The signed-in office user, detached from the database row."""

    id: str
    username: str
    display_name: str
    role: str
    workspace_id: str
    must_change_password: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def label(self) -> str:
        return self.display_name or self.username


def office_user(row: Any) -> OfficeUser:
    """Wrap a ``server.models.User`` row."""
    return OfficeUser(
        id=row.id,
        username=row.username,
        display_name=row.display_name or "",
        role=row.role,
        workspace_id=row.workspace_id,
        must_change_password=bool(row.must_change_password),
    )


def init_login(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "office.login"
    login_manager.session_protection = "strong"


SESSION_KEY = "office_sid"
WORKSPACE_KEY = "workspace_id"  # the session's chosen workspace (administrators holding several)


@login_manager.user_loader
def load_user(user_id: str) -> OfficeUser | None:
    """Return the user of a live server-side session; a copied or ended cookie gives None."""
    ttl = dt.timedelta(seconds=int(current_app.config["OFFICE_SESSION_SECONDS"]))
    row = services.session_user(session.get(SESSION_KEY), user_id, now=now_ms(), ttl=ttl)
    if row is None or row.role not in OFFICE_ROLES:
        return None
    user = office_user(row)
    chosen = session.get(WORKSPACE_KEY)
    if row.role == "admin" and isinstance(chosen, str) and chosen != row.workspace_id:
        from server.street import holds

        if holds(row.id, chosen):  # a workspace the administrator holds: work there
            return replace(user, workspace_id=chosen)
        session.pop(WORKSPACE_KEY, None)
    return user


def begin_session(row: Any) -> None:
    """Sign a user in: a new session cookie naming a new server-side session record."""
    session.clear()
    session[SESSION_KEY] = services.start_session(row, now=now_ms())
    session.permanent = False
    login_user(office_user(row))


def end_session() -> None:
    """Sign out: end the server-side record, so every copy of the cookie stops working."""
    services.end_session(session.get(SESSION_KEY), now=now_ms())
    logout_user()
    session.clear()


@login_manager.unauthorized_handler
def unauthorized() -> Any:
    return redirect(url_for("office.login", next=request.full_path.rstrip("?")))


@bp.before_request
def require_office_user() -> Any:
    """Every office page except login, language and assets needs a staff or admin session."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if current_user.must_change_password and request.endpoint not in CHANGE_ENDPOINTS:
        return redirect(url_for("office.change_password"))  # after a reset: a new one first
    return None


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse the page with 403 unless the signed-in user is an admin."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def now_ms() -> int:
    """The app's clock in epoch milliseconds (injectable through the ``NOW_MS`` setting)."""
    clock = current_app.config.get("NOW_MS")
    return int(clock()) if callable(clock) else int(time.time() * 1000)


class LoginThrottle:
    """Counts failed logins per (username, address), and per username from every address
    (four times as many), in the shared rate-limit storage: every worker counts together."""

    USER_FACTOR = 4

    def __init__(self, app: Flask, lock_ms: int) -> None:
        self._counts = limits.counter("login", max(1, lock_ms // 1000), app)

    @staticmethod
    def _keys(key: tuple[str, str]) -> tuple[str, str]:
        return f"{key[0]}|{key[1]}", f"{key[0]}|*"

    def locked_for(self, key: tuple[str, str], now: int, limit: int, lock_ms: int) -> int:
        """Milliseconds the pair is still locked out (0 when it may try)."""
        pair, user = self._keys(key)
        waits = [
            self._counts.retry_after(pair, now / 1000, limit),
            self._counts.retry_after(user, now / 1000, limit * self.USER_FACTOR),
        ]
        return max((w or 0) for w in waits) * 1000

    def fail(self, key: tuple[str, str], now: int) -> None:
        for name in self._keys(key):
            self._counts.hit(name, now / 1000)

    def clear(self, key: tuple[str, str], now: int) -> None:
        self._counts.clear(self._keys(key)[0], now / 1000)


def throttle() -> LoginThrottle:
    found = current_app.extensions.get("office_throttle")
    if found is None:
        lock_ms = int(current_app.config["OFFICE_LOGIN_LOCK_SECONDS"]) * 1000
        found = current_app.extensions["office_throttle"] = LoginThrottle(current_app, lock_ms)
    return found  # type: ignore[no-any-return]


# Scripts only from the server's own files (no inline code or event handlers); no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


def add_security_headers(response: Any) -> Any:
    """Give every response the security headers it does not set itself (blobs set a stricter
    policy of their own)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
