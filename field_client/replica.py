"""The sync side of the local store: push batches, push answers, pull pages, re-stamping.

Each function runs in one write transaction of the store, so every step of a sync is durable
before the next one starts. Bulk paths use ``executemany`` on the raw cursor: a 10,000-record
pull must fit in a fraction of a second.
"""

from __future__ import annotations

import gzip
import json
from typing import TYPE_CHECKING, Any, NamedTuple

from uuid6 import uuid7

from field_client.store import dumps, search_text
from sync import DELETED, Stamp
from sync.vocabulary import pack_faults

if TYPE_CHECKING:
    from field_client.store import LocalStore

__all__ = [
    "MAX_BATCH_BYTES",
    "apply_pull_page",
    "apply_push_response",
    "next_batch",
    "restamp_pending",
    "store_conflicts",
]

MAX_BATCH_BYTES = 4 * 1024 * 1024  # under the server's 5 MiB, leaving room for the envelope


def next_batch(store: LocalStore, max_changes: int = 500) -> tuple[str, bytes] | None:
    """Return the oldest unacknowledged batch (id, gzipped JSON body), or persist a new one
    from the outbox. The body is assembled from the stored JSON values as text (no decoding)
    and kept gzipped: the bytes sent, and sent again on a retry, are the bytes stored."""
    waiting = store.db.execute_sql(
        "SELECT id, body FROM push_batch ORDER BY created_ms, id LIMIT 1"
    ).fetchone()
    if waiting is not None:  # sent before but never acknowledged: re-send it unchanged
        return waiting[0], bytes(waiting[1])
    if store.db.execute_sql("SELECT 1 FROM outbox_entry LIMIT 1").fetchone() is None:
        return None  # nothing to push: no write transaction at all
    with store.write():
        # No batch is waiting, so every outbox entry is up for grabs.
        changes = _pick_changes(store, max_changes)
        if not changes:
            return None
        ids = list(changes)
        batch_id = str(uuid7())
        parts = [
            f'{{"type":"{rtype}","id":"{rid}","set":{{{",".join(writes)}}}}}'
            for rid, (rtype, writes) in changes.items()
        ]
        device_time = store.tick()  # after every stamp in the batch, before any later edit
        body = (
            f'{{"batch_id":"{batch_id}","device_time":"{device_time}",'
            f'"changes":[{",".join(parts)}]}}'
        )
        packed = gzip.compress(body.encode(), compresslevel=3)
        store.db.execute_sql(
            "INSERT INTO push_batch (id, body, size, record_ids, device_time, created_ms)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (batch_id, packed, len(parts), dumps(ids), device_time, store.now()),
        )
    return batch_id, packed


def unpack(body: bytes) -> dict[str, Any]:
    """Return a stored batch body as data."""
    return dict(json.loads(gzip.decompress(body)))


# One field write of a change as JSON text, made by SQLite from the stored JSON value (a value
# is stored as JSON text; field names and stamps need no escaping).
_WRITE_SQL = (
    """'"' || field || '":{"value":' || ifnull(value, 'null') || ',"stamp":"' || stamp"""
    """ || '","base":' || ifnull('"' || base || '"', 'null') || '}'"""
)


def _pick_changes(store: LocalStore, max_changes: int) -> dict[str, tuple[str, list[str]]]:
    """Pick up to ``max_changes`` records with pending edits, oldest first, within the size
    cap; return record id -> (type, its field writes as JSON text, in edit order).

    One scan in insertion order that stops at the first record it cannot take (cheap however
    long the outbox is); the few writes of the picked records queued after that point (a field
    edited later) are read by id."""
    cursor = store.db.execute_sql(
        f"SELECT seq, record_type, record_id, {_WRITE_SQL} FROM outbox_entry ORDER BY seq"
    )
    changes: dict[str, tuple[str, list[str]]] = {}
    size = 0
    stopped_at = None
    for seq, rtype, rid, write in cursor:
        size += len(write) + 60
        change = changes.get(rid)
        if change is None:
            if len(changes) >= max_changes or (changes and size > MAX_BATCH_BYTES):
                stopped_at = seq
                break
            change = changes[rid] = (rtype, [])
        change[1].append(write)
    cursor.close()
    if stopped_at is not None:
        for chunk in _chunks(list(changes), 500):
            marks = ",".join("?" * len(chunk))
            later = store.db.execute_sql(
                f"SELECT record_id, {_WRITE_SQL} FROM outbox_entry"
                f" WHERE record_id IN ({marks}) AND seq > ? ORDER BY seq",
                [*chunk, stopped_at],
            )
            for rid, write in later:
                changes[rid][1].append(write)
    return changes


