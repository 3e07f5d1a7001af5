"""The local store: edits, validation, coalescing, queries, credentials, bad databases."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest

from field_client.errors import (
    AmbiguousName,
    NotEnrolled,
    NotFound,
    StoreError,
    ValidationError,
)
from field_client.store import LocalStore
from tests.client.conftest import enrolled_store

pytestmark = pytest.mark.usefixtures("file_system")  # also on the Windows code path


def test_create_and_get_keep_values_and_stamps(store):
    place = store.create("place", {"kind": "compound", "name": "百盛家园"})
    record = store.get("place", place)
    assert record["fields"] == {"kind": "compound", "name": "百盛家园"}
    assert set(record["stamps"]) == {"kind", "name"}
    assert record["stamps"]["name"].endswith("-dev-a")
    assert record["pending"] == ["kind", "name"]
    assert store.get("concern", place) is None


def test_invalid_edit_is_refused_before_anything_is_stored(store):
    with pytest.raises(ValidationError) as caught:
        store.create("concern", {"title": "", "category": "天气"})  # not a list key
    assert set(caught.value.errors) == {"title", "category"}
    with pytest.raises(ValidationError) as caught:
        store.create("visit", {"kind": "forum", "review_status": "approved"})
    assert "review_status" in caught.value.errors
    assert store.pending() == []
    assert store.count("concern") == 0


def test_edits_coalesce_per_field_keeping_the_first_base(store, clock):
    cid = store.create("concern", {"title": "污水管道破裂"})
    created = store.get("concern", cid)["stamps"]["title"]
    # pretend the record was pushed: its outbox is acknowledged
    batch_id, _ = store.next_batch()
    store.apply_push_response(batch_id, {"conflicts": [], "rejected": []})
    assert store.pending() == []
    clock.advance(1)
    store.update("concern", cid, {"status": "accepted", "title": "污水管道经常破裂"})
    clock.advance(1)
    store.update("concern", cid, {"status": "in_progress"})
    store.update("concern", cid, {"status": "referred"})
    entries = {e["field"]: e for e in store.pending()}
    assert set(entries) == {"status", "title"}
    assert entries["status"]["value"] == "referred"
    assert entries["status"]["base"] is None
    assert entries["title"]["base"] == created
    assert entries["status"]["stamp"] == store.get("concern", cid)["stamps"]["status"]


def test_update_with_same_value_queues_nothing(store):
    cid = store.create("concern", {"title": "路灯不亮", "status": "new"})
    batch_id, _ = store.next_batch()
    store.apply_push_response(batch_id, {})
    assert store.update("concern", cid, {"status": "new"}) == []
    assert store.pending() == []


def test_stamps_strictly_increase_across_restarts(tmp_path, clock):
    store = enrolled_store(tmp_path / "d", clock)
    first = store.create("place", {"kind": "shop", "name": "小卖部"})
    stamp1 = store.get("place", first)["stamps"]["name"]
    store.close()
    clock.ms -= 60_000  # the wall clock went back while the device was off
    again = LocalStore(tmp_path / "d", now=clock)
    second = again.create("place", {"kind": "shop", "name": "理发店"})
    assert again.get("place", second)["stamps"]["name"] > stamp1


def test_delete_is_a_tombstone_edit(store):
    pid = store.create("place", {"kind": "shop", "name": "早餐店"})
    store.delete("place", pid)
    record = store.get("place", pid)
    assert record["deleted"] is True
    assert "_deleted" in record["pending"]
    assert store.list("place") == []
    assert len(store.list("place", include_deleted=True)) == 1


def test_list_filters_and_chinese_search(store):
    a = store.create("place", {"kind": "compound", "name": "百盛家园"})
    b = store.create("place", {"kind": "business_district", "name": "宝塔路商圈"})
    store.create(
        "concern",
        {"title": "污水管道破裂", "place_id": a, "status": "new", "category": "infrastructure"},
    )
    store.create("concern", {"title": "没有物业公司", "place_id": a, "status": "resolved"})
    store.create("concern", {"title": "外卖小哥没地方休息", "place_id": b, "status": "new"})
    assert {c["fields"]["title"] for c in store.list("concern", place=a)} == {
        "污水管道破裂",
        "没有物业公司",
    }
    assert [c["fields"]["title"] for c in store.list("concern", status="resolved")] == [
        "没有物业公司"
    ]
    assert [c["fields"]["title"] for c in store.list("concern", category="infrastructure")] == [
        "污水管道破裂"
    ]
    assert [r["fields"]["title"] for r in store.search("物业")] == ["没有物业公司"]
    assert [r["fields"]["name"] for r in store.search("商圈", rtype="place")] == ["宝塔路商圈"]
    assert [c["fields"]["title"] for c in store.open_concerns(a)] == ["污水管道破裂"]
    assert [p["id"] for p in store.recent_places()][:2] == [b, a]


def test_search_finds_the_text_of_field_values_as_typed(store):
    """A search finds a record by a string value of its fields: not by a reference, a field's
    name or a number; ASCII letters in any case; ``%``, ``_``, quotes and backslashes as
    themselves."""
    a = store.create("place", {"kind": "compound", "name": "百盛家园 Block_A 100%"})
    b = store.create("place", {"kind": "compound", "name": "幸福家园 BlockxA 1000"})
    c = store.create(
        "concern", {"title": '居民说"路灯不亮" C:\\路', "place_id": a, "status": "new"}
    )
    gone = store.create("concern", {"title": "路灯已拆除", "place_id": b})
    store.delete("concern", gone)

    def found(text: str, rtype: str | None = None) -> list[str]:
        return sorted(r["id"] for r in store.search(text, rtype=rtype))

    assert found("家园") == sorted([a, b])
    assert found("百盛") == [a]
    assert found("block_a") == found("BLOCK_A") == [a]  # ASCII letters in any case
    assert found("100%") == [a]  # not "1000": % and _ are no wildcards
    assert found("k_A") == [a]
    assert found('"路灯不亮"') == [c]  # a quote
    assert found("C:\\路") == [c]  # a backslash
    assert found("路灯") == [c]  # not the deleted one
    assert found("  路灯 ") == [c]  # trimmed
    assert found(a) == found(a[:8]) == []  # the concern's place_id: a reference
    assert found("place_id") == found("title") == found("name") == []  # field names
    assert found("compound", rtype="place") == sorted([a, b])
    assert found("百盛", rtype="concern") == []
    assert [r["id"] for r in store.list("concern", text="路灯")] == [c]
    assert [r["id"] for r in store.list("concern", text="百盛")] == []
    assert store.list("place", text="_A") == store.list("place", text="k_a")
    assert [r["id"] for r in store.list("place", text="_A")] == [a]


def test_find_place_by_id_name_or_unique_part(store):
    a = store.create("place", {"kind": "compound", "name": "百盛家园"})
    store.create("place", {"kind": "compound", "name": "幸福家园"})
    assert store.find_place(a)["id"] == a
    assert store.find_place("百盛家园")["id"] == a
    assert store.find_place("百盛")["id"] == a
    with pytest.raises(AmbiguousName) as caught:
        store.find_place("家园")
    assert len(caught.value.candidates) == 2
    with pytest.raises(NotFound):
        store.find_place("不存在的小区")


def test_unknown_ids_raise_not_found(store):
    with pytest.raises(NotFound):
        store.update("concern", "0190f1c2-0000-7000-8000-000000000000", {"status": "new"})
    with pytest.raises(ValidationError):
        store.list("nonsense")


def test_status_counts(store):
    store.create("place", {"kind": "shop", "name": "A"})
    store.create("place", {"kind": "shop", "name": "B"})
    status = store.status()
    assert status["pending"] == 2
    assert status["conflicts"] == status["rejected"] == 0
    assert status["server"] == "http://127.0.0.1:9"
    assert status["last_sync"] is None


def test_token_file_is_private(store):
    path = store.home / "token"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert store.credentials()["token"] == "secret-token"


def test_edits_need_enrollment(tmp_path, clock):
    store = LocalStore(tmp_path / "fresh", now=clock)
    with pytest.raises(NotEnrolled):
        store.create("place", {"kind": "shop", "name": "A"})
    assert store.status()["pending"] == 0


def test_corrupt_database_is_one_clear_error(tmp_path, clock):
    home = tmp_path / "bad"
    home.mkdir()
    (home / "fieldsync.db").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError) as caught:
        LocalStore(home, now=clock)
    assert caught.value.detail == "corrupt"
    assert (home / "fieldsync.db").read_bytes().startswith(b"this is not")  # left untouched


def test_locked_database_is_one_clear_error(store):
    other = sqlite3.connect(store.home / "fieldsync.db", timeout=0)
    other.execute("BEGIN IMMEDIATE")
    try:
        store.db.execute_sql("PRAGMA busy_timeout = 50")
        with pytest.raises(StoreError) as caught:
            store.create("place", {"kind": "shop", "name": "A"})
        assert caught.value.detail == "locked"
    finally:
        other.rollback()
        other.close()
    store.create("place", {"kind": "shop", "name": "A"})  # usable again
    assert store.status()["pending"] == 1


def test_edit_is_atomic_when_the_outbox_write_fails(store):
    pid = store.create("place", {"kind": "shop", "name": "A"})
    before = store.get("place", pid)
    store.db.execute_sql(
        "CREATE TRIGGER boom BEFORE UPDATE ON outbox BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    with pytest.raises(StoreError):
        store.update("place", pid, {"name": "B"})
    assert store.get("place", pid) == before
    assert {e["field"]: e["value"] for e in store.pending()} == {"kind": "shop", "name": "A"}


def test_review_notes_show_office_feedback(store, clock):
    vid = store.create("visit", {"kind": "forum", "title": "座谈会"})
    page = {
        "records": [
            {
                "type": "visit",
                "id": vid,
                "fields": {
                    "kind": "forum",
                    "title": "座谈会",
                    "review_status": "needs_changes",
                    "review_note": "请补充参会人数",
                },
                "stamps": {"kind": "1", "title": "1", "review_status": "2", "review_note": "2"},
                "deleted": False,
                "meta": {},
            }
        ],
        "cursor": "c1",
        "more": False,
        "server_time": f"{clock.ms:013d}-000000-server",
    }
    assert store.apply_pull_page(page) == {"received": 1, "new": 1, "returned": 1}
    notes = store.review_notes()
    assert [n["fields"]["review_note"] for n in notes] == ["请补充参会人数"]
    # the same page again brings nothing new and no note returned a second time
    again = dict(
        page, records=[dict(page["records"][0], stamps=store.get("visit", vid)["stamps"])]
    )
    assert store.apply_pull_page(again) == {"received": 1, "new": 0, "returned": 0}
    # the device's own unpushed edits survived the pull
    assert store.get("visit", vid)["pending"] == ["kind", "title"]


def test_a_full_batch_carries_every_queued_field_of_its_records(store, clock):
    first = store.create("concern", {"title": "路灯不亮"})
    second = store.create("concern", {"title": "井盖松动"})
    third = store.create("concern", {"title": "垃圾清运"})
    clock.advance(1)
    store.update("concern", first, {"status": "accepted"})  # queued after the others
    batch_id, body = store.next_batch(max_changes=2)
    assert [c["id"] for c in body["changes"]] == [first, second]
    assert list(body["changes"][0]["set"]) == ["title", "status"]
    store.apply_push_response(batch_id, {"conflicts": [], "rejected": []})
    assert {e["id"] for e in store.pending()} == {third}
    _, body = store.next_batch(max_changes=2)
    assert [c["id"] for c in body["changes"]] == [third]


def test_an_edit_made_while_a_batch_is_in_flight_stays_queued(store, clock):
    cid = store.create("concern", {"title": "路灯不亮", "status": "new"})
    batch_id, body = store.next_batch()
    assert [c["id"] for c in body["changes"]] == [cid]
    clock.advance(1)
    store.update("concern", cid, {"status": "accepted"})  # during the push
    assert store.next_batch()[0] == batch_id  # the unacknowledged batch is re-sent unchanged
    store.apply_push_response(batch_id, {"conflicts": [], "rejected": []})
    [entry] = store.pending()
    assert (entry["field"], entry["value"], entry["batch_id"]) == ("status", "accepted", None)
    assert entry["base"] is None  # still the base of the first unpushed edit
    batch_id2, body2 = store.next_batch()
    assert batch_id2 != batch_id
    # one edit: sent in the compact form (docs/protocol.md section 5), no base to give
    assert body2["changes"] == [
        {"type": "concern", "id": cid, "stamp": entry["stamp"], "values": {"status": "accepted"}}
    ]


def test_the_device_database_is_readable_by_its_owner_only(tmp_path, clock):
    """Names and phones live in it: no other account on the laptop may read it (issue 9, 6)."""
    old = os.umask(0o022)  # the usual umask: files 0644 unless created otherwise
    try:
        store = enrolled_store(tmp_path / "device", clock)
        store.create("party", {"kind": "resident", "name": "张三", "phone": "13800000000"})
        store.close()
    finally:
        os.umask(old)
    home = tmp_path / "device"
    assert stat.S_IMODE(home.stat().st_mode) & 0o077 == 0
    for name in ("fieldsync.db", "fieldsync.db-wal", "fieldsync.db-shm"):
        if (home / name).exists():
            assert stat.S_IMODE((home / name).stat().st_mode) & 0o077 == 0, name
    assert (home / "fieldsync.db").exists()


def test_a_new_home_has_big_pages_and_an_existing_one_keeps_its_own(tmp_path, clock):
    store = enrolled_store(tmp_path / "new", clock)
    assert store.db.execute_sql("PRAGMA page_size").fetchone()[0] == 16_384
    store.close()
    (tmp_path / "old").mkdir()
    made = sqlite3.connect(tmp_path / "old" / "fieldsync.db")  # an earlier release's home
    made.execute("PRAGMA page_size = 4096")
    made.execute("PRAGMA journal_mode = wal")
    made.close()
    store = enrolled_store(tmp_path / "old", clock)
    place = store.create("place", {"kind": "compound", "name": "百盛家园"})
    store.close()
    store = LocalStore(tmp_path / "old", now=clock)
    assert store.db.execute_sql("PRAGMA page_size").fetchone()[0] == 4096
    assert store.get("place", place)["fields"]["name"] == "百盛家园"
    store.close()


def test_an_own_write_coming_back_takes_only_the_server_meta(store, clock):
    cid = store.create("concern", {"title": "路灯不亮", "status": "new"})
    batch_id, _ = store.next_batch()
    store.apply_push_response(batch_id, {"conflicts": [], "rejected": []})
    held = store.get("concern", cid)
    meta = {"created_at": "2026-05-28T00:00:00Z", "workspace_id": "w1"}
    echo = {k: held[k] for k in ("type", "id", "fields", "stamps", "deleted")}
    page = {"records": [{**echo, "meta": meta}], "cursor": "c1", "more": False}
    assert store.apply_pull_page(page) == {"received": 1, "new": 0, "returned": 0}
    assert store.get("concern", cid) == {**held, "meta": meta}
    assert store.search("路灯")[0]["id"] == cid  # the search copy is still there
    assert store.cursor == "c1"
