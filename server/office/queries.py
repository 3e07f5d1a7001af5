"""What the office pages read: the store's reads (``server.store.records``, ``people``,
``conflicts``), plus how people name records. Views never build queries.

Records are plain dicts in the wire form of PROTOCOL.md section 4; users, devices and conflicts
plain rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from server.store.conflicts import conflict, conflicts_of, open_conflict_count, open_conflicts
from server.store.people import active_user_labels, device_labels, devices, user_labels, users
from server.store.records import (
    LABEL_FIELDS,
    Page,
    RecordFilter,
    by_ids,
    concerns_of,
    count,
    follow_ups,
    get,
    history,
    iterate,
    matching_concerns,
    options,
    page,
    pending_review_count,
    review_threads,
    voice_counts,
)

__all__ = [
    "Page",
    "RecordFilter",
    "active_user_labels",
    "by_ids",
    "concern_matches",
    "concerns_of",
    "conflict",
    "conflicts_of",
    "count",
    "device_labels",
    "devices",
    "follow_ups",
    "get",
    "history",
    "iterate",
    "labels",
    "open_conflict_count",
    "open_conflicts",
    "options",
    "page",
    "pending_review_count",
    "record_label",
    "review_threads",
    "user_labels",
    "users",
    "voice_counts",
]


def record_label(record: dict[str, Any]) -> str:
    """A record as people name it; an untitled visit by its kind and date, never a raw id."""
    fields = record["fields"]
    label = fields.get(LABEL_FIELDS.get(record["type"], "title"))
    if not label and record["type"] == "visit" and fields.get("kind"):
        from server.office.labels import choice_label

        when = str(fields.get("started_at") or "")[:10]
        return " ".join(x for x in (choice_label("visit", "kind", fields["kind"]), when) if x)
    return str(label or record["id"][:8])


def labels(workspace_id: str, ids: Iterable[str | None]) -> dict[str, str]:
    """Display labels (name or title) of the referenced records, in one query."""
    return {r["id"]: record_label(r) for r in by_ids(workspace_id, ids)}


def concern_matches(
    workspace_id: str, text: str, exclude: str, limit: int = 20
) -> list[tuple[str, str]]:
    """(id, label) of the workspace's live concerns the search text finds, newest first."""
    return [
        (r["id"], record_label(r)) for r in matching_concerns(workspace_id, text, exclude, limit)
    ]
