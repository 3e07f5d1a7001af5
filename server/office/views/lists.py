"""The workspace's lists (admins only): concern categories and the names of visit kinds.

Each entry is a ``choice`` record, written as an office edit, so devices pull it like any record
and a rename racing another edit merges like any field (docs/protocol.md section 4).
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from server import store
from server.office import bp, labels
from server.office.security import admin_required, now_ms
from server.office.views.common import workspace_id
from sync import choices
from sync.records import LISTS

_MAX_NAME = 100


def _list_or_404(list_name: str) -> str:
    if list_name not in LISTS:
        abort(404)
    return list_name


@bp.route("/admin/lists/<list_name>")
@admin_required
def admin_list(list_name: str) -> Any:
    return _page(_list_or_404(list_name), {}, 200)


def _page(list_name: str, errors: dict[str, str], status: int) -> Any:
    return render_template(
        "office/admin/list.html",
        list_name=list_name,
        lists=LISTS,
        entries=labels.entries(list_name),
        open_list=list_name in choices.OPEN_LISTS,
        form=request.form if status != 200 else {},
        errors=errors,
    ), status


def _read(form: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Read the inputs of an entry form: (values, field -> error)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in ("name_zh", "name_en"):
        text = form.get(name, "").strip()
        if len(text) > _MAX_NAME:
            errors[name] = _("At most %(n)d characters.", n=_MAX_NAME)
        values[name] = text or None
    for name, low, high in (("position", 0, 1_000_000), ("days", 1, 3650)):
        text = form.get(name, "").strip()
        if not text:
            values[name] = None
        elif text.isascii() and text.isdigit() and low <= int(text) <= high:
            values[name] = int(text)
        else:
            errors[name] = _("A whole number from %(low)d to %(high)d.", low=low, high=high)
    if "retired" in form:
        values["retired"] = form.get("retired") == "1"
    return values, errors


@bp.route("/admin/lists/<list_name>/add", methods=["POST"])
@admin_required
def admin_list_add(list_name: str) -> Any:
    list_name = _list_or_404(list_name)
    if list_name not in choices.OPEN_LISTS:
        abort(404)
    values, errors = _read(request.form)
    if not values.get("name_zh") and not values.get("name_en"):
        errors["name_zh"] = _("Give the entry a name.")
    if values.get("position") is None:
        last = max((e.position for e in labels.entries(list_name)), default=0)
        values["position"] = last + 10
    record_id = str(uuid.uuid4())
    values.update({"list": list_name, "key": "c" + record_id.replace("-", "")[:12]})
    return _save(list_name, record_id, values, {}, errors, _("Entry added."))


@bp.route("/admin/lists/<list_name>/<key>", methods=["POST"])
@admin_required
def admin_list_edit(list_name: str, key: str) -> Any:
    list_name = _list_or_404(list_name)
    entry = next((e for e in labels.entries(list_name) if e.key == key), None)
    if entry is None:
        abort(404)
    values, errors = _read(request.form)
    if entry.record_id is None:  # a default entry, first changed: its record is made now
        record_id, bases = str(uuid.uuid4()), {}
        values.update({"list": list_name, "key": key})
    else:
        record_id = entry.record_id
        stamps = store.list_entries(workspace_id())[record_id]["stamps"]
        bases = {name: request.form.get(f"base__{name}") or stamps.get(name) for name in values}
    values = {k: v for k, v in values.items() if not (v is None and entry.record_id is None)}
    return _save(list_name, record_id, values, bases, errors, _("Entry saved."))


def _save(
    list_name: str,
    record_id: str,
    values: dict[str, Any],
    bases: dict[str, Any],
    errors: dict[str, str],
    done: str,
) -> Any:
    if errors:
        flash(_("Nothing was saved: please check the marked fields."), "error")
        return _page(list_name, errors, 422)
    result = store.office_edit(
        workspace_id(), current_user.id, "choice", record_id, values, bases, now_ms=now_ms()
    )
    if result.rejected:
        found = result.rejected[0].get("errors", {})
        shown = {name: "; ".join(labels.fault(m) for m in found[name]) for name in found}
        flash(_("Nothing was saved: please check the marked fields."), "error")
        return _page(list_name, shown, 422)
    if result.conflicts:
        message = _("Saved; someone changed the same entry at the same time: see Conflicts.")
        flash(message, "warning")
    else:
        flash(done, "success")
    return redirect(url_for("office.admin_list", list_name=list_name))
