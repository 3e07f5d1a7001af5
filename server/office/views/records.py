"""Visits, places, people and projects: lists, detail pages; and the edit form of every type.

Every write goes through ``server.store.office_edit`` with the stamps the form showed, so it is
stamped, audited and synced to devices, and a stale form becomes a conflict page, not an overwrite.
"""

from __future__ import annotations

import json
from typing import Any

import uuid6
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from server import store
from server.office import bp, forms, labels, queries
from server.office.security import now_ms
from server.office.views.common import (
    page_size,
    parse_filter,
    record_or_404,
    today,
    workspace_id,
)
from server.store.records import log_reveal
from sync.records import RECORD_TYPES, Ref, RefList

PLURAL_PATHS = {"visit": "visits", "place": "places", "party": "people", "project": "projects"}
TYPE_OF_PATH = {v: k for k, v in PLURAL_PATHS.items()}
LIST_COLUMNS = {
    "visit": ("started_at", "kind", "title", "place_id", "attendee_count", "review_status"),
    "place": ("name", "kind", "parent_id", "address"),
    "party": ("name", "kind", "organisation", "phone", "place_id"),
    "project": ("title", "status", "place_id", "started_on", "completed_on", "progress"),
}
EDITABLE_TYPES = ("concern", "visit", "place", "party", "project")


def detail_url(record: dict[str, Any]) -> str:
    if record["type"] == "concern":
        return url_for("office.concern_detail", record_id=record["id"])
    if record["type"] in PLURAL_PATHS:
        return url_for("office.record_detail", path=PLURAL_PATHS[record["type"]],
                       record_id=record["id"])  # fmt: skip
    return url_for("office.history", record_type=record["type"], record_id=record["id"])


def ref_labels(records: list[dict[str, Any]], record_type: str) -> dict[str, str]:
    """Labels of every record referenced by these records (one query)."""
    rules = RECORD_TYPES[record_type].rules
    ids: list[str] = []
    for record in records:
        for name, rule in rules.items():
            value = record["fields"].get(name)
            if isinstance(rule, Ref) and isinstance(value, str):
                ids.append(value)
            elif isinstance(rule, RefList) and isinstance(value, list):
                ids.extend(v for v in value if isinstance(v, str))
    return queries.labels(workspace_id(), ids)


def type_for_path(path: str) -> str:
    record_type = TYPE_OF_PATH.get(path)
    if record_type is None:
        abort(404)
    return record_type


@bp.route("/<any(visits, places, people, projects):path>")
def record_list(path: str) -> Any:
    record_type = type_for_path(path)
    f = parse_filter(record_type)
    page = queries.page(workspace_id(), record_type, f, page_size())
    return render_template(
        "office/record_list.html",
        record_type=record_type,
        path=path,
        page=page,
        filter=f,
        columns=LIST_COLUMNS[record_type],
        refs=ref_labels(page.items, record_type),
        places=queries.options(workspace_id(), "place") if record_type != "place" else [],
        kinds=_kinds(record_type),
        detail_url=detail_url,
    )


def _kinds(record_type: str) -> list[str]:
    rule = RECORD_TYPES[record_type].rules.get("kind")
    return list(getattr(rule, "values", ()))


@bp.route("/<any(visits, places, people, projects):path>/<record_id>")
def record_detail(path: str, record_id: str) -> Any:
    record_type = type_for_path(path)
    record = record_or_404(record_type, record_id)
    ws = workspace_id()
    related: list[dict[str, Any]] = []
    ref_field = {"visit": "visit_id", "place": "place_id", "party": "party_id",
                 "project": "project_id"}[record_type]  # fmt: skip
    related = queries.concerns_of(ws, ref_field, record_id)
    follow_ups = queries.follow_ups(ws, record_id)
    return render_template(
        "office/record_detail.html",
        record=record,
        record_type=record_type,
        path=path,
        fields=forms.EDITABLE[record_type],
        refs=ref_labels([record, *related], record_type) | ref_labels(related, "concern"),
        related=related,
        follow_ups=follow_ups,
        conflicts=queries.conflicts_of(ws, record_id),
        users=queries.user_labels(ws),
        revealed=None,
    )


@bp.route("/people/<record_id>/reveal", methods=["POST"])
def reveal_phone(record_id: str) -> Any:
    """Show one person's phone number in full; the reveal is written to the record's history."""
    record = record_or_404("party", record_id)
    log_reveal(workspace_id(), current_user.id, record, "phone", now_ms())
    ws = workspace_id()
    return render_template(
        "office/record_detail.html",
        record=record,
        record_type="party",
        path="people",
        fields=forms.EDITABLE["party"],
        refs=ref_labels([record], "party"),
        related=queries.concerns_of(ws, "party_id", record_id),
        follow_ups=queries.follow_ups(ws, record_id),
        conflicts=queries.conflicts_of(ws, record_id),
        users=queries.user_labels(ws),
        revealed=record["fields"].get("phone"),
    )


# --- edit forms (every type) -------------------------------------------------------------------


def _edit_type(record_type: str) -> str:
    if record_type not in EDITABLE_TYPES:
        abort(404)
    return record_type


def _options_for(fields: list[forms.FormField]) -> dict[str, list[tuple[str, str]]]:
    targets = {f.target for f in fields if f.target}
    return {t: queries.options(workspace_id(), t) for t in targets}


def render_form(
    record_type: str, record: dict[str, Any] | None, fields: list[forms.FormField], status=200
) -> Any:
    return render_template(
        "office/record_edit.html",
        record_type=record_type,
        record=record,
        fields=fields,
        options=_options_for(fields),
        cancel_url=detail_url(record) if record else url_for("office.dashboard"),
    ), status


