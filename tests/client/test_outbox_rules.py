"""The outbox rules of ``field_client.store.outbox`` (one row per record, tagged with its batch),
checked against the former per-field outbox they replace, and against a server that applies
what it is sent: edits, batches built while others are out, answers, refusals and releases in
any order (hypothesis), and a few cases written out."""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from field_client.store import LocalStore, outbox
from tests.client.conftest import enrolled_store
from tests.clock import ManualClock

RECORDS = 3
STATUSES = ("new", "accepted", "in_progress", "referred")


class FormerOutbox:
    """The per-field outbox as it was: one entry per (record, field), latest value and stamp,
    the base of the first unpushed edit; an answered batch drops the entries it carried unless
    edited since (a later stamp)."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], dict[str, Any]] = {}

    def edit(self, rid: str, field: str, value: Any, stamp: str, held: str | None) -> None:
        entry = self.entries.get((rid, field))
        if entry is None:
            self.entries[rid, field] = {"value": value, "stamp": stamp, "base": held}
        else:
            entry["value"], entry["stamp"] = value, stamp

    def answered(self, body: dict[str, Any]) -> None:
        for change in body["changes"]:
            for field, write in outbox.writes_of(change).items():
                entry = self.entries.get((change["id"], field))
                if entry is not None and entry["stamp"] == write["stamp"]:
                    del self.entries[change["id"], field]

    def view(self) -> dict[tuple[str, str], tuple[Any, str, str | None]]:
        return {k: (e["value"], e["stamp"], e["base"]) for k, e in self.entries.items()}


def outbox_view(store: LocalStore) -> dict[tuple[str, str], tuple[Any, str, str | None]]:
    return {(e["id"], e["field"]): (e["value"], e["stamp"], e["base"]) for e in store.pending()}


def unpack(body: bytes) -> dict[str, Any]:
    return dict(json.loads(gzip.decompress(body)))


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("edit"), st.integers(0, RECORDS - 1), st.sampled_from(STATUSES)),
        st.tuples(st.just("title"), st.integers(0, RECORDS - 1), st.just("")),
        st.tuples(st.just("build"), st.integers(1, RECORDS), st.just("")),
        st.tuples(st.just("answer"), st.just(0), st.just("")),
        st.tuples(st.just("refuse"), st.just(0), st.just("")),
        st.tuples(st.just("resend"), st.just(0), st.just("")),
        st.tuples(st.just("release"), st.just(0), st.just("")),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
# A title refused after its record's first version was accepted: the server keeps the first
# title and the device the refused one, for the user to fix.
@example(
    [("build", 3, ""), ("answer", 0, ""), ("title", 0, ""), ("build", 1, ""), ("refuse", 0, "")]
)
def test_the_outbox_keeps_every_edit_as_the_former_outbox_did(ops):
    with tempfile.TemporaryDirectory() as tmp:
        clock = ManualClock()
        store = enrolled_store(Path(tmp) / "device", clock)
        try:
            run(store, clock, ops)
        finally:
            store.close()


def assert_wire_says_what_writes_say(store: LocalStore) -> None:
    """Each row's change as sent is its writes, in the compact form when they share a stamp."""
    for writes, wire in store.db.execute_sql("SELECT writes, wire FROM outbox"):
        change = json.loads(wire)
        assert outbox.writes_of(change) == json.loads(writes)
        assert ("set" in change) == (len({w["stamp"] for w in json.loads(writes).values()}) > 1)


