"""The shared device vectors (outbox, push answers, pull pages, cursor) run against the
Python client's store, the same steps the field app's JavaScript tests run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from field_client.store import LocalStore, outbox
from field_client.store.replica import unpack
from tests.client.conftest import ManualClock
from tests.vectors import load

DEVICE = load("device")
SCENARIOS = [s for s in DEVICE["scenarios"] if s.get("python", True)]


def _long_form(change: dict[str, Any]) -> dict[str, Any]:
    """A change as sent, in the long form of docs/protocol.md section 5."""
    return {"type": change["type"], "id": change["id"], "set": outbox.writes_of(change)}


class Driver:
    """Runs the steps of one scenario on a fresh enrolled store."""

    def __init__(self, home: Path) -> None:
        self.clock = ManualClock(0)
        self.store = LocalStore(home, now=self.clock)
        answer = {"device_id": DEVICE["device_id"], "token": "t", "user": {}}
        self.store.save_enrollment("http://127.0.0.1:9", answer, "pad")
        self.batch: tuple[str, bytes] | None = None

    def step(self, step: dict[str, Any]) -> None:
        ((name, arg),) = step.items()
        getattr(self, f"do_{name}")(arg)

    def do_now(self, ms: int) -> None:
        self.clock.ms = ms

    def do_create(self, arg: dict[str, Any]) -> None:
        self.store.create(arg["type"], arg["fields"], record_id=arg["id"])

    def do_update(self, arg: dict[str, Any]) -> None:
        self.store.update(arg["type"], arg["id"], arg["fields"])

    def do_send(self, arg: dict[str, Any]) -> None:
        batch = self.store.next_batch_wire()
        if arg.get("none"):
            assert batch is None
            return
        assert batch is not None
        if arg.get("same"):
            assert batch == self.batch
        if "changes" in arg:  # (written in the long form, which the field app sends)
            assert [_long_form(c) for c in unpack(batch[1])["changes"]] == arg["changes"]
        self.batch = batch

    def do_answer(self, arg: dict[str, Any]) -> None:
        assert self.batch is not None
        self.store.apply_push_response(self.batch[0], {**arg, "batch_id": self.batch[0]})

    def do_pull(self, page: dict[str, Any]) -> None:
        self.store.apply_pull_page(page)

    def do_resync(self, _arg: Any) -> None:
        self.store.requeue_own_writes()

    def do_expect(self, want: dict[str, Any]) -> None:
        store = self.store
        for writes, wire in store.db.execute_sql("SELECT writes, wire FROM outbox"):
            assert outbox.writes_of(json.loads(wire)) == json.loads(writes)  # kept together
        got: dict[str, Any] = {}
        if "pending" in want:
            got["pending"] = store.pending_count()
        if "cursor" in want:
            got["cursor"] = store.cursor
        if "rejected" in want:
            got["rejected"] = len(store.rejected())
        if "conflicts" in want:
            got["conflicts"] = store.open_conflict_count()
        if "outbox" in want:
            keys = ("id", "field", "value", "stamp", "base")
            entries = [{k: e[k] for k in keys} for e in store.pending()]
            got["outbox"] = sorted(entries, key=lambda e: (e["id"], e["field"]))
        if "record" in want:
            record = store.get(None, want["record"]["id"]) or {}
            got["record"] = {k: record.get(k) for k in want["record"]}
        assert got == want


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s["about"][:60])
def test_device_vector(tmp_path: Path, scenario: dict[str, Any]) -> None:
    driver = Driver(tmp_path / "device")
    try:
        for step in scenario["steps"]:
            driver.step(step)
    finally:
        driver.store.close()
