"""A workspace's lists (concern categories, visit kinds): defaults from the vocabulary, overlaid by
the workspace's ``choice`` records, which office staff edit and devices pull like any record.

An entry's ``key`` is what records store, so a rename changes only names and merges like any
field. A retired entry stays valid on the records that hold it; a new value must be an active
entry. ``visit.kind`` takes names and order only: its keys are structural (PROTOCOL.md section 4).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sync import vocabulary
from sync.vocabulary import Fault

__all__ = ["OPEN_LISTS", "Entry", "entries", "entry_label", "record_faults", "value_fault"]

FIELDS = {"concern.category": ("concern", "category"), "visit.kind": ("visit", "kind")}
OPEN_LISTS = frozenset({"concern.category"})  # the lists that take new entries
_STEP = 10  # default entries sit at 0, 10, 20...: room to order new ones between them


@dataclass(frozen=True)
class Entry:
    """One entry of a list as a workspace sees it."""

    key: str
    name_zh: str
    name_en: str
    position: int
    retired: bool = False
    days: int | None = None
    record_id: str | None = None  # the workspace's choice record, None for an untouched default


def _defaults(list_name: str) -> dict[str, Entry]:
    record_type, field = FIELDS[list_name]
    return {
        key: Entry(
            key,
            vocabulary.choice_label("zh", record_type, field, key),
            vocabulary.choice_label("en", record_type, field, key),
            index * _STEP,
        )
        for index, key in enumerate(vocabulary.choice_values(record_type, field))
    }


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


def entries(list_name: str, records: Mapping[str, Mapping[str, Any]]) -> list[Entry]:
    """The entries of a list in order: the defaults, overlaid by ``records`` (id -> fields of
    the workspace's live choice records; others' lists are ignored)."""
    found = _defaults(list_name)
    last = max((e.position for e in found.values()), default=0)
    for record_id, fields in sorted(records.items()):
        key = fields.get("key")
        if fields.get("list") != list_name or not isinstance(key, str):
            continue
        base = found.get(key)
        zh, en = fields.get("name_zh") or "", fields.get("name_en") or ""
        position = _int(fields.get("position"))
        found[key] = Entry(
            key,
            zh or (base.name_zh if base else "") or en or key,
            en or (base.name_en if base else "") or zh or key,
            position if position is not None else (base.position if base else last + _STEP),
            fields.get("retired") is True,
            _int(fields.get("days")),
            record_id,
        )
    return sorted(found.values(), key=lambda e: (e.position, e.key))


def entry_label(lang: str, entry: Entry) -> str:
    """The entry's name in ``lang`` (the other language's when it has none)."""
    return (entry.name_en or entry.name_zh) if lang == "en" else (entry.name_zh or entry.name_en)


def value_fault(
    list_name: str, records: Mapping[str, Mapping[str, Any]], value: Any, held: Any
) -> Fault | None:
    """Check a value written to a list field of a record that holds ``held`` now."""
    if value is None or value == held:
        return None  # clearing, or what the record already holds (a retired entry stays valid)
    entry = {e.key: e for e in entries(list_name, records)}.get(str(value))
    if entry is None:
        return Fault("unknown_choice", value=str(value))
    if entry.retired:
        return Fault("retired_choice", value=entry.name_zh)
    return None


def _same_name(a: str, b: str) -> bool:
    return bool(a.strip()) and a.strip().casefold() == b.strip().casefold()


def record_faults(
    record_id: str, after: Mapping[str, Any], records: Mapping[str, Mapping[str, Any]]
) -> dict[str, list[str]]:
    """Check a choice record as it would be (``after``) against the workspace's other ones:
    a key used twice, a name another entry of the list has, a new entry of a closed list."""
    list_name, key = after.get("list"), after.get("key")
    if list_name not in FIELDS or not isinstance(key, str):
        return {}
    errors: dict[str, list[str]] = {}
    others = {rid: f for rid, f in records.items() if rid != record_id}
    if any(f.get("list") == list_name and f.get("key") == key for f in others.values()):
        errors["key"] = [Fault("duplicate_key", value=key)]
    if list_name not in OPEN_LISTS and key not in _defaults(str(list_name)):
        errors["key"] = [Fault("fixed_list", value=key)]
    rest = [e for e in entries(str(list_name), others) if e.key != key]
    for field, name in (("name_zh", after.get("name_zh")), ("name_en", after.get("name_en"))):
        clash = _clash(rest, field, name)
        if clash:
            errors[field] = [Fault("duplicate_name", value=clash)]
    return errors


def _clash(rest: Iterable[Entry], field: str, name: Any) -> str | None:
    if not isinstance(name, str):
        return None
    for entry in rest:
        if _same_name(name, getattr(entry, field)):
            return name.strip()
    return None
