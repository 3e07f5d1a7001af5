"""One sync of a device with its server, in named stages, every step durable before the next.

    RESTAMP   after a clock_skew answer (and once the clock is fixed): fresh stamps for pending
              edits
    BLOBS     photos and files of unpushed attachments that the server lacks (field_client.blobs)
    PUSH      the outbox in batches of 100, 300, 900, then 1,000 changes (the protocol's most);
              each batch is persisted before it is sent, so a retry (even after a crash)
              re-sends the same batch id. Pipelined:
              while batch k is at the server, batches k+1 to k+3 are built and stored here,
              and k+1 is sent as soon as k's answer is in, before that answer is applied here
    PULL      pages until ``more`` is false, of 100, 200, 400, 800, then 1,000 records; each
              page is applied and its cursor saved in one transaction, so an interrupted pull
              resumes where it stopped. Pipelined: page k+1 is fetched and inflated (on the
              worker thread) while page k is decoded and written (pages are decoded on the
              syncing thread, see ``pulled.unread``): it is asked for as soon as page k's answer
              is in, from the cursor the answer's ``Fieldsync-Next`` header says; and the first
              page is asked for as soon as the last push batch's answer is in
    CONFLICTS the server's list of open conflicts on this device's records (asked when some
              are open here, or when others' writes came in)
    DONE

A device the office revoked with wipe hears ``device_revoked`` with ``"wipe": true``: it then
uploads its blobs and pushes its whole outbox, deletes the personal data it holds, tells the
server (``POST /device/wiped``) and forgets its token; the report's error is ``device_wiped``
(docs/protocol.md section 8). Offline on the way: nothing is deleted; the next sync goes on.

Being offline is a normal result (``SyncReport.offline``), not an exception. ``device_revoked``,
``unsupported_protocol`` and ``clock_skew`` stop the sync with a message. ``resync_required``
(the server was restored from a backup) queues this device's own writes again, pushes them
(the server ignores what it holds and takes what it lost) and pulls from the start.

Threads: the HTTP requests of push and pull run on one worker thread; every store call stays
on the calling thread (its own SQLite connection), so the overlap needs no shared connection.
``sync_once`` needs only the small ``SyncStore`` protocol of the store.
"""

from __future__ import annotations

import enum
import gc
import threading
from collections import deque
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from field_client import blobs, pulled
from field_client.errors import Offline, Refused, ServerError
from field_client.transport import NEXT, Transport
from sync import Clock, ErrorCode
from sync.wire import MAX_PUSH_CHANGES

__all__ = [
    "PULL_LIMIT",
    "FIRST_PULL",
    "FIRST_PUSH",
    "PULL_GROWTH",
    "PUSH_AHEAD",
    "PUSH_GROWTH",
    "PUSH_LIMIT",
    "Stage",
    "SyncReport",
    "SyncStore",
    "sync_once",
]

PUSH_LIMIT = MAX_PUSH_CHANGES  # the most a push may carry (docs/protocol.md section 2)
FIRST_PUSH = 100  # the first batch of a push: small, so the server has work at once
PUSH_GROWTH = 3  # each later batch up to 3 times the one before, to at most the push limit
PUSH_AHEAD = 3  # batches built and queued behind the one at the server (see _push)
PULL_LIMIT = 1000
# Pull pages grow as push batches do. The first is small, so this device has work at once: it
# waited 12-15 ms for a first page of 1,000 records, 2-4 ms for one of 100. Each later one is
# fetched while the one before is decoded and written here, which takes this device about
# 12 us a record (10,000 visits; decoding 4, writing 8), the server and HTTP about 7 us a record
# and 1.5-3 ms a request: so a page twice the size of the one before comes in about when that
# one is written, and the pages grow to the limit in four steps (2-3 ms waited at each).
FIRST_PULL = 100
PULL_GROWTH = 2
# How long the syncing thread waits for a page's request to be on its way before it decodes the
# page before it (``Wire.pull``): sending takes the worker 0.2-0.5 ms; on a busy machine it
# may not run for a few ms, and then waiting longer would cost more than it saves.
SEND_WAIT = 0.001

