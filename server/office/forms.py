"""Edit forms built from the record rules of ``sync.records`` (one definition for both sides).

A form shows each field with the value and the stamp it showed (hidden ``shown__<f>`` and
``base__<f>``). On save only the fields the person changed are sent, each with the stamp it was
based on, so a field someone else changed meanwhile becomes a conflict instead of an overwrite.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _

from server.office import labels
from sync import jsonio
from sync.coerce import coerce as coerce_text
from sync.records import (
    RECORD_TYPES,
    Choice,
    Date,
    DateTime,
    Float,
    Int,
    Ref,
    RefList,
    Rule,
    Text,
)

EDITABLE = {
    "concern": (
        "title", "description", "category", "priority", "status", "place_id", "party_id",
        "party_ids", "visit_id", "raised_by_group", "raised_on", "responsible_unit", "project_id",
        "resolved_on", "resolution", "satisfaction", "duplicate_of",
    ),
    "visit": (
        "kind", "title", "place_id", "started_at", "ended_at", "attendee_count", "party_ids",
        "summary",
    ),
    "place": ("kind", "name", "parent_id", "address", "notes", "lat", "lon"),
    "party": ("kind", "name", "organisation", "phone", "place_id", "notes"),
    "project": (
        "title", "description", "status", "place_id", "started_on", "completed_on", "progress",
    ),
    "follow_up": ("kind", "group", "party_id", "note", "happened_at"),
}  # fmt: skip
REF_TARGETS = {
    "place_id": "place",
    "parent_id": "place",
    "party_id": "party",
    "party_ids": "party",
    "visit_id": "visit",
    "project_id": "project",
    "duplicate_of": "concern",
}


@dataclass
class FormField:
    name: str
    widget: str
    value: Any  # what the input shows (str, or list of ids for party_ids)
    shown: str  # JSON of the value the form showed
    base: str  # the stamp of that value ("" when none)
    choices: list[str] = field(default_factory=list)
    target: str | None = None
    error: str | None = None
    required: bool = False


def widget_of(rule: Rule) -> str:
    if isinstance(rule, Choice):
        return "select"
    if isinstance(rule, RefList):
        return "multiref"
    if isinstance(rule, Ref):
        return "ref"
    if isinstance(rule, Date):
        return "date"
    if isinstance(rule, DateTime):
        return "datetime"
    if isinstance(rule, Int | Float):
        return "number"
    if isinstance(rule, Text) and rule.max > 500:
        return "textarea"
    return "text"


def input_value(rule: Rule, value: Any) -> Any:
    """How a stored value shows in an input."""
    if value is None:
        return ""
    if isinstance(value, list):
        return value
    if isinstance(rule, DateTime) and isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            moment = moment.astimezone(_office_tz())
        return moment.strftime("%Y-%m-%dT%H:%M")
    return str(value)


def build(record_type: str, record: dict[str, Any] | None) -> list[FormField]:
    """The form fields of a record (None: a new one)."""
    rtype = RECORD_TYPES[record_type]
    fields = record["fields"] if record else {}
    stamps = record["stamps"] if record else {}
    result = []
    for name in EDITABLE[record_type]:
        rule = rtype.rules[name]
        value = fields.get(name)
        result.append(
            FormField(
                name=name,
                widget=widget_of(rule),
                value=input_value(rule, value),
                shown=json.dumps(value, ensure_ascii=False),
                base=stamps.get(name) or "",
                choices=_choices(record_type, name, rule, value),
                target=REF_TARGETS.get(name),
                required=name in rtype.required,
            )
        )
    return result


def _choices(record_type: str, name: str, rule: Rule, held: Any) -> list[str]:
    """The values a select offers: the workspace's list (and the value the record holds)."""
    return labels.choice_values(record_type, name, held=held) if isinstance(rule, Choice) else []


def coerce(rule: Rule, raw: Any) -> tuple[Any, str | None]:
    """Turn what a form sent into a field value; return (value, error message)."""
    value, fault = coerce_text(rule, raw, tz=_office_tz())
    if fault is None:
        return value, None
    if isinstance(rule, Date):
        return None, _("Use a date like 2024-05-31.")
    if isinstance(rule, DateTime):
        return None, _("Use a time like 2024-05-31T09:30.")
    if isinstance(rule, Int | Float) and fault.code in ("not_whole", "not_number"):
        return None, _("Not a number.")
    return None, _("Invalid value: %(problem)s", problem=labels.fault(fault))


def _office_tz() -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    from flask import current_app

    return ZoneInfo(current_app.config.get("OFFICE_TIMEZONE", "Asia/Shanghai"))


@dataclass
class Submission:
    values: dict[str, Any]  # changed fields only
    bases: dict[str, str | None]
    errors: dict[str, str]
    fields: list[FormField]  # for re-rendering with what was typed


def read(record_type: str, form: Any, names: tuple[str, ...] | None = None) -> Submission:
    """Read a submitted form: the changed fields, their bases, and per-field errors."""
    rtype = RECORD_TYPES[record_type]
    values: dict[str, Any] = {}
    bases: dict[str, str | None] = {}
    errors: dict[str, str] = {}
    shown_fields = []
    for name in names or EDITABLE[record_type]:
        rule = rtype.rules[name]
        # Not on this form: untouched. (A multi-select with nothing chosen sends nothing.)
        if f"shown__{name}" not in form or (name not in form and not isinstance(rule, RefList)):
            continue
        raw = form.getlist(name) if isinstance(rule, RefList) else form.get(name, "")
        shown = _load(form.get(f"shown__{name}", "null"))
        base = form.get(f"base__{name}") or None
        if _same_input(rule, raw, shown):
            value, error = shown, None
        else:
            value, error = coerce(rule, raw)
        if error is None and value is None and name in rtype.required:
            error = _("This field is required.")
        if error is not None:
            errors[name] = error
        elif value != shown:
            values[name] = value
            bases[name] = base
        ff = FormField(
            name=name,
            widget=widget_of(rule),
            value=raw if isinstance(rule, RefList) else (raw or ""),
            shown=form.get(f"shown__{name}", "null"),
            base=base or "",
            choices=_choices(record_type, name, rule, shown),
            target=REF_TARGETS.get(name),
            error=error,
            required=name in rtype.required,
        )
        shown_fields.append(ff)
    return Submission(values, bases, errors, shown_fields)


def _same_input(rule: Rule, raw: Any, shown: Any) -> bool:
    """Whether the input still holds exactly what the form showed (an untouched field)."""
    before = input_value(rule, shown)
    if isinstance(raw, list):
        return sorted(x for x in raw if x) == sorted(before or [])
    return (raw or "").strip() == str(before).strip()


def _load(text: str) -> Any:
    try:
        return jsonio.loads(text)
    except ValueError:
        return None


def stale_fields(record: dict[str, Any] | None, bases: dict[str, str | None]) -> list[str]:
    """Fields whose stored stamp is no longer the one the form was based on."""
    stamps = record["stamps"] if record else {}
    return [name for name, base in bases.items() if (stamps.get(name) or None) != base]
