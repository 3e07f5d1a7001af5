"""``kill -9`` of a real client process in the middle of a pipelined push (batch k at the
server while batches k+1 to k+PUSH_AHEAD are built and stored): the home stays consistent, and
the next sync sends what was left, re-sending a stored batch under its own id, so the server
ends up with every record exactly once (issue 11, item 1)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys

from field_client.store import LocalStore
from field_client.syncer import PUSH_AHEAD
from tests.integration.live import DeviceHome, LiveServer, wait_for

RECORDED = 6_000


def outbox_state(db_path) -> tuple[int, int, int]:
    """(outbox rows, stored batches, rows tagged with a batch that is not stored)."""
    db = sqlite3.connect(db_path, timeout=5)
    try:
        rows = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        batches = db.execute("SELECT COUNT(*) FROM push_batch").fetchone()[0]
        orphans = db.execute(
            "SELECT COUNT(*) FROM outbox WHERE batch IS NOT NULL"
            " AND batch NOT IN (SELECT id FROM push_batch)"
        ).fetchone()[0]
        return rows, batches, orphans
    finally:
        db.close()


def test_a_client_killed_mid_push_sends_the_rest_next_time_and_nothing_twice(tmp_path):
    from bench.data import visit_values

    live = LiveServer(tmp_path / "server").setup("wang").start()
    try:
        home = tmp_path / "pad"
        device = DeviceHome(home)
        device.run("init", "--server", live.url, "--code", live.code("wang"))
        store = LocalStore(home)
        place = store.create("place", {"kind": "community", "name": "庄泉社区"})
        ids = store.create_many("visit", [visit_values(n, place) for n in range(RECORDED)])
        store.close()
        db_path = home / "fieldsync.db"
        child = subprocess.Popen(
            [sys.executable, "-m", "field_client", "--home", str(home), "sync"],
            env={**os.environ, "FIELDSYNC_LANG": "en"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # some batches answered, more to come
        wait_for(lambda: 0 < outbox_state(db_path)[0] <= RECORDED - 1_000, timeout=60)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        rows, batches, orphans = outbox_state(db_path)
        assert 0 < rows < RECORDED + 1, rows  # the push was cut in the middle
        # every tagged row's batch is stored, bytes too: the one at the server, those built after
        assert orphans == 0 and batches <= 1 + PUSH_AHEAD
        with sqlite3.connect(db_path) as db:
            stored = [r[0] for r in db.execute("SELECT id FROM push_batch")]
        report = device.json("sync")
        assert report["ok"] and report["pending"] == 0, report
        assert outbox_state(db_path) == (0, 0, 0)
        server = sqlite3.connect(live.root / "server.db")
        try:
            held = dict(server.execute("SELECT id, fields FROM record WHERE type = 'visit'"))
            sent = {r[0] for r in server.execute("SELECT batch_id FROM push_batch")}
        finally:
            server.close()
        assert set(held) == set(ids)  # every record, each once (ids are the primary key)
        assert json.loads(held[ids[-1]]) == visit_values(RECORDED - 1, place)
        assert set(stored) <= sent  # a batch stored before the kill went under its own id
    finally:
        live.stop()
