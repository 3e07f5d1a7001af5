"""The conflict queue: both values side by side; keep one or type a new one."""

from __future__ import annotations

import json
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from server import store
from server.office import access, bp, forms, labels, queries
from server.office.security import now_ms
from server.office.views.common import page_size, parse_page, workspace_id
from server.office.views.records import detail_url
from sync import ProtocolError
from sync.records import RECORD_TYPES, Choice


def _value(text: str | None) -> Any:
    try:
        return None if text is None else json.loads(text)
    except ValueError:
        return text


@bp.route("/conflicts")
def conflict_list() -> Any:
    ws = workspace_id()
    errors: list[str] = []
    number = parse_page(errors)
    rows, total = queries.open_conflicts(ws, number, page_size())
    records = {r["id"]: r for r in queries.by_ids(ws, [c.record_id for c in rows])}
    items = []
    ids: list[str] = []
    for c in rows:
        record = records.get(c.record_id)
        rule = RECORD_TYPES.get(c.record_type, RECORD_TYPES["concern"]).rules.get(c.field)
        kept, other = _value(c.kept_value), _value(c.other_value)
        for value in (kept, other):
            if c.field.endswith("_id") and isinstance(value, str):
                ids.append(value)
        items.append({
            "conflict": c, "record": record, "kept": kept, "other": other,
            "current": record["fields"].get(c.field) if record else None,
            "widget": forms.widget_of(rule) if rule is not None else "text",
            "choices": (
                labels.choice_values(c.record_type, c.field) if isinstance(rule, Choice) else []
            ),
            "url": detail_url(record) if record else None,
        })  # fmt: skip
    return render_template(
        "office/conflicts.html",
        items=items,
        total=total,
        number=number,
        pages=max(1, -(-total // page_size())),
        errors=errors,
        users=queries.user_labels(ws),
        devices=queries.device_labels(ws),
        refs=queries.labels(ws, ids),
    )


@bp.route("/conflicts/<conflict_id>/resolve", methods=["POST"])
def conflict_resolve(conflict_id: str) -> Any:
    ws = workspace_id()
    conflict = access.owned("conflict", conflict_id)
    if conflict is None:
        flash(_("This conflict no longer exists."), "error")
        return redirect(url_for("office.conflict_list"))
    choice = request.form.get("choice", "")
    if choice == "kept":
        value = _value(conflict.kept_value)
    elif choice == "other":
        value = _value(conflict.other_value)
    elif choice == "custom":
        rule = RECORD_TYPES[conflict.record_type].rules.get(conflict.field)
        if rule is None:
            flash(_("This field cannot be typed in here."), "error")
            return redirect(url_for("office.conflict_list"))
        value, error = forms.coerce(rule, request.form.get("custom", ""))
        if error:
            flash(error, "error")
            return redirect(url_for("office.conflict_list"))
    else:
        flash(_("Choose which value to keep."), "error")
        return redirect(url_for("office.conflict_list"))
    try:
        result = store.resolve_conflict(ws, conflict_id, current_user.id, value, now_ms=now_ms())
    except ProtocolError:
        flash(_("This conflict was already resolved by someone else."), "warning")
        return redirect(url_for("office.conflict_list"))
    if result.rejected:
        flash(_("That value is not valid for this field; the conflict stays open."), "error")
    else:
        flash(_("Conflict resolved. The chosen value will reach the devices at their next sync."),
              "success")  # fmt: skip
    return redirect(url_for("office.conflict_list"))
