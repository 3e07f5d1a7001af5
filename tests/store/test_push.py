"""Push through the real store, on SQLite and PostgreSQL (PROTOCOL.md section 5)."""

from __future__ import annotations

import json
import uuid

import pytest

from server import store
from server.models import Change, Conflict, Device, PushBatch, Record
from sync import ErrorCode, ProtocolError
from tests.store.storekit import NOW, SKEW, Writer, make_device


def push(writer: Writer, body: dict, now: int | None = None) -> dict:
    return store.push(writer.device, body, now_ms=now or writer.tick.now, max_skew_ms=SKEW)


def new_id() -> str:
    return str(uuid.uuid4())


def visit(**fields: object) -> dict:
    return {"kind": "home_visit", "title": "入户走访", **fields}


def test_new_record_is_applied_and_stored(writer: Writer) -> None:
    rid = new_id()
    response = push(writer, writer.body(writer.change("visit", rid, visit(), None)))
    assert response["applied"] == 1 and response["unchanged"] == 0
    assert response["conflicts"] == [] and response["rejected"] == []
    record = store.get_record(writer.device.workspace_id, rid)
    assert record is not None
    assert record["fields"] == visit()
    assert record["meta"]["created_by"] == writer.device.user_id
    assert set(record["stamps"]) == {"kind", "title"}
    assert Device.get_by_id(writer.device.id).last_push_at is not None
    # its creation entry is on the record, not a row of the history (schema version 11)
    assert Change.select().where(Change.record_id == rid).count() == 0
    [created] = store.record_history(writer.device.workspace_id, rid)
    assert created["seq"] == record["meta"]["seq"] and created["source"] == "push"
    assert (created["user_id"], created["device_id"]) == (writer.device.user_id, writer.device.id)


def test_replayed_batch_returns_stored_response_and_changes_nothing(writer: Writer) -> None:
    rid = new_id()
    body = writer.body(writer.change("visit", rid, visit(), None))
    first = push(writer, body)
    seq = Record.get_by_id(rid).seq
    again = push(writer, body, now=NOW + 60_000)
    assert again == {**first, "replayed": True}
    assert Record.get_by_id(rid).seq == seq
    assert len(store.record_history(writer.device.workspace_id, rid)) == 1
    assert Change.select().count() == 0  # a creation writes no audit row
    assert PushBatch.select().count() == 1


def test_fast_forward_replay_and_concurrent_conflict(writer: Writer) -> None:
    rid = new_id()
    first = writer.change("visit", rid, visit(), None)
    push(writer, writer.body(first))
    base = first["set"]["title"]["stamp"]
    # fast-forward: an edit based on the current stamp
    edit = writer.change("visit", rid, {"title": "二次走访"}, {"title": base})
    assert push(writer, writer.body(edit))["applied"] == 1
    # replay of an older write of the same node: unchanged
    response = push(writer, writer.body(first))
    assert (response["applied"], response["unchanged"], response["conflicts"]) == (0, 1, [])
    # concurrent: another device edits from the old base
    other = Writer(make_device(), writer.tick)
    writer.tick.now += 1  # a millisecond later: the other device's stamp is the greater
    late = other.change("visit", rid, {"title": "另一台设备"}, {"title": base})
    response = push(other, other.body(late))
    assert response["applied"] == 1  # its stamp is greater: it wins, and a conflict is kept
    [conflict] = response["conflicts"]
    assert conflict["field"] == "title" and conflict["record_id"] == rid
    assert conflict["kept"] == {"value": "另一台设备", "stamp": late["set"]["title"]["stamp"]}
    assert conflict["other"]["value"] == "二次走访"
    row = Conflict.get_by_id(conflict["id"])
    assert row.status == "open" and row.other_device == writer.device.id
    assert row.other_user == writer.device.user_id and row.kept_device == other.device.id
    assert json.loads(row.other_value) == "二次走访"


def test_replay_of_old_write_is_unchanged(writer: Writer) -> None:
    rid = new_id()
    first = writer.change("visit", rid, visit(), None)
    push(writer, writer.body(first))
    newer = writer.change("visit", rid, {"title": "新"}, {"title": first["set"]["title"]["stamp"]})
    push(writer, writer.body(newer))
    response = push(writer, writer.body(first))
    assert (response["applied"], response["unchanged"]) == (0, 1)
    assert store.get_record(writer.device.workspace_id, rid)["fields"]["title"] == "新"


