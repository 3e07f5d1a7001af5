"""Street level (街道): one dashboard across the workspaces an administrator holds, switching
between them without signing out, and creating and renaming workspaces."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from server import street
from server.office import bp
from server.office.security import WORKSPACE_KEY, admin_required
from server.office.views.common import parse_date, today, workspace_id
from server.services import ServiceError


def held() -> list[Any]:
    """The workspaces the signed-in user may work in (their own, and those they hold)."""
    return street.held_workspaces(current_user.id)


@bp.route("/street")
@admin_required
def street_dashboard() -> Any:
    """Each workspace a row with its figures, and a total, for a period."""
    errors: list[str] = []
    day = today()
    since, until = parse_date("since", errors), parse_date("until", errors)
    if "since" not in request.args and "until" not in request.args:
        since, until = day.replace(month=1, day=1), day
    if since and until and since > until:
        since, until = until, since
    figures = street.street_figures(held(), since, until, day)
    return render_template("office/street.html", figures=figures, since=since, until=until,
                           errors=errors)  # fmt: skip


@bp.route("/workspace/switch", methods=["POST"])
def switch_workspace() -> Any:
    """Work in another workspace the user holds, without signing out."""
    chosen = request.form.get("workspace_id", "")
    if not street.holds(current_user.id, chosen):
        flash(_("You do not hold that workspace."), "error")
        return redirect(url_for("office.dashboard"))
    session[WORKSPACE_KEY] = chosen
    return redirect(url_for("office.dashboard"))


def _problem(error: ServiceError) -> str:
    messages = {
        "workspace_name": _("A workspace name has 1-200 characters."),
        "workspace_exists": _("A workspace with that name already exists."),
        "no_workspace": _("No such workspace."),
    }
    return messages.get(error.key, error.detail)


@bp.route("/admin/workspaces", methods=["GET", "POST"])
@admin_required
def admin_workspaces() -> Any:
    """List, create and rename the workspaces the administrator holds."""
    status = 200
    if request.method == "POST":
        target, name = request.form.get("workspace_id", ""), request.form.get("name", "")
        try:
            if target:
                street.rename_workspace(current_user.id, target, name)
                flash(_("Workspace renamed."), "success")
            else:
                street.create_held_workspace(current_user.id, name)
                flash(_("Workspace %(name)s created.", name=name.strip()), "success")
        except ServiceError as error:
            flash(_problem(error), "error")
            status = 422
        else:
            return redirect(url_for("office.admin_workspaces"))
    return render_template(
        "office/admin/workspaces.html", workspaces=held(), current=workspace_id()
    ), status
