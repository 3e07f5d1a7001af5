"""The device's local store: records, the outbox of unpushed edits, and what sync learned.

``LocalStore(home)`` is the API the CLI and the local web UI build on. Every local edit is
validated with the protocol's field rules first, then updates the record, the outbox and the
device clock in ONE transaction, so a killed process leaves a consistent store.

A record is returned as a plain dict in wire form plus local extras::

    {"type": "concern", "id": "…", "fields": {...}, "stamps": {...}, "deleted": False,
     "meta": {...}, "pending": ["status"]}      # pending: fields edited here, not yet pushed

The sync side (batches, push responses, pull pages, re-stamping) lives in
``field_client.store.replica`` and is reached through the methods of ``SyncStateMixin``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from field_client.store.common import (
    CLOSED_STATUSES,
    Row,
    dumps,
    guarded,
    label,
    new_id,
    wall_ms,
)
from field_client.store.core import StoreCore
from field_client.store.queries import QueryMixin
from field_client.store.syncstate import SyncStateMixin

__all__ = [
    "CLOSED_STATUSES",
    "LocalStore",
    "Row",
    "dumps",
    "guarded",
    "label",
    "new_id",
    "wall_ms",
]


class LocalStore(QueryMixin, SyncStateMixin, StoreCore):
    """One device's local store in ``home`` (a folder; created when missing).

    ``now`` returns epoch milliseconds; tests inject a manual clock. Methods are safe to call
    from several threads and processes (SQLite locking plus the persisted clock).

    Sections: ``StoreCore`` (clock, credentials, create/update/delete/get), ``QueryMixin``
    (list, search, find_place, recent_places, open_concerns, review_notes) and
    ``SyncStateMixin`` (status, pending, rejected + fix_rejected, conflicts, sync entry points).
    """

    def __init__(self, home: Path | str, *, now: Callable[[], int] | None = None) -> None:
        super().__init__(home, now=now)
