"""Home (status and sync), places, the place page and search."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from field_client.i18n import N_
from field_client.messages import human_bytes
from field_client.web import queries
from field_client.web.forms import PLACE_KINDS, TITLE_MAX
from field_client.web.views import bp, gettext, lang, now, state, store

__all__ = ["result_message", "status_payload"]

SERVER_STATES = {
    "checking": N_("Checking…"),
    "ok": N_("Reachable"),
    "down": N_("Not reachable"),
    "none": N_("This device is not enrolled"),
}
STAGES = {
    "starting": N_("Starting"),
    "push": N_("Sending"),
    "pushing": N_("Sending"),
    "blobs": N_("Uploading photos"),
    "pull": N_("Receiving"),
    "pulling": N_("Receiving"),
    "resync": N_("Receiving everything again"),
    "restamp": N_("Re-stamping edits"),
    "done": N_("Done"),
    "failed": N_("Not finished"),
    "conflicts": N_("Checking conflicts"),
}
# Why a sync did not finish, by the error's key (a protocol code or a local store problem).
SYNC_ERRORS = {
    "device_revoked": N_("The office revoked this device; please contact the office"),
    "device_wiped": N_(
        "The office revoked this device with wipe: unsent changes went first, then every "
        "record, person and photo here was deleted"
    ),
    "unauthorized": N_("The server does not know this device; enroll again"),
    "unsupported_protocol": N_("The server speaks another version; update the app"),
    "clock_skew": N_("This device's clock is too far ahead; fix the time and sync again"),
    "server_error": N_("The server failed or the address is wrong"),
    "store_error": N_("The local database is busy or damaged; try again"),
}
RESULT_PARTS = {
    "conflicts": N_("%(n)s conflicts for the office"),
    "rejected": N_("%(n)s changes to fix"),
    "returned": N_("the office sent back %(n)s to change"),
    "photo_quota_device": N_(
        "the office's room for this device's photos is full (%(size)s): %(n)s photos wait here"
    ),
    "photo_quota_workspace": N_(
        "the office's room for this workspace's photos is full (%(size)s): %(n)s photos wait here"
    ),
}


def _last_sync_text(value: str | None) -> str:
    if not value:
        return gettext("Never")
    try:
        when = dt.datetime.fromisoformat(value).astimezone(state().tz)
    except ValueError:
        return value
    return when.strftime("%Y-%m-%d %H:%M")


def status_payload(check: bool = False) -> dict[str, Any]:
    """Return what the home page shows: pending, last sync, server reachability, attention."""
    status = store().status()
    server: str
    if not status.get("device_id"):
        server = "none"
    else:
        reachable = state().extra["reach"].get(refresh=check) if check else None
        server = "checking" if reachable is None else ("ok" if reachable else "down")
    return {
        "pending": status["pending"],
        "last_sync": _last_sync_text(status.get("last_sync")),
        "server": server,
        "server_text": gettext(SERVER_STATES[server]),
        "server_url": status.get("server") or "",
        "attention": attention_count(status),
        "conflicts": len(store().conflicts()),
    }


def attention_count(status: dict[str, Any] | None = None) -> int:
    """Count what needs the representative: rejected changes, office notes, own concerns due."""
    status = status or store().status()
    owned = queries.mine(store(), now().date())
    due = len(owned["overdue"]) + len(owned["due_soon"])
    return int(status.get("rejected", 0)) + len(store().review_notes()) + due


def result_message(result: dict[str, Any]) -> str:
    """Say in one plain sentence what a finished (or failed) sync did."""
    if result.get("not_enrolled"):
        return gettext(
            "This device is not enrolled, so it cannot sync; records are kept on this device."
        )
    if result.get("offline"):
        return gettext(
            "Cannot reach the server; every record is kept on this device, sync again later."
        )
    if result.get("failed") or result.get("error"):
        key = result.get("reason_key")
        if key in SYNC_ERRORS:
            reason = gettext(SYNC_ERRORS[key])
        elif result.get("error"):
            reason = gettext(
                "The server did not accept this sync (%(code)s)", code=result["error"]
            )
        else:
            reason = result.get("reason") or ""
        return gettext(
            "Sync did not finish: %(reason)s. Every record is still kept on this device.",
            reason=reason.rstrip("。.") or "?",
        )
    parts = [
        gettext(
            "Sent %(sent)s, received %(new)s new",
            sent=result.get("sent", 0),
            new=result.get("new", 0),
        )
    ]
    for key in ("conflicts", "rejected", "returned"):
        if result.get(key):
            parts.append(gettext(RESULT_PARTS[key], n=result[key]))
    if result.get("photo_quota") in ("device", "workspace"):
        size = human_bytes(int(result.get("photo_quota_bytes") or 0))
        n = result.get("photos_refused", 0)
        parts.append(gettext(RESULT_PARTS[f"photo_quota_{result['photo_quota']}"], size=size, n=n))
    return gettext(", ").join(parts) + gettext(".")


def _job_payload() -> dict[str, Any]:
    snap = state().jobs.snapshot()
    payload = {k: snap.get(k) for k in ("state", "stage", "done", "total", "run")}
    payload["stage_text"] = gettext(STAGES.get(snap.get("stage") or "starting", "Starting"))
    payload["stages"] = list(snap.get("stages") or [])
    payload["stages_text"] = " → ".join(gettext(STAGES.get(s, s)) for s in payload["stages"])
    if snap["state"] in ("done", "failed"):
        result = snap.get("result") or {}
        payload["message"] = result_message(result)
        payload["ok"] = snap["state"] == "done" and not result.get("offline")
        payload["rejected"] = int(result.get("rejected") or 0)
        payload["stage_text"] = gettext(STAGES["done" if payload["ok"] else "failed"])
    payload["status"] = status_payload()
    return payload


@bp.get("/")
def home() -> str:
    """Show pending changes, last sync, the server, the Sync button and recent visits."""
    return render_template(
        "home.html",
        active="field.home",
        status=status_payload(),
        job=_job_payload(),
        visits=queries.visit_rows(store(), limit=5),
        places=queries.place_rows(store())[:6],
        conflicts=len(store().conflicts()),
    )


@bp.get("/status.json")
def status_json() -> Response:
    """Return the home page's figures; ``?check=1`` also asks the server (short timeout)."""
    return jsonify(status_payload(check=request.args.get("check") == "1"))


