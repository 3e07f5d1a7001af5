"""A push writes what it has decided while it decides the rest (on PostgreSQL its rows go in
sends of ``engine.WRITE_EVERY`` changes): an id taken in another workspace is still rejected
whichever send it is in, and a write that fails in a later send leaves nothing of the batch,
on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid

import pytest
from peewee import Database

from server import store
from server.db import is_postgres
from server.errors import Unavailable
from server.models import Change, PushBatch, Record
from server.store import engine
from server.store.sql import read_state
from tests.store.storekit import SKEW, Writer, make_device

TAKEN = "this id is taken; the record needs another id"


@pytest.fixture(autouse=True)
def small_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sends of 3 changes, so a batch of 10 is written in four."""
    monkeypatch.setattr(engine, "WRITE_EVERY", 3)


def push(writer: Writer, body: dict) -> dict:
    return store.push(writer.device, body, now_ms=writer.tick.now, max_skew_ms=SKEW)


def visit(title: str = "入户走访") -> dict:
    return {"kind": "home_visit", "title": title}


def _stranger_record(writer: Writer) -> str:
    stranger = Writer(make_device("西湖街道"), writer.tick)
    theirs = str(uuid.uuid4())
    push(stranger, stranger.body(stranger.change("visit", theirs, visit("他们的"), None)))
    return theirs


@pytest.mark.parametrize("taken_at", [[7], [1, 8]])
def test_an_id_taken_in_a_later_send_is_rejected_and_the_rest_numbered_anew(
    writer: Writer, taken_at: list[int]
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(10)]
    for index in taken_at:
        ids[index] = _stranger_record(writer)
    body = writer.body(*(writer.change("visit", i, visit(), None) for i in ids))
    response = push(writer, body)
    assert response["applied"] == 10 - len(taken_at)
    assert [(r["index"], r["errors"]) for r in response["rejected"]] == [
        (index, {"id": [TAKEN]}) for index in taken_at
    ]
    workspace_id = writer.device.workspace_id
    mine = [i for n, i in enumerate(ids) if n not in taken_at]
    held = Record.select().where(Record.workspace == workspace_id).order_by(Record.seq)
    assert [(r.id, r.seq) for r in held] == [(i, n) for n, i in enumerate(mine, 1)]
    # each creation entry (on the record since schema version 11) numbered anew too
    assert [(r.id, r.created_seq) for r in held] == [(i, n) for n, i in enumerate(mine, 1)]
    assert not Change.select().where(Change.workspace == workspace_id).exists()
    assert read_state(Record._meta.database, workspace_id, lock=False).seq == len(mine)
    for index in taken_at:
        assert store.get_record(workspace_id, ids[index]) is None
    assert push(writer, body) == {**response, "replayed": True}


def _refuse_audit_rows_of(db: Database, record_id: str) -> None:
    """Make the database refuse the audit row of one record (a failure only it can see)."""
    if is_postgres(db):
        db.execute_sql(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            f" IF NEW.record_id = '{record_id}' THEN RAISE EXCEPTION 'refused'; END IF;"
            " RETURN NEW; END $$"
        )
        db.execute_sql(
            'CREATE TRIGGER refuse BEFORE INSERT ON "change"'
            " FOR EACH ROW EXECUTE FUNCTION refuse()"
        )
    else:
        db.execute_sql(
            f"CREATE TRIGGER refuse BEFORE INSERT ON \"change\" WHEN NEW.record_id = '{record_id}'"
            " BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )


def test_a_write_failing_in_a_later_send_leaves_nothing_of_the_batch(
    db: Database, writer: Writer
) -> None:
    first = str(uuid.uuid4())
    push(writer, writer.body(writer.change("visit", first, visit(), None)))
    ids = [str(uuid.uuid4()) for _ in range(10)]
    changes = [writer.change("visit", i, visit(), None) for i in ids]
    changes.append(writer.change("visit", first, visit("改"), None))
    body = writer.body(*changes)
    _refuse_audit_rows_of(db, first)  # the last change: new records write no audit row
    with pytest.raises(Unavailable):
        push(writer, body)
    workspace_id = writer.device.workspace_id
    assert [r.id for r in Record.select()] == [first]
    assert store.get_record(workspace_id, first)["fields"]["title"] == "入户走访"
    assert Change.select().count() == 0 and PushBatch.select().count() == 1
    assert read_state(db, workspace_id, lock=False).seq == 1
    db.execute_sql('DROP TRIGGER refuse ON "change"' if is_postgres(db) else "DROP TRIGGER refuse")
    response = push(writer, body)
    assert "replayed" not in response and response["applied"] == 11
