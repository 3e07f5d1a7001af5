"""Concerns: the list by place and status, a new concern (or a 附议 instead), status and notes."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from field_client.errors import ClientError
from field_client.web import queries
from field_client.web.capture import flash_form_errors, store_errors
from field_client.web.forms import FOLLOW_UP_KINDS, PRIORITIES, parse_concern
from field_client.web.forms import parse_follow_up as parse_note
from field_client.web.views import (
    L,
    bp,
    form_key,
    gettext,
    list_keys,
    new_form_key,
    now,
    safe_next,
    store,
)
from sync.casework import REPRESENTATIVE_STEPS as REP_STEPS
from sync.casework import status_change
from sync.records import CONCERN_STATUSES, GROUPS
from sync.rules import concern_people

__all__: list[str] = []

STATUS_FILTERS = ("open", "all") + CONCERN_STATUSES


def _concern_or_404(concern_id: str) -> dict[str, Any]:
    record = store().get("concern", concern_id)
    if record is None or record["deleted"]:
        abort(404)
    return queries.flat(record)


def _form_context(values: dict[str, Any], errors: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "active": "field.concerns",
        "values": values,
        "errors": errors,
        "places": queries.places_by_recent(store()),
        "categories": list_keys("concern.category", held=values.get("category")),
        "priorities": PRIORITIES,
        "groups": GROUPS,
        "similar": [],
        **extra,
    }


@bp.get("/concerns")
def concerns() -> str:
    """List concerns, filtered by place and status (open ones by default)."""
    place_id = request.args.get("place_id") or None
    status = request.args.get("status") or "open"
    if status not in STATUS_FILTERS:
        status = "open"
    rows = queries.concern_rows(store(), place_id=place_id, status=status)
    rows.sort(key=lambda c: c.get("raised_on") or "", reverse=True)  # newest first...
    rows.sort(key=lambda c: c.get("place_name") or "\uffff")  # ...within each place
    return render_template(
        "concerns.html",
        active="field.concerns",
        rows=rows,
        places=queries.places_by_recent(store()),
        place_id=place_id or "",
        status=status,
        status_filters=STATUS_FILTERS,
    )


@bp.get("/concerns/new")
def new_concern() -> str:
    """Show the form for one concern raised outside a visit."""
    place_id = request.args.get("place_id", "")
    values = {"place_id": place_id, "priority": "normal", "category": ""}
    return render_template("concern_form.html", **_form_context(values, {}))


@bp.post("/concerns/new")
def create_concern() -> Response | tuple[str, int]:
    """Save a concern; when similar open ones exist at the place, offer 附议 first."""
    values = {k: request.form.get(k, "") for k in request.form}
    key = form_key()
    if key and (done := store().get("concern", key) or store().get("follow_up", key)):
        flash(
            gettext("This form was already saved; nothing was saved twice")
        )  # the same form sent twice: saved once
        concern_id = key if done["type"] == "concern" else done["fields"].get("subject_id")
        return redirect(url_for("field.concern", concern_id=concern_id))
    fields, errors = parse_concern(request.form, gettext, list_keys("concern.category"))
    place_id = request.form.get("place_id") or None
    if place_id and store().get("place", place_id) is None:
        errors["place_id"] = gettext("That place no longer exists; pick again")
    support_of = next((v for v in request.form.getlist("support_of") if v), "")
    if not errors and support_of and store().get("concern", support_of):
        _add_support(support_of, request.form.get("raised_by_group"), fields["title"], key)
        flash(gettext("Your voice was added."))
        return redirect(url_for("field.concern", concern_id=support_of))
    similar = [] if errors else queries.similar_open(store(), place_id, fields["title"])
    if not errors and (not similar or request.form.get("confirm_new")):
        fields.update(status="new", place_id=place_id, raised_on=now().date().isoformat())
        try:
            concern_id = store().create(
                "concern", {k: v for k, v in fields.items() if v}, record_id=key
            )
        except ClientError as exc:
            errors.update(store_errors(exc))
        else:
            flash(
                gettext("Concern saved.")
                + " "
                + gettext("Saved on this device; %(n)s to sync.", n=store().status()["pending"])
            )
            return redirect(url_for("field.concern", concern_id=concern_id))
    if errors:
        flash_form_errors(errors)
    context = _form_context(values, errors, similar=similar)
    return render_template("concern_form.html", **context), (422 if errors else 200)


@bp.get("/concerns/<concern_id>/edit")
def edit_concern(concern_id: str) -> str:
    """Show a concern's form filled in (e.g. after the office asked for changes)."""
    row = _concern_or_404(concern_id)
    values = {k: ("" if v is None else v) for k, v in row.items()}
    context = _form_context(values, {}, edit=row, **_met(row, row.get("party_ids")))
    return render_template("concern_form.html", **context)


