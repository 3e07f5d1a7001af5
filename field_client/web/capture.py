"""Recording: the one-minute visit form (with its people and concerns), visit pages and edits."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from field_client.errors import ClientError, NotEnrolled
from field_client.web import i18n, photos, queries
from field_client.web.forms import (
    PLACE_KINDS,
    PRIORITIES,
    ConcernRow,
    VisitInput,
    parse_visit,
    to_input,
)
from field_client.web.views import (
    L,
    bp,
    form_key,
    gettext,
    lang,
    list_keys,
    new_form_key,
    now,
    state,
    store,
)
from sync.records import GROUPS
from sync.rules import concern_people, same_person

__all__ = ["flash_form_errors", "store_errors"]

PARTY_CHIP_KINDS = ("resident", "merchant", "worker")


def store_errors(exc: ClientError) -> dict[str, str]:
    """Turn a store error into per-field text for the page (``_``: about the whole form)."""
    if isinstance(exc, NotEnrolled):
        return {
            "_": gettext(
                "This device is not enrolled yet, so nothing can be saved. Run fieldsync "
                "init first."
            )
        }
    errors = getattr(exc, "errors", None)
    if not errors:
        return {
            "_": gettext(
                "The local database could not be written: %(detail)s", detail=exc.detail or exc.key
            )
        }
    found = {k: "；".join(i18n.fault(lang(), m) for m in v) for k, v in errors.items()}
    # a field the form does not show still gets named at the top of the page
    found["_"] = "；".join(f"{i18n.enum_label(lang(), 'field', k)}：{m}" for k, m in found.items())
    return found


def flash_form_errors(errors: dict[str, str]) -> None:
    """Say at the top of the page that the form needs attention (or what went wrong)."""
    flash(errors.get("_") or gettext("Please check the fields marked in red."), "error")


def _rows(form: Any, names: tuple[str, ...], minimum: int) -> list[dict[str, str]]:
    lists = {n: form.getlist(n) for n in names} if form else {n: [] for n in names}
    length = max([minimum] + [len(v) for v in lists.values()])
    return [{n: (v[i] if i < len(v) else "") for n, v in lists.items()} for i in range(length)]


def _repeated_names(places: list[dict[str, Any]]) -> set[str]:
    """Names shared by several places (their chips then show the address too)."""
    seen: set[str] = set()
    repeated: set[str] = set()
    for place in places:
        name = place.get("name") or ""
        (repeated if name in seen else seen).add(name)
    return repeated


def _visit_context(
    values: dict[str, Any], errors: dict[str, str], form: Any = None, **extra: Any
) -> dict[str, Any]:
    places = queries.places_by_recent(store())
    place_id = values.get("place_id") or ""
    parties = [queries.flat(p) for p in store().list("party", limit=200)]
    offered = extra.get("offered") or set()
    # people offered as already recorded first, then people of this place
    parties.sort(key=lambda p: (p["id"] not in offered, p.get("place_id") != place_id))
    recent = places[:8]
    if place_id and place_id not in {p["id"] for p in recent}:
        recent = [p for p in places if p["id"] == place_id] + recent[:7]
    concern_names = ("concern_title", "concern_category", "concern_priority", "concern_group",
                     "concern_support_of")  # fmt: skip
    person_names = ("person_name", "person_kind", "person_phone")
    offset = now().strftime("%z")
    return {
        "active": "field.new_visit",
        "values": values,
        "errors": errors,
        "recent_places": recent,
        "same_names": _repeated_names(places),
        "all_places": places,
        "parties": parties[:24],
        "selected_parties": set(values.get("party_ids") or []),
        "concern_rows": _rows(form, concern_names, 1),
        "person_rows": _rows(form, person_names, 1),
        "visit_kinds": list_keys("visit.kind"),
        "place_kinds": PLACE_KINDS,
        "party_kinds": PARTY_CHIP_KINDS + ("organisation", "other"),
        "categories": list_keys("concern.category"),
        "priorities": PRIORITIES,
        "groups": GROUPS,
        "offset": f"UTC{offset[:3]}:{offset[3:]}",
        "candidates": [],
        "max_time": (now() + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
        "form_key": extra.pop("form_key", None) or new_form_key(),
        "offered": set(),
        "offered_rows": set(),
        **extra,
    }


@bp.get("/visits/new")
def new_visit() -> str:
    """Show the visit form: kind, place, time (now), people, summary and concerns."""
    place_id = request.args.get("place_id", "")
    values = {
        "kind": "home_visit",
        "place_id": place_id if store().get("place", place_id) else "",
        "started_at": now().strftime("%Y-%m-%dT%H:%M"),
        "new_place_kind": "compound",
    }
    return render_template("visit_form.html", **_visit_context(values, {}))


def _typed_values(form: Any) -> dict[str, Any]:
    values = {k: form.get(k, "") for k in form}
    values["party_ids"] = form.getlist("party_ids")
    return values


@bp.post("/visits/new")
def create_visit() -> Response | tuple[str, int]:
    """Save a visit with its place, new people and concerns in one transaction."""
    places = [queries.flat(p) for p in store().list("place")]
    parsed = parse_visit(
        request.form, places, gettext, state().tz, now(), list_keys("concern.category")
    )
    for row in parsed.concerns:
        if row.support_of and store().get("concern", row.support_of) is None:
            row.support_of = None  # the suggested concern is gone: keep the new one
    key = form_key()
    if key and store().get("visit", key) is not None:  # the same form sent twice: saved once
        flash(gettext("This form was already saved; nothing was saved twice"))
        return redirect(url_for("field.visit", visit_id=key))
    chosen, photo_error = photos.read_photos(request.files)
    if photo_error:
        parsed.errors[photos.FIELD] = photo_error
    offers = _known_people(parsed, request.form)
    if not parsed.errors:
        try:
            visit_id = _save_visit(parsed, key)
        except ClientError as exc:
            parsed.errors.update(store_errors(exc))
        else:
            try:  # the visit is saved: a photo that fails is said on its page, not re-asked
                photos.attach_photos("visit", visit_id, chosen)
            except ClientError as exc:
                flash(store_errors(exc)["_"], "error")
            voices = sum(1 for row in parsed.concerns if row.support_of)
            saved = gettext("Visit saved, with %(n)s concerns.", n=len(parsed.concerns) - voices)
            if voices:
                saved = gettext(
                    "Visit saved, with %(n)s new concerns and %(m)s further voices.",
                    n=len(parsed.concerns) - voices,
                    m=voices,
                )
            flash(
                saved
                + " "
                + gettext("Saved on this device; %(n)s to sync.", n=store().status()["pending"])
            )
            return redirect(url_for("field.visit", visit_id=visit_id))
    values = _typed_values(request.form)
    values["party_ids"] = list(dict.fromkeys(values["party_ids"] + list(offers.values())))
    if chosen and photos.FIELD not in parsed.errors:  # a browser cannot refill a file input
        parsed.errors[photos.FIELD] = gettext(
            "Everything else was kept; please choose the photos again."
        )
    flash_form_errors(parsed.errors)
    context = _visit_context(
        values, parsed.errors, request.form, candidates=parsed.place.candidates,
        form_key=key, offered=set(offers.values()), offered_rows=set(offers),
    )  # fmt: skip
    return render_template("visit_form.html", **context), 422


def _known_people(parsed: VisitInput, form: Any) -> dict[int, str]:
    """Offer people already recorded instead of creating them again; return row -> party id.

    A new person who matches one already chosen is dropped (that person is used); one who
    matches someone not chosen gets an error offering that person, unless the row was
    confirmed as someone else (``person_new_ok``).
    """
    confirmed = set(form.getlist("person_new_ok"))
    chosen = set(parsed.party_ids)
    known = [queries.flat(p) for p in store().list("party")]
    offers: dict[int, str] = {}
    keep = []
    for i, person in enumerate(parsed.people):
        new = {"name": person.name, "phone": person.phone, "place_id": parsed.place.place_id}
        match = None if str(i) in confirmed else next(
            (p for p in known if same_person(new, p)), None
        )  # fmt: skip
        if match is None:
            keep.append(person)
        elif match["id"] not in chosen:
            offers[i] = match["id"]
            parsed.errors[f"person_name.{i}"] = gettext(
                "Already recorded: %(name)s. That person is now chosen; save again, or "
                "tick “a different person”",
                name=match.get("name") or L("party_kind", match.get("kind")),
            )
            keep.append(person)
    parsed.people = keep
    return offers


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None and v != ""}


def _save_visit(parsed: VisitInput, form_key: str | None) -> str:
    """Create place, people, visit and concerns (or 附议 follow-ups) atomically."""
    db = store()
    with db.write():
        place_id = parsed.place.place_id
        if place_id is None:
            place_id = db.create("place", {"name": parsed.place.new_name,
                                           "kind": parsed.place.new_kind})  # fmt: skip
        party_ids = [p for p in parsed.party_ids if db.get("party", p) is not None]
        for person in parsed.people:
            party = {"kind": person.kind, "name": person.name, "phone": person.phone,
                     "place_id": place_id}  # fmt: skip
            party_ids.append(db.create("party", _clean(party)))
        visit = dict(parsed.fields, place_id=place_id, party_ids=party_ids or None)
        visit_id = db.create("visit", _clean(visit), record_id=form_key)
        started = parsed.fields.get("started_at") or now().isoformat(timespec="seconds")
        for row in parsed.concerns:
            if row.support_of:
                _save_voices(row, party_ids, started)
                continue
            concern = {"title": row.title, "category": row.category, "priority": row.priority,
                       "status": "new", "place_id": place_id, "raised_on": started[:10],
                       "raised_by_group": row.group,
                       **concern_people(visit_id, party_ids)}  # fmt: skip
            db.create("concern", _clean(concern))
    return visit_id


def _save_voices(row: ConcernRow, party_ids: list[str], started: str) -> None:
    """Save a further voice (附议) for each person met, or one anonymous voice."""
    people: list[str | None] = list(party_ids) or [None]
    for party_id in people:
        note = {"subject_type": "concern", "subject_id": row.support_of, "kind": "support",
                "group": row.group, "note": row.title, "happened_at": started,
                "party_id": party_id}  # fmt: skip
        store().create("follow_up", _clean(note))  # a person already counted is not again


@bp.get("/visits/<visit_id>")
def visit(visit_id: str) -> str:
    """Show one visit: when, where, who, summary, its concerns and the office's note."""
    record = store().get("visit", visit_id)
    if record is None or record["deleted"]:
        abort(404)
    row = queries.flat(record)
    place = store().get("place", row.get("place_id") or "") if row.get("place_id") else None
    people = [queries.flat(store().get("party", p)) for p in row.get("party_ids") or []]
    supports = queries.support_counts(store())
    concerns = [
        dict(queries.flat(c), supports=supports.get(c["id"], 0))
        for c in store().list("concern")
        if c["fields"].get("visit_id") == visit_id
    ]
    return render_template(
        "visit.html",
        active="field.new_visit",
        visit=row,
        place=queries.flat(place) if place else None,
        people=[p for p in people if p],
        concerns=concerns,
    )


