"""Revoke with wipe end to end (issue 9 item 7): a real server process, a device home driven
through the ``fieldsync`` CLI over HTTP. The device records offline, the office revokes it with
wipe, the device syncs: the office has the record, the device holds no personal data, and the
device is refused afterwards."""

from __future__ import annotations

import hashlib
import sqlite3

import requests

from field_client import blobs
from field_client.store import LocalStore
from tests.integration.live import DeviceHome, FaultProxy, LiveServer

PHOTO = b"\xff\xd8\xff\xe0 a photo of the broken street lamp " * 50


def test_revoke_with_wipe_sends_first_then_deletes_then_is_refused(tmp_path):
    server = LiveServer(tmp_path / "server").setup("wang", "zhao")
    server.start()
    try:
        _story(server, tmp_path)
    finally:
        server.stop()


def _story(server: LiveServer, tmp_path) -> None:
    other = DeviceHome(tmp_path / "other")
    other.run("init", "--server", server.url, "--code", server.code("zhao"), "--name", "pad-z")
    other.add("party", "add", "赵大妈", "--kind", "resident", "--phone", "13911112222")
    other.run("sync")
    proxy = FaultProxy(server.url)
    pad = DeviceHome(tmp_path / "pad")
    pad.run("init", "--server", proxy.url, "--code", server.code("wang"), "--name", "王芳的平板")
    pad.add("place", "add", "幸福小区", "--kind", "compound")
    pad.run("sync")  # now it holds 赵大妈 too, pulled from the office
    token = (pad.home / "token").read_text().strip()
    device_id = pad.json("status")["device_id"]

    proxy.close()  # offline in the field
    pad.env["FIELDSYNC_RETRIES"] = "0"
    person = pad.add("party", "add", "张三", "--kind", "resident", "--phone", "13800001111")
    store = LocalStore(pad.home)
    photo_id = blobs.attach(store, "party", person, PHOTO, caption="路灯")
    store.close()
    assert pad.json("sync")["offline"] is True
    assert pad.json("status")["pending"] == 2

    out = server.cli("device", "revoke", "--wipe", device_id)
    assert "with wipe" in out
    _point_at(pad, server.url)  # the network is back
    result = pad.run("sync", ok=False)
    assert result.exit_code == 1
    assert "revoked this device with wipe" in result.stdout
    assert "then every record, person and photo on it was deleted" in result.stdout

    office = sqlite3.connect(server.root / "server.db")
    try:
        held = dict(office.execute("SELECT id, fields FROM record WHERE type = 'party'"))
        wiped = office.execute("SELECT wiped_at FROM device WHERE id = ?", (device_id,))
        assert wiped.fetchone()[0] is not None
    finally:
        office.close()
    assert person in held and "13800001111" in held[person] and photo_id
    sha = hashlib.sha256(PHOTO).hexdigest()
    assert (server.root / "instance" / "blobs" / sha[:2] / sha).read_bytes() == PHOTO

    leftovers = b"".join(p.read_bytes() for p in pad.home.rglob("*") if p.is_file())
    for secret in ("张三", "赵大妈", "幸福小区", "13800001111", "13911112222", "王芳"):
        assert secret.encode() not in leftovers, secret
    assert PHOTO[:40] not in leftovers and not (pad.home / "blobs").exists()
    db = sqlite3.connect(pad.home / "fieldsync.db")
    try:
        for table in ("record", "outbox", "push_batch", "rejection", "conflict"):
            assert db.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0] == 0, table
    finally:
        db.close()

    answer = requests.get(
        server.url + "/api/v1/sync/pull",
        headers={"Fieldsync-Protocol": "1", "Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 401 and answer.json()["code"] == "device_revoked"
    assert "wipe" not in answer.json()
    again = pad.run("sync", ok=False)
    assert again.exit_code != 0 and "Traceback" not in again.stdout


def _point_at(pad: DeviceHome, url: str) -> None:
    """The proxy is gone; the device reaches the server directly (its address in the store)."""
    store = LocalStore(pad.home)
    try:
        store.set_state(server_url=url)
    finally:
        store.close()
