"""The field UI's blueprint ``bp`` and what every view shares: the language, the store, the clock.

The views themselves live in ``pages`` (home, sync, places, search), ``capture`` (visit and
concern forms) and ``attention`` (rejected changes, conflicts, office notes); they import ``bp``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from flask import Blueprint, current_app, g, redirect, request, url_for
from uuid6 import uuid7
from werkzeug.wrappers import Response

from field_client.i18n import texts
from field_client.web import i18n
from sync import choices

__all__ = [
    "WebState", "bp", "form_key", "lang", "new_form_key", "now", "safe_next", "state", "store",
    "gettext", "L",
]  # fmt: skip

bp = Blueprint("field", __name__)
LANG_COOKIE = "fieldsync_lang"


@dataclass
class WebState:
    """What the app keeps for its lifetime: the device store, the clock, the sync job."""

    home: Any
    store: Any
    now: Callable[[], dt.datetime]
    tz: dt.tzinfo | None
    jobs: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def state() -> WebState:
    """Return the app's WebState."""
    return current_app.extensions["fieldsync_web"]  # type: ignore[no-any-return]


def store() -> Any:
    """Return the device's LocalStore."""
    return state().store


def now() -> dt.datetime:
    """Return the injected current time (aware, local offset)."""
    return state().now()


def lang() -> str:
    """Return the page language: the cookie, else the device setting (Simplified Chinese)."""
    default = state().extra.get("lang", i18n.DEFAULT_LANG)
    code = request.cookies.get(LANG_COOKIE, default)
    return code if code in i18n.LANGS else default


def gettext(message: str, /, **values: Any) -> str:
    """A sentence in the page language, ``%(name)s`` placeholders filled."""
    return texts(lang()).gettext(message, **values)


def L(group: str, value: Any) -> str:  # noqa: N802 - short name used all over the templates
    """Return the label of an enum value in the page language (lists as the workspace has
    them: its categories, its names of visit kinds)."""
    where = i18n.GROUPS.get(group)
    list_name = f"{where[0]}.{where[1]}" if where else ""
    if list_name in choices.FIELDS and value not in (None, ""):
        for entry in list_entries(list_name):
            if entry.key == value:
                return choices.entry_label(lang(), entry)
    return i18n.enum_label(lang(), group, value)


def list_entries(list_name: str) -> list[choices.Entry]:
    """The entries of a workspace list as this device last pulled them (read once a request)."""
    if "fieldsync_lists" not in g:
        g.fieldsync_lists = {r["id"]: r["fields"] for r in store().list("choice")}
    return choices.entries(list_name, g.fieldsync_lists)


def list_keys(list_name: str, held: Any = None) -> list[str]:
    """The keys a form offers: the active entries (and ``held``, the record's own value)."""
    return [e.key for e in list_entries(list_name) if not e.retired or e.key == held]


_KEY = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def new_form_key() -> str:
    """Return a one-time key for a form: the id its main record gets when saved."""
    return str(uuid7())


def form_key() -> str | None:
    """Return the posted form's one-time key when it is a canonical id (else None)."""
    key = request.form.get("form_key", "")
    return key if _KEY.fullmatch(key) else None


def safe_next(default: str) -> str:
    """Return the form's ``next`` when it is a local path, else ``default``."""
    target = request.values.get("next") or ""
    parsed = urlparse(target)
    if target.startswith("/") and not target.startswith("//") and not parsed.netloc:
        return target
    return default


@bp.get("/lang/<code>")
def set_lang(code: str) -> Response:
    """Switch the page language and go back where the representative was."""
    response = redirect(safe_next(url_for("field.home")))
    if code in i18n.LANGS:
        response.set_cookie(LANG_COOKIE, code, max_age=3600 * 24 * 365, samesite="Lax")
    return response
