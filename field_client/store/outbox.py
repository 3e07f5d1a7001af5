"""The outbox: one row per record with unpushed edits, tagged with its push batch once built.

A row's ``writes`` is the ``set`` of the record's change in wire form, as JSON text::

    {"status": {"value": "accepted", "stamp": "<latest stamp>", "base": "<base of the first>"}}

and its ``wire`` the same change as a batch sends it (``wire_of``: the compact form when its
writes share one stamp), written with ``writes`` by ``insert_rows`` and ``update_rows`` only.
A row without one (written before schema version 4) gets it when a batch takes it.

The rules (``tests/client/test_outbox_rules.py`` checks them, with hypothesis):

1. **Coalesce per field.** An edit goes into the record's one *open* row (``batch IS NULL``;
   the partial unique index ``outbox_open`` allows one): a field already there takes the new
   value and stamp and keeps its base and its place; a new field is appended.
2. **The base of the first unpushed edit.** A field new to the open row gets as base the base
   it has in the record's oldest row still in a batch (sent, or built and not yet answered):
   what the server held before this device's first unpushed write. Otherwise the stamp the
   device holds (``None`` for a field new to the record). This is exactly what the former
   per-field outbox did (it kept one entry per field across an unanswered batch).
3. **A batch takes open rows, oldest first,** and tags them with its id in the transaction that
   stores its gzipped body; rows are never rewritten while they carry a batch id, so a retry
   re-sends the same bytes under the same id.
4. **An edit made while a record's row is in a batch opens a second row** (rule 1: the row in
   the batch is not open). Nothing of it is lost when the batch is answered:
5. **Acknowledging a batch is** ``DELETE FROM outbox WHERE batch = ?`` (a refused change is
   first copied to the rejections). The open row stays, with its bases from rule 2.
6. **Releasing batches** (a ``clock_skew`` answer: nothing was applied; ``resync_required``: the
   answers belong to a lost epoch) forgets the stored batches and folds every record's rows,
   oldest first, back into one open row by rule 1.

So, for every record and field, the rows taken in order and coalesced give what the former
outbox held: the latest value and stamp and the base of the first unpushed edit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sync import jsonio

__all__ = [
    "Writes",
    "change_bytes",
    "coalesce",
    "insert_rows",
    "merge_rows",
    "pending_entries",
    "queue_edit",
    "release_batches",
    "update_rows",
    "wire_of",
    "writes_of",
]

Writes = dict[str, dict[str, Any]]  # field -> {"value", "stamp", "base"}


def wire_of(writes: Writes) -> bytes:
    """Return a row's change as a batch sends it, but for its type and id (a JSON object):
    ``{"stamp", "values", "bases"}``, the compact form of docs/protocol.md section 5, when
    every write has one stamp (a record's first push, or one edit), else ``{"set": writes}``.

    Made when the row is written, not when a batch is built: the compact form leaves out the
    stamp and the null base repeated on every field (a new visit's change is 40% smaller, and
    the server decodes and checks it in half the time), and building it from ``writes`` would
    cost a batch one decode of every row.
    """
    stamps = {write["stamp"] for write in writes.values()}
    if len(stamps) != 1:
        return jsonio.dumps_bytes({"set": writes})
    change: dict[str, Any] = {"stamp": stamps.pop()}
    change["values"] = {name: write["value"] for name, write in writes.items()}
    bases = {name: write["base"] for name, write in writes.items() if write["base"] is not None}
    if bases:
        change["bases"] = bases
    return jsonio.dumps_bytes(change)


def change_bytes(rtype: str, record_id: str, wire: bytes) -> bytes:
    """Return the change of a row as a batch sends it, from its ``wire``."""
    return b'{"type":"%s","id":"%s",%s' % (rtype.encode(), record_id.encode(), wire[1:])


def writes_of(change: dict[str, Any]) -> Writes:
    """Return the writes of a change as sent, in either form (``wire_of``)."""
    if "set" in change:
        return change["set"]  # type: ignore[no-any-return]
    stamp, bases = change["stamp"], change.get("bases", {})
    return {
        name: {"value": value, "stamp": stamp, "base": bases.get(name)}
        for name, value in change["values"].items()
    }


def insert_rows(db: Any, rows: Iterable[tuple[int | None, str, str, Writes]]) -> None:
    """Queue new open rows: (row id, record type, record id, writes) each; a row id of None
    takes the next place in the queue, a given one keeps that place (``release_batches``)."""
    db.cursor().executemany(
        "INSERT INTO outbox (id, record_type, record_id, writes, wire, batch)"
        " VALUES (?, ?, ?, ?, ?, NULL)",
        [
            (row_id, rtype, rid, jsonio.dumps(writes), wire_of(writes))
            for row_id, rtype, rid, writes in rows
        ],
    )


def update_rows(db: Any, rows: Iterable[tuple[int, Writes]]) -> None:
    """Replace the writes of rows: (row id, writes) each. Every change of ``writes`` goes
    through here or ``insert_rows``, so ``wire`` always says what ``writes`` says."""
    db.cursor().executemany(
        "UPDATE outbox SET writes = ?, wire = ? WHERE id = ?",
        [(jsonio.dumps(writes), wire_of(writes), row_id) for row_id, writes in rows],
    )


def coalesce(older: Writes, newer: Writes) -> Writes:
    """Fold ``newer`` writes into ``older`` (rule 1): latest value and stamp, first base, first
    place. Returns a new dict; neither argument is changed."""
    merged = {name: dict(write) for name, write in older.items()}
    for name, write in newer.items():
        if name in merged:
            merged[name]["value"], merged[name]["stamp"] = write["value"], write["stamp"]
        else:
            merged[name] = dict(write)
    return merged


def merge_rows(rows: Iterable[Writes]) -> Writes:
    """Coalesce a record's rows taken oldest first."""
    merged: Writes = {}
    for writes in rows:
        merged = coalesce(merged, writes)
    return merged


def queue_edit(
    db: Any,
    rtype: str,
    record_id: str,
    held: dict[str, str],
    values: dict[str, Any],
    stamp: str,
) -> None:
    """Queue one validated edit of a record (inside the edit's write transaction).

    ``held`` is the record's stamps before the edit; ``values`` the fields written at ``stamp``.
    """
    rows = db.execute_sql(
        "SELECT id, writes, batch FROM outbox WHERE record_id = ? ORDER BY id", (record_id,)
    ).fetchall()
    open_row = next((row for row in rows if row[2] is None), None)
    in_batches = [json.loads(row[1]) for row in rows if row[2] is not None]
    edit: Writes = {}
    for name, value in values.items():
        base = next((w[name]["base"] for w in in_batches if name in w), held.get(name))
        edit[name] = {"value": value, "stamp": stamp, "base": base}
    if open_row is None:
        insert_rows(db, [(None, rtype, record_id, edit)])
    else:
        update_rows(db, [(open_row[0], coalesce(json.loads(open_row[1]), edit))])


def release_batches(db: Any) -> None:
    """Forget every stored batch and fold each record's rows back into one open row (rule 6).
    The folded row keeps the id (the queue place) of the record's oldest row."""
    rows = db.execute_sql(
        "SELECT id, record_type, record_id, writes FROM outbox WHERE record_id IN"
        " (SELECT record_id FROM outbox WHERE batch IS NOT NULL) ORDER BY record_id, id"
    ).fetchall()
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row[2], []).append(row)
    db.execute_sql("DELETE FROM push_batch")
    if not grouped:
        return
    db.execute_sql(
        "DELETE FROM outbox WHERE record_id IN"
        " (SELECT record_id FROM outbox WHERE batch IS NOT NULL)"
    )
    insert_rows(
        db,
        [
            (group[0][0], group[0][1], rid, merge_rows(json.loads(row[3]) for row in group))
            for rid, group in grouped.items()
        ],
    )


def pending_entries(db: Any) -> list[dict[str, Any]]:
    """Return the outbox as one entry per unpushed field edit, as the former outbox kept it:
    {type, id, field, value, stamp, base, batch_id}; ``batch_id`` is the batch carrying the
    field's latest write (None while that write waits for a batch)."""
    rows = db.execute_sql(
        "SELECT record_type, record_id, writes, batch FROM outbox ORDER BY id"
    ).fetchall()
    order: list[str] = []
    per_record: dict[str, tuple[str, Writes, dict[str, str | None]]] = {}
    for rtype, rid, text, batch in rows:
        writes = json.loads(text)
        if rid not in per_record:
            order.append(rid)
            per_record[rid] = (rtype, {}, {})
        _, merged, carriers = per_record[rid]
        per_record[rid] = (rtype, coalesce(merged, writes), carriers)
        carriers.update(dict.fromkeys(writes, batch))
    return [
        {
            "type": per_record[rid][0],
            "id": rid,
            "field": name,
            "value": write["value"],
            "stamp": write["stamp"],
            "base": write["base"],
            "batch_id": per_record[rid][2][name],
        }
        for rid in order
        for name, write in per_record[rid][1].items()
    ]
