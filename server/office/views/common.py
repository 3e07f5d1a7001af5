"""Helpers shared by the office views: reading filters from the query string, today's date."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app, request
from flask_babel import gettext as _
from flask_login import current_user

from server.office import access, labels, queries
from server.office.access import workspace_id
from server.office.security import now_ms
from server.office.templating import office_tz
from server.reports import STALE_DAYS
from sync import strict
from sync.records import RECORD_TYPES, Choice


def today() -> dt.date:
    """Today in the office's time zone, by the app's (injectable) clock."""
    return dt.datetime.fromtimestamp(now_ms() / 1000, office_tz()).date()


def parse_date(name: str, errors: list[str]) -> dt.date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return strict.parse_date(raw)
    except ValueError:
        errors.append(_("“%(value)s” is not a date like 2024-05-31; it was ignored.", value=raw))
        return None


def parse_page(errors: list[str]) -> int:
    raw = request.args.get("page", "1").strip() or "1"
    try:
        return strict.parse_int(raw, 1, 999_999)
    except ValueError:
        pass
    errors.append(_("“%(value)s” is not a page number; showing the first page.", value=raw[:40]))
    return 1


def parse_filter(record_type: str) -> queries.RecordFilter:
    """Read a list's filters; anything malformed is ignored with a message, never an error."""
    errors: list[str] = []
    rules = RECORD_TYPES[record_type].rules
    f = queries.RecordFilter(errors=errors)
    f.search = request.args.get("q", "").strip()[:100]
    f.deleted = request.args.get("deleted") == "1"
    if request.args.get("overdue") == "1":  # open for more than 30 days (as on the dashboard)
        f.stale_before = today() - dt.timedelta(days=STALE_DAYS)
    for arg, attr, name in (
        ("status", "status", "status"),
        ("category", "category", "category"),
        ("kind", "kind", "kind"),
        ("review", "review", "review_status"),
    ):
        value = request.args.get(arg, "").strip()
        rule = rules.get(name)
        if not value or rule is None:
            continue
        if isinstance(rule, Choice) and value in labels.choice_values(
            record_type, name, held=value
        ):
            setattr(f, attr, value)
        else:
            errors.append(_("Unknown filter value “%(value)s” was ignored.", value=value[:40]))
    f.place_id = _ref_arg("place", errors)
    f.created_by = _user_arg(errors)
    f.today = today()
    if record_type == "concern":
        _casework_args(f, errors)
    f.since = parse_date("since", errors)
    f.until = parse_date("until", errors)
    if f.since and f.until and f.since > f.until:
        errors.append(_("The period ends before it starts; the dates were swapped."))
        f.since, f.until = f.until, f.since
    f.page = parse_page(errors)
    return f


def _casework_args(f: queries.RecordFilter, errors: list[str]) -> None:
    """Read the owner, due and sort arguments of the concern list."""
    owner = request.args.get("owner", "").strip()
    if owner == "me":
        owner = str(current_user.id)
    if owner and owner != "none" and owner not in queries.user_labels(workspace_id()):
        errors.append(_("Unknown owner “%(value)s” was ignored.", value=owner[:40]))
        owner = ""
    f.owner = owner
    for arg, allowed in (("due", ("overdue", "week")), ("sort", ("due", "voices"))):
        value = request.args.get(arg, "").strip()
        if value and value not in allowed:
            errors.append(_("Unknown filter value “%(value)s” was ignored.", value=value[:40]))
        elif value:
            setattr(f, arg, value)


def _ref_arg(name: str, errors: list[str]) -> str:
    value = request.args.get(name, "").strip()
    if not value:
        return ""
    if len(value) == 36 and queries.get(workspace_id(), value, name) is not None:
        return value
    errors.append(_("Unknown place “%(value)s” was ignored.", value=value[:40]))
    return ""


def _user_arg(errors: list[str]) -> str:
    value = request.args.get("rep", "").strip()
    if not value:
        return ""
    if value in queries.user_labels(workspace_id()):
        return value
    errors.append(_("Unknown representative “%(value)s” was ignored.", value=value[:40]))
    return ""


def record_or_404(record_type: str, record_id: str) -> dict[str, Any]:
    """Return a record of the user's workspace, or the 404 page (through ``access.owned``)."""
    return access.owned_or_404("record", record_id, record_type)  # type: ignore[no-any-return]


def page_size() -> int:
    return int(current_app.config["OFFICE_PAGE_SIZE"])