class _Batch(NamedTuple):
    """A stored push batch, as ``apply_push_response`` reads it."""

    id: str
    body: bytes
    size: int
    record_ids: str
    device_time: str


def apply_push_response(
    store: LocalStore, batch_id: str, response: dict[str, Any]
) -> dict[str, int]:
    """Apply the server's answer to a batch: drop acknowledged edits, keep rejected ones with
    their reasons, record conflicts (taking the server's value where this device's lost)."""
    with store.write():
        found = store.db.execute_sql(
            "SELECT id, body, size, record_ids, device_time FROM push_batch WHERE id = ?",
            (batch_id,),
        ).fetchone()
        if found is None:  # already applied (a second process got there first)
            return {"sent": 0, "conflicts": 0, "rejected": 0}
        batch = _Batch(*found)
        rejected = response.get("rejected") or []
        conflicts = response.get("conflicts") or []
        # Decode the body only when the answer names changes in it (rare): keeps acks cheap.
        changes = unpack(batch.body)["changes"] if rejected or conflicts else []
        for item in rejected:
            _reject(store, batch, changes, item)
        pushed = {(c["id"], name): w["stamp"] for c in changes for name, w in c["set"].items()}
        # The batch carried its records' entries stamped before its device_time; entries
        # edited since have later stamps and stay queued.
        for chunk in _chunks(json.loads(batch.record_ids), 500):
            store.db.execute_sql(
                "DELETE FROM outbox_entry WHERE record_id IN ({marks}) AND stamp < ?".format(
                    marks=",".join("?" * len(chunk))
                ),
                [*chunk, batch.device_time],
            )
        store.db.execute_sql(
            "UPDATE device_state SET max_acked = ? WHERE id = 1"
            " AND (max_acked IS NULL OR max_acked < ?)",
            (batch.device_time, batch.device_time),
        )
        store_conflicts(store, conflicts, pushed=pushed)
        store.db.execute_sql("DELETE FROM push_batch WHERE id = ?", (batch_id,))
        store.observe(response.get("server_time"))
    return {
        "sent": batch.size - len(rejected),
        "conflicts": len(conflicts),
        "rejected": len(rejected),
    }


def _reject(store: LocalStore, batch: Any, changes: list[dict[str, Any]], item: Any) -> None:
    """Move a refused change from the outbox to the rejections, and give its fields back the
    stamps the server holds (their bases), so that a fix is judged against those."""
    index = item.get("index") if isinstance(item, dict) else None
    if not isinstance(index, int) or not 0 <= index < len(changes):
        return
    change = changes[index]
    writes = change["set"]
    store.m.Rejection.insert(
        batch_id=batch.id,
        record_type=change["type"],
        record_id=change["id"],
        values=dumps({k: w["value"] for k, w in writes.items()}),
        bases=dumps({k: w["base"] for k, w in writes.items()}),
        errors=dumps(pack_faults(item.get("errors") or {}, item.get("codes"))),
        created_ms=store.now(),
    ).execute()
    store.db.execute_sql(
        "DELETE FROM outbox_entry WHERE record_id = ? AND stamp < ?",
        (change["id"], batch.device_time),
    )
    row = store.m.Record.get_or_none(store.m.Record.id == change["id"])
    if row is None:
        return
    stamps = json.loads(row.stamps)
    for name, write in writes.items():
        if stamps.get(name) == write["stamp"]:  # not edited again since
            if write["base"] is None:
                stamps.pop(name, None)
            else:
                stamps[name] = write["base"]
    row.stamps = dumps(stamps)
    row.save()


def store_conflicts(
    store: LocalStore,
    conflicts: list[dict[str, Any]],
    *,
    pushed: dict[tuple[str, str], str] | None = None,
    replace: bool = False,
) -> None:
    """Keep reported conflicts; where the server kept the other value over a value this device
    just pushed, show the kept value locally (unless the field was edited again since)."""
    C = store.m.Conflict  # noqa: N806
    now = store.now()
    ids = []
    for item in conflicts:
        if not isinstance(item, dict) or "id" not in item:
            continue
        ids.append(str(item["id"]))
        C.insert(
            id=str(item["id"]),
            record_type=item.get("type") or "",
            record_id=item.get("record_id") or "",
            field=item.get("field") or "",
            kept=dumps(item.get("kept") or {}),
            other=dumps(item.get("other") or {}),
            reported_ms=now,
            open=True,
        ).on_conflict_replace().execute()
        if pushed is not None:
            _take_kept(store, item, pushed)
    if replace:
        query = C.update(open=False).where(C.open == True)  # noqa: E712
        if ids:
            query = query.where(C.id.not_in(ids))
        query.execute()


