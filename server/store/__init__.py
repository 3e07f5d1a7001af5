"""The record store: applies pushes and office edits in one transaction each, serves pulls.

It knows peewee, not HTTP. Whole-request errors are raised as ``sync.ProtocolError`` (the API
layer renders them); per-change problems are values in the result (rejections, conflicts).

Public interface (called by ``server.api``, ``server.services``, the office UI)::

    push(device, body, *, now_ms, max_skew_ms) -> dict              PROTOCOL.md section 5 body
    pull(workspace_id, cursor, limit, *, now_ms, device_id=None) -> dict    section 6 body
    pull_json(workspace_id, cursor, limit, *, now_ms, device_id=None) -> bytes    serialised
    office_edit(workspace_id, user_id, record_type, record_id, values, bases, *, now_ms)
        -> ApplyResult
    resolve_conflict(workspace_id, conflict_id, user_id, value, *, now_ms) -> ApplyResult
    get_record(workspace_id, record_id) -> dict | None              wire form
    record_history(workspace_id, record_id) -> list[dict]
    with_creation(workspace_id, record_id, entries) -> entries    a creation's values rebuilt
    list_entries(workspace_id) -> dict                              id -> live choice record
    server_time(*, now_ms, workspace_id=None) -> str                a stamp for any response

Modules: ``sql`` (raw SQL helpers, the state rows), ``engine`` (check, decide and write a
list of changes), ``pushes``, ``reads`` (pull, single records, history), ``office``.

The rest of the server reads and writes through subject modules that return plain values
(dicts, frozen dataclasses, pages with totals) and wrap database errors in ``Unavailable``:
``records`` (the office's lists, exports, history), ``people`` (workspaces, users, sessions,
enrollment, devices), ``conflicts``, ``reports`` (the office's figures), ``casework`` (inbox
and reminders), ``imports`` (ledger imports), ``blobs`` (who holds which blob),
``maintenance`` (pruning); ``query`` builds their SQL over the records' JSON fields. Nothing
outside ``server/store`` (and models, migrations, db) imports peewee (tests/test_layers.py).

Every write transaction first locks its workspace's ``workspace_state`` row, then reads, then
assigns change sequence numbers from it, so sequence numbers become visible in commit order
within the workspace (docs/protocol.md section 10).
"""

from __future__ import annotations

from server.store.engine import ApplyResult, Author
from server.store.office import office_edit, resolve_conflict
from server.store.pushes import push
from server.store.reads import (
    get_record,
    list_entries,
    pull,
    pull_json,
    record_history,
    with_creation,
)
from server.store.sql import server_time

__all__ = [
    "ApplyResult",
    "Author",
    "get_record",
    "list_entries",
    "office_edit",
    "pull",
    "pull_json",
    "push",
    "record_history",
    "resolve_conflict",
    "server_time",
    "with_creation",
]
