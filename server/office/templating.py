"""Template helpers: value display, dates in the office's time zone, phone masking, nav counts."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, request
from flask_babel import get_locale
from flask_login import current_user
from jinja2 import Undefined
from markupsafe import Markup

from server.inbox import inbox
from server.office import labels, queries
from server.office.charts import percent_text
from server.office.i18n import LANGUAGES
from server.reports import OPEN_STATUSES
from sync.hlc import Stamp

EMPTY = "—"


def office_tz() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("OFFICE_TIMEZONE", "Asia/Shanghai"))


def local_time(value: Any, seconds: bool = False) -> str:
    """Format a naive-UTC datetime (how tables store time) or ISO text in the office's zone."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        pattern = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
        return value.astimezone(office_tz()).strftime(pattern)
    return str(value)


def stamp_time(stamp: str | None) -> str:
    """The wall-clock time of a stamp, in the office's zone."""
    if not stamp:
        return EMPTY
    try:
        wall = Stamp.wall_of(stamp)
    except ValueError:
        return EMPTY
    return local_time(dt.datetime.fromtimestamp(wall / 1000, dt.UTC), seconds=True)


def mask_phone(phone: Any) -> str:
    """138****1234: keep the first three and last four digits of a phone number."""
    if not phone:
        return EMPTY
    text = str(phone)
    if len(text) >= 8:
        return text[:3] + "*" * (len(text) - 7) + text[-4:]
    return "*" * max(0, len(text) - 2) + text[-2:]


def display(value: Any, record_type: str, name: str, refs: dict[str, str] | None = None) -> str:
    """A field value as people read it: translated choices, referenced records by name."""
    if value is None or value == "" or value == []:
        return EMPTY
    refs = refs or {}
    if isinstance(value, list):
        return "、".join(refs.get(v, str(v)[:8]) for v in value)
    if isinstance(value, bool):
        return labels.field_label("_deleted") if value else EMPTY
    if name.endswith("_id") or name == "duplicate_of":
        return refs.get(value, str(value)[:8])
    if name in ("started_at", "ended_at", "happened_at"):
        return local_time(value)
    if name == "phone":
        return mask_phone(value)
    label = labels.choice_label(record_type, name, value)
    return label or str(value)


def url_with(**changes: Any) -> str:
    """The current URL with some query arguments replaced (None removes one)."""
    args = request.args.to_dict()
    for key, value in changes.items():
        if value is None or value == "":
            args.pop(key, None)
        else:
            args[key] = str(value)
    return request.path + ("?" + urlencode(args) if args else "")


def as_json(value: Any) -> str:
    """A value as the JSON a form carries in its hidden ``shown__`` fields (undefined: null)."""
    if isinstance(value, Undefined):
        value = None
    return json.dumps(value, ensure_ascii=False)


def percent(value: float | None) -> str:
    return EMPTY if value is None else percent_text(value)


def nav_counts() -> dict[str, int]:
    if not current_user.is_authenticated:
        return {}
    ws = current_user.workspace_id
    return {
        "conflicts": queries.open_conflict_count(ws),
        "review": queries.pending_review_count(ws),
        "inbox": my_inbox().count,
    }


def my_inbox() -> Any:
    """The signed-in person's inbox, computed once per request (the page and the navigation)."""
    if "inbox" not in g:
        g.inbox = inbox(current_user.workspace_id, current_user.id, _today())
    return g.inbox


def held_workspaces() -> list[Any]:
    """The workspaces the signed-in user may switch between."""
    from server.street import held_workspaces as held

    return held(current_user.id) if current_user.is_authenticated else []


def _today() -> dt.date:
    from server.office.security import now_ms

    return dt.datetime.fromtimestamp(now_ms() / 1000, office_tz()).date()


def init_templating(app: Flask) -> None:
    app.jinja_env.filters.update(
        local_time=local_time,
        stamp_time=stamp_time,
        mask_phone=mask_phone,
        percent=percent,
        as_json=as_json,
    )

    @app.context_processor
    def office_context() -> dict[str, Any]:
        if request.blueprint != "office":
            return {}
        locale = get_locale()
        lang = locale.language if locale else "zh"
        return {
            "display": display,
            "labels": labels,
            "url_with": url_with,
            "languages": LANGUAGES,
            "lang": lang,
            "html_lang": "zh-Hans" if lang == "zh" else "en",
            "nav_counts": nav_counts,
            "open_statuses": OPEN_STATUSES,
            "held_workspaces": held_workspaces,
            "svg": Markup,
        }
