"""Concerns: the filtered list, the detail page with its timeline, and the casework steps."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from server import casework, store
from server.office import bp, forms, labels, queries
from server.office.security import now_ms
from server.office.views.common import page_size, parse_filter, record_or_404, today, workspace_id
from server.office.views.records import conflict_page, ref_labels
from sync.casework import STEP_FIELDS, status_change, steps_for
from sync.records import CONCERN_STATUSES, RECORD_TYPES, SUPERVISION_LEVELS


@bp.route("/concerns")
def concern_list() -> Any:
    ws = workspace_id()
    f = parse_filter("concern")
    page = queries.page(ws, "concern", f, page_size())
    party_ids = [c["fields"].get("party_id") for c in page.items]
    return render_template(
        "office/concern_list.html",
        page=page,
        filter=f,
        voices=queries.voice_counts(ws, [c["id"] for c in page.items]),
        today=f.today.isoformat() if f.today else "",
        refs=ref_labels(page.items, "concern"),
        parties={p["id"]: p for p in queries.by_ids(ws, party_ids)},
        users=queries.user_labels(ws),
        places=queries.options(ws, "place"),
        statuses=CONCERN_STATUSES,
        categories=[e.key for e in labels.entries("concern.category")],
    )


@bp.route("/concerns/<record_id>")
def concern_detail(record_id: str) -> Any:
    ws = workspace_id()
    record = record_or_404("concern", record_id)
    fields = record["fields"]
    follow_ups = queries.follow_ups(ws, record_id)
    visit_id = fields.get("visit_id")
    visit = queries.get(ws, visit_id, "visit") if isinstance(visit_id, str) else None
    party_id = fields.get("party_id")
    party = queries.get(ws, party_id, "party") if isinstance(party_id, str) else None
    users = queries.user_labels(ws)
    next_steps, side_exits = steps_for(fields.get("status"))
    dup_search = request.args.get("dup_q", "").strip()[:100]
    return render_template(
        "office/concern_detail.html",
        record=record,
        voices=queries.voice_counts(ws, [record_id]).get(record_id, 0),
        today_iso=today().isoformat(),
        owners=queries.active_user_labels(ws),
        supervision_levels=SUPERVISION_LEVELS,
        time_limit=casework.get_settings(ws).time_limit(fields.get("category")),
        fields=forms.EDITABLE["concern"],
        refs=ref_labels([record], "concern"),
        party=party,
        timeline=timeline(ws, record, visit, follow_ups),
        conflicts=queries.conflicts_of(ws, record_id),
        users=users,
        next_steps=next_steps,
        side_exits=side_exits,
        step_fields=STEP_FIELDS,
        satisfaction_values=RECORD_TYPES["concern"].rules["satisfaction"].values,  # type: ignore[attr-defined]
        dup_search=dup_search,
        concern_options=queries.concern_matches(ws, dup_search, record_id),
    )


def timeline(
    ws: str, record: dict[str, Any], visit: dict[str, Any] | None, follow_ups: list
) -> list[dict[str, Any]]:
    """Visits, follow-ups and status changes of a concern, oldest first."""
    users = queries.user_labels(ws)
    devices = queries.device_labels(ws)
    items: list[dict[str, Any]] = []
    if visit is not None:
        items.append({"at": visit["fields"].get("started_at") or visit["meta"]["created_at"],
                      "kind": "visit", "record": visit,
                      "who": users.get(visit["meta"]["created_by"] or "", "")})  # fmt: skip
    for fu in follow_ups:
        items.append({"at": fu["fields"].get("happened_at") or fu["meta"]["created_at"],
                      "kind": "follow_up", "record": fu,
                      "who": users.get(fu["meta"]["created_by"] or "", "")})  # fmt: skip
    for entry in reversed(queries.history(ws, record["id"])):
        change = entry["diff"].get("status")
        if entry["source"] != "reveal" and isinstance(change, list) and len(change) >= 2:
            items.append({
                "at": entry["at"], "kind": "status", "old": change[0], "new": change[1],
                "who": users.get(entry["user_id"] or "", ""),
                "device": devices.get(entry["device_id"] or "", entry["device_id"]),
                "source": entry["source"],
            })  # fmt: skip
    return sorted(items, key=lambda item: _sort_key(item["at"]))


def _sort_key(value: Any) -> str:
    """Sort times given as naive-UTC datetimes or ISO text with offsets on one scale (UTC)."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat()
    return str(value)


@bp.route("/concerns/<record_id>/step", methods=["POST"])
def concern_step(record_id: str) -> Any:
    """Move a concern to its next casework status (with the step's extra field, if any)."""
    record = record_or_404("concern", record_id)
    target = request.form.get("to", "")
    if target not in CONCERN_STATUSES:
        flash(_("Unknown step."), "error")
        return redirect(url_for("office.concern_detail", record_id=record_id))
    names = ("status", *STEP_FIELDS.get(target, ()))
    form = request.form.copy()
    form["status"] = target
    for name, value in status_change(record["fields"], target, today()).items():
        if name not in names:  # set by the step itself (resolved_on): as if typed in the form
            names = (*names, name)
            form[name] = value
            form[f"shown__{name}"] = "null"
            form[f"base__{name}"] = record["stamps"].get(name, "")
    submission = forms.read("concern", form, names)
    if submission.errors:
        for message in submission.errors.values():
            flash(_("Not saved: %(problem)s", problem=message), "error")
        return redirect(url_for("office.concern_detail", record_id=record_id))
    stale = forms.stale_fields(record, submission.bases)
    if stale:
        return conflict_page("concern", record, submission.values, stale)
    result = store.office_edit(
        workspace_id(), current_user.id, "concern", record_id, submission.values,
        submission.bases, now_ms=now_ms(),
    )  # fmt: skip
    if result.rejected:
        flash(_("The record was not saved."), "error")
    elif result.conflicts:
        flash(_("Saved, but someone changed the same fields at the same time: "
                "both values wait in the conflict queue."), "warning")  # fmt: skip
    else:
        flash(_step_done(target, submission.values), "success")
    return redirect(url_for("office.concern_detail", record_id=record_id))


def _step_done(target: str, values: dict[str, Any]) -> str:
    """Say what a step changed: "已转办 城管科", "已改为 已办结"."""
    unit = values.get("responsible_unit")
    if target == "referred" and unit:
        return _("Referred to %(unit)s.", unit=unit)
    return _("Now %(status)s.", status=labels.choice_label("concern", "status", target))
