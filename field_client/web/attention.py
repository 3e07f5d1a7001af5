"""What needs attention: changes the server refused (and fixing them), conflicts, office notes."""

from __future__ import annotations

import json
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from field_client.errors import ClientError
from field_client.web import i18n, queries
from field_client.web.capture import flash_form_errors, store_errors
from field_client.web.forms import coerce_field, format_local, to_input
from field_client.web.views import L, bp, gettext, lang, list_keys, now, state, store
from sync import vocabulary
from sync.records import RECORD_TYPES, Choice, DateTime, ListChoice, Ref, RefList, Text

__all__ = ["fix_fields"]

REF_TYPES = {
    "place_id": "place",
    "parent_id": "place",
    "visit_id": "visit",
    "party_id": "party",
    "project_id": "project",
    "duplicate_of": "concern",
}


def show_value(value: Any, rtype: str = "", name: str = "") -> str:
    """Show a refused or conflicting value as short text (enum values by their label)."""
    if value is None:
        return "—"
    rules = RECORD_TYPES[rtype].rules if rtype in RECORD_TYPES else {}
    if isinstance(rules.get(name), Choice) and isinstance(value, str):
        return vocabulary.choice_label(lang(), rtype, name, value)
    if isinstance(value, str):
        return format_local(value) if "T" in value and value[:4].isdigit() else value
    if isinstance(value, list):  # record ids (people at a visit): show their names
        names = [queries.record_label(store().get(None, str(v))) or str(v)[:8] for v in value]
        return "、".join(names)
    return json.dumps(value, ensure_ascii=False)


def _offered(rtype: str, name: str, rule: Choice) -> list[str]:
    """The values a fix form offers: a workspace list as this device has it, else the rule's."""
    if isinstance(rule, ListChoice):
        return list_keys(rule.list_name)
    return list(rule.values)


def _label(rtype: str, name: str, value: str) -> str:
    group = next((g for g, where in i18n.GROUPS.items() if where == (rtype, name)), None)
    return L(group, value) if group else vocabulary.choice_label(lang(), rtype, name, value)


def fix_fields(rejection: dict[str, Any]) -> list[dict[str, Any]]:
    """Describe the inputs of a fix form: one per refused field, with its reason."""
    rtype = rejection["type"]
    record_type = RECORD_TYPES.get(rtype)
    rows = []
    for name, value in rejection["values"].items():
        rule = record_type.rules.get(name) if record_type else None
        reasons = [i18n.fault(lang(), m) for m in rejection["errors"].get(name, [])]
        choices: list[tuple[str, str]] = []
        if isinstance(rule, Choice):
            widget = "select"
            choices = [(c, _label(rtype, name, c)) for c in _offered(rtype, name, rule)]
        elif isinstance(rule, Ref) and name in REF_TYPES:
            widget = "select"  # pick a record of this device instead of the refused reference
            choices = [(r["id"], queries.record_label(r) or r["id"][:8])
                       for r in store().list(REF_TYPES[name])]  # fmt: skip
        elif isinstance(rule, Ref | RefList) or rule is None or name.startswith("_"):
            widget = "fixed"  # references and unknown fields cannot be typed in
        elif record_type and name in record_type.office_only:
            widget = "fixed"
        elif isinstance(rule, Text) and rule.max > 500:
            widget = "textarea"
        elif isinstance(rule, DateTime):
            widget = "datetime"
        else:
            widget = "text"
        text = value if isinstance(value, str) else ("" if value is None else str(value))
        if isinstance(rule, DateTime) and isinstance(value, str):
            text = to_input(value, state().tz)
        rows.append(
            {
                "name": name,
                "value": text,
                "shown": show_value(value, rtype, name),
                "reasons": reasons,
                "widget": widget,
                "choices": choices,
                "max": getattr(rule, "max", None),
            }
        )
    rows.sort(key=lambda row: not row["reasons"])  # what the server refused comes first
    return rows


@bp.get("/attention")
def attention() -> str:
    """List rejected changes with reasons, conflicts the office reviews, and office notes."""
    found = queries.attention(store())
    for item in found["rejected"]:
        item["reasons"] = [
            (name, [i18n.fault(lang(), m) for m in messages])
            for name, messages in item["errors"].items()
        ]
    for item in found["conflicts"]:
        for side in ("kept", "other"):
            value = (item.get(side) or {}).get("value")
            item[f"{side}_text"] = show_value(value, item["type"], item["field"])
    owned = queries.mine(store(), now().date())
    return render_template(
        "attention.html", active="field.attention", today=now().date().isoformat(),
        **found, **owned,
    )  # fmt: skip


def _rejection_or_404(rejection_id: int) -> dict[str, Any]:
    for item in store().rejected():
        if item["id"] == rejection_id:
            return item
    abort(404)


@bp.get("/attention/rejected/<int:rejection_id>")
def fix_rejected(rejection_id: int) -> str:
    """Show the refused values next to the server's reasons, ready to correct."""
    item = _rejection_or_404(rejection_id)
    return _fix_page(item, fix_fields(item), {})


def _fix_page(item: dict[str, Any], rows: list[dict[str, Any]], errors: dict[str, str]) -> str:
    record = store().get(None, item["record_id"])
    return render_template(
        "fix.html", active="field.attention", item=item, rows=rows, errors=errors,
        label=queries.record_label(record),
    )  # fmt: skip


@bp.post("/attention/rejected/<int:rejection_id>")
def save_fix(rejection_id: int) -> Response | tuple[str, int]:
    """Queue the corrected values as a new edit; the next sync sends them."""
    item = _rejection_or_404(rejection_id)
    rows = fix_fields(item)
    fields: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for row in rows:
        if row["widget"] == "fixed":
            continue
        typed = request.form.get(f"f_{row['name']}", "")
        row["value"] = typed
        value, error = coerce_field(
            item["type"], row["name"], typed, gettext, state().tz, lambda f: i18n.fault(lang(), f)
        )
        if row["widget"] == "select" and row["choices"] and value is not None and not error:
            error = None if value in dict(row["choices"]) else gettext("Please pick one")
        if error:
            errors[row["name"]] = error
        fields[row["name"]] = value
    if not errors:
        try:
            store().fix_rejected(rejection_id, fields)
        except ClientError as exc:
            errors.update(store_errors(exc))
        else:
            flash(gettext("Fixed; it goes out with the next sync."))
            return redirect(url_for("field.attention"))
    flash_form_errors(errors)
    return _fix_page(item, rows, errors), 422
