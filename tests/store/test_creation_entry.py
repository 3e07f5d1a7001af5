"""A record's creation entry, carried on the record since schema version 11 (no audit row):
every reader of the history shows it as it showed the creation row, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

from server import store
from server.models import Change, Record
from server.store import people, records
from server.store.people import device_row
from tests.store.storekit import NOW, SKEW, Writer, make_device


def push(writer: Writer, *changes: dict) -> dict:
    return store.push(
        writer.device, writer.body(*changes), now_ms=writer.tick.now, max_skew_ms=SKEW
    )


def created_by_push(writer: Writer) -> tuple[str, dict]:
    rid = str(uuid.uuid4())
    change = writer.change("visit", rid, {"kind": "home_visit", "title": "入户走访"}, None)
    push(writer, change)
    return rid, change


def test_a_pushed_record_edited_in_the_office_shows_its_creation_first(writer: Writer) -> None:
    ws, device = writer.device.workspace_id, writer.device
    rid, change = created_by_push(writer)
    edited = store.office_edit(
        ws, None, "visit", rid, {"title": "回访"}, {"title": change["set"]["title"]["stamp"]},
        now_ms=NOW + 1_000,
    )  # fmt: skip
    assert edited.applied == 1
    created, office = store.record_history(ws, rid)
    assert (created["source"], created["user_id"], created["device_id"]) == (
        "push", device.user_id, device.id,
    )  # fmt: skip
    assert created["seq"] == 1 and office["seq"] == 2 and office["source"] == "office"
    assert created["diff"] == {
        "kind": [None, "home_visit", change["set"]["kind"]["stamp"]],
        "title": [None, "入户走访", None],  # changed since: its first stamp is not kept
    }
    assert created["at"] == store.get_record(ws, rid)["meta"]["created_at"]
    # the office's history page: the same entries, newest first
    page = records.history(ws, rid)
    assert [(e["source"], e["device_id"]) for e in page] == [("office", None), ("push", device.id)]
    assert page[1]["diff"] == created["diff"] and page[1]["user_id"] == device.user_id
    assert page[1]["at"] == Record.get_by_id(rid).created_at
    assert len(records.history(ws, rid, limit=1)) == 1  # the creation is past a full page


def test_an_office_creation_is_an_office_entry(writer: Writer) -> None:
    ws, rid = writer.device.workspace_id, str(uuid.uuid4())
    store.office_edit(ws, writer.device.user_id, "project", rid, {"title": "加装电梯"}, {},
                      now_ms=NOW)  # fmt: skip
    [created] = store.record_history(ws, rid)
    assert (created["source"], created["user_id"], created["device_id"]) == (
        "office", writer.device.user_id, None,
    )  # fmt: skip
    assert created["diff"]["title"][:2] == [None, "加装电梯"]
    assert not Change.select().where(Change.record_id == rid).exists()


def test_a_creation_row_of_an_older_database_is_shown_once(writer: Writer) -> None:
    """A record created before version 11 has its creation row in ``change`` and empty
    creation columns: its history shows one creation entry, not two."""
    ws, device = writer.device.workspace_id, writer.device
    rid, change = created_by_push(writer)
    record = Record.get_by_id(rid)
    Change.create(  # the row version 10 wrote, and the record as it held it
        workspace=ws, record_id=rid, record_type="visit", seq=record.seq, at=record.created_at,
        user_id=device.user_id, device_id=device.id, source="push", diff="{}",
    )  # fmt: skip
    Record.update(created_device=None, created_seq=None).where(Record.id == rid).execute()
    [created] = store.record_history(ws, rid)
    assert (created["source"], created["device_id"], created["seq"]) == ("push", device.id, 1)
    assert created["diff"]["title"] == [None, "入户走访", change["set"]["title"]["stamp"]]
    [entry] = records.history(ws, rid)
    assert entry["device_id"] == device.id and entry["diff"] == created["diff"]


def test_open_conflicts_reach_the_device_that_only_created_the_record(writer: Writer) -> None:
    rid, change = created_by_push(writer)
    base = {"title": change["set"]["title"]["stamp"]}
    one, two = Writer(make_device(), writer.tick), Writer(make_device(), writer.tick)
    conflicts = []
    for device in (one, two):
        writer.tick.now += 1
        edit = device.change("visit", rid, {"title": f"改{device.device.id[-4:]}"}, base)
        conflicts += push(device, edit)["conflicts"]
    assert len(conflicts) == 1
    [conflict] = people.open_conflicts_of(device_row(writer.device))
    assert conflict.record_id == rid
    assert writer.device.id not in (conflict.kept_device, conflict.other_device)
    stranger = Writer(make_device(), writer.tick)
    assert people.open_conflicts_of(device_row(stranger.device)) == []
