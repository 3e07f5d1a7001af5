"""The outbox: one row per record with unpushed edits, tagged with its push batch once built.

A row's ``writes`` is the ``set`` of the record's change in wire form, as JSON text::

    {"status": {"value": "accepted", "stamp": "<latest stamp>", "base": "<base of the first>"}}

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
    "coalesce",
    "merge_rows",
    "pending_entries",
    "queue_edit",
    "release_batches",
]

Writes = dict[str, dict[str, Any]]  # field -> {"value", "stamp", "base"}


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
        db.execute_sql(
            "INSERT INTO outbox (record_type, record_id, writes, batch) VALUES (?, ?, ?, NULL)",
            (rtype, record_id, jsonio.dumps(edit)),
        )
    else:
        merged = coalesce(json.loads(open_row[1]), edit)
        db.execute_sql(
            "UPDATE outbox SET writes = ? WHERE id = ?", (jsonio.dumps(merged), open_row[0])
        )


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
    db.cursor().executemany(
        "INSERT INTO outbox (id, record_type, record_id, writes, batch) VALUES (?, ?, ?, ?, NULL)",
        [
            (
                group[0][0],
                group[0][1],
                rid,
                jsonio.dumps(merge_rows(json.loads(row[3]) for row in group)),
            )
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
