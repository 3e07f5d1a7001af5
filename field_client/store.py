"""The device's local store: records, the outbox of unpushed edits, and what sync learned.

``LocalStore(home)`` is the API the CLI and the local web UI build on. Every local edit is
validated with the protocol's field rules first, then updates the record, the outbox and the
device clock in ONE transaction, so a killed process leaves a consistent store.

A record is returned as a plain dict in wire form plus local extras::

    {"type": "concern", "id": "…", "fields": {...}, "stamps": {...}, "deleted": False,
     "meta": {...}, "pending": ["status"]}      # pending: fields edited here, not yet pushed

The sync side (batches, push responses, pull pages, re-stamping) lives in
``field_client.replica`` and is reached through the methods in the last section of the class.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, ParamSpec, TypeVar

import peewee
from uuid6 import uuid7

from field_client import db as dbmod
from field_client import models
from field_client.errors import AmbiguousName, NotEnrolled, NotFound, StoreError, ValidationError
from sync import DELETED, RECORD_TYPES, RESOLVED_STATUSES, Clock, Stamp, validate_fields

__all__ = ["CLOSED_STATUSES", "LocalStore", "dumps", "label", "wall_ms"]

P = ParamSpec("P")
T = TypeVar("T")

TOKEN_FILE = "token"
# A concern in one of these is no longer "open" for the representative walking in.
CLOSED_STATUSES = frozenset(RESOLVED_STATUSES | {"duplicate", "rejected"})


def wall_ms() -> int:
    """Return the wall clock in epoch milliseconds (the default ``now`` of a store)."""
    return time.time_ns() // 1_000_000


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(value: Any) -> str:
    """Serialize to compact JSON that keeps Chinese readable (and LIKE-searchable)."""
    return _ENCODER.encode(value)


def label(record: dict[str, Any]) -> str:
    """Return a record's human name: its name, title or subject, else its id."""
    fields = record.get("fields", {})
    return str(fields.get("name") or fields.get("title") or fields.get("note") or record["id"])


def search_text(rtype: str, fields: dict[str, Any]) -> str:
    """Return the text a record is found by: its string values except references."""
    refs = RECORD_TYPES[rtype].refs if rtype in RECORD_TYPES else frozenset()
    return "\n".join(v for k, v in fields.items() if isinstance(v, str) and k not in refs)


