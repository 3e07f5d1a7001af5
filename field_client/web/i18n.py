"""The field UI's words in Simplified Chinese (default) and English.

``translate(lang, key, **values)`` looks a key up in ``CATALOGUE`` (the page text) and fills
``{name}`` placeholders; ``enum_label`` names record types, fields and choice values from the one
vocabulary in ``sync/``; ``fault`` renders a rule's message in the page's language.
"""

from __future__ import annotations

from typing import Any

from field_client.web.catalogue import CATALOGUE
from sync import vocabulary

__all__ = [
    "CATALOGUE",
    "DEFAULT_LANG",
    "GROUPS",
    "LANGS",
    "enum_label",
    "fault",
    "translate",
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


def translate(lang: str, key: str, **values: Any) -> str:
    """Return the text for ``key`` in ``lang`` with ``{name}`` placeholders filled."""
    pair = CATALOGUE.get(key)
    if pair is None:
        return key
    text = (pair[1] or pair[0]) if lang == "en" else (pair[0] or pair[1])
    return text.format(**values) if values else text


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
