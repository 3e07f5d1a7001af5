"""No echo (docs/protocol.md section 6): a device's pull leaves out the records whose latest change
is its own accepted write, and brings every record whose state it does not hold, on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from peewee import Database

from server import migrations, store
from server.models import Device
from server.store.reads import _SCAN
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
    # Its next own edit comes back too: the record holds a change that was not the device's
    # (the server cannot tell whether the device had pulled it before it wrote).
    push(writer, writer.change("project", rid, {"progress": 20}, {"progress": None}))
    [record], _ = pull_all(writer.device, cursor)
    assert record["fields"]["progress"] == 20


def test_an_edit_on_a_change_not_yet_pulled_comes_back_across_pages(writer: Writer) -> None:
    """The device holds a project, a colleague sets its status, then more records come; the
    device, not having pulled them, edits the project's progress, and pulls in pages of one.
    The pages pass the number of the colleague's change before they reach the device's edit,
    so "the previous change is at or below the page's cursor" does not mean the device held
    it: the record must come back (it was left out before, and the device never saw the
    status)."""
    other = Writer(make_device(), writer.tick)
    rid = str(uuid.uuid4())
    push(other, other.change("project", rid, {"title": "加装电梯"}, None))
    _, cursor = pull_all(writer.device)
    held = store.get_record(writer.device.workspace_id, rid)["stamps"]
    push(other, other.change("project", rid, {"status": "approved"}, {"status": None}))
    later = [str(uuid.uuid4()) for _ in range(3)]
    push(other, *(other.change("visit", v, visit(), None) for v in later))
    bases = {"progress": held.get("progress")}
    push(writer, writer.change("project", rid, {"progress": 10}, bases))
    records, _ = pull_all(writer.device, cursor, limit=1)
    assert [r["id"] for r in records] == [*later, rid]
    assert records[-1]["fields"]["status"] == "approved"


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


# -- property: left-out rows cost no page, and nothing is skipped --------------------------------

NAMES = ["title", "status", "progress"]
PICKS: dict[str, list[Any]] = {
    "title": ["修路", "装灯", "清淤"],
    "status": ["proposed", "approved", "completed"],
    "progress": [0, 50, 100],
}
Held = dict[str, dict[str, tuple[Any, str]]]


@dataclass
class Puller:
    """The pulling device: what it holds of each record (value and stamp per field), what it
    wrote itself and its cursor. Its pushes are answered at once, so it never holds an unpushed
    edit and a pulled record simply replaces its copy."""

    writer: Writer
    held: Held = field(default_factory=dict)
    cursor: str | None = None

    def page(self, limit: int, as_json: bool) -> bool:
        """Pull one page; return ``more``."""
        device = self.writer.device
        args = (device.workspace_id, self.cursor, limit)
        if as_json:
            page = json.loads(store.pull_json(*args, now_ms=NOW, device_id=device.id))
        else:
            page = store.pull(*args, now_ms=NOW, device_id=device.id)
        assert len(page["records"]) <= limit
        seqs = [r["meta"]["seq"] for r in page["records"]]
        before = decode_cursor(self.cursor)[1] if self.cursor else 0
        after = decode_cursor(page["cursor"])[1]
        assert seqs == sorted(set(seqs)) and all(before < s <= after for s in seqs)
        if page["more"] and len(seqs) < limit:  # the range ended, and the cursor with it
            assert after == before + _SCAN * limit
        for record in page["records"]:
            self.held[record["id"]] = _state_of(record)
        self.cursor = page["cursor"]
        return bool(page["more"])

    def pull(self, limit: int, as_json: bool) -> None:
        while self.page(limit, as_json):
            pass


def _state_of(record: dict[str, Any]) -> dict[str, tuple[Any, str]]:
    return {name: (record["fields"].get(name), stamp) for name, stamp in record["stamps"].items()}


def _server(workspace_id: str) -> Held:
    page = store.pull(workspace_id, None, 5000, now_ms=NOW)
    assert page["more"] is False
    return {record["id"]: _state_of(record) for record in page["records"]}


writes = st.tuples(st.sampled_from(NAMES), st.integers(0, 2))
steps = st.one_of(
    st.tuples(st.just("new"), st.sampled_from(["me", "other"]), st.integers(1, 45)),
    st.tuples(st.just("edit"), st.sampled_from(["me", "other", "office"]), st.integers(0, 99),
              writes),
    st.tuples(st.just("pull"), st.integers(1, 3), st.booleans()),
    st.tuples(st.just("page"), st.integers(1, 3), st.booleans()),
)  # fmt: skip


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=st.lists(steps, max_size=25))
@example(plan=[("new", "me", 45), ("page", 1, False), ("new", "other", 1), ("pull", 2, True)])
@example(plan=[("new", "other", 1), ("pull", 1, False), ("edit", "other", 0, ("status", 1)),
               ("new", "other", 3), ("edit", "me", 0, ("progress", 2)),
               ("pull", 1, False)])  # fmt: skip
def test_a_pull_leaves_out_only_what_the_device_holds(db: Database, plan: list[tuple]) -> None:
    """The pulling device, a colleague and the office write at random (new records in batches
    larger than a page's range, so pages pass whole ranges of left-out rows); the device pulls
    whole or in single pages with limits of 1-3, as data or as the wire's bytes. Each page
    holds at most ``limit`` records, in order, within the cursor's move; afterwards the device
    pulls to the end and holds exactly what the server holds (a skipped row, or a row left out
    that the device did not hold, fails it)."""
    workspace = f"东湖街道 {uuid.uuid4().hex[:8]}"  # a workspace (and sequence) per example
    me = Puller(Writer(make_device(workspace)))
    other = Writer(make_device(workspace), me.writer.tick)
    ids: list[str] = []
    for op, *rest in plan:
        me.writer.tick.now += 1
        if op == "new":
            who, count = rest
            writer = me.writer if who == "me" else other
            new = [str(uuid.uuid4()) for _ in range(count)]
            changes = [writer.change("project", rid, {"title": "修路"}, None) for rid in new]
            push(writer, *changes)
            ids += new
            if who == "me":
                for change in changes:
                    stamp = change["set"]["title"]["stamp"]
                    me.held[change["id"]] = {"title": ("修路", stamp)}
        elif op == "edit" and ids:
            who, index, (name, pick) = rest
            rid, value = ids[index % len(ids)], PICKS[name][pick]
            held = store.get_record(me.writer.device.workspace_id, rid)["stamps"]
            if who == "office":
                edited = store.office_edit(
                    me.writer.device.workspace_id, None, "project", rid, {name: value},
                    {name: held.get(name)}, now_ms=NOW,
                )  # fmt: skip
                assert edited.ok
                for writer in (me.writer, other):
                    writer.clock.observe(edited.stamp)
            elif who == "other":
                push(other, other.change("project", rid, {name: value}, {name: held.get(name)}))
            else:  # on what the device holds, which may be older than the server's
                mine = me.held.get(rid, {}).get(name)
                change = me.writer.change("project", rid, {name: value},
                                          {name: mine[1] if mine else None})  # fmt: skip
                store.push(me.writer.device, me.writer.body(change), now_ms=NOW,
                           max_skew_ms=SKEW)  # fmt: skip
                me.held.setdefault(rid, {})[name] = (value, change["set"][name]["stamp"])
        elif op == "pull":
            me.pull(*rest)
        elif op == "page":
            me.page(*rest)
    me.pull(2, as_json=False)
    assert me.held == _server(me.writer.device.workspace_id)
