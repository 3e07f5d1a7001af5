"""The syncer against an in-process server: convergence, conflicts, rejections, batches."""

from __future__ import annotations

import gc
import gzip
import json
import sqlite3
import threading
import time

import pytest

from field_client.errors import Offline, StoreError
from field_client.syncer import FIRST_PUSH, PUSH_AHEAD, PUSH_GROWTH, Stage
from server import services
from sync.wire import MAX_PUSH_CHANGES


def replica(device) -> dict[str, tuple]:
    """A device's records as comparable data (type, fields, deleted)."""
    out = {}
    for rtype in ("place", "party", "visit", "concern", "project", "follow_up"):
        for record in device.store.list(rtype, include_deleted=True):
            out[record["id"]] = (rtype, record["fields"], record["deleted"], record["stamps"])
    return out


def test_offline_edits_on_two_devices_converge(make_device, clock):
    a, b = make_device("pad-a"), make_device("pad-b", "zhao")
    place = a.store.create("place", {"kind": "compound", "name": "百盛家园"})
    a.store.create("concern", {"title": "污水管道破裂", "place_id": place})
    b.store.create("visit", {"kind": "forum", "title": "快递小哥座谈会", "attendee_count": 12})
    clock.advance(1)
    first = a.sync()
    assert (first.sent, first.conflicts, first.rejected) == (2, 0, 0)
    assert first.ok and a.store.status()["pending"] == 0
    b.sync()
    a.sync()
    assert replica(a) == replica(b)
    assert len(replica(a)) == 3
    assert a.store.status()["last_sync"] is not None


def test_concurrent_edit_gives_one_conflict_reported_on_the_device(make_device, clock, app):
    a, b = make_device("pad-a"), make_device("pad-b", "zhao")
    cid = a.store.create("concern", {"title": "没有物业", "status": "new"})
    a.sync()
    b.sync()
    clock.advance(1)
    a.store.update("concern", cid, {"status": "accepted"})
    clock.advance(1)
    b.store.update("concern", cid, {"status": "deferred"})
    a.sync()
    report = b.sync()
    assert report.conflicts == 1
    [conflict] = b.store.conflicts()
    assert conflict["field"] == "status"
    assert {conflict["kept"]["value"], conflict["other"]["value"]} == {"accepted", "deferred"}
    a.sync()
    assert replica(a) == replica(b)  # both show the value the server kept
    assert a.store.status()["conflicts"] == 1  # A's value lost: A learns it from the server
    with app.app_context():
        assert len(services.device_info(services.get_device(b.id))["open_conflicts"]) == 1


def test_a_device_losing_a_conflict_shows_the_kept_value(make_device, clock):
    a, b = make_device("pad-a"), make_device("pad-b", "zhao")
    cid = a.store.create("concern", {"title": "路灯不亮", "priority": "normal"})
    a.sync()
    b.sync()
    clock.advance(1)
    b.store.update("concern", cid, {"priority": "low"})  # older stamp
    clock.advance(1)
    a.store.update("concern", cid, {"priority": "urgent"})  # newer stamp: wins
    a.sync()
    b.sync()
    assert b.store.get("concern", cid)["fields"]["priority"] == "urgent"
    assert b.store.status()["conflicts"] == 1


def batch_sizes(device) -> list[int]:
    """Record the number of changes of every push the device sends from now on."""
    sizes: list[int] = []
    original = device.transport.push
    device.transport.push = lambda body: (
        sizes.append(len(json.loads(gzip.decompress(body))["changes"])) or original(body)
    )
    return sizes


