"""Read and check the demo's story file (``story.toml``): the data the runner plays.

The runner knows no story, only the file's shape (described at the top of ``story.toml``):
setup tables (workspace, users, devices), one table array per record type whose entries name
each other by ``key``, each entry's later ``office`` steps, and the devices' offline edits.
Everything is checked here, before anything runs, with the protocol's own field rules, so a
typo in the file is one clear message instead of a failure halfway through the demo.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from demo.errors import StoryError
from sync.records import RECORD_TYPES, Ref, RefList, validate_fields

__all__ = ["OFFICE", "Entry", "Story", "StoryError", "load_story", "resolve_refs"]

OFFICE = "office"
ENTRY_KEYS = frozenset({"key", "on", "office"})
_PLACEHOLDER_ID = "00000000-0000-4000-8000-000000000000"


@dataclass(frozen=True)
class Entry:
    """One record of the story: who records it (``on``), its fields, its later office steps."""

    type: str
    key: str
    on: str
    fields: dict[str, Any]
    office: list[dict[str, Any]] = field(default_factory=list)

    def refs(self) -> set[str]:
        """Return the keys this entry's own fields point at."""
        return keys_in(self.type, self.fields)


@dataclass(frozen=True)
class Story:
    """The whole story, checked, with entries in an order where references come first."""

    workspace: str
    office_user: str
    login: str
    users: list[dict[str, Any]]
    devices: list[dict[str, Any]]
    entries: list[Entry]
    offline_edits: list[dict[str, Any]]
    since: dt.date | None = None
    quote: str = ""

    def entry(self, key: str) -> Entry:
        """Return the entry named ``key``."""
        return next(e for e in self.entries if e.key == key)

    def user(self, username: str) -> dict[str, Any]:
        """Return the user table named ``username``."""
        return next(u for u in self.users if u["username"] == username)


def keys_in(record_type: str, values: Mapping[str, Any]) -> set[str]:
    """Return the story keys held by the reference fields among ``values``."""
    found: set[str] = set()
    for name in RECORD_TYPES[record_type].refs & values.keys():
        value = values[name]
        if isinstance(value, str):
            found.add(value)
        elif isinstance(value, list):
            found.update(v for v in value if isinstance(v, str))
    return found


def resolve_refs(
    record_type: str, values: Mapping[str, Any], ids: Mapping[str, str]
) -> dict[str, Any]:
    """Return ``values`` with story keys in reference fields replaced by record ids."""
    rules = RECORD_TYPES[record_type].rules
    resolved = dict(values)
    for name, value in values.items():
        if isinstance(rules.get(name), Ref) and isinstance(value, str):
            resolved[name] = ids[value]
        elif isinstance(rules.get(name), RefList) and isinstance(value, list):
            resolved[name] = [ids[v] for v in value]
    return resolved


