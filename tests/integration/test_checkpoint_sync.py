"""A device store closed right after a sync whose checkpoint may still run reopens with
everything (field_client.checkpoint)."""

from __future__ import annotations

from field_client import checkpoint
from field_client.store import LocalStore

SUMMARY = "居民反映小区路灯不亮,夜间出行不便,希望尽快维修。" * 40  # about 3 KB of UTF-8


def test_a_store_closed_right_after_a_sync_reopens_with_everything(
    make_device, clock, monkeypatch
):
    monkeypatch.setattr(checkpoint, "GROWTH_BYTES", 1024 * 1024)
    a = make_device("pad-a")
    for n in range(1_000):
        a.store.create("visit", {"kind": "forum", "title": f"座谈{n}", "summary": SUMMARY})
    assert a.sync().sent == 1_000
    b = make_device("pad-b", "zhao")
    report = b.sync(pull_limit=200)
    assert report.ok and report.received == 1_000
    checkpointer = b.store.db.checkpointer
    settling = checkpointer._thread  # the last one the pull started
    b.store.close()
    assert settling is not None and not settling.is_alive()
    again = LocalStore(b.store.home, now=clock)
    try:
        [(count,)] = again.db.execute_sql("SELECT count(*) FROM record").fetchall()
        assert count == 1_000
        assert again.db.execute_sql("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        again.close()
