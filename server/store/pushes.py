"""Push (PROTOCOL.md section 5): one transaction per batch, idempotent per (device, batch)."""

from __future__ import annotations

from typing import Any

from peewee import Database

from server.db import is_postgres, write_transaction
from server.metrics import write_lock_timer
from server.store.engine import Author, Batch, Lookup, apply_changes, look_up
from server.store.people import DeviceRow
from server.store.sql import (
    State,
    bound_db,
    database_errors,
    db_time,
    dumps,
    insert_rows,
    loads,
    locked_state,
    pipelined,
    read_state,
    send_lock,
    server_time,
    sql_for,
    write_state,
)
from sync import (
    ErrorCode,
    ProtocolError,
    PushRequest,
    Stamp,
    parse_push,
)

# -- push ---------------------------------------------------------------------------------------


def push(
    device: DeviceRow,
    body: dict[str, Any] | PushRequest,
    *,
    now_ms: int,
    max_skew_ms: int,
    keep: list[Any] | None = None,
) -> dict[str, Any]:
    """Apply one push from ``device`` in one transaction and return the response body.

    ``body`` is the decoded JSON of PROTOCOL.md section 5, or what ``parse_push`` made of it
    (the HTTP view parses first, so the decoded JSON is not held through the transaction).
    Raises ``ProtocolError`` for a whole-request error, with nothing applied:
    ``invalid_request`` (envelope), ``payload_too_large``, ``forbidden`` (a stamp names
    another node than the device),
    ``clock_skew`` (a stamp or device_time more than ``max_skew_ms`` ahead of ``now_ms``;
    ``extra["server_time"]``), ``unavailable`` (database busy). A repeated ``batch_id`` of the
    same device returns the stored response with ``"replayed": true`` and changes nothing.
    The response is ``{batch_id, applied, unchanged, conflicts, rejected, server_time}``.

    ``keep``, when given, is handed what the push built (the parsed batch and its decided
    rows) for the caller to free once it has answered: freeing them costs a push of 10,000
    visits 11 ms of CPU, which the device need not wait for (``api.push``).
    """
    request = body if isinstance(body, PushRequest) else parse_push(body)
    if keep is not None:
        keep.append(request)
    newest, nodes = request.newest_and_nodes()
    if nodes - {device.id}:
        raise ProtocolError(
            ErrorCode.FORBIDDEN,
            "The push carries stamps of another node; a device may only write in its own name.",
        )
    if newest is not None and Stamp.wall_of(newest) > now_ms + max_skew_ms:
        raise ProtocolError(
            ErrorCode.CLOCK_SKEW,
            "The device clock is ahead of the server clock; fix the clock and sync again.",
            extra={"server_time": server_time(now_ms=now_ms, workspace_id=device.workspace_id)},
        )
    db = bound_db()
    workspace_id = device.workspace_id
    # On PostgreSQL the whole transaction goes in pipeline mode: its first reads (the lock, the
    # replay lookup, the batch's records) travel together, and so do its writes and COMMIT.
    with write_lock_timer() as timer, database_errors(), pipelined(db), write_transaction(db):
        locked = send_lock(db, workspace_id)
        stored, looked = _first_reads(db, device, request)
        state = locked_state(locked, workspace_id)
        if state is None:  # the workspace's first write: read again once its row is locked
            state = read_state(db, workspace_id, lock=True)
            stored, looked = _first_reads(db, device, request)
        timer.locked()
        replayed = stored.fetchone()
        if replayed is not None:
            return {**loads(replayed[0]), "replayed": True}
        return _push_in_transaction(
            db, state, device, request, looked, newest, now_ms, max_skew_ms, keep
        )


def _first_reads(db: Database, device: DeviceRow, request: PushRequest) -> tuple[Any, Lookup]:
    """Send the reads that follow the lock: the response stored for the batch if it was
    applied already (a cursor), and the batch's ``look_up``."""
    stored = db.execute_sql(
        sql_for(db, "SELECT response FROM push_batch WHERE device_id = ? AND batch_id = ?"),
        (device.id, request.batch_id),
    )
    return stored, look_up(db, device.workspace_id, request.changes)


def _push_in_transaction(
    db: Database,
    state: State,
    device: DeviceRow,
    request: PushRequest,
    looked: Lookup,
    newest: str | None,
    now_ms: int,
    max_skew_ms: int,
    keep: list[Any] | None,
) -> dict[str, Any]:
    now = db_time(db, now_ms)
    author = Author(device.user_id, device.id, device.id)
    batch = Batch(
        device.workspace_id, author, "push", now, strict_base=False, now_ms=now_ms,
        allowance_ms=max_skew_ms,
    )  # fmt: skip
    if keep is not None:
        keep.append(batch)
    response: dict[str, Any] = {}

    def record() -> None:
        # Once the batch is decided (again, after a taken id): the response, and the rows that
        # store it, written with the batch's.
        clock = state.clock(now_ms)
        state.last_stamp = str(clock.observe(newest) if newest else clock.tick())
        rejected = sorted([*request.rejected, *batch.rejected], key=lambda r: r.index)
        response.update({
            "batch_id": request.batch_id,
            "applied": batch.applied,
            "unchanged": batch.unchanged,
            "conflicts": batch.conflicts,
            "rejected": [r.to_json() for r in rejected],
            "server_time": state.last_stamp,
        })  # fmt: skip
        _record_push(db, state, device.id, request.batch_id, dumps(response), now)

    apply_changes(db, state, batch, request.changes, then=record, looked=looked)
    return response


# On PostgreSQL the last three writes of a push go in one statement (data-modifying WITH
# clauses): each statement is a round trip to the server, and these three need no answer.
_RECORD_PUSH_PG = (
    "WITH state AS (UPDATE workspace_state SET seq = %s, last_stamp = %s WHERE workspace_id = %s),"
    " seen AS (UPDATE device SET last_push_at = %s WHERE id = %s)"
    " INSERT INTO push_batch (device_id, batch_id, response, created_at) VALUES (%s, %s, %s, %s)"
)


def _record_push(
    db: Database, state: State, device_id: str, batch_id: str, response: str, now: Any
) -> None:
    """Store the workspace's sequence and clock, the device's last push and the response (for
    a replay of the batch), inside the push's transaction."""
    if is_postgres(db):
        db.execute_sql(
            _RECORD_PUSH_PG,
            (state.seq, state.last_stamp, state.workspace_id, now, device_id,
             device_id, batch_id, response, now),
        )  # fmt: skip
        return
    write_state(db, state)
    db.execute_sql(
        sql_for(db, "UPDATE device SET last_push_at = ? WHERE id = ?"), (now, device_id)
    )
    insert_rows(
        db, "push_batch", ("device_id", "batch_id", "response", "created_at"),
        [(device_id, batch_id, response, now)],
    )  # fmt: skip
