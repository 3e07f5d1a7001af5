"""Casework pages: assign a concern (owner, due date, supervision), the inbox, the settings."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from server import casework, inbox
from server.office import bp, queries
from server.office.security import now_ms
from server.office.templating import my_inbox
from server.office.views.common import record_or_404, today, workspace_id
from server.services import ServiceError

SHOWN = 50  # rows per inbox section; the concern list has the rest

REFUSALS = {
    "owner_not_in_workspace": _l("The owner must be an active user of this workspace."),
    "due_before_raised": _l("The due date is before the day the concern was raised."),
    "bad_supervision": _l("Unknown supervision level."),
    "bad_time_limit": _l("Time limits are whole working days from 1 to 365."),
}


def refusal(error: ServiceError) -> str:
    """The translated message of a casework refusal."""
    return str(REFUSALS.get(error.key, error.detail))


def _form_day(name: str) -> tuple[dt.date | None, bool]:
    """A date from the form: (day, ok); empty is (None, True)."""
    raw = request.form.get(name, "").strip()
    if not raw:
        return None, True
    try:
        return (dt.date.fromisoformat(raw), True) if len(raw) == 10 else (None, False)
    except ValueError:
        return None, False


@bp.route("/concerns/<record_id>/assign", methods=["POST"])
def concern_assign(record_id: str) -> Any:
    """Set a concern's owner, due date and supervision level."""
    record = record_or_404("concern", record_id)
    back = redirect(url_for("office.concern_detail", record_id=record_id) + "#assignment")
    for name in ("owner_id", "due_on", "supervision"):
        if (record["stamps"].get(name) or "") != request.form.get(f"base__{name}", ""):
            flash(_("Someone changed the assignment meanwhile; check it and try again."), "error")
            return back
    due, ok = _form_day("due_on")
    if not ok:
        flash(_("Use a date like 2024-05-31."), "error")
        return back
    assignment = casework.Assignment(
        owner_id=request.form.get("owner_id", "").strip() or None,
        due_on=due,
        supervision=request.form.get("supervision", "normal"),
    )
    try:
        result = casework.assign(
            workspace_id(), current_user.id, record, assignment, today=today(), now_ms=now_ms()
        )
    except ServiceError as error:
        flash(_("Not saved: %(problem)s", problem=refusal(error)), "error")
        return back
    if result.rejected:
        flash(_("The record was not saved."), "error")
    else:
        flash(_("Saved."), "success")
    return back


@bp.route("/inbox")
def inbox_page() -> Any:
    """The signed-in person's inbox: assigned, overdue, due soon, sent back, new 附议."""
    ws = workspace_id()
    box = my_inbox()
    subjects = [r["fields"].get("subject_id") for r in box.voices]
    return render_template(
        "office/inbox.html",
        box=box,
        subjects=queries.labels(ws, subjects),
        reminders=inbox.latest_reminders(ws, current_user.id),
        today_iso=today().isoformat(),
        soon_days=inbox.SOON_DAYS,
        shown=SHOWN,
        voice_days=inbox.VOICE_DAYS,
    )
