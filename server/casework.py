"""Casework rules of the office: who owns a concern, by when, how closely it is watched.

A workspace's settings (JSON in ``Workspace.settings``) hold the default time limit of each
concern category in working days (Monday to Friday) and whether 基本满意 (partly satisfied)
counts as satisfied in the satisfaction rate. No Flask here; refusals are ``ServiceError``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from server import store
from server.services import ServiceError
from server.store import ApplyResult, people
from server.store.people import UserRow
from sync import ErrorCode, choices
from sync.records import RECORD_TYPES, SUPERVISION_LEVELS

DEFAULT_TIME_LIMIT = 15  # working days, when a category has none of its own
MAX_TIME_LIMIT = 365
CATEGORIES: tuple[str, ...] = RECORD_TYPES["concern"].rules["category"].values  # type: ignore[attr-defined]


@dataclass
class Settings:
    """A workspace's casework settings."""

    time_limits: dict[str, int] = field(default_factory=dict)  # category -> working days
    default_time_limit: int = DEFAULT_TIME_LIMIT
    partly_satisfied_counts: bool = False  # whether 基本满意 counts as satisfied

    def time_limit(self, category: str | None) -> int:
        """Working days allowed for a concern of this category."""
        return self.time_limits.get(category or "", self.default_time_limit)

    def to_json(self) -> dict[str, Any]:
        return {
            "time_limits": dict(sorted(self.time_limits.items())),
            "default_time_limit": self.default_time_limit,
            "partly_satisfied_counts": self.partly_satisfied_counts,
        }


def _days(value: Any) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_TIME_LIMIT
    return value if ok else None


def parse_settings(text: str | None) -> Settings:
    """Read stored settings; anything unknown or out of range falls back to the defaults."""
    try:
        raw = json.loads(text or "{}")
    except ValueError:
        raw = {}
    if not isinstance(raw, dict):
        raw = {}
    found = raw.get("time_limits")
    limits: dict[str, Any] = found if isinstance(found, dict) else {}
    return Settings(
        time_limits={k: d for k, v in limits.items() if k in CATEGORIES and (d := _days(v))},
        default_time_limit=_days(raw.get("default_time_limit")) or DEFAULT_TIME_LIMIT,
        partly_satisfied_counts=raw.get("partly_satisfied_counts") is True,
    )


def get_settings(workspace_id: str) -> Settings:
    """The casework settings of a workspace (defaults when none are stored).

    A category's time limit set on the workspace's list of categories (``days`` of its
    ``choice`` record, edited on the office's Lists page) wins over the stored settings.
    """
    settings = parse_settings(people.workspace_settings(workspace_id))
    records = {rid: r["fields"] for rid, r in store.list_entries(workspace_id).items()}
    for entry in choices.entries("concern.category", records):
        if entry.days and not entry.retired:
            settings.time_limits[entry.key] = entry.days
    return settings


def save_settings(workspace_id: str, settings: Settings) -> Settings:
    """Store a workspace's casework settings (checked: days 1..365, known categories)."""
    checked = parse_settings(json.dumps(settings.to_json()))
    if checked != settings:
        raise ServiceError(
            ErrorCode.INVALID_REQUEST, "bad_time_limit",
            f"Time limits are whole working days from 1 to {MAX_TIME_LIMIT}.",
        )  # fmt: skip
    people.save_workspace_settings(workspace_id, json.dumps(checked.to_json()))
    return checked


def add_working_days(start: dt.date, days: int) -> dt.date:
    """The day ``days`` working days (Monday to Friday) after ``start``."""
    day = start
    while days > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


def default_due(settings: Settings, fields: dict[str, Any], today: dt.date) -> dt.date:
    """A concern's due day by its category's time limit, counted from the day it was raised."""
    start = today
    raised = fields.get("raised_on")
    if isinstance(raised, str):
        try:
            start = dt.date.fromisoformat(raised)
        except ValueError:
            start = today
    return add_working_days(start, settings.time_limit(fields.get("category")))


def owner_or_error(workspace_id: str, owner_id: str) -> UserRow:
    """The active user of this workspace with this id, else ``ServiceError`` (not_found)."""
    owner = people.user_by_id(owner_id)
    if owner is None or owner.workspace_id != workspace_id or not owner.active:
        raise ServiceError(
            ErrorCode.NOT_FOUND, "owner_not_in_workspace",
            "The owner must be an active user of this workspace.",
        )  # fmt: skip
    return owner


@dataclass
class Assignment:
    """What the office sets on a concern: owner (None clears), due day, supervision level."""

    owner_id: str | None
    due_on: dt.date | None = None  # None: from the category's time limit
    supervision: str = "normal"


def assignment_values(
    workspace_id: str, concern: dict[str, Any], assignment: Assignment, today: dt.date
) -> dict[str, Any]:
    """Check an assignment and return the field values to write (changed ones only)."""
    fields = concern["fields"]
    if assignment.owner_id is not None:
        owner_or_error(workspace_id, assignment.owner_id)
    if assignment.supervision not in SUPERVISION_LEVELS:
        raise ServiceError(ErrorCode.INVALID_REQUEST, "bad_supervision", "Unknown supervision.")
    due = assignment.due_on
    if due is None and assignment.owner_id is not None:
        due = _stored_day(fields.get("due_on")) or default_due(get_settings(workspace_id),
                                                                 fields, today)  # fmt: skip
    raised = _stored_day(fields.get("raised_on")) or _created_day(concern)
    if due is not None and raised is not None and due < raised:
        raise ServiceError(
            ErrorCode.INVALID_REQUEST, "due_before_raised",
            "The due day is before the day the concern was raised.",
        )  # fmt: skip
    wanted = {
        "owner_id": assignment.owner_id,
        "due_on": due.isoformat() if due else None,
        "supervision": assignment.supervision,
    }
    return {k: v for k, v in wanted.items() if fields.get(k) != v}


def _stored_day(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _created_day(record: dict[str, Any]) -> dt.date | None:
    created = record.get("meta", {}).get("created_at")
    return created.date() if isinstance(created, dt.datetime) else None


def assign(
    workspace_id: str,
    user_id: str | None,
    concern: dict[str, Any],
    assignment: Assignment,
    *,
    today: dt.date,
    now_ms: int,
) -> ApplyResult:
    """Set a concern's owner, due day and supervision as one office edit (checked first)."""
    values = assignment_values(workspace_id, concern, assignment, today)
    if not values:
        return ApplyResult(unchanged=1, record=concern)
    bases = {name: concern["stamps"].get(name) for name in values}
    return store.office_edit(
        workspace_id, user_id, "concern", concern["id"], values, bases, now_ms=now_ms
    )