@bp.route("/records/<record_type>/new", methods=["GET", "POST"])
def record_new(record_type: str) -> Any:
    record_type = _edit_type(record_type)
    if request.method == "GET":
        fields = forms.build(record_type, None)
        for f in fields:  # sensible defaults for a new record typed in the office
            if f.name == "status" and record_type == "concern":
                f.value = "accepted"
            elif f.name == "raised_on":
                f.value = today().isoformat()
        return render_form(record_type, None, fields)
    submission = forms.read(record_type, request.form)
    if submission.errors:
        return render_form(record_type, None, submission.fields, 422)
    if record_type in ("concern", "visit"):  # typed in by the office: nothing to review
        submission.values["review_status"] = "approved"
        submission.bases["review_status"] = None
    record_id = str(uuid6.uuid7())
    return save(record_type, record_id, None, submission)


@bp.route("/records/<record_type>/<record_id>/edit", methods=["GET", "POST"])
def record_edit(record_type: str, record_id: str) -> Any:
    record_type = _edit_type(record_type)
    record = record_or_404(record_type, record_id)
    if request.method == "GET":
        return render_form(record_type, record, forms.build(record_type, record))
    submission = forms.read(record_type, request.form)
    if submission.errors:
        return render_form(record_type, record, submission.fields, 422)
    return save(record_type, record_id, record, submission)


def save(
    record_type: str, record_id: str, record: dict[str, Any] | None, sub: forms.Submission
) -> Any:
    """Save the changed fields, or show the conflict page when the form was stale."""
    if not sub.values:
        flash(_("Nothing was changed."), "info")
        return redirect(detail_url(record) if record else url_for("office.dashboard"))
    stale = forms.stale_fields(record, sub.bases)
    if stale:
        return conflict_page(record_type, record, sub.values, stale)
    result = store.office_edit(
        workspace_id(), current_user.id, record_type, record_id, sub.values, sub.bases,
        now_ms=now_ms(),
    )  # fmt: skip
    if result.rejected:
        for f in sub.fields:
            messages = result.rejected[0].get("errors", {}).get(f.name)
            if messages:
                shown = "; ".join(labels.fault(m) for m in messages)
                f.error = _("Invalid value: %(problem)s", problem=shown)
        flash(_("The record was not saved."), "error")
        return render_form(record_type, record, sub.fields, 422)
    if result.conflicts:  # someone saved between our check and our write
        fresh = queries.get(workspace_id(), record_id, record_type)
        flash(_("Saved, but someone changed the same fields at the same time: "
                "both values wait in the conflict queue."), "warning")  # fmt: skip
        return redirect(detail_url(fresh) if fresh else url_for("office.conflict_list"))
    flash(_("Saved."), "success")
    return redirect(detail_url(result.record or {"type": record_type, "id": record_id}))


def conflict_page(
    record_type: str, record: dict[str, Any] | None, mine: dict[str, Any], stale: list[str]
) -> Any:
    """Both values of every field someone else changed since the form was opened."""
    current = record or {"fields": {}, "stamps": {}, "meta": {}, "id": "", "type": record_type}
    rows = [
        {
            "name": name,
            "mine": mine.get(name),
            "theirs": current["fields"].get(name),
            "stamp": current["stamps"].get(name),
        }
        for name in stale
    ]
    rules = RECORD_TYPES[record_type].rules
    resubmit = [
        {
            "name": name,
            "value": forms.input_value(rules[name], value),
            "shown": json.dumps(current["fields"].get(name), ensure_ascii=False),
            "base": current["stamps"].get(name) or "",
        }
        for name, value in mine.items()
    ]
    refs = ref_labels([current, {"fields": mine}], record_type)
    return render_template(
        "office/edit_conflict.html",
        record=current,
        record_type=record_type,
        rows=rows,
        resubmit=resubmit,
        refs=refs,
        users=queries.user_labels(workspace_id()),
        devices=queries.device_labels(workspace_id()),
        detail_url=detail_url(current) if record else url_for("office.dashboard"),
    ), 409


@bp.route("/records/<record_type>/<record_id>/delete", methods=["POST"])
def record_delete(record_type: str, record_id: str) -> Any:
    """Delete a record (a tombstone that syncs to devices) or restore a deleted one."""
    record_type = _edit_type(record_type)
    record = record_or_404(record_type, record_id)
    restore = request.form.get("action") == "restore"
    base = request.form.get("base___deleted") or None
    if (record["stamps"].get("_deleted") or None) != base:
        flash(_("Someone changed this record meanwhile; look again before deleting."), "warning")
        return redirect(detail_url(record))
    store.office_edit(
        workspace_id(), current_user.id, record_type, record_id, {"_deleted": not restore},
        {"_deleted": base}, now_ms=now_ms(),
    )  # fmt: skip
    flash(_("Restored.") if restore else _("Deleted. Staff can restore it from here."), "success")
    return redirect(detail_url(record))


# --- history -----------------------------------------------------------------------------------


@bp.route("/records/<record_type>/<record_id>/history")
def history(record_type: str, record_id: str) -> Any:
    if record_type not in RECORD_TYPES:
        abort(404)
    record = record_or_404(record_type, record_id)
    ws = workspace_id()
    entries = queries.history(ws, record_id)
    ids = [
        v
        for e in entries
        for name, change in e["diff"].items()
        if name.endswith("_id") and isinstance(change, list)
        for v in change[:2]
        if isinstance(v, str)
    ]
    return render_template(
        "office/history.html",
        record=record,
        record_type=record_type,
        entries=entries,
        users=queries.user_labels(ws),
        devices=queries.device_labels(ws),
        refs=queries.labels(ws, ids),
        detail_url=detail_url(record),
        type_label=labels.type_label(record_type),
    )