def guarded(method: Callable[P, T]) -> Callable[P, T]:
    """Turn SQLite failures (locked, corrupt, unreadable) into one StoreError."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return method(*args, **kwargs)
        except (peewee.DatabaseError, sqlite3.DatabaseError) as exc:
            raise StoreError(_describe_db_error(exc), reason=str(exc)) from exc

    return wrapper


def _describe_db_error(exc: Exception) -> str:
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return "locked"
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return "corrupt"
    return "unusable"


class LocalStore:
    """One device's local store in ``home`` (a folder; created when missing).

    ``now`` returns epoch milliseconds; tests inject a manual clock. Methods are safe to call
    from several threads and processes (SQLite locking plus the persisted clock).
    """

    def __init__(self, home: Path | str, *, now: Callable[[], int] | None = None) -> None:
        self.home = Path(home)
        self.now = now or wall_ms
        self._lock = threading.RLock()
        self._clock: Clock | None = None
        try:
            self.db = dbmod.open_database(self.home)
            self.m = models.bind(self.db)
            with self.db.atomic("IMMEDIATE"):
                self.db.create_tables(self.m.all, safe=True)
                self.m.DeviceState.get_or_create(id=1)
        except (peewee.DatabaseError, sqlite3.DatabaseError) as exc:
            raise StoreError(_describe_db_error(exc), reason=str(exc)) from exc
        except OSError as exc:
            raise StoreError("unusable", reason=str(exc)) from exc

    def close(self) -> None:
        """Close this thread's connection to the database."""
        self.db.close()

    # -- transactions and the clock ------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[None]:
        """Run a block in one write transaction (taken at once, so writers never deadlock)."""
        with self._lock, self.db.atomic("IMMEDIATE"):
            yield

    def state(self) -> Any:
        """Return the DeviceState row (credentials, cursor, clock) as stored now."""
        return self.m.DeviceState.get_by_id(1)

    @property
    def clock(self) -> Clock:
        """The device's HLC; its node id is the device id given at enrollment."""
        if self._clock is None:
            state = self.state()
            if not state.device_id:
                raise NotEnrolled("not enrolled")
            self._clock = Clock(self.now, state.device_id, state.last_stamp)
        return self._clock

    def _sync_clock(self) -> Clock:
        """Catch the in-memory clock up with the persisted last stamp (another process may
        have ticked it). Call inside a write transaction."""
        clock = self.clock
        row = self.db.execute_sql("SELECT last_stamp FROM device_state WHERE id = 1").fetchone()
        if row and row[0] and row[0] > str(clock.last):
            clock.last = Stamp.parse(row[0])
        return clock

    def _save_clock(self) -> None:
        self.db.execute_sql(
            "UPDATE device_state SET last_stamp = ? WHERE id = 1", (str(self.clock.last),)
        )

    def tick(self) -> str:
        """Take the next stamp and persist the clock. Call inside a write transaction."""
        stamp = str(self._sync_clock().tick())
        self._save_clock()
        return stamp

    def observe(self, server_time: str | None) -> None:
        """Fold a server stamp into the clock and persist it. Call inside a write transaction."""
        if server_time:
            self._sync_clock().observe(server_time)
            self._save_clock()

    # -- credentials ---------------------------------------------------------------------------

    @property
    def enrolled(self) -> bool:
        """Whether the device has been enrolled (has a device id and a token)."""
        return bool(self.state().device_id) and (self.home / TOKEN_FILE).exists()

    @guarded
    def save_enrollment(self, server_url: str, answer: dict[str, Any], device_name: str) -> None:
        """Keep the enrollment answer: token in a 0600 file, the rest in the database."""
        token_path = self.home / TOKEN_FILE
        fd = os.open(token_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(answer["token"])
        os.chmod(token_path, 0o600)
        with self.write():
            self.m.DeviceState.update(
                server_url=server_url.rstrip("/"),
                device_id=answer["device_id"],
                device_name=device_name,
                user=dumps(answer.get("user") or {}),
                workspace=dumps(answer.get("workspace") or {}),
                cursor=None,
            ).where(self.m.DeviceState.id == 1).execute()
            self._clock = None
            if answer.get("server_time"):
                self.observe(answer["server_time"])

    @guarded
    def credentials(self) -> dict[str, Any]:
        """Return server_url, device_id, device_name, user, workspace and token; raise
        NotEnrolled before ``fieldsync init``."""
        state = self.state()
        token_path = self.home / TOKEN_FILE
        if not state.device_id or not token_path.exists():
            raise NotEnrolled("not enrolled")
        return {
            "server_url": state.server_url,
            "device_id": state.device_id,
            "device_name": state.device_name,
            "user": json.loads(state.user or "{}"),
            "workspace": json.loads(state.workspace or "{}"),
            "token": token_path.read_text(encoding="utf-8").strip(),
        }

    # -- local edits ---------------------------------------------------------------------------

    @guarded
    def create(self, rtype: str, fields: dict[str, Any], *, record_id: str | None = None) -> str:
        """Create a record of ``rtype`` with ``fields``; return its new id (a UUIDv7)."""
        record_type = _record_type(rtype)
        errors = validate_fields(record_type, fields, is_new=True)
        if DELETED in fields:
            errors[DELETED] = ["cannot be set on a new record"]
        if errors:
            raise ValidationError("invalid fields", errors)
        record_id = record_id or str(uuid7())
        with self.write():
            if self._row(record_id) is not None:
                raise ValidationError("id exists", {"id": ["already exists"]})
            self._write(rtype, record_id, None, fields)
        return record_id

    @guarded
    def create_many(self, rtype: str, items: list[dict[str, Any]]) -> list[str]:
        """Create many records of one type in one transaction (imports); return their ids.

        All are validated first: one bad item stores nothing.
        """
        record_type = _record_type(rtype)
        for index, fields in enumerate(items):
            errors = validate_fields(record_type, fields, is_new=True)
            if errors:
                raise ValidationError("invalid fields", errors, index=index)
        ids = [str(uuid7()) for _ in items]
        with self.write():
            clock = self._sync_clock()
            for record_id, fields in zip(ids, items, strict=True):
                self._write(rtype, record_id, None, fields, str(clock.tick()))
            self._save_clock()
        return ids

    @guarded
    def update(self, rtype: str, record_id: str, fields: dict[str, Any]) -> list[str]:
        """Change some fields of a record; return the names of the fields that changed.

        Fields given with their current value are left alone (no empty edits to sync).
        """
        record_type = _record_type(rtype)
        with self.write():
            row = self._row_or_raise(rtype, record_id)
            current = json.loads(row.fields)
            present = [k for k, v in current.items() if v is not None]
            errors = validate_fields(record_type, fields, is_new=False, present=present)
            if errors:
                raise ValidationError("invalid fields", errors)
            changed = {
                k: v
                for k, v in fields.items()
                if (row.deleted if k == DELETED else current.get(k)) != v
            }
            if changed:
                self._write(rtype, record_id, row, changed)
        return sorted(changed)

    def delete(self, rtype: str, record_id: str) -> None:
        """Delete a record (a tombstone that syncs; office staff can restore it)."""
        self.update(rtype, record_id, {DELETED: True})

    def restore(self, rtype: str, record_id: str) -> None:
        """Undo a delete."""
        self.update(rtype, record_id, {DELETED: False})

    def _write(
        self, rtype: str, record_id: str, row: Any, values: dict[str, Any], stamp: str = ""
    ) -> None:
        """Apply one validated edit to record + outbox + clock (inside a write transaction)."""
        stamp = stamp or self.tick()
        fields = json.loads(row.fields) if row else {}
        stamps = json.loads(row.stamps) if row else {}
        deleted = bool(row.deleted) if row else False
        entries = []
        for name, value in values.items():
            entries.append((rtype, record_id, name, dumps(value), stamp, stamps.get(name)))
            stamps[name] = stamp
            if name == DELETED:
                deleted = bool(value)
            else:
                fields[name] = value
        self.db.execute_sql(
            "INSERT OR REPLACE INTO record (id, type, fields, stamps, deleted, meta, search,"
            " updated_ms) VALUES (?, ?, ?, ?, ?, COALESCE((SELECT meta FROM record WHERE id = ?),"
            " '{}'), ?, ?)",
            (
                record_id,
                rtype,
                dumps(fields),
                dumps(stamps),
                deleted,
                record_id,
                search_text(rtype, fields),
                Stamp.wall_of(stamp),
            ),
        )
        # Coalesce per field: the latest value and stamp, the base of the FIRST unpushed edit.
        # A new edit also leaves any in-flight batch, so acknowledging that batch keeps it.
        self.db.cursor().executemany(
            "INSERT INTO outbox_entry (record_type, record_id, field, value, stamp, base,"
            " batch_id) VALUES (?, ?, ?, ?, ?, ?, NULL) ON CONFLICT (record_id, field) DO UPDATE"
            " SET value = excluded.value, stamp = excluded.stamp, batch_id = NULL",
            entries,
        )

    # -- reading -------------------------------------------------------------------------------

    def _row(self, record_id: str) -> Row | None:
        """Read one record row with plain SQL (edits are the hot path of recording)."""
        found = self.db.execute_sql(
            "SELECT id, type, fields, stamps, deleted, meta FROM record WHERE id = ?",
            (record_id,),
        ).fetchone()
        return None if found is None else Row(*found)

    def _row_or_raise(self, rtype: str | None, record_id: str) -> Row:
        row = self._row(record_id)
        if row is None or (rtype is not None and row.type != rtype):
            raise NotFound("unknown id", type=rtype or "record", id=record_id)
        return row

    def _to_dicts(self, rows: list[Any]) -> list[dict[str, Any]]:
        pending: dict[str, list[str]] = {}
        ids = [row.id for row in rows]
        for chunk in _chunks(ids, 500):
            cursor = self.db.execute_sql(
                "SELECT record_id, field FROM outbox_entry WHERE record_id IN ({marks})".format(
                    marks=",".join("?" * len(chunk))
                ),
                chunk,
            )
            for record_id, field in cursor:
                pending.setdefault(record_id, []).append(field)
        return [
            {
                "type": row.type,
                "id": row.id,
                "fields": json.loads(row.fields),
                "stamps": json.loads(row.stamps),
                "deleted": bool(row.deleted),
                "meta": json.loads(row.meta),
                "pending": sorted(pending.get(row.id, [])),
            }
            for row in rows
        ]

    @guarded
    def get(self, rtype: str | None, record_id: str) -> dict[str, Any] | None:
        """Return one record (``rtype`` None: of any type), or None when unknown."""
        row = self._row(record_id)
        if row is None or (rtype is not None and row.type != rtype):
            return None
        return self._to_dicts([row])[0]

    def require(self, rtype: str | None, record_id: str) -> dict[str, Any]:
        """Return one record; raise NotFound when unknown."""
        record = self.get(rtype, record_id)
        if record is None:
            raise NotFound("unknown id", type=rtype or "record", id=record_id)
        return record

    @guarded
    def list(
        self,
        rtype: str,
        *,
        place: str | None = None,
        status: str | None = None,
        kind: str | None = None,
        category: str | None = None,
        subject: str | None = None,
        text: str | None = None,
        include_deleted: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """List records of a type, most recently changed first, with optional filters:
        ``place`` (place id: the place_id, or for places the parent_id), ``status``, ``kind``,
        ``category``, ``subject`` (follow-ups/attachments of a record), ``text`` (substring)."""
        _record_type(rtype)
        R = self.m.Record
        query = R.select().where(R.type == rtype)
        if not include_deleted:
            query = query.where(R.deleted == False)  # noqa: E712
        for name, value in (
            ("place_id" if rtype != "place" else "parent_id", place),
            ("status", status),
            ("kind", kind),
            ("category", category),
            ("subject_id", subject),
        ):
            if value is not None:
                query = query.where(peewee.fn.json_extract(R.fields, f"$.{name}") == value)
        if text:
            query = query.where(R.search.contains(text))
        query = query.order_by(R.updated_ms.desc(), R.id.desc()).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        return self._to_dicts(list(query))

    @guarded
    def count(self, rtype: str, *, include_deleted: bool = False) -> int:
        """Count the records of a type."""
        R = self.m.Record
        query = R.select().where(R.type == rtype)
        if not include_deleted:
            query = query.where(R.deleted == False)  # noqa: E712
        return int(query.count())

    @guarded
    def search(
        self, text: str, *, rtype: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Find records whose text contains ``text`` (any language, Chinese included)."""
        R = self.m.Record
        query = R.select().where(R.deleted == False, R.search.contains(text.strip()))  # noqa: E712
        if rtype:
            query = query.where(R.type == rtype)
        return self._to_dicts(list(query.order_by(R.updated_ms.desc()).limit(limit)))

    def find(self, rtype: str, name_or_id: str) -> dict[str, Any]:
        """Resolve a record by id, or by its unique name/title (exact, then substring).

        Raises NotFound when nothing matches and AmbiguousName when several do.
        """
        key = name_or_id.strip()
        record = self.get(rtype, key)
        if record is not None:
            return record
        candidates = [r for r in self.list(rtype) if label(r) == key]
        if not candidates:
            candidates = [r for r in self.list(rtype, text=key) if key in label(r)]
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise NotFound("unknown name", type=rtype, id=key)
        raise AmbiguousName(
            "ambiguous name",
            [(r["id"], label(r)) for r in candidates[:10]],
            type=rtype,
            name=key,
        )

    def find_place(self, name_or_id: str) -> dict[str, Any]:
        """Resolve a place by id or unique name (see ``find``)."""
        return self.find("place", name_or_id)

    def find_party(self, name_or_id: str) -> dict[str, Any]:
        """Resolve a party by id or unique name (see ``find``)."""
        return self.find("party", name_or_id)

    @guarded
    def recent_places(self, limit: int = 10) -> list[dict[str, Any]]:
        """Return places recently worked at (visited, concerns raised) or edited, newest first."""
        rows = self.db.execute_sql(
            "SELECT pid FROM (SELECT json_extract(fields, '$.place_id') AS pid, updated_ms"
            " FROM record WHERE type IN ('visit', 'concern', 'project') AND deleted = 0"
            " UNION ALL SELECT id, updated_ms FROM record WHERE type = 'place' AND deleted = 0)"
            " WHERE pid IS NOT NULL GROUP BY pid ORDER BY MAX(updated_ms) DESC LIMIT ?",
            (limit * 2,),
        ).fetchall()
        places = [self.get("place", pid) for (pid,) in rows]
        return [p for p in places if p is not None and not p["deleted"]][:limit]

    def open_concerns(self, place_id: str) -> list[dict[str, Any]]:
        """Return the concerns of a place (and of places inside it) that are still open."""
        place_ids = {place_id} | {p["id"] for p in self.list("place", place=place_id)}
        found = []
        for pid in sorted(place_ids):
            found += [
                c
                for c in self.list("concern", place=pid)
                if c["fields"].get("status") not in CLOSED_STATUSES
            ]
        return sorted(found, key=lambda c: c["stamps"].get("title", ""), reverse=True)

    @guarded
    def review_notes(self) -> list[dict[str, Any]]:
        """Return visits and concerns the office reviewed with a note or asked to change."""
        R = self.m.Record
        status = peewee.fn.json_extract(R.fields, "$.review_status")
        note = peewee.fn.json_extract(R.fields, "$.review_note")
        query = R.select().where(
            R.type.in_(["visit", "concern"]),
            R.deleted == False,  # noqa: E712
            (status == "needs_changes") | ((note.is_null(False)) & (note != "")),
        )
        return self._to_dicts(list(query.order_by(R.updated_ms.desc())))

    # -- sync state ----------------------------------------------------------------------------

    @guarded
    def status(self) -> dict[str, Any]:
        """Return {server, last_sync, pending, conflicts, rejected, device_id, user, workspace}.

        ``pending`` counts records with unpushed edits; ``last_sync`` is ISO 8601 UTC or None.
        """
        state = self.state()
        pending = self.pending_count()
        last = state.last_sync_ms
        return {
            "server": state.server_url,
            "last_sync": (
                dt.datetime.fromtimestamp(last / 1000, dt.UTC).isoformat(timespec="seconds")
                if last
                else None
            ),
            "pending": int(pending),
            "conflicts": self.open_conflict_count(),
            "rejected": self.m.Rejection.select()
            .where(self.m.Rejection.fixed_ms.is_null())
            .count(),
            "device_id": state.device_id,
            "user": json.loads(state.user or "{}"),
            "workspace": json.loads(state.workspace or "{}"),
            "restamp_needed": bool(state.restamp_needed),
        }

    @guarded
    def pending_count(self) -> int:
        """Count the records with edits not yet pushed."""
        query = "SELECT COUNT(DISTINCT record_id) FROM outbox_entry"
        return int(self.db.execute_sql(query).fetchone()[0])

    @guarded
    def open_conflict_count(self) -> int:
        """Count the open conflicts the server reported."""
        query = "SELECT COUNT(*) FROM conflict WHERE open = 1"
        return int(self.db.execute_sql(query).fetchone()[0])

    @guarded
    def pending(self) -> list[dict[str, Any]]:
        """Return the outbox: one entry per unpushed field edit (value, stamp, base)."""
        O = self.m.OutboxEntry  # noqa: E741, N806
        return [
            {
                "type": e.record_type,
                "id": e.record_id,
                "field": e.field,
                "value": json.loads(e.value),
                "stamp": e.stamp,
                "base": e.base,
                "batch_id": e.batch_id,
            }
            for e in O.select().order_by(O.seq)
        ]

    @guarded
    def rejected(self, *, include_fixed: bool = False) -> list[dict[str, Any]]:
        """Return changes the server refused: {id, type, record_id, values, errors, created,
        fixed}. They are never deleted; ``fix_rejected`` makes a new edit."""
        J = self.m.Rejection  # noqa: N806
        query = J.select().order_by(J.id.desc())
        if not include_fixed:
            query = query.where(J.fixed_ms.is_null())
        return [
            {
                "id": r.id,
                "type": r.record_type,
                "record_id": r.record_id,
                "values": json.loads(r.values),
                "errors": json.loads(r.errors),
                "created_ms": r.created_ms,
                "fixed": r.fixed_ms is not None,
            }
            for r in query
        ]

    @guarded
    def fix_rejected(self, rejection_id: int, fields: dict[str, Any]) -> list[str]:
        """Fix a rejected change with corrected ``fields`` (a new edit, queued for the next
        sync) and mark the rejection fixed. An empty ``fields`` re-sends the refused values."""
        J = self.m.Rejection  # noqa: N806
        rejection = J.get_or_none(J.id == rejection_id)
        if rejection is None:
            raise NotFound("unknown rejection", type="rejection", id=str(rejection_id))
        values = fields or json.loads(rejection.values)
        office_only = RECORD_TYPES[rejection.record_type].office_only
        values = {k: v for k, v in values.items() if k not in office_only}
        with self.write():
            row = self._row(rejection.record_id)
            if row is None:
                changed = [
                    self.create(rejection.record_type, values, record_id=rejection.record_id)
                ]
            else:
                changed = self._force_update(rejection.record_type, row, values)
            J.update(fixed_ms=self.now()).where(J.id == rejection_id).execute()
        return changed

    def _force_update(self, rtype: str, row: Any, values: dict[str, Any]) -> list[str]:
        """Queue ``values`` even when equal to what the record shows (a refused value was never
        taken by the server, so re-sending it is a real edit)."""
        current = json.loads(row.fields)
        present = [k for k, v in current.items() if v is not None]
        errors = validate_fields(_record_type(rtype), values, is_new=False, present=present)
        if errors:
            raise ValidationError("invalid fields", errors)
        if values:
            self._write(rtype, row.id, row, values)
        return sorted(values)

    @guarded
    def conflicts(self, *, include_closed: bool = False) -> list[dict[str, Any]]:
        """Return conflicts the server reported on fields this device wrote (open ones unless
        ``include_closed``): {id, type, record_id, field, kept, other, open}."""
        C = self.m.Conflict  # noqa: N806
        query = C.select().order_by(C.reported_ms.desc())
        if not include_closed:
            query = query.where(C.open == True)  # noqa: E712
        return [
            {
                "id": c.id,
                "type": c.record_type,
                "record_id": c.record_id,
                "field": c.field,
                "kept": json.loads(c.kept),
                "other": json.loads(c.other),
                "open": bool(c.open),
            }
            for c in query
        ]

    # -- used by the syncer (see field_client.replica) -----------------------------------------

    @property
    def cursor(self) -> str | None:
        """The saved pull cursor (None: pull from the start)."""
        return self.state().cursor

    def next_batch(self, max_changes: int = 500) -> tuple[str, dict[str, Any]] | None:
        """Return the next push batch (id, body), persisted before it is sent; None if none."""
        batch = self.next_batch_text(max_changes)
        return None if batch is None else (batch[0], json.loads(batch[1]))

    def next_batch_text(self, max_changes: int = 500) -> tuple[str, str] | None:
        """Like ``next_batch`` with the body as JSON text, ready to send (the syncer's path)."""
        from field_client import replica

        return guarded(replica.next_batch)(self, max_changes)

    def apply_push_response(self, batch_id: str, response: dict[str, Any]) -> dict[str, int]:
        """Apply the server's answer to a batch durably; return sent/conflicts/rejected counts."""
        from field_client import replica

        return guarded(replica.apply_push_response)(self, batch_id, response)

    def apply_pull_page(self, page: dict[str, Any]) -> int:
        """Apply one pull page and save its cursor in the same transaction; return its size."""
        from field_client import replica

        return guarded(replica.apply_pull_page)(self, page)

    def restamp_pending(self, server_time: str | None = None) -> int:
        """Re-stamp every pending edit with the (fixed) clock; return how many were re-stamped."""
        from field_client import replica

        return guarded(replica.restamp_pending)(self, server_time)

    @guarded
    def set_state(self, **values: Any) -> None:
        """Update fields of the DeviceState row (cursor, last_sync_ms, restamp_needed...)."""
        with self.write():
            self.m.DeviceState.update(**values).where(self.m.DeviceState.id == 1).execute()

    @guarded
    def refresh_conflicts(self, open_conflicts: list[dict[str, Any]]) -> None:
        """Take the server's list of open conflicts on this device's records as the truth."""
        from field_client import replica

        with self.write():
            replica.store_conflicts(self, open_conflicts, replace=True)


class Row(NamedTuple):
    """One record row as stored (JSON columns still text)."""

    id: str
    type: str
    fields: str
    stamps: str
    deleted: bool
    meta: str


def _record_type(rtype: str) -> Any:
    try:
        return RECORD_TYPES[rtype]
    except KeyError:
        raise ValidationError(
            "unknown record type", {"type": ["one of: " + ", ".join(RECORD_TYPES)]}
        ) from None


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def new_id() -> str:
    """Return a fresh record id (UUIDv7, time-ordered)."""
    return str(uuid7())
