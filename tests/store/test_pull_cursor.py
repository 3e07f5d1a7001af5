"""Where a pull page leaves the cursor when it is not full (docs/protocol.md sections 6 and 10),
on SQLite and PostgreSQL.

A page that holds fewer records than its limit has passed every row of its range that its
snapshot holds, delivered or left out (no echo), and moves the cursor to the end of its range
or to the workspace's counter, whichever is lower. The counter must be the one of the page's
own snapshot: a commit after it takes a higher number, but the counter read a moment later may
already count that commit, and a cursor moved there would skip it.
"""

from __future__ import annotations

import json
import threading
import uuid
from functools import partial
from typing import Any

import pytest
from peewee import Database

from server import store
from server.models import Device, Record
from server.store import reads
from sync import Clock, decode_cursor
from tests.store.storekit import NOW, SKEW, Writer, make_device, push_projects, race


def _push_new(device: Device, count: int) -> list[str]:
    """Push ``count`` new projects as ``device`` (its own connection when on another thread)."""
    clock = Clock(lambda: NOW, device.id)
    ids = [str(uuid.uuid4()) for _ in range(count)]
    changes = []
    for rid in ids:
        stamp = str(clock.tick())
        title = {"value": "修路", "stamp": stamp, "base": None}
        changes.append({"type": "project", "id": rid, "set": {"title": title}})
    body = {"batch_id": str(uuid.uuid4()), "changes": changes}
    response = store.push(device, body, now_ms=NOW, max_skew_ms=SKEW)
    assert response["applied"] == count, response
    return ids


def _on_own_connection(db: Database, action: Any) -> None:
    """Run ``action`` on a thread of its own (so on a connection of its own) and wait for it."""
    errors: list[BaseException] = []

    def run() -> None:
        db.connect(reuse_if_open=True)
        try:
            action()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            db.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    assert not thread.is_alive() and errors == []


@pytest.mark.parametrize("as_json", [False, True])
def test_a_commit_between_the_page_and_the_state_is_not_skipped(
    db: Database, writer: Writer, monkeypatch: pytest.MonkeyPatch, as_json: bool
) -> None:
    """The device's own five records are left out, so its page is empty and the cursor moves
    to the counter. A colleague's push commits after the page's statement, before the state is
    read (on PostgreSQL the JSON page reads both in one pipeline, so there only the state read
    of the other path can be raced); the colleague's record must still come in the next pull."""
    colleague = make_device()
    _push_new(writer.device, 5)
    original = reads.read_state
    theirs: list[str] = []

    def state_after_a_commit(*args: Any, **kwargs: Any) -> Any:
        if not theirs:
            _on_own_connection(db, lambda: theirs.extend(_push_new(colleague, 1)))
        return original(*args, **kwargs)

    monkeypatch.setattr(reads, "read_state", state_after_a_commit)
    workspace, device_id = writer.device.workspace_id, writer.device.id
    page = store.pull(workspace, None, 3, now_ms=NOW, device_id=device_id)
    assert page["records"] == [] and theirs  # the colleague's push ran in between
    assert decode_cursor(page["cursor"])[1] == 5  # the page's snapshot: five records
    monkeypatch.undo()
    if as_json:
        again = json.loads(store.pull_json(workspace, page["cursor"], 3, now_ms=NOW,
                                           device_id=device_id))  # fmt: skip
    else:
        again = store.pull(workspace, page["cursor"], 3, now_ms=NOW, device_id=device_id)
    assert [r["id"] for r in again["records"]] == theirs


PUSHERS, BATCHES = 3, 30


def _puller(
    db: Database,
    workspace: str,
    device_id: str | None,
    done: threading.Event,
    *,
    seen: dict[str, int],
    errors: list[BaseException],
) -> None:
    """Pull as the device (None: no device, nothing left out) in pages of two until the
    pushers are done, then once more to the end; note the last seq seen of every record. A
    device pulls the wire's bytes (``pull_json``), the other puller data (``pull``)."""
    cursor = None

    def pull_to_the_end() -> None:
        nonlocal cursor
        while True:
            if device_id is None:
                page = store.pull(workspace, cursor, 2, now_ms=NOW)
            else:  # as the API serves it
                body = store.pull_json(workspace, cursor, 2, now_ms=NOW, device_id=device_id)
                page = json.loads(body)
            before = decode_cursor(cursor)[1] if cursor else 0
            for record in page["records"]:
                seq = record["meta"]["seq"]
                assert before < seq <= decode_cursor(page["cursor"])[1]
                assert seen.get(record["id"], 0) < seq
                seen[record["id"]] = seq
            cursor = page["cursor"]
            if not page["more"]:
                return

    try:
        db.connect(reuse_if_open=True)
        while not done.is_set():
            pull_to_the_end()
        pull_to_the_end()  # catch up once everybody has committed
    except BaseException as exc:  # noqa: BLE001 - reported to the main thread
        errors.append(exc)
    finally:
        db.close()


def test_device_pulls_racing_pushes_never_miss_a_commit(db: Database) -> None:
    """Pushers commit new records and edits of their own while each device pulls in pages of
    two (its own records left out, so most pages end short of the limit and move the cursor to
    the counter) and one puller pulls everything. Afterwards each device has seen the latest
    number of every record but its own, and the other puller of every record."""
    devices = [make_device() for _ in range(PUSHERS)]
    workspace = devices[0].workspace_id
    db.close()
    errors: list[BaseException] = []
    seen: list[dict[str, int]] = [{} for _ in range(PUSHERS + 1)]
    pulling = [device.id for device in devices] + [None]
    race(
        [partial(push_projects, db, device, n, errors, batches=BATCHES, edit_share=0.4,
                 size=lambda rng: rng.randint(1, 6)) for n, device in enumerate(devices)],
        [partial(_puller, db, workspace, who, seen=seen[n], errors=errors)
         for n, who in enumerate(pulling)],
    )  # fmt: skip
    assert errors == []
    db.connect(reuse_if_open=True)
    rows = Record.select(Record.id, Record.seq, Record.updated_device)
    final = {r.id: (r.seq, r.updated_device) for r in rows}
    assert len(final) > PUSHERS * BATCHES
    for n, device in enumerate(devices):
        expected = {rid: seq for rid, (seq, by) in final.items() if by != device.id}
        assert seen[n] == expected, "a device's puller missed a committed change"
    assert seen[-1] == {rid: seq for rid, (seq, _) in final.items()}