def test_a_push_starts_small_and_grows_to_the_most_a_push_may_carry(make_device):
    a = make_device("pad-a")
    a.store.create_many(
        "visit", [{"kind": "home_visit", "title": f"走访 {n}"} for n in range(3500)]
    )
    sizes = batch_sizes(a)
    report = a.sync()
    assert FIRST_PUSH == 100 and PUSH_GROWTH == 3 and MAX_PUSH_CHANGES == 1000
    assert sizes == [100, 300, 900, 1000, 1000, 200]
    assert report.sent == 3500
    b = make_device("pad-b", "zhao")
    stages = []
    b.sync(progress=lambda stage, done, total: stages.append((stage, done)))
    assert b.store.count("visit") == 3500
    assert (Stage.PULL, 3500) in stages


def test_a_smaller_push_limit_caps_every_batch(make_device):
    a = make_device("pad-a")
    a.store.create_many(
        "visit", [{"kind": "home_visit", "title": f"走访 {n}"} for n in range(1203)]
    )
    sizes = batch_sizes(a)
    report = a.sync(push_limit=500)
    assert sizes == [100, 300, 500, 303]
    assert report.sent == 1203 and a.store.status()["pending"] == 0


def test_the_next_batch_goes_out_before_an_answer_is_applied(make_device):
    a = make_device("pad-a")
    a.store.create_many(
        "visit", [{"kind": "home_visit", "title": f"走访 {n}"} for n in range(1203)]
    )
    push, apply = a.transport.push, a.store.apply_push_response
    pushed, applied = [], []
    sent = threading.Condition()

    def pushing(body):
        with sent:
            pushed.append(json.loads(gzip.decompress(body))["batch_id"])
            sent.notify_all()
        return push(body)

    def applying(batch_id, answer):
        index = pushed.index(batch_id)
        if index < 2:  # batches 1 and 2 of 3: the next one is on its way first
            with sent:
                sent.wait_for(lambda: len(pushed) > index + 1, timeout=30)
        applied.append((batch_id, len(pushed)))
        return apply(batch_id, answer)

    a.transport.push, a.store.apply_push_response = pushing, applying
    report = a.sync()
    assert report.sent == 1203 and a.store.status()["pending"] == 0
    assert applied == [(pushed[0], 2), (pushed[1], 3), (pushed[2], 3)]  # in order, each late


def stored_batches(device) -> list[str]:
    """The device's stored (built, unanswered) batches, read on a connection of its own."""
    db = sqlite3.connect(device.store.home / "fieldsync.db", timeout=5)
    try:
        return [r[0] for r in db.execute("SELECT id FROM push_batch ORDER BY device_time, id")]
    finally:
        db.close()


def test_batches_are_built_ahead_while_one_is_at_the_server(make_device):
    """While batch 1 is at the server, the next ``PUSH_AHEAD`` batches are built and stored,
    each queued to go as soon as the one before is answered: a stall of the device (a commit
    that checkpoints the WAL) does not keep the server waiting. They go in the order built."""
    a = make_device("pad-a")
    a.store.create_many(
        "visit", [{"kind": "home_visit", "title": f"走访 {n}"} for n in range(3500)]
    )
    push = a.transport.push
    pushed, ahead = [], []

    def pushing(body):
        if not pushed:  # batch 1 waits (at most 30 s) until the device has built the next ones
            deadline = time.monotonic() + 30
            while len(stored_batches(a)) < 1 + PUSH_AHEAD and time.monotonic() < deadline:
                time.sleep(0.01)
            ahead.append(stored_batches(a))
        pushed.append(json.loads(gzip.decompress(body))["batch_id"])
        return push(body)

    a.transport.push = pushing
    report = a.sync()
    assert PUSH_AHEAD == 3 and len(ahead[0]) == 4 and ahead[0] == pushed[:4]
    assert report.ok and report.sent == 3500 and len(pushed) == 6
    assert stored_batches(a) == [] and a.store.status()["pending"] == 0


