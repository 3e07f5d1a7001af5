"""Convergence and no silent loss (PROTOCOL.md section 9.1 and 9.2), through the real store.

Three simulated devices and the office edit and delete a few records at random; the devices push
and pull in random orders, lose responses (the push is applied but the device does not hear, so
it retries the same batch later) and replay old batches. Pulls leave out a device's own writes
(docs/protocol.md section 6, "No echo"), so this also shows that nothing a device needs is left
out. Afterwards everybody pushes and pulls, and then every replica equals the server, and every
edit ever made is current, knowingly replaced or in a conflict.
"""

from __future__ import annotations

import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from server import migrations, store
from server.db import open_database
from server.models import Conflict, Device
from sync import DELETED, Clock
from tests.store.storekit import NOW, SKEW, Tick, make_device

RECORDS = [str(uuid.UUID(int=n + 1)) for n in range(2)]
FIELDS = ["title", "status", "progress", DELETED]
VALUES: dict[str, list[Any]] = {
    "title": ["修路", "装灯", "清淤"],
    "status": ["proposed", "approved", "completed"],
    "progress": [0, 50, 100],
    DELETED: [True, False],
}


@dataclass
class Edit:
    record: str
    field: str
    value: Any
    stamp: str
    base: str | None


@dataclass
class Replica:
    """A device: field values with stamps, an outbox of unpushed writes, an unanswered batch,
    and the server's values it held back while its own writes of those fields were pending."""

    device: Device
    clock: Clock
    held: dict[str, dict[str, tuple[Any, str]]] = field(default_factory=dict)
    outbox: dict[tuple[str, str], tuple[Any, str, str | None]] = field(default_factory=dict)
    in_flight: dict[str, Any] | None = None
    held_back: dict[tuple[str, str], tuple[Any, str]] = field(default_factory=dict)
    acked: list[dict[str, Any]] = field(default_factory=list)
    cursor: str | None = None
    compact: bool = False  # sends a change whose writes share one stamp in the compact form

    def edit(self, record: str, name: str, value: Any, log: list[Edit]) -> None:
        stamp = str(self.clock.tick())
        fields = self.held.setdefault(record, {})
        writes = {name: value}
        if "title" not in fields:  # a record new to this device gets its required field
            writes.setdefault("title", VALUES["title"][0])
        for key, new in writes.items():
            old = fields.get(key)
            base = old[1] if old else None
            pending = self.outbox.get((record, key))
            if pending is not None:
                base = pending[2]  # an unpushed edit keeps its original base
            self.outbox[(record, key)] = (new, stamp, base)
            fields[key] = (new, stamp)
            log.append(Edit(record, key, new, stamp, old[1] if old else None))

    def pending(self, record: str, name: str) -> bool:
        if (record, name) in self.outbox:
            return True
        if self.in_flight is None:
            return False
        return any(c["id"] == record and name in _writes(c) for c in self.in_flight["changes"])

    def settle(self, body: dict[str, Any]) -> None:
        """After a push is answered, take a held-back server value that beat the pushed write
        (the client rule of docs/protocol.md section 6: the server kept the greater stamp)."""
        for change in body["changes"]:
            for name, write in _writes(change).items():
                key = (change["id"], name)
                if self.pending(*key) or key not in self.held_back:
                    continue
                value, stamp = self.held_back.pop(key)
                if stamp > write["stamp"]:
                    self.held[change["id"]][name] = (value, stamp)

    def next_batch(self) -> dict[str, Any] | None:
        if self.in_flight is not None:
            return self.in_flight
        if not self.outbox:
            return None
        changes: dict[str, dict[str, Any]] = {}
        for (record, name), (value, stamp, base) in self.outbox.items():
            writes = changes.setdefault(record, {"type": "project", "id": record, "set": {}})
            writes["set"][name] = {"value": value, "stamp": stamp, "base": base}
        self.outbox.clear()
        self.in_flight = {
            "batch_id": str(uuid.uuid4()),
            "device_time": str(self.clock.tick()),
            "changes": [_compact(c) if self.compact else c for c in changes.values()],
        }
        return self.in_flight


def _compact(change: dict[str, Any]) -> dict[str, Any]:
    """The change in the compact form of docs/protocol.md section 5, when it has one stamp."""
    writes = change["set"]
    stamps = {write["stamp"] for write in writes.values()}
    if len(stamps) != 1:
        return change
    bases = {name: write["base"] for name, write in writes.items() if write["base"]}
    values = {name: write["value"] for name, write in writes.items()}
    return {"type": change["type"], "id": change["id"], "stamp": stamps.pop(), "values": values,
            "bases": bases}  # fmt: skip