Progress = Callable[["Stage", int, "int | None"], None]


class Stage(enum.StrEnum):
    """The stages of one sync, in order."""

    RESTAMP = "restamp"
    BLOBS = "blobs"
    PUSH = "push"
    PULL = "pull"
    CONFLICTS = "conflicts"
    DONE = "done"


class SyncStore(Protocol):
    """What a sync needs of the device's store (``field_client.store.LocalStore`` is one).

    Every method is one durable step (its own transaction), called on the syncing thread.
    """

    home: Path

    @property
    def clock(self) -> Clock:
        """The device's HLC."""
        ...

    @property
    def cursor(self) -> str | None:
        """The saved pull cursor (None: from the start)."""
        ...

    def now(self) -> int:
        """The wall clock in epoch milliseconds."""
        ...

    def needs_restamp(self) -> bool:
        """Whether a ``clock_skew`` answer left the pending edits to be stamped again."""
        ...

    def restamp_pending(self, server_time: str | None = None) -> int:
        """Stamp every pending edit again; return how many records were."""
        ...

    def pending_blob_hashes(self) -> list[str]:
        """The blobs named by attachments with unpushed edits."""
        ...

    def pending_count(self) -> int:
        """How many records have unpushed edits."""
        ...

    def next_batch_wire(
        self, max_changes: int = 500, skip: Collection[str] = ()
    ) -> tuple[str, bytes] | None:
        """The oldest stored batch not in ``skip``, else a new one, stored; None if none."""
        ...

    def apply_push_response(self, batch_id: str, response: dict[str, Any]) -> dict[str, int]:
        """Apply the answer to a batch; return its sent/conflicts/rejected counts."""
        ...

    def apply_pull_page(self, page: dict[str, Any]) -> dict[str, int]:
        """Apply a pull page with its cursor; return its received/new/returned counts."""
        ...

    def requeue_own_writes(self) -> int:
        """Queue this device's own writes again and forget the cursor."""
        ...

    def open_conflict_count(self) -> int:
        """How many open conflicts the device holds."""
        ...

    def refresh_conflicts(self, open_conflicts: list[dict[str, Any]]) -> None:
        """Take the server's list of open conflicts as the truth."""
        ...

    def set_state(self, **values: Any) -> None:
        """Update the device state (``last_sync_ms``, ``restamp_needed``)."""
        ...

    def wipe_personal_data(self) -> dict[str, int]:
        """Delete every record, photo and name the device holds (revoke with wipe)."""
        ...

    def forget_token(self) -> None:
        """Delete the device token."""
        ...


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
    wiped: int = 0  # records deleted because the office revoked the device with wipe
    photos_refused: int = 0  # photos the office would not take (they stay here)
    photo_quota: str | None = None  # "device" or "workspace": the office's quota is reached
    photo_quota_bytes: int = 0

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
    store: SyncStore,
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
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fieldsync-net") as net:
        _run(store, transport, Wire(transport, net), report, notify, push_limit, pull_limit)
    report.pending = store.pending_count()
    return report


