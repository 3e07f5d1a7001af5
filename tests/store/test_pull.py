"""Pull through the real store, on SQLite and PostgreSQL (PROTOCOL.md section 6)."""

from __future__ import annotations

import json
import uuid

import pytest
from peewee import Database

from server import migrations, store
from server.db import database, is_postgres
from server.store import engine
from sync import ErrorCode, ProtocolError, decode_cursor, encode_cursor
from tests.store.storekit import NOW, SKEW, StatementCounter, Writer, make_device


def visits(writer: Writer, count: int) -> list[str]:
    """Push ``count`` new visits in batches of 1,000; return their ids."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    for start in range(0, count, 1000):
        changes = [
            writer.change("visit", rid, {"kind": "home_visit", "title": f"走访 {rid[:4]}"}, None)
            for rid in ids[start : start + 1000]
        ]
        response = store.push(writer.device, writer.body(*changes), now_ms=NOW, max_skew_ms=SKEW)
        assert response["applied"] == len(changes)
    return ids


def pull_all(workspace_id: str, limit: int, cursor: str | None = None) -> tuple[list[dict], str]:
    records: list[dict] = []
    while True:
        page = store.pull(workspace_id, cursor, limit, now_ms=NOW)
        records += page["records"]
        cursor = page["cursor"]
        if not page["more"]:
            return records, cursor


def test_paging_over_2500_records_has_no_gaps_or_duplicates(writer: Writer) -> None:
    ids = visits(writer, 2500)
    records, cursor = pull_all(writer.device.workspace_id, 300)
    assert [r["id"] for r in records] == ids  # change order, each once
    seqs = [r["meta"]["seq"] for r in records]
    assert seqs == sorted(seqs) and len(set(seqs)) == 2500
    again = store.pull(writer.device.workspace_id, cursor, 300, now_ms=NOW)
    assert again["records"] == [] and again["more"] is False and again["cursor"] == cursor


def test_changed_record_comes_again_after_the_cursor(writer: Writer) -> None:
    [first, second] = visits(writer, 2)
    _, cursor = pull_all(writer.device.workspace_id, 10)
    record = store.get_record(writer.device.workspace_id, first)
    base = record["stamps"]["title"]
    change = writer.change("visit", first, {"title": "改过"}, {"title": base})
    store.push(writer.device, writer.body(change), now_ms=NOW, max_skew_ms=SKEW)
    page = store.pull(writer.device.workspace_id, cursor, 10, now_ms=NOW)
    assert [r["id"] for r in page["records"]] == [first]
    assert page["records"][0]["fields"]["title"] == "改过"
    full, _ = pull_all(writer.device.workspace_id, 10)
    assert [r["id"] for r in full] == [second, first]  # latest state, at its latest position


def test_pull_json_is_the_same_body(writer: Writer) -> None:
    visits(writer, 5)
    store.push(
        writer.device,
        writer.body(writer.change("visit", str(uuid.uuid4()), {"_deleted": True}, None)),
        now_ms=NOW,
        max_skew_ms=SKEW,
    )
    for limit in (2, 10):
        as_dict = store.pull(writer.device.workspace_id, None, limit, now_ms=NOW)
        as_bytes = store.pull_json(writer.device.workspace_id, None, limit, now_ms=NOW)
        assert json.loads(as_bytes) == as_dict
    assert as_dict["records"][-1]["deleted"] is True  # tombstones are pulled too


def test_pull_returns_only_the_own_workspace(writer: Writer) -> None:
    mine = visits(writer, 3)
    stranger = Writer(make_device("西湖街道"), writer.tick)
    visits(stranger, 4)
    records, _ = pull_all(writer.device.workspace_id, 2)
    assert [r["id"] for r in records] == mine
    assert {r["meta"]["workspace_id"] for r in records} == {writer.device.workspace_id}


def test_cursor_of_another_epoch_requires_resync(writer: Writer, db: Database) -> None:
    visits(writer, 3)
    page = store.pull(writer.device.workspace_id, None, 2, now_ms=NOW)
    migrations.new_epoch(db)
    with pytest.raises(ProtocolError) as info:
        store.pull(writer.device.workspace_id, page["cursor"], 2, now_ms=NOW)
    assert info.value.code is ErrorCode.RESYNC_REQUIRED
    fresh = store.pull(writer.device.workspace_id, None, 5, now_ms=NOW)
    assert len(fresh["records"]) == 3 and decode_cursor(fresh["cursor"])[0] != page["cursor"]


@pytest.mark.parametrize("cursor", ["junk!", encode_cursor("x", 1)[:-3]])
def test_junk_cursor_is_invalid_request(writer: Writer, cursor: str) -> None:
    with pytest.raises(ProtocolError) as info:
        store.pull(writer.device.workspace_id, cursor, 10, now_ms=NOW)
    assert info.value.code is ErrorCode.INVALID_REQUEST


@pytest.mark.parametrize("limit", [0, 5001])
def test_limit_outside_range_is_invalid_request(writer: Writer, limit: int) -> None:
    with pytest.raises(ProtocolError) as info:
        store.pull(writer.device.workspace_id, None, limit, now_ms=NOW)
    assert info.value.code is ErrorCode.INVALID_REQUEST


def test_server_time_is_at_least_every_pulled_stamp(writer: Writer) -> None:
    writer.tick.now = NOW + 5_000
    visits(writer, 2)
    page = store.pull(writer.device.workspace_id, None, 10, now_ms=NOW)
    newest = max(s for r in page["records"] for s in r["stamps"].values())
    assert page["server_time"] > newest


def test_statement_counts_do_not_grow_with_size(writer: Writer) -> None:
    """No N+1: a push of 1,000 changes and a pull of 1,000 records cost what 2 do."""

    def push_cost(count: int, edit: bool) -> int:
        ids = visits(writer, count)
        if edit:  # existing records, with refs to known and unknown ids, some conflicting
            changes = [
                writer.change("visit", rid, {"title": "改", "place_id": ids[0]}, None)
                for rid in ids
            ]
        else:
            changes = [
                writer.change("visit", str(uuid.uuid4()), {"kind": "phone"}, None)
                for _ in range(count)
            ]
        with StatementCounter(database.obj) as counter:
            store.push(writer.device, writer.body(*changes), now_ms=NOW, max_skew_ms=SKEW)
        return counter.count

    # On PostgreSQL a push sends its rows every ``WRITE_EVERY`` changes while it decides the
    # rest: a statement per table and send (records, audit rows), never one per change; new
    # records write no audit rows.
    sends = -(-1000 // engine.WRITE_EVERY) if is_postgres() else 1
    assert push_cost(2, edit=False) + (sends - 1) == push_cost(1000, edit=False)
    assert push_cost(2, edit=True) + 2 * (sends - 1) == push_cost(1000, edit=True)

    def pull_cost(limit: int) -> int:
        with StatementCounter(database.obj) as counter:
            page = store.pull_json(writer.device.workspace_id, None, limit, now_ms=NOW)
        assert json.loads(page)["more"] is True
        return counter.count

    assert pull_cost(2) == pull_cost(1000) == 2  # the page, then the state


def test_a_losing_writer_pulls_the_winner_again(writer: Writer) -> None:
    """A write that loses (kept or equal-but-older) re-sequences the record for its writer."""
    other = Writer(make_device(), writer.tick)
    rid = str(uuid.uuid4())
    early = other.change("visit", rid, {"kind": "shop_visit", "title": "入户走访"}, None)
    writer.tick.now += 1
    body = writer.body(
        writer.change("visit", rid, {"kind": "home_visit", "title": "入户走访"}, None)
    )
    store.push(writer.device, body, now_ms=writer.tick.now, max_skew_ms=SKEW)
    _, cursor = pull_all(other.device.workspace_id, 10)
    response = store.push(
        other.device, other.body(early), now_ms=writer.tick.now, max_skew_ms=SKEW
    )
    assert (response["applied"], response["unchanged"], len(response["conflicts"])) == (0, 1, 1)
    page = store.pull(other.device.workspace_id, cursor, 10, now_ms=writer.tick.now)
    [record] = page["records"]
    assert record["fields"] == {"kind": "home_visit", "title": "入户走访"}
    assert record["meta"]["updated_by"] == writer.device.user_id  # content untouched
    assert len(store.record_history(writer.device.workspace_id, rid)) == 1
