"""A device database made by the first release opens in this one, upgraded, with nothing lost
(issue 9, item 8); one made by a newer release is refused, untouched."""

from __future__ import annotations

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


def test_a_database_from_a_newer_release_is_refused(tmp_path):
    home = first_release_home(tmp_path)
    with sqlite3.connect(home / "fieldsync.db") as conn:
        conn.execute("UPDATE device_state SET schema_version = 99")
    with pytest.raises(StoreError) as info:
        LocalStore(home, now=ManualClock())
    assert info.value.detail == "newer_schema"