def _take_kept(
    store: LocalStore, item: dict[str, Any], pushed: dict[tuple[str, str], str]
) -> None:
    kept = item.get("kept") or {}
    rid, field = item.get("record_id"), item.get("field")
    mine = pushed.get((rid, field))  # type: ignore[arg-type]
    if not kept.get("stamp") or mine is None or kept["stamp"] == mine:
        return
    if store.m.OutboxEntry.get_or_none(
        (store.m.OutboxEntry.record_id == rid) & (store.m.OutboxEntry.field == field)
    ):
        return  # edited again here since: the next push lets the server judge that edit
    row = store.m.Record.get_or_none(store.m.Record.id == rid)
    if row is None:
        return
    fields, stamps = json.loads(row.fields), json.loads(row.stamps)
    stamps[field] = kept["stamp"]
    if field == DELETED:
        row.deleted = bool(kept.get("value"))
    else:
        fields[field] = kept.get("value")
    row.fields, row.stamps = dumps(fields), dumps(stamps)
    row.search = search_text(row.type, fields)
    row.save()


def apply_pull_page(store: LocalStore, page: dict[str, Any]) -> dict[str, int]:
    """Apply a pulled page and save its cursor in the same transaction; return its counts.

    ``received`` is the page's size, ``new`` the records that changed something here (not
    this device's own writes coming back), ``returned`` the office review notes new here.
    A pulled field replaces the local one unless this device holds an unpushed edit of it.
    """
    records = page.get("records") or []
    with store.write():
        ids = [r["id"] for r in records]
        known = _local_stamps(store, ids)
        counts = _pull_counts(records, known)
        mine = _pending_fields(store, ids)
        rows = [_pulled_row(store, record, mine.get(record["id"])) for record in records]
        store.db.cursor().executemany(
            "INSERT OR REPLACE INTO record (id, type, fields, stamps, deleted, meta, search,"
            " updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        _save_cursor(store, page.get("cursor"), page.get("server_time"))
    return counts


REVIEW_FIELDS = ("review_status", "review_note")


def _local_stamps(store: LocalStore, ids: list[str]) -> dict[str, dict[str, str]]:
    """Return the stamps this device holds for the given record ids."""
    found: dict[str, dict[str, str]] = {}
    for chunk in _chunks(ids, 500):
        cursor = store.db.execute_sql(
            "SELECT id, stamps FROM record WHERE id IN ({marks})".format(
                marks=",".join("?" * len(chunk))
            ),
            chunk,
        )
        for rid, stamps in cursor:
            found[rid] = json.loads(stamps)
    return found


def _pull_counts(
    records: list[dict[str, Any]], known: dict[str, dict[str, str]]
) -> dict[str, int]:
    """Count what a pulled page brings that this device did not hold already."""
    new = returned = 0
    for record in records:
        stamps, local = record.get("stamps") or {}, known.get(record["id"])
        if local is not None and all(local.get(k) == v for k, v in stamps.items()):
            continue  # this device's own write (or one it already had) coming back
        new += 1
        fields = record.get("fields") or {}
        reviewed = fields.get("review_status") == "needs_changes" or bool(
            fields.get("review_note")
        )
        fresh = any((local or {}).get(k) != stamps.get(k) for k in REVIEW_FIELDS if k in stamps)
        if record.get("type") in ("visit", "concern") and reviewed and fresh:
            returned += 1
    return {"received": len(records), "new": new, "returned": returned}


def _save_cursor(store: LocalStore, cursor: str | None, server_time: str | None) -> None:
    store.db.execute_sql("UPDATE device_state SET cursor = ? WHERE id = 1", (cursor,))
    store.observe(server_time)


def _pending_fields(store: LocalStore, ids: list[str]) -> dict[str, set[str]]:
    mine: dict[str, set[str]] = {}
    if not store.db.execute_sql("SELECT 1 FROM outbox_entry LIMIT 1").fetchone():
        return mine  # the usual case after a push: nothing to protect
    for chunk in _chunks(ids, 500):
        cursor = store.db.execute_sql(
            "SELECT record_id, field FROM outbox_entry WHERE record_id IN ({marks})".format(
                marks=",".join("?" * len(chunk))
            ),
            chunk,
        )
        for rid, field in cursor:
            mine.setdefault(rid, set()).add(field)
    return mine


def _pulled_row(store: LocalStore, record: dict[str, Any], mine: set[str] | None) -> tuple:
    rtype, fields, stamps = record["type"], record.get("fields") or {}, record.get("stamps") or {}
    deleted = bool(record.get("deleted"))
    if mine:  # keep this device's unpushed edits (with their original base) over the pull
        row = store.m.Record.get_or_none(store.m.Record.id == record["id"])
        if row is not None:
            local_fields, local_stamps = json.loads(row.fields), json.loads(row.stamps)
            for name in mine:
                if name in local_stamps:
                    stamps[name] = local_stamps[name]
                if name == DELETED:
                    deleted = bool(row.deleted)
                elif name in local_fields:
                    fields[name] = local_fields[name]
    updated = Stamp.wall_of(max(stamps.values())) if stamps else 0
    return (
        record["id"],
        rtype,
        dumps(fields),
        dumps(stamps),
        deleted,
        dumps(record.get("meta") or {}),
        search_text(rtype, fields),
        updated,
    )


def requeue_own_writes(store: LocalStore) -> int:
    """Queue again every field value this device wrote (its own stamp), for a server restored
    from a backup (``resync_required``): the server ignores what it already holds (same node,
    not newer) and takes what it lost. Pending edits stay as they are. Returns the count."""
    node = store.clock.node_id
    suffix = f"-{node}"
    with store.write():
        rows = store.db.execute_sql("SELECT id, type, fields, stamps, deleted FROM record")
        entries = []
        for rid, rtype, fields_text, stamps_text, deleted in rows:
            if suffix not in stamps_text:
                continue
            fields, stamps = json.loads(fields_text), json.loads(stamps_text)
            for name, stamp in stamps.items():
                if Stamp.node_of(stamp) == node:
                    value = bool(deleted) if name == DELETED else fields.get(name)
                    entries.append((rtype, rid, name, dumps(value), stamp, None))
        store.db.cursor().executemany(
            "INSERT OR IGNORE INTO outbox_entry (record_type, record_id, field, value, stamp,"
            " base) VALUES (?, ?, ?, ?, ?, ?)",
            entries,
        )
        store.db.execute_sql("DELETE FROM push_batch")  # answers from the lost epoch: moot
        store.db.execute_sql("UPDATE device_state SET cursor = NULL WHERE id = 1")
    return len(entries)


def restamp_pending(store: LocalStore, server_time: str | None = None) -> int:
    """Give every pending edit a fresh stamp from the (fixed) wall clock and forget any unsent
    batch: after ``clock_skew`` nothing of it was applied. The new stamps still sort after every
    stamp the server took from this device and after every base."""
    with store.write():
        state = store.state()
        clock = store.clock
        floor = [Stamp(store.now(), 0, clock.node_id)]
        for text in (state.max_acked, server_time):
            if text:
                floor.append(Stamp.parse(text))
        top_base = store.db.execute_sql("SELECT MAX(base) FROM outbox_entry").fetchone()[0]
        if top_base:
            floor.append(Stamp.parse(top_base))
        clock.last = max(floor)
        store.db.execute_sql("DELETE FROM push_batch")
        ids = store.db.execute_sql("SELECT DISTINCT record_id FROM outbox_entry").fetchall()
        for (rid,) in ids:
            _restamp_record(store, rid, str(clock.tick()))
        store.m.DeviceState.update(last_stamp=str(clock.last), restamp_needed=False).where(
            store.m.DeviceState.id == 1
        ).execute()
    return len(ids)


def _restamp_record(store: LocalStore, rid: str, stamp: str) -> None:
    entries = store.db.execute_sql(
        "SELECT field, stamp FROM outbox_entry WHERE record_id = ?", (rid,)
    ).fetchall()
    row = store.m.Record.get_or_none(store.m.Record.id == rid)
    if row is not None:
        stamps = json.loads(row.stamps)
        for field, old in entries:
            if stamps.get(field) == old:
                stamps[field] = stamp
        row.stamps = dumps(stamps)
        row.save()
    store.db.execute_sql("UPDATE outbox_entry SET stamp = ? WHERE record_id = ?", (stamp, rid))


def _chunks(items: list[str], size: int) -> Any:
    for start in range(0, len(items), size):
        yield items[start : start + size]