def load_story(path: Path | None = None) -> Story:
    """Read a story file (the packaged ``story.toml`` by default) and check all of it."""
    try:
        if path is None:
            data = tomllib.loads(resources.files(__package__).joinpath("story.toml").read_text())
        else:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise StoryError(f"cannot read the story file: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise StoryError(f"the story file is not valid TOML: {exc}") from exc
    return _parse(data)


def _parse(data: dict[str, Any]) -> Story:
    users = _table_list(data, "user")
    usernames = {_required(u, "username", "user") for u in users}
    devices = _table_list(data, "device")
    for device in devices:
        _required(device, "key", "device")
        _required(device, "name", "device")
        if device.get("user") not in usernames:
            raise StoryError(f"device {device['key']!r}: unknown user {device.get('user')!r}")
    who = {OFFICE} | {d["key"] for d in devices}
    office = data.get("office", {})
    for role in ("user", "login"):
        if office.get(role) not in usernames:
            raise StoryError(f"[office] {role}: unknown user {office.get(role)!r}")
    entries = _entries(data, who)
    ordered = _ordered(entries)
    _check_steps(ordered, usernames)
    edits = _offline_edits(data, {e.key: e for e in ordered}, who - {OFFICE})
    report = data.get("report", {})
    return Story(
        workspace=_required(data.get("workspace", {}), "name", "workspace"),
        office_user=office["user"],
        login=office["login"],
        users=users,
        devices=devices,
        entries=ordered,
        offline_edits=edits,
        since=dt.date.fromisoformat(report["since"]) if report.get("since") else None,
        quote=str(report.get("quote", "")),
    )


def _table_list(data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    items = data.get(name, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise StoryError(f"[[{name}]] must be a list of tables")
    return items


def _required(table: dict[str, Any], name: str, where: str) -> str:
    value = table.get(name)
    if not isinstance(value, str) or not value:
        raise StoryError(f"[{where}] needs a text {name!r}")
    return value


def _entries(data: dict[str, Any], who: set[str]) -> list[Entry]:
    entries: list[Entry] = []
    for record_type in (name for name in data if name in RECORD_TYPES):
        for table in _table_list(data, record_type):
            key = _required(table, "key", record_type)
            if table.get("on") not in who:
                raise StoryError(f"{key}: 'on' must be one of {sorted(who)}")
            steps = table.get("office", [])
            if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
                raise StoryError(f"{key}: 'office' must be a list of tables")
            values = {k: v for k, v in table.items() if k not in ENTRY_KEYS}
            entries.append(Entry(record_type, key, table["on"], values, steps))
    seen: set[str] = set()
    for entry in entries:
        if entry.key in seen:
            raise StoryError(f"the key {entry.key!r} is used twice")
        seen.add(entry.key)
    for entry in entries:
        _check_values(entry, entry.fields, seen, is_new=True, from_office=entry.on == OFFICE)
    return entries


def _check_values(
    entry: Entry, values: dict[str, Any], keys: set[str], *, is_new: bool, from_office: bool
) -> None:
    missing = keys_in(entry.type, values) - keys
    if missing:
        raise StoryError(f"{entry.key}: unknown key(s) {', '.join(sorted(missing))}")
    placeholders = dict.fromkeys(keys_in(entry.type, values), _PLACEHOLDER_ID)
    rtype = RECORD_TYPES[entry.type]
    errors = validate_fields(
        rtype,
        resolve_refs(entry.type, values, placeholders),
        is_new=is_new,
        from_office=from_office,
    )
    if errors:
        detail = "; ".join(f"{name}: {', '.join(msgs)}" for name, msgs in sorted(errors.items()))
        raise StoryError(f"{entry.key}: {detail}")


def _ordered(entries: list[Entry]) -> list[Entry]:
    """Order entries so that each comes after those it references, otherwise as in the file."""
    pending = list(entries)
    placed: list[Entry] = []
    done: set[str] = set()
    while pending:
        ready = next((e for e in pending if e.refs() - {e.key} <= done), None)
        if ready is None:
            raise StoryError("entries reference each other in a circle: " + pending[0].key)
        pending.remove(ready)
        placed.append(ready)
        done.add(ready.key)
    return placed


def _check_steps(entries: list[Entry], usernames: set[str]) -> None:
    keys = {e.key for e in entries}
    for entry in entries:
        for step in entry.office:
            if "by" in step and step["by"] not in usernames:
                raise StoryError(f"{entry.key}: office step by unknown user {step['by']!r}")
            values = {k: v for k, v in step.items() if k != "by"}
            if "owner_id" in values:  # an owner is named by username
                if values["owner_id"] not in usernames:
                    raise StoryError(f"{entry.key}: owner {values['owner_id']!r} is no user")
                values["owner_id"] = _PLACEHOLDER_ID
            _check_values(entry, values, keys, is_new=False, from_office=True)


def _offline_edits(
    data: dict[str, Any], entries: dict[str, Entry], devices: set[str]
) -> list[dict[str, Any]]:
    edits = _table_list(data, "offline_edit")
    for edit in edits:
        entry = entries.get(edit.get("record", ""))
        if entry is None:
            raise StoryError(f"[[offline_edit]]: unknown record {edit.get('record')!r}")
        if edit.get("device") not in devices:
            raise StoryError(
                f"[[offline_edit]] {entry.key}: unknown device {edit.get('device')!r}"
            )
        if not isinstance(edit.get("set"), dict) or not edit["set"]:
            raise StoryError(f"[[offline_edit]] {entry.key}: 'set' must name fields to change")
        _check_values(entry, edit["set"], set(entries), is_new=False, from_office=False)
    return edits
