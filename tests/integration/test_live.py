"""End to end with a real server process and device homes driven through the CLI."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.integration.live import DeviceHome, FaultProxy, LiveServer


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("server")).setup("wang", "zhao", "liu")
    live.start()
    yield live
    live.stop()


def enroll(server, tmp_path, name, username="wang", url=None) -> DeviceHome:
    device = DeviceHome(tmp_path / name)
    device.run(
        "init", "--server", url or server.url, "--code", server.code(username), "--name", name
    )
    return device


def open_conflicts(server) -> list[tuple]:
    db = sqlite3.connect(server.root / "server.db")
    try:
        return db.execute("SELECT record_id, field FROM conflict WHERE status = 'open'").fetchall()
    finally:
        db.close()


def test_three_devices_edit_offline_sync_and_converge(server, tmp_path):
    a = enroll(server, tmp_path, "pad-a")
    b = enroll(server, tmp_path, "pad-b", "zhao")
    c = enroll(server, tmp_path, "pad-c", "liu")
    place = a.add("place", "add", "百盛家园", "--kind", "compound")
    concern = a.add(
        "concern",
        "add",
        "--title",
        "污水管道经常破裂",
        "--place",
        "百盛家园",
        "--category",
        "infrastructure",
    )
    b.add("place", "add", "宝塔路商圈", "--kind", "business_district")
    b.add("visit", "add", "--kind", "forum", "--title", "快递小哥座谈会", "--attendees", "12")
    c.add("party", "add", "王阿姨", "--kind", "resident")
    assert a.json("status")["pending"] == 2
    for device in (a, b, c, a, b):
        report = device.json("sync")
        assert report["rejected"] == 0 and report["conflicts"] == 0
    assert a.snapshot() == b.snapshot() == c.snapshot()
    assert len(a.snapshot()) == 5
    # the place is found by name on another device, and its open concern listed
    shown = c.json("place", "show", "百盛家园")
    assert shown["id"] == place
    assert [x["id"] for x in shown["open_concerns"]] == [concern]

    # a concurrent edit of one field: one conflict, on the server and on the device
    a.run("concern", "update", concern, "--status", "accepted")
    b.run("concern", "update", concern, "--status", "referred", "--responsible-unit", "城建局")
    assert a.json("sync")["conflicts"] == 0
    assert b.json("sync")["conflicts"] == 1
    assert open_conflicts(server) == [(concern, "status")]
    assert b.json("status")["conflicts"] == 1
    assert [x["field"] for x in b.json("conflicts")] == ["status"]
    for device in (a, b, c):
        device.json("sync")
    assert a.snapshot() == b.snapshot() == c.snapshot()
    c.run("concern", "update", concern, "--priority", "high")
    assert "Sync done: sent 1, received 0 new," in c.run("sync").stdout  # its own write comes back
    assert "Sync done: sent 0, received 1 new," in a.run("sync").stdout


def test_connection_cut_in_push_and_pull_recovers_without_loss(server, tmp_path):
    proxy = FaultProxy(server.url)
    try:
        a = enroll(server, tmp_path, "pad-a", url=proxy.url)
        b = enroll(server, tmp_path, "pad-b", "zhao", url=proxy.url)
        ids = {
            a.add("visit", "add", "--kind", "home_visit", "--title", f"走访{n}") for n in range(30)
        }
        # the server gets the whole push, the answer is cut: the retry replays the batch
        proxy.arm("down", after=40, trigger=b"/sync/push")
        report = a.json("sync")
        assert proxy.cut_done == 1 and report["sent"] == 30
        # the request itself is cut half way: nothing applied, the retry sends it again
        a.add("visit", "add", "--kind", "phone", "--title", "电话回访")
        proxy.arm("up", after=300, trigger=b"/sync/push")
        assert a.json("sync")["sent"] == 1
        assert proxy.cut_done == 2
        # a pull page cut in the middle of its body
        proxy.arm("down", after=2000, trigger=b"/sync/pull")
        report = b.json("sync")
        assert proxy.cut_done == 3
        visits = b.json("visit", "list")
        assert ids <= {v["id"] for v in visits}
        assert len({v["id"] for v in visits}) == len(visits)  # no duplicate
        a.json("sync")
        assert a.snapshot() == b.snapshot()
    finally:
        proxy.close()


def test_offline_sync_keeps_everything_and_exits_zero(server, tmp_path):
    proxy = FaultProxy(server.url)
    a = enroll(server, tmp_path, "pad-a", url=proxy.url)
    a.add("place", "add", "早餐店", "--kind", "shop")
    proxy.close()  # the network is gone
    a.env["FIELDSYNC_RETRIES"] = "1"
    result = a.run("sync")
    assert "Offline" in result.stdout
    assert a.json("status")["pending"] == 1
    report = a.json("sync")
    assert report["offline"] is True and report["sent"] == 0


def test_revoked_device_gets_a_clear_message_and_keeps_its_data(server, tmp_path):
    a = enroll(server, tmp_path, "pad-a")
    a.add("place", "add", "早餐店", "--kind", "shop")
    device_id = a.json("status")["device_id"]
    server.cli("device", "revoke", device_id)
    result = a.run("sync", ok=False)
    assert result.exit_code == 1
    assert "revoked" in result.stdout and "kept" in result.stdout
    assert len(a.json("place", "list")) == 1
    assert a.json("status")["pending"] == 1


def test_bad_enrollment_input_is_one_line_and_non_zero(server, tmp_path):
    device = DeviceHome(tmp_path / "pad")
    used = server.code("wang")
    device.run("init", "--server", server.url, "--code", used)
    other = DeviceHome(tmp_path / "pad2")
    for args in (
        ["--server", server.url, "--code", used],  # used code
        ["--server", server.url, "--code", "NOPE-NOPE"],  # unknown code
        ["--server", "not a url", "--code", "X"],
        ["--server", "http://127.0.0.1:9", "--code", "X"],  # nothing listens there
    ):
        result = other.run("init", *args, ok=False)
        assert result.exit_code != 0
        assert len(result.output.strip().splitlines()) == 1, result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "pad2" / "token").exists()
    result = device.run("concern", "add", "--title", "x", "--priority", "huge", ok=False)
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    result = device.run("concern", "show", "0190f1c2-0000-7000-8000-000000000000", ok=False)
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    device.add("place", "add", "幸福家园", "--kind", "compound")
    device.add("place", "add", "百盛家园", "--kind", "compound")
    result = device.run("concern", "add", "--title", "x", "--place", "家园", ok=False)
    assert result.exit_code == 1 and "several" in result.output
    assert json.loads(device.run("status", "--json").stdout)["pending"] == 2