@bp.post("/sync")
def start_sync() -> Response:
    """Start a sync in the background; answer JSON to scripts, a redirect to plain forms."""
    started = state().jobs.start()
    state().extra["reach"].forget()
    if request.accept_mimetypes.best == "application/json" or request.is_json:
        return jsonify({"started": started, **_job_payload()})
    if not started:
        flash(gettext("A sync is already running."), "warn")
    return redirect(url_for("field.home"))


@bp.get("/sync/status")
def sync_status() -> Response:
    """Return the running or last sync: stage, counts, and the result sentence when done."""
    return jsonify(_job_payload())


@bp.get("/places")
def places() -> str:
    """List places, recently worked at first, with their open concerns; create one."""
    q = request.args.get("q", "")
    return render_template(
        "places.html",
        active="field.places",
        places=queries.place_rows(store(), q),
        q=q,
        kinds=PLACE_KINDS,
        values={"kind": "compound"},
        errors={},
    )


@bp.post("/places")
def create_place() -> Response | tuple[str, int]:
    """Create a place from the small form on the places page."""
    values = {k: (request.form.get(k) or "").strip() for k in ("name", "kind", "address")}
    errors = {}
    if not values["name"]:
        errors["name"] = gettext("Required")
    elif len(values["name"]) > TITLE_MAX:
        errors["name"] = gettext("At most %(n)s characters", n=TITLE_MAX)
    if len(values["address"]) > 500:
        errors["address"] = gettext("At most %(n)s characters", n=500)
    if values["kind"] not in PLACE_KINDS:
        errors["kind"] = gettext("Please pick one")
    if errors:
        page = render_template(
            "places.html", active="field.places", places=queries.place_rows(store()), q="",
            kinds=PLACE_KINDS, values=values, errors=errors, open_form=True,
        )  # fmt: skip
        return page, 422
    fields = {"name": values["name"], "kind": values["kind"], "address": values["address"] or None}
    place_id = store().create("place", fields)
    flash(
        gettext("Place saved.")
        + " "
        + gettext("Saved on this device; %(n)s to sync.", n=store().status()["pending"])
    )
    return redirect(url_for("field.place", place_id=place_id))


@bp.get("/places/<place_id>")
def place(place_id: str) -> str:
    """Before you walk in: a place's open concerns, recent visits, projects and people."""
    record = store().get("place", place_id)
    if record is None or record["deleted"]:
        abort(404)
    row = queries.flat(record)
    parent = store().get("place", row.get("parent_id") or "") if row.get("parent_id") else None
    supports = queries.support_counts(store())
    open_concerns = [queries.flat(c) for c in store().open_concerns(place_id)]
    for c in open_concerns:
        c["supports"] = supports.get(c["id"], 0)
    return render_template(
        "place.html",
        active="field.places",
        place=row,
        parent=queries.flat(parent) if parent else None,
        open_concerns=open_concerns,
        visits=queries.visit_rows(store(), place_id=place_id, limit=10),
        projects=[queries.flat(p) for p in store().list("project", place=place_id)],
        people=[queries.flat(p) for p in store().list("party", place=place_id)],
        children=[queries.flat(p) for p in store().list("place", place=place_id)],
    )


@bp.get("/search")
def search() -> str:
    """Search places, people, visits and concerns by any few characters."""
    q = request.args.get("q", "")[:200]
    return render_template(
        "search.html", active="field.search", q=q, found=queries.search(store(), q), lang=lang()
    )