def test_concurrent_older_stamp_is_kept_out_with_conflict(writer: Writer) -> None:
    rid = new_id()
    other = Writer(make_device(), writer.tick)
    early = other.change("visit", rid, {"kind": "shop_visit"}, None)  # stamped first
    writer.tick.now += 1
    push(writer, writer.body(writer.change("visit", rid, visit(), None)))
    response = push(other, other.body(early))
    assert (response["applied"], response["unchanged"]) == (0, 1)
    [conflict] = response["conflicts"]
    assert conflict["kept"]["value"] == "home_visit" and conflict["other"]["value"] == "shop_visit"
    assert store.get_record(writer.device.workspace_id, rid)["fields"]["kind"] == "home_visit"


def test_concurrent_equal_values_make_no_conflict(writer: Writer) -> None:
    rid = new_id()
    other = Writer(make_device(), writer.tick)
    push(writer, writer.body(writer.change("visit", rid, visit(), None)))
    writer.tick.now += 1
    same = other.change("visit", rid, {"title": "入户走访"}, None)
    response = push(other, other.body(same))
    assert response["conflicts"] == [] and response["applied"] == 1  # greater stamp taken
    record = store.get_record(writer.device.workspace_id, rid)
    assert record["stamps"]["title"] == same["set"]["title"]["stamp"]
    assert Conflict.select().count() == 0


def test_delete_is_a_tombstone_with_its_own_stamp(writer: Writer) -> None:
    rid = new_id()
    first = writer.change("visit", rid, visit(), None)
    push(writer, writer.body(first))
    push(writer, writer.body(writer.change("visit", rid, {"_deleted": True}, None)))
    record = store.get_record(writer.device.workspace_id, rid)
    assert record["deleted"] is True and "_deleted" in record["stamps"]
    assert record["fields"] == visit()


def test_bad_change_is_rejected_without_blocking_the_rest(writer: Writer) -> None:
    good, bad, office = new_id(), new_id(), new_id()
    body = writer.body(
        writer.change("visit", good, visit(), None),
        writer.change("visit", bad, visit(attendee_count=-1, colour="red"), None),
        writer.change("visit", office, visit(review_status="approved"), None),
        {"type": "spaceship", "id": new_id(), "set": {}},
    )
    response = push(writer, body)
    assert response["applied"] == 1
    rejected = {r["index"]: r for r in response["rejected"]}
    assert set(rejected) == {1, 2, 3}
    assert set(rejected[1]["errors"]) == {"attendee_count", "colour"}
    assert rejected[2]["errors"] == {"review_status": ["is set by office staff only"]}
    assert Record.select().count() == 1


def test_new_record_needs_required_fields(writer: Writer) -> None:
    response = push(
        writer, writer.body(writer.change("concern", new_id(), {"status": "new"}, None))
    )
    assert response["rejected"][0]["errors"] == {"title": ["is required for a new record"]}


TAKEN = "this id is taken; the record needs another id"


def test_type_change_is_rejected(writer: Writer) -> None:
    rid = new_id()
    push(writer, writer.body(writer.change("visit", rid, visit(), None)))
    response = push(writer, writer.body(writer.change("concern", rid, {"title": "x"}, None)))
    assert response["rejected"][0]["errors"] == {"id": [TAKEN]}  # as an id of elsewhere
    assert store.get_record(writer.device.workspace_id, rid)["type"] == "visit"


def test_same_id_twice_in_a_batch_is_rejected(writer: Writer) -> None:
    rid = new_id()
    body = writer.body(
        writer.change("visit", rid, visit(), None),
        writer.change("concern", rid, {"title": "问题"}, None),
    )
    response = push(writer, body)
    assert response["applied"] == 1 and response["rejected"][0]["index"] == 1


def test_clock_skew_applies_nothing(writer: Writer) -> None:
    rid = new_id()
    writer.tick.now = NOW + SKEW + 1
    body = writer.body(writer.change("visit", rid, visit(), None))
    with pytest.raises(ProtocolError) as info:
        push(writer, body, now=NOW)
    assert info.value.code is ErrorCode.CLOCK_SKEW
    assert info.value.extra["server_time"].startswith(str(NOW))
    assert Record.select().count() == 0 and PushBatch.select().count() == 0


def test_device_time_ahead_is_clock_skew(writer: Writer) -> None:
    body = writer.body(writer.change("visit", new_id(), visit(), None))
    body["device_time"] = f"{NOW + SKEW + 5:013d}-000000-{writer.device.id}"
    with pytest.raises(ProtocolError) as info:
        push(writer, body)
    assert info.value.code is ErrorCode.CLOCK_SKEW
    assert Record.select().count() == 0


