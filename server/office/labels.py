"""Names of record types, fields and choice values on the office pages, from the one vocabulary."""

from __future__ import annotations

from typing import Any

from flask_babel import get_locale

from sync import vocabulary


def lang() -> str:
    """The language of the page being rendered: "en" or "zh"."""
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh"


def type_label(record_type: str, many: bool = False) -> str:
    """The name of a record type (``many``: its plural heading)."""
    return vocabulary.type_label(lang(), record_type, many=many)


def choice_label(record_type: str, field: str, value: Any) -> str:
    """The name of a choice value (the value itself when unknown)."""
    return vocabulary.choice_label(lang(), record_type, field, value)


def field_label(field: str) -> str:
    """The name of a field."""
    return vocabulary.field_label(lang(), field)


def fault(message: str) -> str:
    """A rule's message in the page's language."""
    return message.render(lang()) if isinstance(message, vocabulary.Fault) else message
