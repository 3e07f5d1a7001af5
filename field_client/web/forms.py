"""Form parsing and validation for the field UI: text in, values and per-field messages out.

Nothing here touches the store or Flask. Each parser returns the values to save and ``errors``
(field name -> a message already in the page's language), and keeps what was typed in ``typed``
so a form with mistakes is shown again as the representative left it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sync import strict
from sync.coerce import coerce, parse_time
from sync.records import (
    GROUPS,
    RECORD_TYPES,
    VISIT_KINDS,
    Choice,
    Date,
    DateTime,
    Float,
    Int,
    Ref,
)
from sync.rules import FIELD_ALLOWANCE_MS, future_errors
from sync.vocabulary import Fault

__all__ = [
    "CATEGORIES",
    "ConcernRow",
    "FollowUpInput",
    "PersonRow",
    "PlaceChoice",
    "VisitInput",
    "coerce_field",
    "format_local",
    "parse_concern",
    "parse_follow_up",
    "parse_time",
    "parse_visit",
    "resolve_place",
    "to_input",
]

Translate = Callable[..., str]
CATEGORIES: tuple[str, ...] = RECORD_TYPES["concern"].rules["category"].values  # type: ignore[attr-defined]
PRIORITIES = ("normal", "high", "urgent", "low")
PARTY_KINDS = ("resident", "merchant", "worker", "organisation", "other")
PLACE_KINDS = ("compound", "business_district", "building", "shop", "community", "other")
FOLLOW_UP_KINDS = ("note", "call", "return_visit", "referral", "support")
TITLE_MAX, TEXT_MAX, PHONE_MAX = 200, 10_000, 40


@dataclass
class PlaceChoice:
    """How the form named the place: an existing id, a new place to create, or a problem."""

    place_id: str | None = None
    new_name: str | None = None
    new_kind: str = "compound"
    candidates: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


@dataclass
class PersonRow:
    name: str
    kind: str
    phone: str


@dataclass
class ConcernRow:
    title: str
    category: str
    priority: str
    group: str | None
    support_of: str | None  # an existing concern's id: save a 附议 follow-up instead


@dataclass
class VisitInput:
    """A parsed visit form: the visit's fields, place, new people, concerns, and any errors."""

    fields: dict[str, Any]
    place: PlaceChoice
    party_ids: list[str]
    people: list[PersonRow]
    concerns: list[ConcernRow]
    errors: dict[str, str]
    typed: dict[str, Any]


@dataclass
class FollowUpInput:
    fields: dict[str, Any]
    errors: dict[str, str]


def _text(
    form: Mapping[str, Any], name: str, gettext: Translate, errors: dict[str, str], *,
    max_len: int, required: bool = False, value: str | None = None,
) -> str:  # fmt: skip
    text = (form.get(name, "") if value is None else value).strip()
    if required and not text:
        errors[name] = gettext("Required")
    elif len(text) > max_len:
        errors[name] = gettext("At most %(n)s characters", n=max_len)
    return text


def _choice(value: str | None, choices: Sequence[str], default: str | None) -> str | None:
    return value if value in choices else default


def _whole(text: str) -> int | None:
    """Read a whole number typed with ASCII digits (not "¹" or "١", which isdigit accepts)."""
    try:
        return strict.parse_int(text, 0, 10**12)
    except ValueError:
        return None


def format_local(value: str | None, with_offset: bool = False) -> str:
    """Show an ISO time as "2024-05-31 09:30" (in its own offset), or "" when absent."""
    if not value:
        return ""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return str(value)
    text = parsed.strftime("%Y-%m-%d %H:%M")
    if with_offset and parsed.tzinfo is not None:
        text += " " + parsed.strftime("%z")[:3] + ":" + parsed.strftime("%z")[3:]
    return text


def to_input(value: str | None, tz: dt.tzinfo | None) -> str:
    """Show an ISO time in a datetime-local input, converted to the device's time zone."""
    if not value:
        return ""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(tz) if tz is not None else parsed.astimezone()
    return parsed.strftime("%Y-%m-%dT%H:%M")


