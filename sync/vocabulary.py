"""The one vocabulary: names of record types, fields, choice values and faults, in two languages.

The words are data (``vocabulary.json`` beside this module), each as ``[Simplified Chinese,
English]``, read once. Every front end asks here, so a value has one name per language everywhere.
A word missing in one language shows in the other one, never as a key. Rules report a ``Fault``: a
code and its parameters, which each front end renders in its reader's language.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_LANG",
    "LANGS",
    "Fault",
    "choice_label",
    "choice_values",
    "export",
    "fault_text",
    "pack_faults",
    "unpack_faults",
    "field_label",
    "type_label",
]

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
_PATH = Path(__file__).with_name("vocabulary.json")


@cache
def _data() -> dict[str, Any]:
    """Read the vocabulary file once, shared tables resolved."""
    data: dict[str, Any] = json.loads(_PATH.read_text(encoding="utf-8"))
    choices: dict[str, Any] = data["choices"]
    for key, table in list(choices.items()):
        if isinstance(table, str):
            choices[key] = choices[table]
    return data


def _pick(pair: Any, lang: str) -> str | None:
    """The word of ``lang`` in a ``[zh, en]`` pair, the other language's when it is missing."""
    if not isinstance(pair, list):
        return None
    first, second = (pair[1], pair[0]) if lang == "en" else (pair[0], pair[1])
    return str(first or second) or None


def type_label(lang: str, record_type: str, *, many: bool = False) -> str:
    """Name a record type (``many``: the plural heading)."""
    entry = _data()["types"].get(record_type, {})
    return _pick(entry.get("many" if many else "one"), lang) or record_type.replace("_", " ")


def field_label(lang: str, field: str) -> str:
    """Name a field."""
    return _pick(_data()["fields"].get(field), lang) or field.replace("_", " ")


def choice_label(lang: str, record_type: str, field: str, value: Any) -> str:
    """Name a choice value; an unknown value shows as itself, a missing one as empty."""
    if value is None or value == "":
        return ""
    table = _data()["choices"].get(f"{record_type}.{field}", {})
    return _pick(table.get(str(value)), lang) or str(value)


def choice_values(record_type: str, field: str) -> tuple[str, ...]:
    """The values the vocabulary names for one choice field, in their order."""
    return tuple(_data()["choices"].get(f"{record_type}.{field}", {}))


def fault_text(lang: str, code: str, params: Mapping[str, Any] | None = None) -> str:
    """Render a rule's fault in ``lang``; an unknown code shows as itself with its parameters."""
    template = _pick(_data()["faults"].get(code), lang)
    if template is None:
        extra = ", ".join(f"{k}={v}" for k, v in sorted((params or {}).items()))
        return f"{code} ({extra})" if extra else code
    try:
        return template.format(**(params or {}))
    except (KeyError, IndexError, ValueError):
        return template


def export() -> dict[str, Any]:
    """Return the whole vocabulary as plain JSON data (for the field app and other readers)."""
    data = _data()
    return {
        "langs": list(LANGS),
        "default_lang": DEFAULT_LANG,
        "types": data["types"],
        "fields": data["fields"],
        "choices": data["choices"],
        "faults": data["faults"],
    }


class Fault(str):
    """What a rule found: a ``code`` with ``params``; as a string, its English sentence."""

    code: str
    params: dict[str, Any]

    def __new__(cls, code: str, **params: Any) -> Fault:
        self = super().__new__(cls, fault_text("en", code, params))
        self.code = code
        self.params = params
        return self

    def render(self, lang: str) -> str:
        """The sentence in ``lang``."""
        return fault_text(lang, self.code, self.params)

    def to_json(self) -> dict[str, Any]:
        """The code and parameters as JSON data."""
        return {"code": self.code, "params": self.params}

    @classmethod
    def from_json(cls, data: Any, text: str) -> str:
        """Revive a Fault from its JSON data; ``text`` (the sender's sentence) when unknown."""
        if not isinstance(data, Mapping) or not isinstance(data.get("params", {}), Mapping):
            return text
        code = data.get("code")
        if not isinstance(code, str) or code not in _data()["faults"]:
            return text
        params = {str(k): v for k, v in data.get("params", {}).items()}
        return cls(code, **params)


def pack_faults(
    errors: Mapping[str, list[str]], codes: Mapping[str, list[Any]] | None = None
) -> dict[str, list[Any]]:
    """Messages as JSON that keeps their codes: ``{"text", "code", "params"}`` per message.

    ``codes`` (field -> code entries in the order of the messages, as a push answer gives
    them) is used for messages that are plain text here.
    """
    packed: dict[str, list[Any]] = {}
    for name, messages in errors.items() if isinstance(errors, Mapping) else ():
        given = list((codes or {}).get(name) or [])
        items: list[Any] = []
        for index, message in enumerate(messages if isinstance(messages, list) else [messages]):
            entry = message.to_json() if isinstance(message, Fault) else None
            if entry is None and index < len(given) and isinstance(given[index], Mapping):
                entry = dict(given[index])
            items.append({"text": str(message), **(entry or {})})
        packed[name] = items
    return packed


def unpack_faults(packed: Mapping[str, Any]) -> dict[str, list[str]]:
    """Turn what ``pack_faults`` made (or plain field -> messages) back into Faults and text."""
    errors: dict[str, list[str]] = {}
    for name, items in packed.items():
        found: list[str] = []
        for item in items if isinstance(items, list) else [items]:
            if isinstance(item, Mapping):
                found.append(Fault.from_json(item, str(item.get("text", ""))))
            else:
                found.append(str(item))
        errors[str(name)] = found
    return errors
