"""The field UI's names of things in Simplified Chinese (default) and English.

Its sentences are in the field client's catalogue (``field_client.i18n``, asked through
``views.gettext``); ``enum_label`` names record types, fields and choice values from the one
vocabulary in ``sync/``; ``fault`` renders a rule's message in the page's language.
"""

from __future__ import annotations

from typing import Any

from sync import vocabulary

__all__ = [
    "DEFAULT_LANG",
    "GROUPS",
    "LANGS",
    "enum_label",
    "fault",
]

LANGS = vocabulary.LANGS
DEFAULT_LANG = vocabulary.DEFAULT_LANG

# The templates' short names for choice fields: group -> (record type, field).
GROUPS: dict[str, tuple[str, str]] = {
    "place_kind": ("place", "kind"),
    "party_kind": ("party", "kind"),
    "visit_kind": ("visit", "kind"),
    "concern_status": ("concern", "status"),
    "category": ("concern", "category"),
    "priority": ("concern", "priority"),
    "group": ("concern", "raised_by_group"),
    "follow_up_kind": ("follow_up", "kind"),
    "project_status": ("project", "status"),
    "review_status": ("visit", "review_status"),
    "satisfaction": ("concern", "satisfaction"),
    "supervision": ("concern", "supervision"),
}


def enum_label(lang: str, group: str, value: Any) -> str:
    """Name a choice value of a group, a record type (``record_type``) or a field (``field``)."""
    if value is None or value == "":
        return ""
    if group == "record_type":
        return vocabulary.type_label(lang, str(value))
    if group == "field":
        return vocabulary.field_label(lang, str(value))
    record_type, field = GROUPS.get(group, ("", ""))
    return vocabulary.choice_label(lang, record_type, field, value)


def fault(lang: str, message: str) -> str:
    """Render a rule's message (a Fault) in ``lang``; plain text stays as it is."""
    return message.render(lang) if isinstance(message, vocabulary.Fault) else message