def _visit_people(row: dict[str, Any]) -> list[str]:
    visit = store().get("visit", row["visit_id"]) if row.get("visit_id") else None
    return list(visit["fields"].get("party_ids") or []) if visit else []


def _met(row: dict[str, Any], chosen: Any) -> dict[str, Any]:
    """The people met in the concern's visit, to choose who raised it, and those chosen."""
    met = [store().get("party", p) for p in _visit_people(row)]
    return {"met": [queries.flat(p) for p in met if p], "chosen": set(chosen or [])}


@bp.post("/concerns/<concern_id>/edit")
def update_concern(concern_id: str) -> Response | tuple[str, int]:
    """Save changes to a concern's words, category, priority, place and outcome."""
    row = _concern_or_404(concern_id)
    values = {k: request.form.get(k, "") for k in request.form}
    held = row.get("category")  # a retired category stays valid on its record
    fields, errors = parse_concern(request.form, gettext, list_keys("concern.category", held=held))
    place_id = request.form.get("place_id") or None
    if place_id and store().get("place", place_id) is None:
        errors["place_id"] = gettext("That place no longer exists; pick again")
    for name, limit in (("responsible_unit", 200), ("resolution", 10_000)):
        text = (request.form.get(name) or "").strip()
        if len(text) > limit:
            errors[name] = gettext("At most %(n)s characters", n=limit)
        fields[name] = text or None
    met = _visit_people(row)
    chosen = request.form.getlist("party_ids")
    if met and row.get("visit_id"):
        fields.update(concern_people(row["visit_id"], met, chosen))
    if not errors:
        try:
            store().update("concern", concern_id, dict(fields, place_id=place_id))
        except ClientError as exc:
            errors.update(store_errors(exc))
        else:
            flash(gettext("Saved on this device; %(n)s to sync.", n=store().status()["pending"]))
            return redirect(url_for("field.concern", concern_id=concern_id))
    flash_form_errors(errors)
    context = _form_context(values, errors, edit=row, **_met(row, chosen))
    return render_template("concern_form.html", **context), 422


def _add_support(concern_id: str, group: str | None, note: str | None, key: str | None) -> str:
    fields = {"subject_type": "concern", "subject_id": concern_id, "kind": "support",
              "group": group if group in GROUPS else None, "note": note or None,
              "happened_at": now().isoformat(timespec="seconds")}  # fmt: skip
    fields = {k: v for k, v in fields.items() if v}
    return str(store().create("follow_up", fields, record_id=key))


@bp.get("/concerns/similar.json")
def similar_json() -> Response:
    """Return open concerns similar to a typed title at a place (by id or exact name)."""
    place_id = request.args.get("place_id") or None
    name = (request.args.get("place_name") or "").strip()
    if name:
        same = [p for p in store().list("place") if p["fields"].get("name") == name]
        place_id = same[0]["id"] if len(same) == 1 else None
        if not same:
            return jsonify({"similar": []})  # a new place has no concerns yet
    found = queries.similar_open(store(), place_id, request.args.get("title", "")[:200])
    rows = [
        {"id": c["id"], "title": c.get("title"), "status": L("concern_status", c.get("status")),
         "supports": gettext("%(n)s further voices", n=c["supports"]) if c["supports"] else ""}
        for c in found
    ]  # fmt: skip
    texts = {
        "label": gettext(
            "This place already has similar open concerns; add your voice instead of a duplicate:"
        ),
        "action": gettext("Support this one"),
        "chosen": gettext("Will be saved as a further voice"),
    }
    return jsonify({"similar": rows, **texts})


