"""What sync learned, as the store keeps it: status, outbox, rejections, conflicts; and the
entry points the syncer uses (implemented in ``field_client.store.replica``)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, cast

from field_client.errors import NotFound, ValidationError
from field_client.store import outbox, replica, wipe
from field_client.store.common import (
    guarded,
    record_type_of,
)
from field_client.store.core import StoreCore
from sync import RECORD_TYPES, validate_fields
from sync.vocabulary import unpack_faults

if TYPE_CHECKING:
    from field_client.store import LocalStore


class SyncStateMixin(StoreCore):
    """Sync state and sync entry points of ``LocalStore``."""

    def _local(self) -> LocalStore:
        """This store as the ``LocalStore`` it is a part of (what ``replica`` works on)."""
        return cast("LocalStore", self)

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
        query = "SELECT COUNT(DISTINCT record_id) FROM outbox"
        return int(self.db.execute_sql(query).fetchone()[0])

    @guarded
    def pending_blob_hashes(self) -> list[str]:
        """Return the blob hashes named by attachments with unpushed edits of ``sha256``
        (deleted attachments left out: a photo removed before it was ever sent is not sent)."""
        cursor = self.db.execute_sql(
            "SELECT DISTINCT w.value ->> '$.value' AS sha FROM outbox AS o"
            " JOIN json_each(o.writes) AS w ON w.key = 'sha256'"
            " JOIN record AS r ON r.id = o.record_id"
            " WHERE o.record_type = 'attachment' AND NOT r.deleted ORDER BY sha"
        )
        return [sha for (sha,) in cursor if isinstance(sha, str) and len(sha) == 64]

    @guarded
    def open_conflict_count(self) -> int:
        """Count the open conflicts the server reported."""
        query = "SELECT COUNT(*) FROM conflict WHERE open = 1"
        return int(self.db.execute_sql(query).fetchone()[0])

    @guarded
    def pending(self) -> list[dict[str, Any]]:
        """Return the outbox: one entry per unpushed field edit (value, stamp, base, and the id
        of the stored, unacknowledged batch carrying its latest write, if any)."""
        return outbox.pending_entries(self.db)

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
                "errors": unpack_faults(json.loads(r.errors)),
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
        errors = validate_fields(record_type_of(rtype), values, is_new=False, present=present)
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

    # -- used by the syncer (see field_client.store.replica) -----------------------------------

    @guarded
    def needs_restamp(self) -> bool:
        """Whether a ``clock_skew`` answer left the pending edits to be stamped again."""
        return bool(self.state().restamp_needed)

    @property
    def cursor(self) -> str | None:
        """The saved pull cursor (None: pull from the start)."""
        row = self.db.execute_sql("SELECT cursor FROM device_state WHERE id = 1").fetchone()
        return None if row is None else row[0]

    def next_batch(self, max_changes: int = 500) -> tuple[str, dict[str, Any]] | None:
        """Return the next push batch (id, body), persisted before it is sent; None if none."""
        batch = self.next_batch_wire(max_changes)
        return None if batch is None else (batch[0], replica.unpack(batch[1]))

    def next_batch_wire(
        self, max_changes: int = 500, skip: Collection[str] = ()
    ) -> tuple[str, bytes] | None:
        """Like ``next_batch`` with the body gzipped, as stored and sent (the syncer's path);
        the oldest stored batch not in ``skip`` (those at the server now), else a new one."""
        return guarded(replica.next_batch)(self._local(), max_changes, skip)

    def apply_push_response(self, batch_id: str, response: dict[str, Any]) -> dict[str, int]:
        """Apply the server's answer to a batch durably; return sent/conflicts/rejected counts."""
        return guarded(replica.apply_push_response)(self._local(), batch_id, response)

    def apply_pull_page(self, page: dict[str, Any]) -> dict[str, int]:
        """Apply one pull page and save its cursor in the same transaction; return its counts
        (received, new to this device, office review notes returned)."""
        return guarded(replica.apply_pull_page)(self._local(), page)

    def requeue_own_writes(self) -> int:
        """Queue this device's own writes again and pull from the start (``resync_required``)."""
        return guarded(replica.requeue_own_writes)(self._local())

    def restamp_pending(self, server_time: str | None = None) -> int:
        """Re-stamp every pending edit with the (fixed) clock; return how many were re-stamped."""
        return guarded(replica.restamp_pending)(self._local(), server_time)

    def wipe_personal_data(self) -> dict[str, int]:
        """Delete every record, photo and name this device holds (revoke with wipe; call with
        an empty outbox); return how many records and photos went."""
        return guarded(wipe.wipe)(self)

    def forget_token(self) -> None:
        """Delete the device token: the server has heard that this device wiped."""
        wipe.forget_token(self)

    @property
    def wiped(self) -> bool:
        """Whether this home was wiped at the office's request."""
        return wipe.wiped(self)

    @guarded
    def set_state(self, **values: Any) -> None:
        """Update fields of the DeviceState row (cursor, last_sync_ms, restamp_needed...)."""
        with self.write():
            self.m.DeviceState.update(**values).where(self.m.DeviceState.id == 1).execute()

    @guarded
    def refresh_conflicts(self, open_conflicts: list[dict[str, Any]]) -> None:
        """Take the server's list of open conflicts on this device's records as the truth."""
        with self.write():
            replica.store_conflicts(self._local(), open_conflicts, replace=True)
