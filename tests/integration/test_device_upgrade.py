"""A device home made by the first release, with pending edits and a batch it sent but never
saw answered, is upgraded to the per-record outbox (schema 3) and syncs every pending edit to a
real server process, re-sending the stored batch under its own id (issue 11, item 1)."""

from __future__ import annotations

import hashlib
import json
import sqlite3

from tests.client.test_device_migrations import first_release_home
from tests.integration.live import DeviceHome, LiveServer

STORED_BATCH = "01a24296-aa96-72e5-b0ff-e0079a73c114"
PLACE = "01a24296-aa94-7078-9cd5-06d058692bca"
SEWER = "01a24296-aa95-7329-9350-2f57fa3740b3"
LAMP = "01a24296-aa97-7a9a-9a75-acabea35f341"


def known_to_the_server(live: LiveServer, device_id: str, token: str) -> None:
    """Give the server the first-release device (its stamps name it; its token is in the home),
    as the office that enrolled it long ago holds it."""
    db = sqlite3.connect(live.root / "server.db")
    try:
        with db:
            user_id, workspace_id = db.execute(
                'SELECT id, workspace_id FROM "user" WHERE username = ?', ("wang",)
            ).fetchone()
            db.execute(
                "INSERT INTO device (id, user_id, workspace_id, name, token_hash, created_at)"
                " VALUES (?, ?, ?, ?, ?, CURRENT_TIMESTAMP)",
                (device_id, user_id, workspace_id, "平板", sha256(token)),
            )
    finally:
        db.close()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_first_release_home_upgraded_syncs_every_pending_edit(tmp_path):
    live = LiveServer(tmp_path / "server").setup("wang").start()
    try:
        known_to_the_server(live, "dev-first", "first-release-token")
        home = first_release_home(tmp_path)
        with sqlite3.connect(home / "fieldsync.db") as conn:
            # the office's address here; its cursor is of another server (resync_required,
            # which queues its own writes again, is tested elsewhere): a first pull
            conn.execute("UPDATE device_state SET server_url = ?, cursor = NULL", (live.url,))
        device = DeviceHome(home)
        assert device.json("status")["pending"] == 3  # opened, upgraded: nothing lost
        report = device.json("sync")
        assert report["ok"] and report["sent"] == 3 and report["pending"] == 0, report
        db = sqlite3.connect(live.root / "server.db")
        try:
            held = {
                rid: json.loads(fields)
                for rid, fields in db.execute("SELECT id, fields FROM record")
            }
            batches = [row[0] for row in db.execute("SELECT batch_id FROM push_batch")]
        finally:
            db.close()
        assert held[PLACE] == {"kind": "compound", "name": "百盛家园"}
        assert held[SEWER] == {"title": "污水管破裂", "place_id": PLACE}
        assert held[LAMP] == {"title": "路灯不亮"}
        assert STORED_BATCH in batches  # the stored batch went under its own id
        assert device.json("status")["pending"] == 0
    finally:
        live.stop()
