"""Users and devices (admins only): create users, issue enrollment codes, revoke devices."""

from __future__ import annotations

import io
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from server import services
from server.errors import ServerError
from server.office import access, bp, queries
from server.office.security import admin_required, now_ms
from server.office.views.common import workspace_id

ROLE_CHOICES = ("representative", "staff", "admin")


@bp.route("/admin/users", methods=["GET", "POST"])
@admin_required
def admin_users() -> Any:
    ws = workspace_id()
    form: dict[str, str] = {}
    error = None
    status = 200
    if request.method == "POST":
        form = {k: request.form.get(k, "").strip() for k in ("username", "display_name", "role")}
        password = request.form.get("password", "") or None
        try:
            services.create_user(form["username"], ws, form["role"], password,
                                 form["display_name"])  # fmt: skip
        except ServerError as exc:
            error, status = _service_message(exc), 422
        else:
            flash(_("User %(name)s created.", name=form["username"]), "success")
            return redirect(url_for("office.admin_users"))
    return render_template(
        "office/admin/users.html",
        users=queries.users(ws),
        roles=ROLE_CHOICES,
        form=form,
        error=error,
    ), status


def _service_message(exc: ServerError) -> str:
    messages = {
        "bad_username": _("A username has 1-100 letters, digits or . _ @ -."),
        "bad_role": _("Choose a role."),
        "short_password": _("A password needs at least 8 characters."),
        "user_exists": _("That username is taken."),
        "long_display_name": _("A display name has at most 200 characters."),
        "user_inactive": _("That user is deactivated."),
        "no_user": _("No such user."),
        "no_device": _("No such device."),
    }
    return str(messages.get(exc.key, exc.detail))


@bp.route("/admin/users/<user_id>/active", methods=["POST"])
@admin_required
def admin_user_active(user_id: str) -> Any:
    """Deactivate a user (their sessions and devices stop at once) or bring them back."""
    user = _user_or_404(user_id)
    active = request.form.get("active") == "1"
    if user.id == current_user.id and not active:
        flash(_("You cannot deactivate yourself."), "error")
    else:
        if active:
            services.reactivate_user(user.username)
        else:
            services.deactivate_user(user.username, now=now_ms())
        name = user.display_name or user.username
        text = _("%(name)s can work again.", name=name) if active else _(
            "%(name)s is deactivated: their sessions and devices have stopped.", name=name
        )  # fmt: skip
        flash(text, "success")
    return redirect(url_for("office.admin_users"))


@bp.route("/admin/users/<user_id>/reset", methods=["POST"])
@admin_required
def admin_user_reset(user_id: str) -> Any:
    """Give a staff member a temporary password, to be replaced at the next login."""
    user = _user_or_404(user_id)
    temporary = services.reset_password(user.username)
    return render_template("office/admin/reset.html", user=user, temporary=temporary)


def _user_or_404(user_id: str) -> Any:
    user = next((u for u in queries.users(workspace_id()) if u.id == user_id), None)
    if user is None:
        abort(404)
    return user


@bp.route("/admin/users/<user_id>/code", methods=["POST"])
@admin_required
def admin_enrollment_code(user_id: str) -> Any:
    """Issue a single-use enrollment code: shown once, as text and as a QR code."""
    user = access.owned("user", user_id)
    if user is None:
        flash(_("No such user."), "error")
        return redirect(url_for("office.admin_users"))
    try:
        code = services.create_enrollment_code(user.username, created_by=current_user.id,
                                               now=now_ms())  # fmt: skip
    except ServerError as exc:
        flash(_service_message(exc), "error")
        return redirect(url_for("office.admin_users"))
    server_url = request.host_url.rstrip("/")
    # Scanned with the tablet's camera, the address opens the field app, which enrolls itself
    # and drops the code from its address bar (the part after # never reaches a server).
    app_url = f"{server_url}/field/#enroll={services.display_code(code)}"
    return render_template(
        "office/admin/code.html",
        user=user,
        code=code,
        pretty=services.display_code(code),
        server_url=server_url,
        app_url=app_url,
        qr=qr_svg(app_url),
    )


def qr_svg(text: str) -> Markup:
    """An inline SVG QR code (segno) that a tablet's camera can read."""
    import segno  # about 1 MiB per worker, for one admin page: loaded on use

    buffer = io.BytesIO()
    segno.make(text, error="m").save(
        buffer, kind="svg", scale=6, border=2, xmldecl=False, svgns=True, dark="#111827"
    )
    return Markup(buffer.getvalue().decode("utf-8"))


@bp.route("/admin/devices")
@admin_required
def admin_devices() -> Any:
    return render_template("office/admin/devices.html", devices=queries.devices(workspace_id()))


@bp.route("/admin/devices/<device_id>/revoke", methods=["POST"])
@admin_required
def admin_revoke(device_id: str) -> Any:
    device = access.owned("device", device_id)
    if device is None:
        flash(_("No such device."), "error")
    else:
        wipe = request.form.get("wipe") == "1"
        services.revoke_device(device.id, current_user.id, wipe=wipe, now=now_ms())
        if wipe:
            flash(_("Device %(name)s revoked with wipe: at its next contact it sends what it "
                    "holds, then deletes the personal data on it.", name=device.name),
                  "success")  # fmt: skip
        else:
            flash(_("Device %(name)s revoked: its next sync is refused.", name=device.name),
                  "success")  # fmt: skip
    return redirect(url_for("office.admin_devices"))