def test_no_batch_goes_out_after_one_that_failed(make_device):
    """Batches built ahead are queued behind the one at the server; when one fails, those
    behind it are not sent (they stay stored) and the next sync sends them in order."""
    a = make_device("pad-a")
    a.store.create_many(
        "visit", [{"kind": "home_visit", "title": f"走访 {n}"} for n in range(1300)]
    )
    push = a.transport.push
    pushed = []

    def cut_at_the_second(body):
        pushed.append(json.loads(gzip.decompress(body))["batch_id"])
        if len(pushed) == 2:  # fails once the third is built and queued behind it
            deadline = time.monotonic() + 30
            while len(set(stored_batches(a)) - {pushed[0]}) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            raise Offline("the connection dropped")
        return push(body)

    a.transport.push = cut_at_the_second
    report = a.sync()
    assert report.offline and len(pushed) == 2  # the third, built and queued, did not go
    assert stored_batches(a)[0] == pushed[1] and len(stored_batches(a)) == 2
    a.transport.push = push
    sizes = batch_sizes(a)
    report = a.sync()
    assert report.ok and sizes == [300, 900] and a.store.status()["pending"] == 0


def test_the_pull_is_asked_for_before_the_last_answer_is_applied(make_device):
    """The first pull page goes out as soon as the last batch's answer is in (the server reads
    it while the device applies that answer), never before; the page is applied after it."""
    b = make_device("pad-b", "zhao")
    theirs = b.store.create("visit", {"kind": "home_visit", "title": "隔壁走访"})
    b.sync()
    a = make_device("pad-a")
    visits = [{"kind": "home_visit", "title": f"走访 {n}"} for n in range(103)]  # 2 batches
    a.store.create_many("visit", visits)
    pull, apply = a.transport.pull, a.store.apply_push_response
    asked = threading.Event()
    seen: list[bool] = []  # at each answer's apply: had the pull been asked for?

    def pulling(cursor, limit, read, sent=None):
        asked.set()
        return pull(cursor, limit, read, sent)

    def applying(batch_id, answer):
        seen.append(asked.is_set() if not seen else asked.wait(timeout=10))
        return apply(batch_id, answer)

    a.transport.pull, a.store.apply_push_response = pulling, applying
    report = a.sync()
    assert seen == [False, True]
    assert report.ok and report.sent == 103 and report.received == 1
    assert a.store.get("visit", theirs)["fields"]["title"] == "隔壁走访"


def test_the_garbage_collector_waits_until_the_pull_is_over(make_device):
    """Pages are read and applied with Python's cyclic collector off (in a pull of 10,000
    visits it set itself off 40 times, sometimes for a full collection of 20 ms); it is on
    again after the pull, and stays off after it for a program that had it off."""
    b = make_device("pad-b", "zhao")
    b.store.create_many(
        "visit", [{"kind": "home_visit", "title": f"走访 {n}"} for n in range(300)]
    )
    b.sync()
    a = make_device("pad-a")
    apply = a.store.apply_pull_page
    collecting: list[bool] = []  # at each page's apply: was the collector on?

    def applying(page):
        collecting.append(gc.isenabled())
        return apply(page)

    a.store.apply_pull_page = applying
    assert gc.isenabled()
    report = a.sync()
    assert report.ok and report.received == 300
    assert collecting == [False, False]  # pages of 100 and 200
    assert gc.isenabled()
    gc.disable()
    try:
        b.store.update("visit", b.store.list("visit")[0]["id"], {"title": "回访"})
        b.sync()
        assert a.sync().received == 1 and not gc.isenabled()
    finally:
        gc.enable()


def test_a_failed_answer_leaves_the_sent_next_batch_to_the_next_sync(make_device):
    a = make_device("pad-a")
    a.store.create_many(
        "visit", [{"kind": "home_visit", "title": f"走访 {n}"} for n in range(1203)]
    )
    apply = a.store.apply_push_response
    sent = []

    def fail_once(batch_id, answer):
        if not sent:
            sent.append(batch_id)
            raise StoreError("locked")
        return apply(batch_id, answer)

    a.store.apply_push_response = fail_once
    with pytest.raises(StoreError):
        a.sync()  # batch 2 went out meanwhile; its answer is lost with the failed sync
    assert a.store.status()["pending"] == 1203
    sizes = batch_sizes(a)
    report = a.sync()  # both stored batches are sent again (the server replays them)
    assert report.ok and a.store.status()["pending"] == 0
    assert sizes == [100, 300, 803]  # the two stored batches unchanged, then a new one
    b = make_device("pad-b", "zhao")
    b.sync()
    assert b.store.count("visit") == 1203


