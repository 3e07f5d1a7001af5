"""The demo's names of things and stages; its sentences are in its catalogue (``demo.i18n``)."""

from __future__ import annotations

from demo.i18n import N_, texts
from sync import vocabulary

__all__ = [
    "choice_text",
    "count_list",
    "field_name",
    "stage_name",
    "type_name",
    "value_text",
]

# The stages of a sync as the demo's live line names them.
STAGE_NAMES = {
    "blobs": N_("Uploading photos and files"),
    "push": N_("Sending"),
    "pull": N_("Receiving"),
    "device": N_("Checking"),
    "conflicts": N_("Checking conflicts"),
}


def type_name(lang: str, record_type: str) -> str:
    """Return the people's word for a record type, as counted (the vocabulary's plural)."""
    label = vocabulary.type_label(lang, record_type, many=True)
    return label.lower() if lang == "en" else label


def field_name(lang: str, name: str) -> str:
    """Return the people's word for a record field."""
    return vocabulary.field_label(lang, name)


def value_text(lang: str, value: object, record_type: str = "", field: str = "") -> str:
    """Return a field value as people read it: choices by their names, text quoted."""
    if isinstance(value, str):
        return f"“{choice_text(lang, record_type, field, value)}”"
    return str(value)


def choice_text(lang: str, record_type: str, field: str, value: str) -> str:
    """Return a choice value as people read it (unquoted)."""
    return vocabulary.choice_label(lang, record_type, field, value)


def stage_name(lang: str, stage: str) -> str:
    """Return the people's word for a sync stage (the stage itself when unknown)."""
    return texts(lang).gettext(STAGE_NAMES[stage]) if stage in STAGE_NAMES else stage


def count_list(lang: str, counts: dict[str, int]) -> str:
    """Return "地点 6、项目 3" / "6 places, 3 projects" for type -> count."""
    if lang == "en":
        return ", ".join(f"{n} {type_name(lang, t)}" for t, n in counts.items())
    return "、".join(f"{type_name(lang, t)} {n}" for t, n in counts.items())