class Wire:
    """The transport's push and pull, sent from one worker thread (an answer is a Future)."""

    def __init__(
        self, transport: Transport, net: ThreadPoolExecutor, send_wait: float | None = None
    ) -> None:
        self.transport, self.net = transport, net
        self.send_wait = SEND_WAIT if send_wait is None else send_wait

    def push(self, body: bytes) -> Future[dict[str, Any]]:
        return self.net.submit(self.transport.push, body)

    def pull(
        self, cursor: str | None, limit: int, *, sent: bool = False
    ) -> Future[dict[str, Any]]:
        """Ask for a pull page; its answer is the page's body, read by ``read`` on the calling
        thread (see ``pulled.unread``). With ``sent``, return once the request is on its way
        (or the answer in), or after ``send_wait`` seconds (``SEND_WAIT``).

        Why wait: a page is asked for before the previous one is read, so that the server works
        while this thread reads it; but reading holds the GIL (msgspec decodes a whole page at
        once, 4 ms for 1,000 visits), and the worker could not even send the request until it
        was done. Measured on PostgreSQL (10,000 visits, medians of 9 pulls, 3 runs each): the
        device waited 25-29 ms in all for pages with the wait, 51-53 ms without."""
        on_way = threading.Event()
        answer = self.net.submit(self.transport.pull, cursor, limit, pulled.unread, on_way.set)
        if sent:
            answer.add_done_callback(lambda _: on_way.set())
            on_way.wait(self.send_wait)
        return answer

    @staticmethod
    def read(answer: dict[str, Any]) -> dict[str, Any]:
        """Return the page in a pull answer; raise ServerError if it is malformed (refused
        whole, as ``check_answer`` refuses an answer that is not JSON)."""
        try:
            return pulled.read_page(answer.get("body") or b"")
        except ValueError as exc:
            raise ServerError("not a fieldsync server", status=200) from exc


def _run(
    store: SyncStore,
    transport: Transport,
    wire: Wire,
    report: SyncReport,
    notify: Progress,
    push_limit: int,
    pull_limit: int,
) -> None:
    try:
        if store.needs_restamp():
            report.stage = Stage.RESTAMP
            report.restamped = store.restamp_pending()
            notify(Stage.RESTAMP, report.restamped, report.restamped)
        report.stage = Stage.BLOBS
        notify(Stage.BLOBS, 0, None)
        _upload_blobs(store, transport, notify, report)
        report.stage = Stage.PUSH
        coming = _push(store, wire, report, notify, push_limit, pull_limit)
        report.stage = Stage.PULL
        with _collecting_later():
            foreign = _pull(store, wire, report, notify, pull_limit, push_limit, coming)
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
        if exc.code == ErrorCode.DEVICE_REVOKED and exc.body.get("wipe") is True:
            _wipe(store, transport, wire, report, notify, push_limit)
        else:
            _stop(store, report, exc)
    except ServerError as exc:
        report.error, report.message = "server_error", exc.detail


def _wipe(
    store: SyncStore,
    transport: Transport,
    wire: Wire,
    report: SyncReport,
    notify: Progress,
    push_limit: int,
) -> None:
    """Revoked with wipe: send everything first, then delete, then say so to the server."""
    try:
        report.stage = Stage.BLOBS
        _upload_blobs(store, transport, notify)
        report.stage = Stage.PUSH
        _push(store, wire, report, notify, push_limit)
        if store.pending_count():  # an edit made meanwhile: send it at the next sync first
            raise Refused(ErrorCode.DEVICE_REVOKED, "edits still pending", body={"wipe": True})
        counts = store.wipe_personal_data()
        try:
            transport.device_wiped()
        except Refused as exc:
            if exc.code != ErrorCode.DEVICE_REVOKED:  # revoked, no wipe: it heard it before
                raise
        store.forget_token()
    except Offline as exc:
        report.offline, report.message = True, exc.detail
    except Refused as exc:
        _stop(store, report, exc)
    except ServerError as exc:
        report.error, report.message = "server_error", exc.detail
    else:
        report.stage = Stage.DONE
        report.wiped = counts["records"]
        report.error = "device_wiped"
        report.message = "Revoked with wipe: everything was sent, then deleted here."


def _upload_blobs(
    store: SyncStore, transport: Transport, notify: Progress, report: SyncReport | None = None
) -> None:
    """Upload the blobs the server lacks before the attachments naming them are pushed."""
    done = blobs.upload_missing(
        store, transport, lambda done, total: notify(Stage.BLOBS, done, total)
    )
    if report is not None:
        report.photos_refused = len(done.refused)
        report.photo_quota, report.photo_quota_bytes = done.quota, done.quota_bytes


