"""The record rules of sync/rules.py as the server applies them, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid

from server import store
from sync import Stamp
from sync.rules import FUTURE_MESSAGE, NOT_MET_MESSAGE, PRIMARY_MESSAGE
from tests.store.storekit import NOW, SKEW, Writer

CHINA = dt.timezone(dt.timedelta(hours=8))


def at(offset_ms: int) -> str:
    """An ISO time ``offset_ms`` after the test's now, as a device in China writes it."""
    return dt.datetime.fromtimestamp((NOW + offset_ms) / 1000, CHINA).isoformat()


def push(writer: Writer, *changes: dict) -> dict:
    return store.push(writer.device, writer.body(*changes), now_ms=NOW, max_skew_ms=SKEW)


def new_id() -> str:
    return str(uuid.uuid4())


def test_times_ahead_of_the_server_clock_beyond_the_skew_are_rejected(writer: Writer) -> None:
    soon, later, far = new_id(), new_id(), new_id()
    response = push(
        writer,
        writer.change("visit", soon, {"kind": "forum", "started_at": at(SKEW - 60_000)}, None),
        writer.change("visit", later, {"kind": "forum", "started_at": at(SKEW + 60_000)}, None),
        writer.change("follow_up", far, {"subject_type": "visit", "subject_id": soon,
                                         "kind": "note", "happened_at": "2099-01-01T00:00:00Z"},
                      None),
    )  # fmt: skip
    assert response["applied"] == 1
    assert [(r["id"], r["errors"]) for r in response["rejected"]] == [
        (later, {"started_at": [FUTURE_MESSAGE]}),
        (far, {"happened_at": [FUTURE_MESSAGE]}),
    ]
    assert store.get_record(writer.device.workspace_id, later) is None


def test_office_edits_get_the_same_rule(writer: Writer) -> None:
    ws, rid = writer.device.workspace_id, new_id()
    result = store.office_edit(
        ws, None, "concern", rid, {"title": "路灯不亮", "raised_on": "2099-01-01"}, {}, now_ms=NOW
    )
    assert result.rejected[0]["errors"] == {"raised_on": [FUTURE_MESSAGE]}
    assert store.get_record(ws, rid) is None


def test_a_concerns_people_must_be_met_in_its_visit(writer: Writer) -> None:
    ws = writer.device.workspace_id
    a, b, c, visit = new_id(), new_id(), new_id(), new_id()
    good, bad, unknown_visit = new_id(), new_id(), new_id()
    response = push(
        writer,
        writer.change("visit", visit, {"kind": "home_visit", "party_ids": [a, b]}, None),
        writer.change("concern", good, {"title": "楼道灯坏", "visit_id": visit,
                                        "party_ids": [a, b], "party_id": a}, None),
        writer.change("concern", bad, {"title": "漏水", "visit_id": visit, "party_ids": [c]},
                      None),
        writer.change("concern", unknown_visit, {"title": "噪音", "visit_id": new_id(),
                                                 "party_ids": [c]}, None),
    )  # fmt: skip
    assert [(r["id"], r["errors"]) for r in response["rejected"]] == [
        (bad, {"party_ids": [NOT_MET_MESSAGE]})
    ]
    assert store.get_record(ws, good)["fields"]["party_ids"] == [a, b]
    # a later edit is judged against the stored visit
    stamp = store.get_record(ws, good)["stamps"]["party_ids"]
    again = push(writer, writer.change("concern", good, {"party_ids": [c]}, {"party_ids": stamp}))
    assert again["rejected"][0]["errors"] == {
        "party_ids": [NOT_MET_MESSAGE],
        "party_id": [PRIMARY_MESSAGE],  # a was named first and is no longer among them
    }


def voice(concern: str, party: str | None) -> dict:
    fields = {"subject_type": "concern", "subject_id": concern, "kind": "support"}
    return fields | ({"party_id": party} if party else {})


def test_a_second_voice_of_one_person_is_absorbed_anonymous_ones_count(writer: Writer) -> None:
    ws, concern, person, other = writer.device.workspace_id, new_id(), new_id(), new_id()
    ids = [new_id() for _ in range(6)]
    first = push(
        writer,
        writer.change("concern", concern, {"title": "停车难"}, None),
        writer.change("follow_up", ids[0], voice(concern, person), None),
        writer.change("follow_up", ids[1], voice(concern, person), None),  # a double tap
        writer.change("follow_up", ids[2], voice(concern, None), None),
        writer.change("follow_up", ids[3], voice(concern, None), None),
    )
    second = push(
        writer,
        writer.change("follow_up", ids[4], voice(concern, person), None),  # another day
        writer.change("follow_up", ids[5], voice(concern, other), None),
    )
    assert (first["applied"], first["rejected"], second["applied"]) == (5, [], 2)
    deleted = {rid: store.get_record(ws, rid)["deleted"] for rid in ids}
    assert deleted == {ids[0]: False, ids[1]: True, ids[2]: False, ids[3]: False,
                       ids[4]: True, ids[5]: False}  # fmt: skip
    absorbed = store.get_record(ws, ids[4])
    # the server deleted it in its own name, after the device's write: every replica follows
    assert Stamp.node_of(absorbed["stamps"]["_deleted"]) != writer.device.id
    assert absorbed["stamps"]["_deleted"] > absorbed["stamps"]["kind"]
    # once the counted voice is deleted, the person may speak again
    base = store.get_record(ws, ids[0])["stamps"].get("_deleted")
    push(writer, writer.change("follow_up", ids[0], {"_deleted": True}, {"_deleted": base}))
    again = new_id()
    push(writer, writer.change("follow_up", again, voice(concern, person), None))
    assert store.get_record(ws, again)["deleted"] is False