def test_rejected_change_is_kept_with_reasons_and_can_be_fixed(make_device, app, clock):
    a = make_device("pad-a")
    with app.app_context():
        other = services.create_workspace("别的社区")
        services.create_user("sun", other, "representative")
    c = make_device("pad-c", "sun")
    foreign = c.store.create("place", {"kind": "shop", "name": "别人的店"})
    c.sync()
    # a record id that belongs to another workspace: the server refuses the change
    a.store.create("place", {"kind": "shop", "name": "冒名"}, record_id=foreign)
    good = a.store.create("place", {"kind": "shop", "name": "正常的店"})
    report = a.sync()
    assert report.rejected == 1 and report.sent == 1
    [rejection] = a.store.rejected()
    assert rejection["record_id"] == foreign and rejection["errors"]
    assert a.store.get("place", good)["pending"] == []
    a.store.fix_rejected(rejection["id"], {"name": "改过了"})
    assert a.store.rejected() == []
    assert len(a.store.rejected(include_fixed=True)) == 1  # never deleted
    assert a.store.status()["pending"] == 1


def test_a_batch_answer_lost_is_resent_with_the_same_id(make_device):
    a = make_device("pad-a")
    a.store.create("place", {"kind": "shop", "name": "早餐店"})
    batch_id, body = a.store.next_batch()
    a.transport.push(body)  # the server applied it, but the answer never came back
    report = a.sync()
    assert report.sent == 1
    assert a.store.status()["pending"] == 0
    b = make_device("pad-b", "zhao")
    b.sync()
    assert b.store.count("place") == 1


def test_clock_skew_stops_then_restamps_after_the_clock_is_fixed(make_device, clock):
    a = make_device("pad-a")
    real = clock.ms
    clock.ms = real + 3 * 3600 * 1000  # the device's clock ran 3 hours fast during the edit
    a.store.create("place", {"kind": "shop", "name": "早餐店"})
    clock.ms = real  # (the server shares this clock: it never ran fast)
    report = a.sync()
    assert report.error == "clock_skew" and not report.ok
    assert a.store.status()["pending"] == 1
    report = a.sync()  # the clock is right now: pending edits get fresh stamps
    assert report.ok and report.restamped == 1 and report.sent == 1
    assert a.store.status()["pending"] == 0


def test_revoked_device_stops_and_keeps_its_data(make_device, app):
    a = make_device("pad-a")
    a.store.create("place", {"kind": "shop", "name": "早餐店"})
    with app.app_context():
        services.revoke_device(a.id)
    report = a.sync()
    assert report.error == "device_revoked"
    assert a.store.status()["pending"] == 1
    assert a.store.count("place") == 1


def test_enrolling_again_sends_the_pending_edits_under_the_new_identity(make_device, app):
    a = make_device("pad-a")
    a.store.create("place", {"kind": "shop", "name": "早餐店"})
    a.sync()
    a.store.create("concern", {"title": "门口积水"})
    a.store.next_batch()  # a batch made under the old identity, never answered
    old_id = a.id
    with app.app_context():
        services.revoke_device(old_id)
    assert a.sync().error == "device_revoked"
    a.enroll()  # a new code, the same home
    assert a.id != old_id and a.store.status()["pending"] == 1
    report = a.sync()
    assert report.ok and report.rejected == 0 and a.store.status()["pending"] == 0
    b = make_device("pad-b", "zhao")
    b.sync()
    [concern] = b.store.list("concern")
    assert concern["fields"]["title"] == "门口积水"
    assert {s.split("-", 2)[2] for s in concern["stamps"].values()} == {a.id}
    row = a.store.db.execute_sql("SELECT former_device_ids FROM device_state").fetchone()
    assert json.loads(row[0]) == [old_id]


