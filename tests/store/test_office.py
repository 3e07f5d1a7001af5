"""Office edits and conflict resolution through the real store, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from server import store
from server.models import Conflict, ServerState, WorkspaceState
from sync import ErrorCode, ProtocolError, Stamp
from tests.store.storekit import NOW, SKEW, Writer, make_device


def create_concern(writer: Writer, title: str = "路灯不亮") -> tuple[str, dict]:
    rid = str(uuid.uuid4())
    change = writer.change("concern", rid, {"title": title, "status": "new"}, None)
    store.push(writer.device, writer.body(change), now_ms=NOW, max_skew_ms=SKEW)
    return rid, change


def test_office_creates_and_edits_with_its_own_node(writer: Writer) -> None:
    ws = writer.device.workspace_id
    rid = str(uuid.uuid4())
    created = store.office_edit(
        ws, writer.device.user_id, "project", rid, {"title": "加装电梯"}, {}, now_ms=NOW
    )
    assert created.applied == 1 and created.ok and created.record is not None
    node = ServerState.get_by_id(1).node_id
    assert Stamp.parse(created.stamp).node == node
    edited = store.office_edit(
        ws, None, "project", rid, {"progress": 40, "status": "in_progress"},
        {"progress": None, "status": None}, now_ms=NOW,
    )  # fmt: skip
    assert edited.applied == 1 and edited.conflicts == []
    assert edited.stamp > created.stamp  # strictly increasing, same millisecond
    assert WorkspaceState.get_by_id(ws).last_stamp == edited.stamp
    record = store.get_record(ws, rid)
    assert record["fields"] == {"title": "加装电梯", "progress": 40, "status": "in_progress"}
    sources = [h["source"] for h in store.record_history(ws, rid)]
    assert sources == ["office", "office"]


def test_office_stamps_increase_even_when_the_clock_goes_back(writer: Writer) -> None:
    rid = str(uuid.uuid4())
    ws = writer.device.workspace_id
    first = store.office_edit(ws, None, "project", rid, {"title": "一"}, {}, now_ms=NOW)
    later = store.office_edit(
        ws, None, "project", rid, {"title": "二"}, {"title": first.stamp}, now_ms=NOW - 60_000
    )
    assert later.stamp > first.stamp and later.conflicts == []


def test_office_sets_office_only_fields_devices_cannot(writer: Writer) -> None:
    rid, change = create_concern(writer)
    result = store.office_edit(
        writer.device.workspace_id, None, "concern", rid,
        {"review_status": "approved"}, {}, now_ms=NOW,
    )  # fmt: skip
    assert result.ok and result.record["fields"]["review_status"] == "approved"


def test_stale_base_becomes_a_conflict_not_an_overwrite(writer: Writer) -> None:
    rid, change = create_concern(writer)
    shown = change["set"]["status"]["stamp"]  # what the office form showed
    writer.tick.now += 1
    newer = writer.change("concern", rid, {"status": "accepted"}, {"status": shown})
    store.push(writer.device, writer.body(newer), now_ms=NOW + 1, max_skew_ms=SKEW)
    result = store.office_edit(
        writer.device.workspace_id, "staff-1", "concern", rid, {"status": "referred"},
        {"status": shown}, now_ms=NOW + 2,
    )  # fmt: skip
    [conflict] = result.conflicts
    assert conflict["kept"]["value"] == "referred" and conflict["other"]["value"] == "accepted"
    row = Conflict.get_by_id(conflict["id"])
    assert row.other_device == writer.device.id and row.kept_user == "staff-1"
    assert row.kept_device is None


def test_two_stale_office_forms_conflict_with_each_other(writer: Writer) -> None:
    rid, change = create_concern(writer)
    ws, shown = writer.device.workspace_id, change["set"]["status"]["stamp"]
    a = store.office_edit(
        ws, "a", "concern", rid, {"status": "accepted"}, {"status": shown}, now_ms=NOW
    )
    b = store.office_edit(
        ws, "b", "concern", rid, {"status": "rejected"}, {"status": shown}, now_ms=NOW
    )
    assert a.conflicts == [] and len(b.conflicts) == 1
    assert b.conflicts[0]["other"]["value"] == "accepted"


def test_office_edit_rejections(writer: Writer) -> None:
    ws = writer.device.workspace_id
    stranger = Writer(make_device("西湖街道"), writer.tick)
    theirs, _ = create_concern(stranger)
    assert not store.office_edit(ws, None, "concern", theirs, {"title": "x"}, {}, now_ms=NOW).ok
    assert store.get_record(stranger.device.workspace_id, theirs)["fields"]["title"] == "路灯不亮"
    bad = store.office_edit(
        ws, None, "concern", str(uuid.uuid4()), {"status": "new"}, {}, now_ms=NOW
    )
    assert bad.rejected[0]["errors"] == {"title": ["is required for a new record"]}
    assert not store.office_edit(ws, None, "nope", "x", {"a": 1}, {}, now_ms=NOW).ok
    junk = store.office_edit(ws, None, "project", str(uuid.uuid4()), {"title": "t"},
                             {"title": "junk"}, now_ms=NOW)  # fmt: skip
    assert "title" in junk.rejected[0]["errors"]


def test_delete_and_restore_from_the_office(writer: Writer) -> None:
    rid, _ = create_concern(writer)
    ws = writer.device.workspace_id
    gone = store.office_edit(ws, None, "concern", rid, {"_deleted": True}, {}, now_ms=NOW)
    assert gone.record["deleted"] is True
    back = store.office_edit(
        ws, None, "concern", rid, {"_deleted": False}, {"_deleted": gone.stamp}, now_ms=NOW
    )
    assert back.record["deleted"] is False and back.conflicts == []


def test_resolve_conflict_writes_the_value_and_closes_all_of_the_field(writer: Writer) -> None:
    rid, change = create_concern(writer)
    ws = writer.device.workspace_id
    others = [Writer(make_device(), writer.tick) for _ in range(2)]
    conflict_ids = []
    for n, other in enumerate(others):
        writer.tick.now += 1
        late = other.change("concern", rid, {"status": ["accepted", "deferred"][n]}, None)
        response = store.push(
            other.device, other.body(late), now_ms=writer.tick.now, max_skew_ms=SKEW
        )
        conflict_ids += [c["id"] for c in response["conflicts"]]
    assert len(conflict_ids) == 2
    result = store.resolve_conflict(ws, conflict_ids[0], "staff-1", "accepted", now_ms=NOW + 10)
    assert result.ok and result.conflicts == []  # base = current stamp: no new conflict
    assert store.get_record(ws, rid)["fields"]["status"] == "accepted"
    rows = list(Conflict.select().where(Conflict.record_id == rid))
    assert {r.status for r in rows} == {"resolved"}
    assert {r.resolution_stamp for r in rows} == {result.stamp}
    assert {r.resolved_by for r in rows} == {"staff-1"}
    assert store.record_history(ws, rid)[-1]["source"] == "conflict_resolution"
    with pytest.raises(ProtocolError) as info:
        store.resolve_conflict(ws, conflict_ids[0], "staff-1", "new", now_ms=NOW + 11)
    assert info.value.code is ErrorCode.CONFLICT


def concurrent_status_conflict(writer: Writer) -> dict:
    """Create a concern, then have a second device push a concurrent status: one conflict."""
    rid, _ = create_concern(writer)
    other = Writer(make_device(), writer.tick)
    writer.tick.now += 1
    late = other.change("concern", rid, {"status": "accepted"}, None)
    [conflict] = store.push(
        other.device, other.body(late), now_ms=writer.tick.now, max_skew_ms=SKEW
    )["conflicts"]
    return conflict


def test_resolve_conflict_of_another_workspace_is_not_found(writer: Writer) -> None:
    conflict = concurrent_status_conflict(writer)
    stranger = make_device("西湖街道")
    with pytest.raises(ProtocolError) as info:
        store.resolve_conflict(stranger.workspace_id, conflict["id"], "x", "new", now_ms=NOW)
    assert info.value.code is ErrorCode.NOT_FOUND


def test_rejected_resolution_value_leaves_conflict_open(writer: Writer) -> None:
    conflict = concurrent_status_conflict(writer)
    result = store.resolve_conflict(
        writer.device.workspace_id, conflict["id"], "x", "bogus", now_ms=NOW + 5
    )
    assert not result.ok
    assert Conflict.get_by_id(conflict["id"]).status == "open"
