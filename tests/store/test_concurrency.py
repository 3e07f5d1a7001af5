"""No skipped changes under concurrent pushes and pulls on PostgreSQL (PROTOCOL.md section 6).

Several pusher threads, each with its own connection and device, commit many small batches while
puller threads pull repeatedly with their cursors. Afterwards every puller has seen the final
version (record id, seq) of every record, and never a sequence number twice or out of order.
A scheme where sequence numbers are taken before commit without the workspace's counter row
lock fails this test: a commit with a lower sequence number becomes visible after a puller
passed it.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from functools import partial

import pytest
from peewee import Database

from server import migrations, store
from server.db import open_database, write_transaction
from server.models import Device, Record
from server.store.sql import read_state
from sync import Clock
from tests.store.storekit import NOW, SKEW, make_device, push_projects, race

PUSHERS, PULLERS, BATCHES, PER_BATCH = 4, 3, 60, 4


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Database]:
    db = open_database(postgres_url)
    db.connect()
    migrations.upgrade(db)
    yield db
    db.close()


def _pull(workspace_id: str, cursor: str | None, seen: dict[str, int], order: list[int]) -> str:
    while True:
        page = store.pull(workspace_id, cursor, 7, now_ms=NOW)
        for record in page["records"]:
            seq = record["meta"]["seq"]
            order.append(seq)
            seen[record["id"]] = max(seen.get(record["id"], 0), seq)
        cursor = page["cursor"]
        if not page["more"]:
            return cursor


def _puller(
    db: Database,
    workspace_id: str,
    done: threading.Event,
    seen: dict[str, int],
    order: list[int],
    errors: list[BaseException],
) -> None:
    cursor = None
    try:
        db.connect(reuse_if_open=True)
        while not done.is_set():
            cursor = _pull(workspace_id, cursor, seen, order)
        _pull(workspace_id, cursor, seen, order)  # catch up once everybody has committed
    except BaseException as exc:  # noqa: BLE001 - reported to the main thread
        errors.append(exc)
    finally:
        db.close()


@pytest.mark.postgres
def test_concurrent_pullers_never_miss_a_commit(pg: Database) -> None:
    devices = [make_device() for _ in range(PUSHERS)]
    workspace_id = devices[0].workspace_id
    pg.close()
    errors: list[BaseException] = []
    seen: list[dict[str, int]] = [{} for _ in range(PULLERS)]
    orders: list[list[int]] = [[] for _ in range(PULLERS)]
    race(
        [partial(push_projects, pg, device, n, errors, batches=BATCHES, edit_share=0.5,
                 size=lambda rng: PER_BATCH) for n, device in enumerate(devices)],
        [partial(_puller, pg, workspace_id, seen=seen[n], order=orders[n], errors=errors)
         for n in range(PULLERS)],
        timeout=60,
    )  # fmt: skip
    assert errors == []
    pg.connect(reuse_if_open=True)
    final = {r.id: r.seq for r in Record.select(Record.id, Record.seq)}
    assert len(final) > PUSHERS * BATCHES
    for n in range(PULLERS):
        assert seen[n] == final, "a puller missed a committed change"
        assert orders[n] == sorted(orders[n]) and len(set(orders[n])) == len(orders[n])


def _push_one(db: Database, device: Device, done: list[str]) -> None:
    db.connect(reuse_if_open=True)
    try:
        rid = str(uuid.uuid4())
        stamp = str(Clock(lambda: NOW, device.id).tick())
        change = {"type": "project", "id": rid,
                  "set": {"title": {"value": "t", "stamp": stamp, "base": None}}}  # fmt: skip
        body = {"batch_id": str(uuid.uuid4()), "changes": [change]}
        if store.push(device, body, now_ms=NOW, max_skew_ms=SKEW)["applied"] == 1:
            done.append(device.workspace_id)
    finally:
        db.close()


@pytest.mark.postgres
def test_a_workspace_pushes_while_another_holds_its_write_lock(pg: Database) -> None:
    """Pushes of two workspaces take different counter rows: a push of 西湖 goes through while a
    write transaction of 东湖 holds 东湖's lock, and a push of 东湖 waits for it (so the test
    would see a shared lock)."""
    east, west = make_device("东湖街道"), make_device("西湖街道")
    done: list[str] = []
    for device in (east, west):  # each workspace's counter row exists
        _push_one(pg, device, done)
    pg.connect(reuse_if_open=True)
    with write_transaction(pg):
        read_state(pg, east.workspace_id, lock=True)
        other = threading.Thread(target=_push_one, args=(pg, west, done))
        other.start()
        other.join(20)
        assert not other.is_alive() and done[-1] == west.workspace_id
        same = threading.Thread(target=_push_one, args=(pg, east, done))
        same.start()
        same.join(1.5)
        assert same.is_alive(), "a push of the workspace should wait for its lock"
    same.join(20)
    assert not same.is_alive() and done[-1] == east.workspace_id