def test_resync_required_pulls_from_the_start(make_device):
    b = make_device("pad-b", "zhao")
    b.store.create("place", {"kind": "shop", "name": "菜场"})
    b.sync()
    a = make_device("pad-a")
    a.store.create("place", {"kind": "shop", "name": "早餐店"})
    assert a.sync().received == 1  # the colleague's place; its own does not come back
    a.store.set_state(cursor="MTpvdGhlci1lcG9jaDo1")  # "1:other-epoch:5"
    report = a.sync()
    assert report.ok and report.received == 1  # from the start again: the colleague's place


def test_a_server_restored_from_backup_gets_back_what_it_lost(make_device, app, tmp_path):
    a = make_device("pad-a")
    kept = a.store.create("place", {"kind": "shop", "name": "早餐店"})
    a.sync()
    server_db = tmp_path / "server.db"
    backup = sqlite3.connect(tmp_path / "backup.db")
    with sqlite3.connect(server_db) as live:
        live.backup(backup)  # the office's nightly backup
    lost = a.store.create("concern", {"title": "路灯不亮", "place_id": kept})
    a.store.update("place", kept, {"name": "早餐店（新）"})
    assert a.sync().sent == 2
    with sqlite3.connect(server_db) as live:  # the server's disk dies; the backup comes back
        backup.backup(live)
        live.execute("UPDATE server_state SET epoch = 'restored-epoch' WHERE id = 1")
    backup.close()
    report = a.sync()
    assert report.ok, report
    b = make_device("pad-b", "zhao")
    b.sync()
    assert b.store.get("concern", lost)["fields"]["title"] == "路灯不亮"
    assert b.store.get("place", kept)["fields"]["name"] == "早餐店（新）"
    assert replica(a) == replica(b)


def test_unpushed_edit_survives_a_pull(make_device, clock):
    a, b = make_device("pad-a"), make_device("pad-b", "zhao")
    cid = a.store.create("concern", {"title": "路灯不亮", "status": "new", "priority": "low"})
    a.sync()
    b.sync()
    clock.advance(1)
    b.store.update("concern", cid, {"priority": "high"})
    b.sync()
    clock.advance(1)
    a.store.update("concern", cid, {"status": "accepted"})
    report = a.sync()  # push first, then pull: the pull must not undo anything
    assert report.ok
    fields = a.store.get("concern", cid)["fields"]
    assert fields["status"] == "accepted" and fields["priority"] == "high"


def test_incremental_sync_is_cheap(make_device):
    a = make_device("pad-a")
    for n in range(50):
        a.store.create("visit", {"kind": "home_visit", "title": f"走访 {n}"})
    a.sync()
    a.transport.calls.clear()
    report = a.sync()
    assert report.sent == 0 and report.received == 0
    assert a.transport.calls == ["/sync/pull"]  # one round trip when nothing changed


def test_the_report_counts_only_what_is_new_to_the_device(make_device, clock):
    a, b = make_device("pad-a"), make_device("pad-b", "zhao")
    pid = a.store.create("place", {"kind": "shop", "name": "早餐店"})
    a.store.create("concern", {"title": "路灯不亮", "place_id": pid})
    report = a.sync()
    assert report.sent == 2 and report.received == 0  # its own two records do not come back
    assert report.new == 0 and report.returned == 0
    first = b.sync()
    assert first.new == 2 and first.to_json()["new"] == 2
    clock.advance(1)
    b.store.update("place", pid, {"name": "早餐店（新）"})
    b.sync()
    assert a.sync().new == 1
