"""One sync of a device with its server, in named stages, every step durable before the next.

    RESTAMP   after a clock_skew answer (and once the clock is fixed): fresh stamps for pending
              edits
    BLOBS     photos and files of unpushed attachments that the server lacks (field_client.blobs)
    PUSH      the outbox in batches of at most 500 changes; each batch is persisted before it is
              sent, so a retry (even after a crash) re-sends the same batch id
    PULL      pages until ``more`` is false; each page is applied and its cursor saved in one
              transaction, so an interrupted pull resumes where it stopped
    CONFLICTS the server's list of open conflicts on this device's records (asked when some
              are open here, or when others' writes came in)
    DONE

Being offline is a normal result (``SyncReport.offline``), not an exception. ``device_revoked``,
``unsupported_protocol`` and ``clock_skew`` stop the sync with a message. ``resync_required``
(the server was restored from a backup) queues this device's own writes again, pushes them
(the server ignores what it holds and takes what it lost) and pulls from the start.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from field_client import blobs
from field_client.errors import Offline, Refused, ServerError
from field_client.store import LocalStore
from field_client.transport import Transport
from sync import Clock, ErrorCode

__all__ = ["PULL_LIMIT", "PUSH_LIMIT", "Stage", "SyncReport", "sync_once"]

PUSH_LIMIT = 500
PULL_LIMIT = 1000

Progress = Callable[["Stage", int, "int | None"], None]


class Stage(enum.StrEnum):
    """The stages of one sync, in order."""

    RESTAMP = "restamp"
    BLOBS = "blobs"
    PUSH = "push"
    PULL = "pull"
    CONFLICTS = "conflicts"
    DONE = "done"


@dataclass
class SyncReport:
    """What one sync did. ``error`` is a protocol error code (or "server_error") that stopped it;
    ``offline`` means the server could not be reached and everything stays queued."""

    sent: int = 0
    received: int = 0  # records pulled, this device's own writes coming back included
    new: int = 0  # pulled records that changed something on this device
    returned: int = 0  # office review notes (needs changes, or a note) new on this device
    conflicts: int = 0
    rejected: int = 0
    restamped: int = 0
    offline: bool = False
    error: str | None = None
    message: str | None = None
    stage: Stage = Stage.DONE
    pending: int = 0
    server_time: str | None = None  # the server's clock, from a clock_skew answer

    @property
    def ok(self) -> bool:
        """Whether the sync ran to the end."""
        return not self.offline and self.error is None

    def to_json(self) -> dict[str, Any]:
        """Return the report as JSON-ready data."""
        data = asdict(self)
        data["stage"] = str(self.stage)
        data["ok"] = self.ok
        return data


def sync_once(
    store: LocalStore,
    transport: Transport,
    clock: Clock | None = None,
    progress: Progress | None = None,
    *,
    push_limit: int = PUSH_LIMIT,
    pull_limit: int = PULL_LIMIT,
) -> SyncReport:
    """Push the outbox, then pull until up to date; return what happened.

    ``clock`` is the device HLC (default ``store.clock``; it must be the store's clock).
    ``progress(stage, done, total)`` is called as work advances (``total`` None if unknown).
    """
    if clock is not None and clock is not store.clock:
        raise ValueError("sync_once needs the store's own clock (store.clock)")
    report = SyncReport()
    notify = progress or (lambda stage, done, total: None)
    try:
        if store.state().restamp_needed:
            report.stage = Stage.RESTAMP
            report.restamped = store.restamp_pending()
            notify(Stage.RESTAMP, report.restamped, report.restamped)
        report.stage = Stage.BLOBS
        notify(Stage.BLOBS, 0, None)
        _upload_blobs(store, transport, notify)
        report.stage = Stage.PUSH
        _push(store, transport, report, notify, push_limit)
        report.stage = Stage.PULL
        foreign = _pull(store, transport, report, notify, pull_limit, push_limit)
        report.stage = Stage.CONFLICTS
        notify(Stage.CONFLICTS, 0, None)
        if foreign or report.conflicts or store.open_conflict_count():
            _refresh_conflicts(store, transport)
        report.stage = Stage.DONE
        store.set_state(last_sync_ms=store.now())
        notify(Stage.DONE, report.received, report.received)
    except Offline as exc:
        report.offline, report.message = True, exc.detail
    except Refused as exc:
        _stop(store, report, exc)
    except ServerError as exc:
        report.error, report.message = "server_error", exc.detail
    report.pending = store.pending_count()
    return report


def _upload_blobs(store: LocalStore, transport: Transport, notify: Progress) -> None:
    """Upload the blobs the server lacks before the attachments naming them are pushed."""
    blobs.upload_missing(store, transport, lambda done, total: notify(Stage.BLOBS, done, total))


def _push(
    store: LocalStore, transport: Transport, report: SyncReport, notify: Progress, limit: int
) -> None:
    total = store.pending_count()
    notify(Stage.PUSH, 0, total)
    while (batch := store.next_batch_wire(limit)) is not None:
        batch_id, body = batch
        answer = transport.push(body)
        counts = store.apply_push_response(batch_id, answer)
        report.sent += counts["sent"]
        report.conflicts += counts["conflicts"]
        report.rejected += counts["rejected"]
        notify(Stage.PUSH, report.sent + report.rejected, max(total, report.sent))


def _pull(
    store: LocalStore,
    transport: Transport,
    report: SyncReport,
    notify: Progress,
    limit: int,
    push_limit: int,
) -> bool:
    """Pull until up to date; return whether anything came in.

    Anything pulled may mean another device pushed over this device's records, and a conflict
    this device's value won is reported to that device only: so then it is worth asking the
    server (GET /device) for the open conflicts on this device's records.
    """
    notify(Stage.PULL, 0, None)
    restarted, foreign = False, False
    # One page is fetched while the previous one is applied: the server's work and the
    # device's overlap. Still at most two pages in memory, and each cursor is saved only with
    # its page, so an interruption resumes exactly where the applied pages end.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fieldsync-pull") as fetcher:
        coming = fetcher.submit(transport.pull, store.cursor, limit)
        while True:
            try:
                page = coming.result()
            except Refused as exc:
                if exc.code != ErrorCode.RESYNC_REQUIRED or restarted:
                    raise
                # The server was restored from a backup (a new epoch): give it back what it
                # lost of this device's writes, then pull everything from the start.
                restarted = True
                store.requeue_own_writes()
                _push(store, transport, report, notify, push_limit)
                coming = fetcher.submit(transport.pull, store.cursor, limit)
                continue
            more = bool(page.get("more"))
            if more:
                coming = fetcher.submit(transport.pull, page.get("cursor"), limit)
            foreign = foreign or bool(page.get("records"))
            counts = store.apply_pull_page(page)
            report.received += counts["received"]
            report.new += counts["new"]
            report.returned += counts["returned"]
            notify(Stage.PULL, report.received, page.get("total"))
            if not more:
                return foreign


def _refresh_conflicts(store: LocalStore, transport: Transport) -> None:
    """Take the server's open conflicts on this device's records (asked only while some are
    open here: office staff resolving them is what closes them)."""
    try:
        answer = transport.device()
    except (Refused, ServerError):
        return  # an older server without GET /device: keep what pushes reported
    conflicts = answer.get("open_conflicts")
    if isinstance(conflicts, list):
        store.refresh_conflicts(conflicts)


def _stop(store: LocalStore, report: SyncReport, exc: Refused) -> None:
    report.error = str(exc.code)
    report.message = exc.detail
    report.server_time = exc.body.get("server_time")
    if exc.code == ErrorCode.CLOCK_SKEW:
        # Nothing of that push was applied; the next sync re-stamps the pending edits.
        store.set_state(restamp_needed=True)