def run(store: LocalStore, clock: ManualClock, ops: list[tuple[str, int, str]]) -> None:
    former = FormerOutbox()
    server: dict[tuple[str, str], Any] = {}  # what a server that took every write would hold
    out: list[tuple[str, bytes]] = []  # built and not answered, oldest first
    refused_last: dict[tuple[str, str], Any] = {}  # refused writes no later write replaced
    ids = []
    for n in range(RECORDS):
        rid = store.create("concern", {"title": f"诉求{n}"})
        stamp = store.get("concern", rid)["stamps"]["title"]
        former.edit(rid, "title", f"诉求{n}", stamp, None)
        ids.append(rid)
    count = 0
    for op, index, value in ops:
        clock.advance(0.001)
        count += 1
        if op in ("edit", "title"):
            rid = ids[index]
            field, value = ("status", value) if op == "edit" else ("title", f"改{count}")
            held = store.get("concern", rid)["stamps"].get(field)
            if store.update("concern", rid, {field: value}):
                former.edit(rid, field, value, store.get("concern", rid)["stamps"][field], held)
        elif op == "build":
            before = outbox_view(store)
            batch = store.next_batch_wire(index, skip=[b[0] for b in out])
            if batch is None:
                assert all(b for b in [e["batch_id"] for e in store.pending()])
                continue
            assert batch[0] not in [b[0] for b in out]
            body = unpack(batch[1])
            assert body["batch_id"] == batch[0] and len(body["changes"]) <= index
            for change in body["changes"]:  # each write as the former outbox held it then
                for field, write in outbox.writes_of(change).items():
                    assert before[change["id"], field] == (
                        write["value"],
                        write["stamp"],
                        write["base"],
                    )
            out.append(batch)
        elif op == "resend" and out:
            assert store.next_batch_wire(RECORDS) == out[0]  # same id, same bytes
        elif op in ("answer", "refuse") and out:
            batch_id, body_bytes = out.pop(0)
            body = unpack(body_bytes)
            refused = op == "refuse" and body["changes"]
            answer = {"batch_id": batch_id, "conflicts": [], "rejected": []}
            if refused:
                answer["rejected"] = [{"index": 0, "errors": {"title": ["refused"]}}]
            store.apply_push_response(batch_id, answer)
            for number, change in enumerate(body["changes"]):
                for field, write in outbox.writes_of(change).items():
                    if refused and number == 0:
                        refused_last[change["id"], field] = write["value"]
                    else:
                        server[change["id"], field] = write["value"]
                        refused_last.pop((change["id"], field), None)
            former.answered(body)
            if refused:  # the refused change is kept for the user, not lost
                rejected = store.rejected()[0]
                assert rejected["record_id"] == body["changes"][0]["id"]
        elif op == "release":
            before = {k: (v[0], v[2]) for k, v in outbox_view(store).items()}
            with store.write():
                outbox.release_batches(store.db)
            out.clear()
            assert {k: (v[0], v[2]) for k, v in outbox_view(store).items()} == before
            assert store.db.execute_sql("SELECT COUNT(*) FROM push_batch").fetchone()[0] == 0
            counts = store.db.execute_sql(
                "SELECT COUNT(*), COUNT(DISTINCT record_id) FROM outbox"
            ).fetchone()
            assert counts[0] == counts[1]  # one row per record again
        assert outbox_view(store) == former.view()
        assert_wire_says_what_writes_say(store)
        one_open = store.db.execute_sql(
            "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM outbox WHERE batch IS NULL"
            " GROUP BY record_id)"
        ).fetchone()[0]
        assert one_open in (None, 1)
    # Finally everything is sent and answered: nothing pending, and the server holds every
    # field's latest value (a refused change excepted, kept for the user to fix).
    while out:
        batch_id, body_bytes = out.pop(0)
        store.apply_push_response(batch_id, {"conflicts": [], "rejected": []})
        for change in unpack(body_bytes)["changes"]:
            for field, write in outbox.writes_of(change).items():
                server[change["id"], field] = write["value"]
                refused_last.pop((change["id"], field), None)
    while (batch := store.next_batch_wire(RECORDS)) is not None:
        store.apply_push_response(batch[0], {"conflicts": [], "rejected": []})
        for change in unpack(batch[1])["changes"]:
            for field, write in outbox.writes_of(change).items():
                server[change["id"], field] = write["value"]
                refused_last.pop((change["id"], field), None)
    assert store.pending() == [] and store.pending_count() == 0
    # The device holds every field's latest value; the server holds it too, unless the latest
    # write of that field was refused (kept on the device for the user to fix).
    for rid in ids:
        record = store.get("concern", rid)
        for field, value in record["fields"].items():
            if (rid, field) in refused_last:
                assert refused_last[rid, field] == value, (rid, field)
            else:
                assert server[rid, field] == value, (rid, field)


def test_an_edit_while_the_row_is_out_opens_a_second_row_acknowledged_apart(store, clock):
    cid = store.create("concern", {"title": "路灯不亮"})
    first_stamp = store.get("concern", cid)["stamps"]["title"]
    batch_id, _ = store.next_batch_wire()
    clock.advance(1)
    store.update("concern", cid, {"title": "路灯不亮了", "status": "accepted"})
    rows = store.db.execute_sql(
        "SELECT batch, writes FROM outbox WHERE record_id = ? ORDER BY id", (cid,)
    ).fetchall()
    assert [r[0] for r in rows] == [batch_id, None]
    second = json.loads(rows[1][1])
    assert second["title"]["base"] is None  # the base of the first unpushed edit
    assert second["status"]["base"] is None
    # the next batch is built while the first is out, and carries the second row only
    next_id, body = store.next_batch_wire(skip=[batch_id])
    assert next_id != batch_id
    changes = unpack(body)["changes"]
    assert [outbox.writes_of(c)["title"]["value"] for c in changes] == ["路灯不亮了"]
    store.apply_push_response(batch_id, {"conflicts": [], "rejected": []})
    assert store.db.execute_sql("SELECT batch FROM outbox").fetchall() == [(next_id,)]
    store.apply_push_response(next_id, {"conflicts": [], "rejected": []})
    assert store.pending() == []
    assert store.get("concern", cid)["stamps"]["title"] > first_stamp


