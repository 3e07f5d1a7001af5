"""No echo (docs/protocol.md section 6): a device's pull leaves out the records whose latest change
is its own accepted write, and brings every record whose state it does not hold, on SQLite and
PostgreSQL."""

from __future__ import annotations

import uuid

from server import migrations, store
from server.models import Device
from sync import decode_cursor
from tests.store.storekit import NOW, SKEW, Writer, make_device


def push(writer: Writer, *changes: dict) -> dict:
    response = store.push(writer.device, writer.body(*changes), now_ms=NOW, max_skew_ms=SKEW)
    assert response["rejected"] == [], response["rejected"]
    return response


def pull_all(device: Device, cursor: str | None = None, limit: int = 100) -> tuple[list, str]:
    records: list[dict] = []
    while True:
        page = store.pull(device.workspace_id, cursor, limit, now_ms=NOW, device_id=device.id)
        records += page["records"]
        assert len(page["records"]) <= limit
        cursor = page["cursor"]
        if not page["more"]:
            return records, cursor


def visit(title: str = "入户走访") -> dict:
    return {"kind": "home_visit", "title": title}


def test_own_new_records_are_left_out_and_the_cursor_passes_them(writer: Writer) -> None:
    other = Writer(make_device(), writer.tick)
    _, mine_cursor = pull_all(writer.device)
    _, their_cursor = pull_all(other.device)
    mine = [str(uuid.uuid4()) for _ in range(7)]
    theirs = [str(uuid.uuid4()) for _ in range(5)]
    for n in range(7):  # interleaved, so pages of 3 hold both kinds and end on either
        push(writer, writer.change("visit", mine[n], visit(), None))
        if n < 5:
            push(other, other.change("visit", theirs[n], visit(), None))
    records, cursor = pull_all(writer.device, mine_cursor, limit=3)
    assert [r["id"] for r in records] == theirs
    assert decode_cursor(cursor)[1] == 12  # past the last record, its own
    seen, _ = pull_all(other.device, their_cursor, limit=3)
    assert [r["id"] for r in seen] == mine  # each device gets the other's
    assert pull_all(writer.device, cursor)[0] == []
    everything = store.pull(writer.device.workspace_id, None, 100, now_ms=NOW)["records"]
    assert len(everything) == 12  # without a device: all, as before


def test_an_edit_on_a_record_changed_since_the_last_pull_comes_back(writer: Writer) -> None:
    rid = str(uuid.uuid4())
    push(writer, writer.change("project", rid, {"title": "加装电梯"}, None))
    _, cursor = pull_all(writer.device)
    edited = store.office_edit(
        writer.device.workspace_id, None, "project", rid, {"status": "approved"},
        {"status": None}, now_ms=NOW,
    )  # fmt: skip
    assert edited.ok
    writer.clock.observe(edited.stamp)
    held = store.get_record(writer.device.workspace_id, rid)["stamps"]
    push(
        writer, writer.change("project", rid, {"progress": 10}, {"progress": held.get("progress")})
    )
    [record], cursor = pull_all(writer.device, cursor)
    assert record["fields"] == {"title": "加装电梯", "status": "approved", "progress": 10}
    # and once the device holds it, its next own edit is not sent back
    push(writer, writer.change("project", rid, {"progress": 20}, {"progress": None}))
    assert pull_all(writer.device, cursor)[0] == []


def test_two_own_edits_between_pulls_are_both_left_out(writer: Writer) -> None:
    rid = str(uuid.uuid4())
    _, cursor = pull_all(writer.device)
    push(writer, writer.change("project", rid, {"title": "加装电梯"}, None))
    push(writer, writer.change("project", rid, {"title": "电梯"}, None))
    assert pull_all(writer.device, cursor)[0] == []


def test_a_losing_write_comes_back(writer: Writer) -> None:
    other = Writer(make_device(), writer.tick)
    rid = str(uuid.uuid4())
    push(writer, writer.change("project", rid, {"title": "旧"}, None))
    _, cursor = pull_all(writer.device)
    early = writer.change("project", rid, {"title": "先写"}, None)  # stamped first ...
    other.clock.observe(early["set"]["title"]["stamp"])
    push(other, other.change("project", rid, {"title": "后写"}, None))  # ... a later one wins
    response = push(writer, early)
    assert response["unchanged"] == 1 or response["conflicts"]
    [record], _ = pull_all(writer.device, cursor)
    assert record["fields"]["title"] == "后写"


def test_a_second_voice_absorbed_by_the_server_comes_back(writer: Writer) -> None:
    person, concern = str(uuid.uuid4()), str(uuid.uuid4())
    push(writer, writer.change("party", person, {"kind": "resident", "name": "王"}, None),
         writer.change("concern", concern, {"title": "漏水"}, None))  # fmt: skip
    _, cursor = pull_all(writer.device)
    support = {"subject_type": "concern", "subject_id": concern, "kind": "support",
               "party_id": person}  # fmt: skip
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    push(writer, writer.change("follow_up", first, support, None),
         writer.change("follow_up", second, support, None))  # fmt: skip
    [record], _ = pull_all(writer.device, cursor)
    assert record["id"] == second and record["deleted"] is True  # the server's deletion


def test_a_fix_the_server_marks_resubmitted_comes_back(writer: Writer) -> None:
    rid = str(uuid.uuid4())
    push(writer, writer.change("visit", rid, visit(), None))
    ws = writer.device.workspace_id
    returned = store.office_edit(ws, None, "visit", rid, {"review_status": "needs_changes"},
                                 {"review_status": None}, now_ms=NOW)  # fmt: skip
    assert returned.ok
    _, cursor = pull_all(writer.device)
    writer.clock.observe(returned.stamp)
    held = store.get_record(ws, rid)["stamps"]
    push(writer, writer.change("visit", rid, {"title": "改好了"}, {"title": held["title"]}))
    [record], _ = pull_all(writer.device, cursor)
    assert record["fields"]["review_status"] == "resubmitted"


def test_after_a_restore_a_device_pulls_its_own_records_again(writer: Writer) -> None:
    """A restored record may be older than its writer's copy (a colleague's later edit was lost
    with the restore): the new epoch makes every record come back."""
    rid = str(uuid.uuid4())
    push(writer, writer.change("project", rid, {"title": "加装电梯"}, None))
    assert pull_all(writer.device)[0] == []
    migrations.new_epoch()
    [record], _ = pull_all(writer.device)
    assert record["id"] == rid