def resolve_place(
    form: Mapping[str, Any], places: Sequence[Mapping[str, Any]], gettext: Translate
) -> PlaceChoice:
    """Work out the visit's place: a tapped recent place, or a typed name (found or new)."""
    known = {p["id"]: p for p in places}
    typed = (form.get("place_name") or "").strip()
    picked = (form.get("place_id") or "").strip()
    kind = _choice(form.get("new_place_kind"), PLACE_KINDS, "compound") or "compound"
    if picked and not typed:
        if picked in known:
            return PlaceChoice(place_id=picked)
        return PlaceChoice(error=gettext("That place no longer exists; pick again"))
    if not typed:
        return PlaceChoice(error=gettext("Pick or type a place"))
    if len(typed) > TITLE_MAX:
        return PlaceChoice(error=gettext("At most %(n)s characters", n=TITLE_MAX))
    same = [p for p in places if (p.get("name") or "").strip().casefold() == typed.casefold()]
    if len(same) == 1:
        return PlaceChoice(place_id=same[0]["id"])
    if len(same) > 1:
        if picked in {p["id"] for p in same}:
            return PlaceChoice(place_id=picked)
        error = gettext(
            "%(n)s places are called “%(name)s”; pick one below.", n=len(same), name=typed
        )
        return PlaceChoice(candidates=[dict(p) for p in same], error=error)
    return PlaceChoice(new_name=typed, new_kind=kind)


def _rows(form: Any, *names: str) -> list[tuple[str, ...]]:
    lists = [form.getlist(n) if hasattr(form, "getlist") else [] for n in names]
    length = max((len(x) for x in lists), default=0)
    return [tuple((x[i] if i < len(x) else "") for x in lists) for i in range(length)]


def _people(form: Any, gettext: Translate, errors: dict[str, str]) -> list[PersonRow]:
    people = []
    for i, (name, kind, phone) in enumerate(
        _rows(form, "person_name", "person_kind", "person_phone")
    ):
        name, phone = name.strip(), phone.strip()
        if not name and not phone:
            continue
        if not name:
            errors[f"person_name.{i}"] = gettext("Enter a name")
        elif len(name) > TITLE_MAX:
            errors[f"person_name.{i}"] = gettext("At most %(n)s characters", n=TITLE_MAX)
        if len(phone) > PHONE_MAX:
            errors[f"person_phone.{i}"] = gettext("At most %(n)s characters", n=PHONE_MAX)
        people.append(PersonRow(name, _choice(kind, PARTY_KINDS, "resident") or "resident", phone))
    return people


def _concern_rows(
    form: Any, gettext: Translate, errors: dict[str, str], categories: Sequence[str]
) -> list[ConcernRow]:
    rows = []
    names = ("concern_title", "concern_category", "concern_priority", "concern_group",
             "concern_support_of")  # fmt: skip
    for i, (title, category, priority, group, support) in enumerate(_rows(form, *names)):
        title = title.strip()
        if not title:
            continue  # an untouched extra row
        if len(title) > TITLE_MAX:
            errors[f"concern_title.{i}"] = gettext("At most %(n)s characters", n=TITLE_MAX)
        rows.append(
            ConcernRow(
                title=title,
                category=_choice(category, categories, "other") or "other",
                priority=_choice(priority, PRIORITIES, "normal") or "normal",
                group=_choice(group, GROUPS, None),
                support_of=support.strip() or None,
            )
        )
    return rows


def _times(
    form: Mapping[str, Any],
    gettext: Translate,
    errors: dict[str, str],
    tz: dt.tzinfo | None,
    now: dt.datetime | None = None,
) -> dict[str, str | None]:
    out: dict[str, str | None] = {"started_at": None, "ended_at": None}
    parsed: dict[str, dt.datetime] = {}
    for name in out:
        text = (form.get(name) or "").strip()
        if not text:
            if name == "started_at":
                errors[name] = gettext("Required")
            continue
        value = parse_time(text, tz)
        if value is None:
            errors[name] = gettext("Not a time, e.g. 2024-05-31 09:30")
            continue
        parsed[name] = value
        out[name] = value.isoformat(timespec="seconds")
    if len(parsed) == 2 and parsed["ended_at"] < parsed["started_at"]:
        errors["ended_at"] = gettext("The end is before the start")
    if now is not None:
        typed = {k: v for k, v in out.items() if k not in errors}
        for name in future_errors(
            RECORD_TYPES["visit"], typed, now_ms=int(now.timestamp() * 1000),
            allowance_ms=FIELD_ALLOWANCE_MS,
        ):  # fmt: skip
            errors[name] = gettext(
                "Cannot be later than now (%(now)s on this device)",
                now=now.strftime("%Y-%m-%d %H:%M"),
            )
    return out