def test_acknowledging_a_batch_is_one_delete_by_batch(store):
    for n in range(5):
        store.create("concern", {"title": f"诉求{n}"})
    batch_id, _ = store.next_batch_wire()
    statements: list[str] = []
    store.db.connection().set_trace_callback(statements.append)
    try:
        store.apply_push_response(batch_id, {"conflicts": [], "rejected": []})
    finally:
        store.db.connection().set_trace_callback(None)
    outbox_statements = [s for s in statements if "outbox" in s]
    assert outbox_statements == [f"DELETE FROM outbox WHERE batch = '{batch_id}'"]
    assert store.pending_count() == 0


def test_a_row_from_before_schema_4_is_sent_as_one_written_since(store, clock):
    """A device upgraded with edits pending has rows with no ``wire``: a batch makes it."""
    first = store.create("concern", {"title": "路灯不亮"})
    clock.advance(1)
    store.update("concern", first, {"status": "accepted"})  # two stamps: the long form
    store.create("concern", {"title": "井盖松动"})  # one stamp: the compact form
    assert_wire_says_what_writes_say(store)
    with store.write():
        expected = store.db.execute_sql("SELECT wire FROM outbox ORDER BY id").fetchall()
        store.db.execute_sql("UPDATE outbox SET wire = NULL")
    _, body = store.next_batch_wire()
    changes = unpack(body)["changes"]
    assert [{k: v for k, v in c.items() if k not in ("type", "id")} for c in changes] == [
        json.loads(wire) for (wire,) in expected
    ]
    assert ["set" in c for c in changes] == [True, False]


def test_the_compact_form_goes_only_to_a_server_that_said_it_takes_it(tmp_path, clock):
    """A device updated before its office server sends the long form, which every server takes,
    until an answer says ``"compact": true`` (docs/protocol.md section 5)."""
    store = enrolled_store(tmp_path / "device", clock)
    with store.write():  # enrolled by a server from before the compact form: it said nothing
        store.db.execute_sql("UPDATE device_state SET server_compact = 0")
    store.create("concern", {"title": "路灯不亮"})
    batch_id, body = store.next_batch_wire()
    [change] = unpack(body)["changes"]
    assert set(change) == {"type", "id", "set"}
    store.apply_push_response(batch_id, {"conflicts": [], "rejected": []})  # an older server
    store.create("concern", {"title": "井盖松动"})
    batch_id, body = store.next_batch_wire()
    assert [set(c) for c in unpack(body)["changes"]] == [{"type", "id", "set"}]
    store.apply_push_response(batch_id, {"conflicts": [], "rejected": [], "compact": True})
    store.create("concern", {"title": "楼道照明"})
    _, body = store.next_batch_wire()
    [change] = unpack(body)["changes"]
    assert set(change) == {"type", "id", "stamp", "values"}


def test_a_batch_is_each_rows_change_as_sent_up_to_the_most_a_body_holds(store, monkeypatch):
    """SQLite makes a batch's changes from each row's ``wire`` (``BUILT_CHANGES``): the very
    bytes ``outbox.change_bytes`` makes; a batch stops before its body would pass
    ``MAX_BATCH_BYTES``, but always takes one change."""
    from field_client.store import replica

    for title in ("路灯不亮", "井盖松动", "楼道照明"):
        store.create("concern", {"title": title, "description": "井" * 100})
    rows = store.db.execute_sql("SELECT record_type, record_id, wire FROM outbox ORDER BY id")
    parts = [outbox.change_bytes(rtype, rid, wire) for rtype, rid, wire in rows]
    monkeypatch.setattr(replica, "MAX_BATCH_BYTES", len(parts[0]) + len(parts[1]) + 2)
    batch_id, body = store.next_batch_wire()
    assert gzip.decompress(body).endswith(b'"changes":[' + b",".join(parts[:2]) + b"]}")
    store.apply_push_response(batch_id, {"conflicts": [], "rejected": [], "compact": True})
    monkeypatch.setattr(replica, "MAX_BATCH_BYTES", 10)
    _, body = store.next_batch_wire()
    assert gzip.decompress(body).endswith(b'"changes":[' + parts[2] + b"]}")
    assert store.pending_count() == 1
