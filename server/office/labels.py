"""Names of record types, fields and choice values on the office pages, from the one vocabulary."""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context
from flask_babel import get_locale
from flask_login import current_user

from server import store
from sync import choices, vocabulary
from sync.records import RECORD_TYPES


def lang() -> str:
    """The language of the page being rendered: "en" or "zh"."""
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh"


def type_label(record_type: str, many: bool = False) -> str:
    """The name of a record type (``many``: its plural heading)."""
    return vocabulary.type_label(lang(), record_type, many=many)


def choice_label(record_type: str, field: str, value: Any) -> str:
    """The name of a choice value (the value itself when unknown); lists as the workspace has
    them (its categories, its names of visit kinds)."""
    list_name = f"{record_type}.{field}"
    if list_name in choices.FIELDS and value not in (None, ""):
        for entry in entries(list_name):
            if entry.key == value:
                return choices.entry_label(lang(), entry)
    return vocabulary.choice_label(lang(), record_type, field, value)


def entries(list_name: str) -> list[choices.Entry]:
    """The entries of one of the workspace's lists (read once per request)."""
    if not has_request_context() or not getattr(current_user, "is_authenticated", False):
        return choices.entries(list_name, {})
    if "fieldsync_lists" not in g:
        found = store.list_entries(str(current_user.workspace_id))
        g.fieldsync_lists = {rid: r["fields"] for rid, r in found.items()}
    return choices.entries(list_name, g.fieldsync_lists)


def choice_values(record_type: str, field: str, *, held: Any = None) -> list[str]:
    """The values a form offers: the workspace's active entries (and ``held``, if retired)."""
    list_name = f"{record_type}.{field}"
    if list_name not in choices.FIELDS:
        rule = RECORD_TYPES[record_type].rules[field]
        return list(getattr(rule, "values", ()))
    return [e.key for e in entries(list_name) if not e.retired or e.key == held]


def field_label(field: str) -> str:
    """The name of a field."""
    return vocabulary.field_label(lang(), field)


def fault(message: str) -> str:
    """A rule's message in the page's language."""
    return message.render(lang()) if isinstance(message, vocabulary.Fault) else message