def test_stamps_of_another_node_reject_the_whole_push(writer: Writer) -> None:
    victim = make_device()
    forged = Writer(victim, writer.tick)
    body = writer.body(
        writer.change("visit", new_id(), visit(), None),
        forged.change("visit", new_id(), visit(), None),
    )
    with pytest.raises(ProtocolError) as info:
        push(writer, body)
    assert info.value.code is ErrorCode.FORBIDDEN
    assert Record.select().count() == 0


def test_write_into_another_workspace_record_is_rejected(writer: Writer) -> None:
    stranger = Writer(make_device("西湖街道"), writer.tick)
    theirs = new_id()
    push(stranger, stranger.body(stranger.change("visit", theirs, visit(), None)))
    mine = new_id()
    response = push(writer, writer.body(
        writer.change("visit", theirs, visit(title="改"), None),  # looks new in this workspace
        writer.change("visit", mine, visit(), None),
    ))  # fmt: skip
    assert response["applied"] == 1
    [rejected] = response["rejected"]
    assert rejected["index"] == 0 and rejected["errors"]["id"] == [TAKEN]
    assert store.get_record(writer.device.workspace_id, mine)["meta"]["seq"] == 1  # numbered anew
    held = Record.select().where(Record.workspace == writer.device.workspace_id)
    assert [(r.id, r.created_seq) for r in held] == [(mine, 1)]
    assert store.record_history(writer.device.workspace_id, theirs) == []
    assert store.get_record(stranger.device.workspace_id, theirs)["fields"]["title"] == "入户走访"
    assert store.get_record(writer.device.workspace_id, theirs) is None


def test_reference_into_another_workspace_is_rejected(writer: Writer) -> None:
    stranger = Writer(make_device("西湖街道"), writer.tick)
    place = new_id()
    body = stranger.body(stranger.change("place", place, {"kind": "shop", "name": "店"}, None))
    push(stranger, body)
    unknown = new_id()
    response = push(
        writer,
        writer.body(
            writer.change("visit", new_id(), visit(place_id=place), None),
            writer.change("visit", new_id(), visit(party_ids=[unknown, place]), None),
            writer.change("visit", new_id(), visit(place_id=unknown), None),  # may arrive later
        ),
    )
    assert response["applied"] == 1
    assert [r["index"] for r in response["rejected"]] == [0, 1]
    assert "place_id" in response["rejected"][0]["errors"]
    assert "party_ids" in response["rejected"][1]["errors"]


def test_same_batch_id_from_two_devices_is_two_batches(writer: Writer) -> None:
    other = Writer(make_device(), writer.tick)
    body = writer.body(writer.change("visit", new_id(), visit(), None))
    body2 = other.body(other.change("visit", new_id(), visit(), None))
    body2["batch_id"] = body["batch_id"]
    assert push(writer, body)["applied"] == 1
    assert "replayed" not in push(other, body2)
    assert Record.select().count() == 2


def test_server_time_covers_every_stamp_received(writer: Writer) -> None:
    writer.tick.now = NOW + 60_000  # the device runs a minute ahead (within max skew)
    change = writer.change("visit", new_id(), visit(), None)
    response = push(writer, writer.body(change), now=NOW)
    assert response["server_time"] > change["set"]["title"]["stamp"]
    assert store.server_time(now_ms=NOW) >= response["server_time"]


def test_a_new_record_has_no_audit_row_yet_its_history_shows_what_it_held(
    writer: Writer,
) -> None:
    rid = new_id()
    push(writer, writer.body(writer.change("visit", rid, visit(summary="初稿"), None)))
    assert not Change.select().where(Change.record_id == rid).exists()  # the record is the copy
    created = store.get_record(writer.device.workspace_id, rid)["stamps"]
    bases = {"title": created["title"], "summary": created["summary"]}
    change = writer.change("visit", rid, {"title": "回访", "summary": None}, bases)
    push(writer, writer.body(change))
    first, second = store.record_history(writer.device.workspace_id, rid)
    assert first["diff"] == {
        "kind": [None, "home_visit", created["kind"]],
        "title": [None, "入户走访", None],  # changed since: its first stamp is not kept
        "summary": [None, "初稿", None],
    }
    assert second["diff"]["title"][:2] == ["入户走访", "回访"]
    assert second["diff"]["summary"][:2] == ["初稿", None]
