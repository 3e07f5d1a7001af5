"""The core of the store: the database, transactions, the device clock, credentials, and
local edits (record + outbox + clock in one transaction)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import peewee
from uuid6 import uuid7

from field_client import db as dbmod
from field_client import durable, migrations, models
from field_client.errors import NotEnrolled, NotFound, StoreError, ValidationError
from field_client.store import outbox
from field_client.store.common import (
    TOKEN_FILE,
    Row,
    chunks,
    describe_db_error,
    dumps,
    guarded,
    record_type_of,
    wall_ms,
)
from sync import DELETED, Clock, Stamp, validate_fields
from sync.rules import FIELD_ALLOWANCE_MS, future_errors, people_errors, voice_key

if TYPE_CHECKING:
    from field_client.store import LocalStore


def _same_workspace(held: str | None, offered: Any) -> None:
    """Refuse to carry a home's records into another workspace than the one they came from."""
    before = (json.loads(held or "{}") or {}).get("id")
    after = (offered or {}).get("id") if isinstance(offered, dict) else None
    if before and after and before != after:
        raise ValidationError("other_workspace", {"code": ["is for another workspace"]})


class StoreCore:
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
            migrations.upgrade(self.db, self.m)
        except migrations.NewerSchema as exc:
            raise StoreError("newer_schema", reason=str(exc)) from exc
        except (peewee.DatabaseError, sqlite3.DatabaseError) as exc:
            raise StoreError(describe_db_error(exc), reason=str(exc)) from exc
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
        """Keep the enrollment answer: token in a 0600 file, the rest in the database.

        A home enrolled before (a revoked or lost device, enrolled again with a new code) keeps
        its records and its pending edits: they are re-stamped under the new identity, so the
        next sync sends them, and the old identity is remembered in ``former_device_ids``.
        """
        state = self.state()
        former = json.loads(state.former_device_ids or "[]")
        if state.device_id and state.device_id != answer["device_id"]:
            _same_workspace(state.workspace, answer.get("workspace"))
            former.append(state.device_id)
        server_url = server_url.rstrip("/")
        durable.write_bytes(self.home / TOKEN_FILE, answer["token"].encode("utf-8"), 0o600)
        with self.write():
            self.m.DeviceState.update(
                server_url=server_url,
                device_id=answer["device_id"],
                device_name=device_name,
                user=dumps(answer.get("user") or {}),
                workspace=dumps(answer.get("workspace") or {}),
                cursor=state.cursor if server_url == state.server_url else None,
                former_device_ids=dumps(former),
                server_compact=answer.get("compact") is True,
            ).where(self.m.DeviceState.id == 1).execute()
            self._clock = None
            if answer.get("server_time"):
                self.observe(answer["server_time"])
            if former:
                from field_client.store import replica

                replica.restamp_pending(cast("LocalStore", self), answer.get("server_time"))

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
        record_type = record_type_of(rtype)
        errors = validate_fields(record_type, fields, is_new=True)
        if DELETED in fields:
            errors[DELETED] = ["cannot be set on a new record"]
        errors = errors or self._rule_errors(rtype, fields, {})
        if errors:
            raise ValidationError("invalid fields", errors)
        record_id = record_id or str(uuid7())
        with self.write():
            if self._row(record_id) is not None:
                raise ValidationError("id exists", {"id": ["already exists"]})
            counted = self._counted_voice(fields) if rtype == "follow_up" else None
            if counted is not None:
                return counted  # this person's voice on this concern is already counted
            self._write(rtype, record_id, None, fields)
        return record_id

    def _rule_errors(
        self, rtype: str, values: dict[str, Any], current: dict[str, Any]
    ) -> dict[str, list[str]]:
        """Apply the record rules of ``sync.rules`` to a local edit (the device's clock)."""
        record_type = record_type_of(rtype)
        errors = future_errors(
            record_type, values, now_ms=self.now(), allowance_ms=FIELD_ALLOWANCE_MS
        )
        if rtype == "concern" and {"party_id", "party_ids", "visit_id"} & values.keys():
            after = {**current, **values}
            visit = self._row(after["visit_id"]) if after.get("visit_id") else None
            visit_fields = json.loads(visit.fields) if visit and visit.type == "visit" else None
            for name, messages in people_errors(after, visit_fields).items():
                errors.setdefault(name, []).extend(messages)
        return errors

    def _counted_voice(self, fields: dict[str, Any]) -> str | None:
        """Return the id of a live voice (附议) of the same person on the same concern."""
        key = voice_key(fields)
        if key is None:
            return None
        found = self.db.execute_sql(
            "SELECT id, fields FROM record WHERE type = 'follow_up' AND NOT deleted"
            " AND json_extract(fields, '$.subject_id') = ?",
            (key[0],),
        ).fetchall()
        return next((r[0] for r in found if voice_key(json.loads(r[1])) == key), None)

    @guarded
    def create_many(self, rtype: str, items: list[dict[str, Any]]) -> list[str]:
        """Create many records of one type in one transaction (imports); return their ids.

        All are validated first: one bad item stores nothing.
        """
        record_type = record_type_of(rtype)
        for index, fields in enumerate(items):
            errors = validate_fields(record_type, fields, is_new=True)
            errors = errors or self._rule_errors(rtype, fields, {})
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
        record_type = record_type_of(rtype)
        with self.write():
            row = self._row_or_raise(rtype, record_id)
            current = json.loads(row.fields)
            present = [k for k, v in current.items() if v is not None]
            errors = validate_fields(record_type, fields, is_new=False, present=present)
            errors = errors or self._rule_errors(rtype, fields, current)
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
        held = dict(stamps)
        deleted = bool(row.deleted) if row else False
        for name, value in values.items():
            stamps[name] = stamp
            if name == DELETED:
                deleted = bool(value)
            else:
                fields[name] = value
        self.db.execute_sql(
            "INSERT OR REPLACE INTO record (id, type, fields, stamps, deleted, meta, updated_ms)"
            " VALUES (?, ?, ?, ?, ?, COALESCE((SELECT meta FROM record WHERE id = ?), '{}'), ?)",
            (
                record_id,
                rtype,
                dumps(fields),
                dumps(stamps),
                deleted,
                record_id,
                Stamp.wall_of(stamp),
            ),
        )
        # Coalesce into the record's open outbox row (field_client.store.outbox): the latest
        # value and stamp, the base of the FIRST unpushed edit. A row already in a batch is
        # left as it was sent; acknowledging that batch keeps this edit queued.
        outbox.queue_edit(self.db, rtype, record_id, held, values, stamp)

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
        for chunk in chunks(ids, 500):
            cursor = self.db.execute_sql(
                "SELECT DISTINCT o.record_id, w.key FROM outbox AS o, json_each(o.writes) AS w"
                " WHERE o.record_id IN ({marks})".format(marks=",".join("?" * len(chunk))),
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
