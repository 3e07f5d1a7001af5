"""Review of what came in from the field: approve, or send back with a note (syncs to devices)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from server import store
from server.office import bp, forms, queries
from server.office.security import now_ms
from server.office.views.common import page_size, parse_page, record_or_404, workspace_id
from server.office.views.records import conflict_page, ref_labels

REVIEWED_TYPES = ("concern", "visit")
REVIEW_FIELDS = ("review_status", "review_note")


@bp.route("/review")
def review_list() -> Any:
    ws = workspace_id()
    record_type = request.args.get("type", "concern")
    if record_type not in REVIEWED_TYPES:
        record_type = "concern"
    errors: list[str] = []
    f = queries.RecordFilter(review="pending", page=parse_page(errors), errors=errors)
    page = queries.page(ws, record_type, f, page_size())
    counts = {
        t: queries.count(ws, t, queries.RecordFilter(review="pending")) for t in REVIEWED_TYPES
    }
    return render_template(
        "office/review.html",
        record_type=record_type,
        page=page,
        counts=counts,
        errors=errors,
        refs=ref_labels(page.items, record_type),
        threads=queries.review_threads(ws, [r["id"] for r in page.items]),
        users=queries.user_labels(ws),
        devices=queries.device_labels(ws),
    )


@bp.route("/review/<record_type>/<record_id>", methods=["POST"])
def review_record(record_type: str, record_id: str) -> Any:
    if record_type not in REVIEWED_TYPES:
        record_type = "concern"
    record = record_or_404(record_type, record_id)
    back = url_for("office.review_list", type=record_type)
    action = request.form.get("action")
    note = request.form.get("review_note", "").strip()
    if action not in ("approved", "needs_changes"):
        flash(_("Choose approve or needs changes."), "error")
        return redirect(back)
    if action == "needs_changes" and not note:
        flash(_("Say what needs to change: the note goes back to the representative."), "error")
        return redirect(back)
    form = request.form.copy()
    form["review_status"] = action
    form["review_note"] = note
    submission = forms.read(record_type, form, REVIEW_FIELDS)
    if submission.errors:
        flash("; ".join(submission.errors.values()), "error")
        return redirect(back)
    stale = forms.stale_fields(record, submission.bases)
    if stale:
        return conflict_page(record_type, record, submission.values, stale)
    if submission.values:
        store.office_edit(
            workspace_id(), current_user.id, record_type, record_id, submission.values,
            submission.bases, now_ms=now_ms(),
        )  # fmt: skip
    if action == "approved":
        flash(_("Approved."), "success")
    else:
        flash(_("Sent back with your note; the device gets it at its next sync."), "success")
    return redirect(back)
