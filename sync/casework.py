"""The casework rules of a concern, one set for both sides: the usual next steps, and the
fields a change of status sets with it (``resolved_on``).

Neither side enforces transitions (offline edits arrive late and out of order,
docs/protocol.md section 4); the rules say what a person is offered and what a step writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sync.records import CONCERN_STATUSES, RESOLVED_STATUSES

__all__ = [
    "CLOSED_STATUSES",
    "NEXT_STEPS",
    "REPRESENTATIVE_STEPS",
    "SIDE_EXITS",
    "STEP_FIELDS",
    "export",
    "status_change",
    "steps_for",
]

NEXT_STEPS: Mapping[str, tuple[str, ...]] = {
    "new": ("accepted",),
    "accepted": ("referred", "in_progress"),
    "referred": ("in_progress",),
    "in_progress": ("resolved",),
    "resolved": ("confirmed",),
    "confirmed": (),
    "deferred": ("accepted",),
    "rejected": ("accepted",),
    "duplicate": ("accepted",),
}
SIDE_EXITS = ("duplicate", "rejected", "deferred")
OPEN_FOR_SIDE_EXITS = frozenset({"new", "accepted", "referred", "in_progress"})
# Fields a step may set besides the status (asked for in the step's small form).
STEP_FIELDS: Mapping[str, tuple[str, ...]] = {
    "referred": ("responsible_unit",),
    "resolved": ("resolution",),
    "confirmed": ("satisfaction",),
    "duplicate": ("duplicate_of",),
}

# A concern in one of these is no longer "open" for the representative walking in.
CLOSED_STATUSES = frozenset(RESOLVED_STATUSES | {"duplicate", "rejected"})

# The steps a representative may take in the field; the office takes the others.
OPEN_FOR_REPRESENTATIVES = ("new", "accepted", "referred", "in_progress", "deferred")
REPRESENTATIVE_STEPS: Mapping[str, tuple[str, ...]] = {
    **{status: ("resolved",) for status in OPEN_FOR_REPRESENTATIVES},
    "resolved": ("confirmed", "in_progress"),
}


def steps_for(status: str | None) -> tuple[list[str], list[str]]:
    """Return the next steps and the side exits offered for a status."""
    status = status or "new"
    side = [s for s in SIDE_EXITS if status in OPEN_FOR_SIDE_EXITS and s != status]
    return list(NEXT_STEPS.get(status, ())), side


def status_change(fields: Mapping[str, Any], target: str, today: dt.date) -> dict[str, Any]:
    """Return the values a move to ``target`` writes: the status, and ``resolved_on`` (today)
    when the concern becomes resolved or confirmed without a resolution date yet."""
    if target not in CONCERN_STATUSES:
        raise ValueError(f"unknown concern status {target!r}")
    values: dict[str, Any] = {"status": target}
    if target in RESOLVED_STATUSES and not fields.get("resolved_on"):
        values["resolved_on"] = today.isoformat()
    return values


def export() -> dict[str, Any]:
    """Return the casework rules as plain JSON data, for the field app (which has no Python):
    the steps offered per status, the fields a step sets, and which statuses are closed."""
    return {
        "next_steps": {status: list(steps) for status, steps in NEXT_STEPS.items()},
        "representative_steps": {s: list(steps) for s, steps in REPRESENTATIVE_STEPS.items()},
        "side_exits": list(SIDE_EXITS),
        "step_fields": {status: list(names) for status, names in STEP_FIELDS.items()},
        "closed": sorted(CLOSED_STATUSES),
        "resolved": sorted(RESOLVED_STATUSES),
    }