def _push(
    store: SyncStore,
    wire: Wire,
    report: SyncReport,
    notify: Progress,
    limit: int,
    pull_limit: int | None = None,
) -> Future[dict[str, Any]] | None:
    """Send the outbox batch by batch, building and storing the next ``PUSH_AHEAD`` batches
    while one is at the server. Batches go one at a time, in the order they were built, and
    their answers are applied in that order. Each built batch is queued on the worker at once,
    behind the one before it, so it goes as soon as that one's answer is in: the server waits
    neither for this thread to see the answer nor for it to be applied (a batch's body is stored
    already and applying an answer never changes a stored batch). A batch whose predecessor
    failed is not sent; that failure stops the push.

    Building ahead absorbs a stall of this device: after 10,000 visits are recorded, a push's
    commits reach the WAL size at which SQLite checkpoints inside a commit
    (``checkpoint.FALLBACK_FRAMES``): two commits of 20-40 ms in a row, which kept the server
    idle for 25-45 ms when only the next batch was built ahead; with two built ahead, for
    24 ms in one push of four; with three, in one of 17 (the server idle 1-2 ms in all in the
    others). A batch of 1,000 is 18-25 ms of the server's work against ~14 ms of this device's
    (building it and applying an answer), so the device runs ahead when it has a core to itself.

    With ``pull_limit``, the pull's first page is asked for as soon as the last batch's answer
    is in (the push is committed; applying an answer never moves the cursor): the server reads
    the page while this device applies that answer, and the page is applied after it, as
    before. Returns that page's answer to come (None when nothing was pushed).

    Batch sizes grow from ``FIRST_PUSH`` by ``PUSH_GROWTH`` up to ``limit``. The first is small
    so the server has work at once (building 500 changes kept it idle for ~6 ms); each later
    one is built while the server takes the one before, which takes it about twice as long
    per change, so it can be up to three times larger without the server waiting for it; and
    then as large as a push may be, since each push also costs the server a fixed amount (the
    write lock, the device's state, the stored answer, a commit): 10,000 records go in 12
    pushes instead of 20."""
    notify(Stage.PUSH, 0, None)

    def send_after(previous: Future[dict[str, Any]], body: bytes) -> Future[dict[str, Any]]:
        """Send ``body`` on the worker right after ``previous`` (the worker runs its jobs in
        order), unless ``previous`` failed."""

        def send() -> dict[str, Any]:
            if previous.exception() is not None:
                raise CancelledError("not sent: the batch before it failed")
            return wire.transport.push(body)

        return wire.net.submit(send)

    out: deque[tuple[str, Future[dict[str, Any]]]] = deque()  # sent or queued, not applied
    size = min(limit, FIRST_PUSH)
    batch = store.next_batch_wire(size)
    if batch is not None:
        out.append((batch[0], wire.push(batch[1])))
    total, coming = None, None
    try:
        while out:
            try:
                while batch is not None and len(out) <= PUSH_AHEAD:
                    size = min(limit, size * PUSH_GROWTH)
                    batch = store.next_batch_wire(size, skip=[batch_id for batch_id, _ in out])
                    if batch is not None:
                        out.append((batch[0], send_after(out[-1][1], batch[1])))
            finally:
                batch_id, answer = out.popleft()
                taken = answer.result()  # awaited even when building failed
            if not out and pull_limit is not None:
                coming = wire.pull(store.cursor, min(pull_limit, FIRST_PULL))
            if total is None:  # for the progress only: counted once the first batches are out
                total = store.pending_count()
            counts = store.apply_push_response(batch_id, taken)
            report.sent += counts["sent"]
            report.conflicts += counts["conflicts"]
            report.rejected += counts["rejected"]
            notify(Stage.PUSH, report.sent + report.rejected, max(total, report.sent))
    except BaseException:
        for _, queued in out:
            queued.cancel()  # the push stops here: what is not sent yet stays stored, unsent
        raise
    return coming