def _writes(change: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The writes of a change in either form."""
    if "set" in change:
        return change["set"]  # type: ignore[no-any-return]
    bases = change["bases"]
    return {
        name: {"value": value, "stamp": change["stamp"], "base": bases.get(name)}
        for name, value in change["values"].items()
    }


@dataclass
class World:
    tick: Tick
    replicas: list[Replica]
    log: list[Edit] = field(default_factory=list)

    def now(self) -> int:
        return self.tick.now

    def push(self, replica: Replica, lose: bool) -> None:
        body = replica.next_batch()
        if body is None:
            return
        response = store.push(replica.device, body, now_ms=self.now(), max_skew_ms=SKEW)
        assert response["rejected"] == []
        if lose:
            return
        replica.clock.observe(response["server_time"])
        replica.acked.append(body)
        replica.in_flight = None
        replica.settle(body)

    def pull(self, replica: Replica, lose: bool) -> None:
        while True:
            page = store.pull(
                replica.device.workspace_id, replica.cursor, 2, now_ms=self.now(),
                device_id=replica.device.id,
            )  # fmt: skip
            if lose:
                return
            replica.clock.observe(page["server_time"])
            for record in page["records"]:
                held = replica.held.setdefault(record["id"], {})
                for name, stamp in record["stamps"].items():
                    value = record["deleted"] if name == DELETED else record["fields"][name]
                    if replica.pending(record["id"], name):
                        replica.held_back[(record["id"], name)] = (value, stamp)
                    else:
                        held[name] = (value, stamp)
                        replica.held_back.pop((record["id"], name), None)
            replica.cursor = page["cursor"]
            if not page["more"]:
                return

    def office(self, record: str, name: str, value: Any) -> None:
        """An office edit of the record as the server holds it (a new record gets a title)."""
        workspace_id = self.replicas[0].device.workspace_id
        held = store.get_record(workspace_id, record)
        values = {name: value}
        if held is None:
            values.setdefault("title", VALUES["title"][1])
        stamps = held["stamps"] if held else {}
        result = store.office_edit(
            workspace_id, None, "project", record, values,
            {key: stamps.get(key) for key in values}, now_ms=self.now(),
        )  # fmt: skip
        assert result.ok and result.conflicts == []
        # The office's write is an edit too: made on what it saw, it knowingly replaces that.
        written = store.get_record(workspace_id, record)["stamps"]
        for key, value in values.items():
            self.log.append(Edit(record, key, value, written[key], stamps.get(key)))

    def replay(self, replica: Replica, which: int) -> None:
        if not replica.acked:
            return
        body = replica.acked[which % len(replica.acked)]
        before = store.pull(replica.device.workspace_id, None, 100, now_ms=self.now())
        response = store.push(replica.device, body, now_ms=self.now(), max_skew_ms=SKEW)
        assert response.get("replayed") is True
        after = store.pull(replica.device.workspace_id, None, 100, now_ms=self.now())
        assert after["records"] == before["records"]


edit = st.tuples(
    st.just("edit"),
    st.integers(0, 2),
    st.sampled_from(RECORDS),
    st.sampled_from(FIELDS),
    st.integers(0, 2),
)
sync_step = st.tuples(
    st.sampled_from(["push", "pull"]), st.integers(0, 2), st.booleans() | st.just(False)
)
step = st.one_of(
    edit,
    edit,
    sync_step,
    sync_step,
    st.tuples(st.just("replay"), st.integers(0, 2), st.integers(0, 5)),
    st.tuples(st.just("wait"), st.integers(0, 3)),
    st.tuples(st.just("office"), st.just(0), st.sampled_from(RECORDS), st.sampled_from(FIELDS),
              st.integers(0, 2)),
)  # fmt: skip
# A write that loses to a newer one the writer had already pulled past (found by hand once).
LOST_WRITE = [
    ("edit", 0, RECORDS[0], "status", 0),
    ("wait", 2),
    ("edit", 1, RECORDS[0], "status", 1),
    ("push", 1, False),
    ("pull", 0, False),
    ("push", 0, False),
]
# The same, but the device loses the push response and pulls before it retries the batch.
LOST_RESPONSE = [
    ("edit", 0, RECORDS[0], "status", 0),
    ("wait", 2),
    ("edit", 1, RECORDS[0], "status", 0),
    ("push", 1, False),
    ("push", 0, True),
    ("pull", 0, False),
    ("push", 0, False),
]


def _server_state(workspace_id: str) -> dict[str, dict[str, tuple[Any, str]]]:
    records = store.pull(workspace_id, None, 100, now_ms=NOW)["records"]
    state: dict[str, dict[str, tuple[Any, str]]] = {}
    for record in records:
        state[record["id"]] = {
            name: (record["deleted"] if name == DELETED else record["fields"][name], stamp)
            for name, stamp in record["stamps"].items()
        }
    return state


def _check_nothing_lost(log: list[Edit], server: dict[str, dict[str, tuple[Any, str]]]) -> None:
    """Every edit is current, knowingly replaced, in a conflict, or merged into an accounted
    edit of the same value with a greater stamp (concurrent equal values make no conflict)."""
    in_conflict = {
        (c.record_id, c.field, stamp)
        for c in Conflict.select()
        for stamp in (c.kept_stamp, c.other_stamp)
    }
    accounted = set()
    for n, edit in enumerate(log):
        value, stamp = server[edit.record][edit.field]
        current = stamp == edit.stamp or value == edit.value
        replaced = any(
            later.record == edit.record
            and later.field == edit.field
            and (later.base == edit.stamp or (
                later.stamp > edit.stamp and later.stamp[21:] == edit.stamp[21:]))
            for later in log
        )  # fmt: skip
        if current or replaced or (edit.record, edit.field, edit.stamp) in in_conflict:
            accounted.add(n)
    grown = True
    while grown:  # merged into an accounted equal value
        grown = False
        for n, edit in enumerate(log):
            if n not in accounted and any(
                m in accounted
                and other.record == edit.record
                and other.field == edit.field
                and other.value == edit.value
                and other.stamp > edit.stamp
                for m, other in enumerate(log)
            ):
                accounted.add(n)
                grown = True
    lost = [edit for n, edit in enumerate(log) if n not in accounted]
    assert lost == [], f"edits lost: {lost}"


# An office edit lands between a device's pull and its next write of another field: the device's
# write is its own, but the record must come back (the device never saw the office's value).
# A device's edit reaches the server, then the office changes the field: replaced knowingly.
OFFICE_AFTER = [
    ("edit", 0, RECORDS[0], "title", 0),
    ("edit", 0, RECORDS[0], "title", 0),
    ("push", 0, False),
    ("office", 0, RECORDS[0], "title", 1),
]
OFFICE_BETWEEN = [
    ("edit", 0, RECORDS[0], "title", 0),
    ("push", 0, False),
    ("pull", 0, False),
    ("office", 0, RECORDS[0], "status", 1),
    ("edit", 0, RECORDS[0], "progress", 1),
    ("push", 0, False),
    ("pull", 0, False),
]


@example(steps=LOST_WRITE, skews=[0, 0, 0], compact=[False, True, False])
@example(steps=LOST_RESPONSE, skews=[0, 0, 0], compact=[False, True, False])
@example(steps=OFFICE_BETWEEN, skews=[0, 0, 0], compact=[False, True, False])
@example(steps=OFFICE_AFTER, skews=[0, 0, 0], compact=[False, True, False])
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    steps=st.lists(step, max_size=50),
    skews=st.lists(st.integers(0, 3_000), min_size=3, max_size=3),
    compact=st.lists(st.booleans(), min_size=3, max_size=3),
)
def test_replicas_converge_and_no_edit_is_lost(
    steps: list[tuple], skews: list[int], compact: list[bool]
) -> None:
    """Whatever each device's form of its changes (docs/protocol.md section 5, long or
    compact): the rules after parsing are the same."""
    with tempfile.TemporaryDirectory() as home:
        db = open_database(f"sqlite:///{Path(home) / 'fieldsync.db'}")
        db.connect()
        migrations.upgrade(db)
        tick = Tick(NOW)
        replicas = []
        for n, skew in enumerate(skews):
            device = make_device(device_id=f"dev-{n}")  # fixed ids: stamp order is reproducible
            clock = Clock(lambda s=skew: tick.now + s, device.id)
            replicas.append(Replica(device, clock, compact=compact[n]))
        world = World(tick, replicas)
        for op, who, *rest in steps:
            if op == "wait":
                tick.now += who
                continue
            replica = replicas[who]
            if op == "office":
                record, name, pick = rest
                world.office(record, name, VALUES[name][pick % len(VALUES[name])])
            elif op == "edit":
                record, name, pick = rest
                replica.edit(record, name, VALUES[name][pick % len(VALUES[name])], world.log)
            elif op == "push":
                world.push(replica, lose=rest[0])
            elif op == "pull":
                world.pull(replica, lose=rest[0])
            else:
                world.replay(replica, rest[0])
            tick.now += 1
        for replica in replicas:  # everybody pushes everything ...
            while replica.in_flight is not None or replica.outbox:
                world.push(replica, lose=False)
        for replica in replicas:  # ... then everybody pulls
            world.pull(replica, lose=False)
        server = _server_state(replicas[0].device.workspace_id)
        for replica in replicas:
            assert replica.held == server
        _check_nothing_lost(world.log, server)
        db.close()