def parse_visit(
    form: Any,
    places: Sequence[Mapping[str, Any]],
    gettext: Translate,
    tz: dt.tzinfo | None = None,
    now: dt.datetime | None = None,
    categories: Sequence[str] = CATEGORIES,
) -> VisitInput:
    """Validate the visit form; ``places`` are the known places (id, name...) for name lookup.

    With ``now`` (the device's clock), times more than a few minutes ahead of it are refused.
    """
    errors: dict[str, str] = {}
    kind = form.get("kind")
    if kind not in VISIT_KINDS:
        errors["kind"] = gettext("Please pick one")
    fields: dict[str, Any] = {"kind": kind}
    fields["title"] = _text(form, "title", gettext, errors, max_len=TITLE_MAX) or None
    fields["summary"] = _text(form, "summary", gettext, errors, max_len=TEXT_MAX) or None
    fields.update(_times(form, gettext, errors, tz, now))
    count = (form.get("attendee_count") or "").strip()
    if count:
        number = _whole(count)
        if number is not None and number <= 1_000_000:
            fields["attendee_count"] = number
        else:
            errors["attendee_count"] = gettext("Enter a whole number, 0 or more")
    place = resolve_place(form, places, gettext)
    if place.error:
        errors["place"] = place.error
    party_ids = [p for p in (form.getlist("party_ids") if hasattr(form, "getlist") else []) if p]
    people = _people(form, gettext, errors)
    concerns = _concern_rows(form, gettext, errors, categories)
    typed = {k: form.get(k, "") for k in form} if hasattr(form, "keys") else {}
    return VisitInput(fields, place, party_ids, people, concerns, errors, typed)


def parse_concern(
    form: Mapping[str, Any], gettext: Translate, categories: Sequence[str] = CATEGORIES
) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate the stand-alone concern form (``categories``: what it offers); return (fields,
    errors)."""
    errors: dict[str, str] = {}
    fields: dict[str, Any] = {
        "title": _text(form, "title", gettext, errors, max_len=TITLE_MAX, required=True),
        "description": _text(form, "description", gettext, errors, max_len=TEXT_MAX) or None,
        "category": _choice(form.get("category"), categories, None),
        "priority": _choice(form.get("priority"), PRIORITIES, "normal"),
        "raised_by_group": _choice(form.get("raised_by_group"), GROUPS, None),
    }
    if fields["category"] is None:
        errors["category"] = gettext("Please pick one")
    return fields, errors


def parse_follow_up(
    form: Mapping[str, Any], gettext: Translate, now: dt.datetime
) -> FollowUpInput:
    """Validate a follow-up note or a further voice (附议) on a concern."""
    errors: dict[str, str] = {}
    kind = _choice(form.get("kind"), FOLLOW_UP_KINDS, None)
    if kind is None:
        errors["kind"] = gettext("Please pick one")
    note = _text(
        form, "note", gettext, errors, max_len=TEXT_MAX, required=kind not in (None, "support")
    )
    fields = {
        "kind": kind,
        "group": _choice(form.get("group"), GROUPS, None),
        "note": note or None,
        "happened_at": now.isoformat(timespec="seconds"),
    }
    return FollowUpInput(fields, errors)


def coerce_field(
    record_type: str,
    name: str,
    text: str,
    gettext: Translate,
    tz: dt.tzinfo | None = None,
    render: Callable[[Fault], str] = str,
) -> tuple[Any, str | None]:
    """Turn the text typed into a fix form into a field value; return (value, error).

    The one coercion of ``sync.coerce``; ``render`` puts its fault in the page's language.
    """
    rule = RECORD_TYPES[record_type].rules.get(name)
    text = (text or "").strip()
    if not text:
        return None, (gettext("Required") if name in RECORD_TYPES[record_type].required else None)
    if rule is None:
        return text, None
    value, fault = coerce(rule, text, tz=tz)
    return (value, None) if fault is None else (text, render(fault))
    if isinstance(rule, Choice):
        return (text, None) if text in rule.values else (text, gettext("Please pick one"))
    if isinstance(rule, Int):
        number = _whole(text)
        ok = number is not None and rule.check(number) is None
        return (number, None) if ok else (text, gettext("Enter a whole number, 0 or more"))
    if isinstance(rule, Float):
        try:
            number = strict.parse_decimal(text, -1e15, 1e15)
        except ValueError:
            return text, gettext("Enter a valid number")
        return (
            (number, None)
            if rule.check(number) is None
            else (text, gettext("Enter a valid number"))
        )
    if isinstance(rule, DateTime):
        value = parse_time(text, tz)
        return (
            (value.isoformat(timespec="seconds"), None)
            if value
            else (text, gettext("Not a time, e.g. 2024-05-31 09:30"))
        )
    if isinstance(rule, Date):
        return (
            (text, None)
            if rule.check(text) is None
            else (text, gettext("Not a date, e.g. 2024-05-31"))
        )
    if isinstance(rule, Ref):
        return (
            (text, None)
            if rule.check(text) is None
            else (text, gettext("The chosen record does not exist"))
        )
    return text, None