def _pull(
    store: SyncStore,
    wire: Wire,
    report: SyncReport,
    notify: Progress,
    limit: int,
    push_limit: int,
    coming: Future[dict[str, Any]] | None = None,
) -> bool:
    """Pull until up to date (from the first page's answer ``coming``, if already asked for);
    return whether anything came in.

    Anything pulled may mean another device pushed over this device's records, and a conflict
    this device's value won is reported to that device only: so then it is worth asking the
    server (GET /device) for the open conflicts on this device's records.
    """
    notify(Stage.PULL, 0, None)
    restarted, foreign = False, False
    # One page is fetched (and inflated) on the worker while the previous one is read and
    # applied here: the server's work and the device's overlap. Each page is read here, not on
    # the worker (see pulled.unread); the next one is asked for before that, from the cursor
    # in the answer's Fieldsync-Next header (the server had sat idle while a page of 1,000 was
    # decoded, 4 ms), which must be the one the page then says; when this device had to wait
    # for the page, it waits for that request to be sent before it decodes (``Wire.pull``):
    # otherwise the next page comes in time anyway. Still at most two pages in memory, and
    # each cursor is saved only with its page (the body's), so an interruption resumes exactly
    # where the applied pages end.
    size = min(limit, FIRST_PULL)
    coming = coming or wire.pull(store.cursor, size)
    while True:
        try:
            late = not coming.done()  # this device waits for the page: the server is behind
            answer = coming.result()
        except Refused as exc:
            if exc.code != ErrorCode.RESYNC_REQUIRED or restarted:
                raise
            # The server was restored from a backup (a new epoch): give it back what it
            # lost of this device's writes, then pull everything from the start.
            restarted = True
            store.requeue_own_writes()
            coming = _push(store, wire, report, notify, push_limit, limit)
            size = min(limit, FIRST_PULL)
            coming = coming or wire.pull(store.cursor, size)
            continue
        size = min(limit, size * PULL_GROWTH)
        ahead = answer.get(NEXT) or None
        if ahead is not None:  # the next page is asked for before this one is read
            coming = wire.pull(ahead, size, sent=late)
        page = wire.read(answer)
        more = bool(page.get("more"))
        if ahead is not None and (not more or page.get("cursor") != ahead):
            raise ServerError("not a fieldsync server", status=200)  # its header and body differ
        if more and ahead is None:
            coming = wire.pull(page.get("cursor"), size)
        foreign = foreign or bool(page.get("records"))
        counts = store.apply_pull_page(page)
        report.received += counts["received"]
        report.new += counts["new"]
        report.returned += counts["returned"]
        notify(Stage.PULL, report.received, page.get("total"))
        if not more:
            return foreign


@contextmanager
def _collecting_later() -> Iterator[None]:
    """Hold off Python's cyclic garbage collector for the block (a pull): it runs after.

    Reading and writing a pulled page makes objects for each record (its fields, its row), all
    freed by their reference counts as each page is done, but their number sets the collector
    off meanwhile: 40 times in a pull of 10,000 visits, 2 ms of CPU in all, and in about one
    pull of three a full collection too, over every object the process holds: 16-22 ms more,
    on the device's critical path (its CPU in such a pull: 120-140 ms). A page leaves nothing
    in a cycle; whatever else does is collected once the pull is over."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _refresh_conflicts(store: SyncStore, transport: Transport) -> None:
    """Take the server's open conflicts on this device's records (asked only while some are
    open here: office staff resolving them is what closes them)."""
    try:
        answer = transport.device()
    except (Refused, ServerError):
        return  # an older server without GET /device: keep what pushes reported
    conflicts = answer.get("open_conflicts")
    if isinstance(conflicts, list):
        store.refresh_conflicts(conflicts)


def _stop(store: SyncStore, report: SyncReport, exc: Refused) -> None:
    report.error = str(exc.code)
    report.message = exc.detail
    report.server_time = exc.body.get("server_time")
    if exc.code == ErrorCode.CLOCK_SKEW:
        # Nothing of that push was applied; the next sync re-stamps the pending edits.
        store.set_state(restamp_needed=True)
