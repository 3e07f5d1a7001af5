"""A device database made by the first release opens in this one, upgraded, with nothing lost
(issue 9, item 8); one made by a newer release is refused, untouched."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from field_client import migrations
from field_client.errors import StoreError
from field_client.store import LocalStore
from tests.clock import ManualClock

FIRST_RELEASE = Path(__file__).parent / "data" / "device-v1.sql"


def first_release_home(tmp_path: Path) -> Path:
    home = tmp_path / "device"
    home.mkdir()
    with sqlite3.connect(home / "fieldsync.db") as conn:
        conn.executescript(FIRST_RELEASE.read_text(encoding="utf-8"))
    (home / "token").write_text("first-release-token", encoding="utf-8")
    return home


def test_a_first_release_database_is_upgraded_with_everything_kept(tmp_path):
    store = LocalStore(first_release_home(tmp_path), now=ManualClock())
    row = store.db.execute_sql("SELECT schema_version, former_device_ids FROM device_state")
    assert row.fetchone() == (migrations.LATEST, "[]")
    status = store.status()
    assert status["device_id"] == "dev-first" and status["pending"] == 3
    titles = {r["fields"].get("title") for r in store.list("concern")}
    assert titles == {"污水管破裂", "路灯不亮"}
    assert store.get("party", "0190f5a0-0000-7000-8000-000000000001")["fields"]["name"] == "张秀英"
    store.create("concern", {"title": "升级之后的新诉求"})  # and it works on
    assert store.status()["pending"] == 4
    store.close()
    again = LocalStore(store.home, now=ManualClock())  # a second open has nothing to do
    assert again.status()["pending"] == 4
    again.close()


def test_the_per_field_outbox_becomes_one_row_per_record_keeping_the_sent_batch(tmp_path):
    home = first_release_home(tmp_path)
    with sqlite3.connect(home / "fieldsync.db") as conn:
        stored = conn.execute("SELECT id, body FROM push_batch").fetchone()
    store = LocalStore(home, now=ManualClock())
    rows = store.db.execute_sql(
        "SELECT record_type, record_id, writes, batch FROM outbox ORDER BY id"
    ).fetchall()
    place, sewer, lamp = (
        "01a24296-aa94-7078-9cd5-06d058692bca",
        "01a24296-aa95-7329-9350-2f57fa3740b3",
        "01a24296-aa97-7a9a-9a75-acabea35f341",
    )
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("place", place, stored[0]),
        ("concern", sewer, stored[0]),
        ("concern", lamp, None),
    ]
    assert json.loads(rows[2][2]) == {
        "title": {"value": "路灯不亮", "stamp": "1780000002000-000000-dev-first", "base": None}
    }
    assert not store.db.table_exists("outbox_entry")
    # the stored batch is sent again as it was: same id, same bytes
    assert store.next_batch_wire() == (stored[0], bytes(stored[1]))
    entries = {(e["id"], e["field"]): e["batch_id"] for e in store.pending()}
    assert entries == {
        (place, "kind"): stored[0],
        (place, "name"): stored[0],
        (sewer, "title"): stored[0],
        (sewer, "place_id"): stored[0],
        (lamp, "title"): None,
    }
    store.close()


def test_an_edit_made_after_the_batch_was_sent_stays_beside_it(tmp_path):
    home = first_release_home(tmp_path)
    with sqlite3.connect(home / "fieldsync.db") as conn:  # edited again while the batch was out
        conn.execute(
            "UPDATE outbox_entry SET value = '\"污水管又破了\"',"
            " stamp = '1780000003000-000000-dev-first' WHERE seq = 3"
        )
    store = LocalStore(home, now=ManualClock())
    sewer = "01a24296-aa95-7329-9350-2f57fa3740b3"
    rows = store.db.execute_sql(
        "SELECT writes, batch FROM outbox WHERE record_id = ? ORDER BY id", (sewer,)
    ).fetchall()
    assert [r[1] is None for r in rows] == [False, True]
    assert json.loads(rows[0][0])["title"]["value"] == "污水管破裂"  # as it was sent
    assert json.loads(rows[1][0]) == {
        "title": {"value": "污水管又破了", "stamp": "1780000003000-000000-dev-first", "base": None}
    }
    store.close()


def test_a_database_from_a_newer_release_is_refused(tmp_path):
    home = first_release_home(tmp_path)
    with sqlite3.connect(home / "fieldsync.db") as conn:
        conn.execute("UPDATE device_state SET schema_version = 99")
    with pytest.raises(StoreError) as info:
        LocalStore(home, now=ManualClock())
    assert info.value.detail == "newer_schema"


KEPT = "id, type, fields, stamps, deleted, meta, updated_ms"  # the record's columns today


def _record_indexes(store: LocalStore) -> list[tuple[str, str | None]]:
    return store.db.execute_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'record'"
        " ORDER BY name"
    ).fetchall()


def test_the_record_indexes_become_one_on_type_and_updated_ms_keeping_the_records(tmp_path):
    home = first_release_home(tmp_path)
    with sqlite3.connect(home / "fieldsync.db") as conn:
        before = conn.execute(f"SELECT {KEPT} FROM record ORDER BY id").fetchall()
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"record_type", "record_updated_ms"} <= names
    store = LocalStore(home, now=ManualClock())
    fresh = LocalStore(tmp_path / "fresh", now=ManualClock())
    assert _record_indexes(store) == _record_indexes(fresh)
    assert [name for name, _ in _record_indexes(store)] == [
        "record_type_updated_ms",
        "sqlite_autoindex_record_1",
    ]
    after = store.db.execute_sql(f"SELECT {KEPT} FROM record ORDER BY id").fetchall()
    assert after == before
    plan = store.db.execute_sql(
        "EXPLAIN QUERY PLAN SELECT id FROM record WHERE type = 'concern' ORDER BY updated_ms DESC"
    ).fetchall()
    assert "record_type_updated_ms" in plan[0][3] and len(plan) == 1  # no sort of its own
    store.close()
    fresh.close()


def test_the_search_copy_goes_and_fields_keep_each_character_as_itself(tmp_path):
    """Schema version 7: no ``search`` column (a search reads the fields), and fields pulled
    with escapes JSON does not require are written anew, so that a search finds them."""
    home = first_release_home(tmp_path)
    escaped = '{"title":"\\u8def\\u706f\\u4e0d\\u4eae","url":"a\\/b"}'  # 路灯不亮
    with sqlite3.connect(home / "fieldsync.db") as conn:
        conn.execute(
            "UPDATE record SET fields = ? WHERE id = '01a24296-aa97-7a9a-9a75-acabea35f341'",
            (escaped,),
        )
        before = conn.execute(f"SELECT {KEPT} FROM record ORDER BY id").fetchall()
    store = LocalStore(home, now=ManualClock())
    fresh = LocalStore(tmp_path / "fresh", now=ManualClock())
    columns = "SELECT name, type, \"notnull\", pk FROM pragma_table_info('record')"
    assert store.db.execute_sql(columns).fetchall() == fresh.db.execute_sql(columns).fetchall()
    assert "search" not in {name for name, *_ in store.db.execute_sql(columns)}
    assert _record_indexes(store) == _record_indexes(fresh)
    after = store.db.execute_sql(f"SELECT {KEPT} FROM record ORDER BY id").fetchall()
    assert [row[2] for row in after] == [
        '{"title":"路灯不亮","url":"a/b"}' if row[2] == escaped else row[2] for row in before
    ]
    assert [row[:2] + row[3:] for row in after] == [row[:2] + row[3:] for row in before]
    assert [r["fields"]["title"] for r in store.search("灯不")] == ["路灯不亮"]
    assert [r["fields"]["name"] for r in store.search("张秀")] == ["张秀英"]
    store.update("concern", "01a24296-aa97-7a9a-9a75-acabea35f341", {"title": "路灯修好了"})
    assert [r["fields"]["title"] for r in store.search("修好")] == ["路灯修好了"]
    store.close()
    fresh.close()
