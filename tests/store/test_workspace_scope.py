"""Every statement of a push and a pull names its workspace and nothing of another one
(docs/protocol.md section 10), so the data could be distributed by workspace.

SQLite's trace hook records each statement as run, with its parameters filled in (a bulk
insert shows once per row). Two workspaces hold records; a push of the first (new records, a
concern naming its visit's people, a second voice, an edit that conflicts with another device's
newer one) and a pull from its start must not show the second workspace's id or any of its
records' ids, and every statement on a workspace's tables must carry the first one's id.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from peewee import Database

from server import store
from tests.store.storekit import NOW, SKEW, Writer, make_device

WORKSPACE_TABLES = re.compile(r'\b(?:"?record"?|"?change"?|"?conflict"?|workspace_state)\b')
NOT_DATA = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@contextmanager
def traced(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []
    connection = db.connection()
    connection.set_trace_callback(statements.append)
    try:
        yield statements
    finally:
        connection.set_trace_callback(None)


def push(writer: Writer, *changes: dict) -> dict:
    return store.push(writer.device, writer.body(*changes), now_ms=NOW, max_skew_ms=SKEW)


def test_a_push_and_a_pull_touch_their_workspace_only(sqlite_db: Database) -> None:
    east = Writer(make_device("东湖街道"))
    colleague = Writer(make_device("东湖街道"), east.tick)
    west = Writer(make_device("西湖街道"), east.tick)
    theirs = [str(uuid.uuid4()) for _ in range(3)]
    push(west, *(west.change("visit", rid, {"kind": "phone", "title": "西"}, None)
                 for rid in theirs))  # fmt: skip
    place, person, shared = (str(uuid.uuid4()) for _ in range(3))
    push(east, east.change("place", place, {"kind": "shop", "name": "店"}, None),
         east.change("party", person, {"kind": "resident", "name": "王"}, None),
         east.change("project", shared, {"title": "加装电梯"}, None))  # fmt: skip
    held = store.get_record(east.device.workspace_id, shared)["stamps"]["title"]
    colleague.clock.observe(held)  # it pulled the project
    edited = push(
        colleague, colleague.change("project", shared, {"title": "电梯"}, {"title": held})
    )
    assert edited["applied"] == 1, edited["rejected"]
    visit, concern = str(uuid.uuid4()), str(uuid.uuid4())
    voices = [str(uuid.uuid4()) for _ in range(2)]
    support = {"subject_type": "concern", "subject_id": concern, "kind": "support",
               "party_id": person}  # fmt: skip
    with traced(sqlite_db) as statements:
        response = push(
            east,
            east.change("visit", visit, {"kind": "home_visit", "place_id": place,
                                         "party_ids": [person]}, None),
            east.change("concern", concern, {"title": "漏水", "category": "infrastructure",
                                             "visit_id": visit, "party_ids": [person],
                                             "party_id": person}, None),
            east.change("follow_up", voices[0], support, None),
            east.change("follow_up", voices[1], support, None),
            east.change("project", shared, {"title": "旧的"}, {"title": held}),
        )  # fmt: skip
        page = store.pull(east.device.workspace_id, None, 100, now_ms=NOW)
    assert response["applied"] == 5 and len(response["conflicts"]) == 1  # all paths ran
    assert response["rejected"] == []
    assert len(page["records"]) == 7
    foreign = [west.device.workspace_id, *theirs]
    ours = east.device.workspace_id
    for statement in statements:
        assert not any(name in statement for name in foreign), statement
        if statement.startswith(NOT_DATA) or not WORKSPACE_TABLES.search(statement):
            continue
        assert ours in statement, f"a statement does not name its workspace: {statement[:300]}"
    assert sum("workspace_state" in s for s in statements) >= 2  # the push's lock, the pull


def test_the_check_sees_a_statement_without_its_workspace(sqlite_db: Database) -> None:
    """The test above can fail: a lookup by id alone shows up (and so would one of the other
    workspace's rows)."""
    writer = Writer(make_device("东湖街道"))
    rid = str(uuid.uuid4())
    push(writer, writer.change("visit", rid, {"kind": "phone"}, None))
    with traced(sqlite_db) as statements:
        sqlite_db.execute_sql('SELECT id FROM "record" WHERE id = ?', (rid,)).fetchall()
    [statement] = [s for s in statements if WORKSPACE_TABLES.search(s)]
    assert writer.device.workspace_id not in statement and rid in statement