@bp.get("/visits/<visit_id>/edit")
def edit_visit(visit_id: str) -> str:
    """Show the visit form filled in, to change it (e.g. after a note from the office)."""
    record = store().get("visit", visit_id)
    if record is None or record["deleted"]:
        abort(404)
    row = queries.flat(record)
    tz = state().tz
    values = dict(row, started_at=to_input(row.get("started_at"), tz),
                  ended_at=to_input(row.get("ended_at"), tz))  # fmt: skip
    return render_template("visit_form.html", **_visit_context(values, {}, edit=row))


@bp.post("/visits/<visit_id>/edit")
def update_visit(visit_id: str) -> Response | tuple[str, int]:
    """Save changes to a visit's kind, place, times, people and summary."""
    record = store().get("visit", visit_id)
    if record is None or record["deleted"]:
        abort(404)
    places = [queries.flat(p) for p in store().list("place")]
    parsed = parse_visit(
        request.form, places, gettext, state().tz, now(), list_keys("concern.category")
    )
    if not parsed.errors:
        try:
            with store().write():
                place_id = parsed.place.place_id or store().create(
                    "place", {"name": parsed.place.new_name, "kind": parsed.place.new_kind}
                )
                fields = dict(parsed.fields, place_id=place_id, party_ids=parsed.party_ids)
                store().update("visit", visit_id, fields)
        except ClientError as exc:
            parsed.errors.update(store_errors(exc))
        else:
            flash(gettext("Saved on this device; %(n)s to sync.", n=store().status()["pending"]))
            return redirect(url_for("field.visit", visit_id=visit_id))
    flash_form_errors(parsed.errors)
    values = _typed_values(request.form)
    context = _visit_context(
        values, parsed.errors, request.form, candidates=parsed.place.candidates,
        edit=queries.flat(record),
    )  # fmt: skip
    return render_template("visit_form.html", **context), 422