@bp.get("/concerns/<concern_id>")
def concern(concern_id: str) -> str:
    """Show a concern with its place, visit, status, follow-ups and 附议."""
    return _concern_page(concern_id, {"kind": "note"}, {})


def _concern_page(concern_id: str, values: dict[str, Any], errors: dict[str, str]) -> str:
    row = _concern_or_404(concern_id)
    place = store().get("place", row.get("place_id") or "") if row.get("place_id") else None
    visit = store().get("visit", row.get("visit_id") or "") if row.get("visit_id") else None
    notes = [queries.flat(f) for f in store().list("follow_up", subject=concern_id)]
    notes.sort(key=lambda f: f.get("happened_at") or "", reverse=True)
    people = _people_near(row)
    return render_template(
        "concern.html",
        active="field.concerns",
        c=row,
        place=queries.flat(place) if place else None,
        visit=queries.flat(visit) if visit else None,
        notes=notes,
        supports=sum(1 for f in notes if f.get("kind") == "support"),
        steps=REP_STEPS.get(row.get("status") or "new", ()),
        kinds=FOLLOW_UP_KINDS,
        groups=GROUPS,
        values=values,
        errors=errors,
        people=people,
        names={p["id"]: p.get("name") or L("party_kind", p.get("kind")) for p in people},
    )


def _people_near(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The people a voice or a concern may name: its own people, then those of its place."""
    own = [store().get("party", p) for p in row.get("party_ids") or [row.get("party_id")] if p]
    near = store().list("party", place=row["place_id"]) if row.get("place_id") else []
    found = {p["id"]: queries.flat(p) for p in [*own, *near] if p and not p["deleted"]}
    return list(found.values())


@bp.post("/concerns/<concern_id>/status")
def concern_status(concern_id: str) -> Response:
    """Take one of the representative's casework steps (and date a resolution)."""
    row = _concern_or_404(concern_id)
    status = request.form.get("status")
    if status in REP_STEPS.get(row.get("status") or "new", ()):
        store().update("concern", concern_id, status_change(row, status, now().date()))
        flash(gettext("Status changed to: %(status)s", status=L("concern_status", status)))
    return redirect(safe_next(url_for("field.concern", concern_id=concern_id)))


@bp.post("/concerns/<concern_id>/follow-up")
def concern_follow_up(concern_id: str) -> Response | tuple[str, int]:
    """Add a follow-up note, or a further voice (附议) when kind is "support"."""
    row = _concern_or_404(concern_id)
    key = form_key()
    here = url_for("field.concern", concern_id=concern_id)
    if key and store().get("follow_up", key) is not None:  # the same form sent twice
        flash(gettext("This form was already saved; nothing was saved twice"))
        return redirect(here)
    parsed = parse_note(request.form, gettext, now())
    party_id = request.form.get("party_id") or None
    if party_id not in {p["id"] for p in _people_near(row)}:
        party_id = None
    if not parsed.errors:
        fields = dict(parsed.fields, subject_type="concern", subject_id=concern_id)
        fields["party_id"] = party_id
        record_id = key or new_form_key()
        saved = store().create(
            "follow_up", {k: v for k, v in fields.items() if v}, record_id=record_id
        )
        if saved != record_id:
            flash(gettext("This person's voice is already counted"))
        elif fields["kind"] == "support":
            flash(gettext("Your voice was added."))
        else:
            flash(gettext("Follow-up saved."))
        return redirect(here)
    flash_form_errors(parsed.errors)
    return _concern_page(concern_id, dict(request.form), parsed.errors), 422
