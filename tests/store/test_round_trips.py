"""On PostgreSQL a pull page (its transaction, the planner settings, the page, the state) is one
round trip to the server, and a push three, whatever its size: its lock and first reads, its
writes, its COMMIT; a page or a push whose statement fails is said as unavailable, writes
nothing and leaves its pooled connection out of any transaction, ready for the next request.
"""

from __future__ import annotations

import functools
import tempfile
import uuid
from collections.abc import Callable

import psycopg
import pytest
from peewee import Database

from server import store
from server.errors import Unavailable
from server.store import engine
from tests.store.storekit import NOW, SKEW, Writer, make_device

pytestmark = pytest.mark.postgres


def _waits_for_the_server(db: Database, run: Callable[[], object]) -> int:
    """How many times ``run`` waits for the server (libpq's trace: the client asks for every
    answer so far with a Sync message, or with a Flush inside a pipeline (psycopg sends one
    after each Sync too, not counted), or sends a statement without parameters as a Query)."""
    connection = db.connection()
    with tempfile.TemporaryFile("w+") as trace:
        connection.pgconn.trace(trace.fileno())
        try:
            run()
        finally:
            connection.pgconn.untrace()
        trace.seek(0)
        sent = [part[3] for line in trace if (part := line.rstrip("\n").split("\t"))[1] == "F"]
        return sum(
            1
            for before, message in zip(["", *sent], sent, strict=False)
            if message in ("Sync", "Query") or (message == "Flush" and before != "Sync")
        )


def _visits(writer: Writer, count: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(count)]
    body = writer.body(*(writer.change("visit", i, {"kind": "phone"}, None) for i in ids))
    store.push(writer.device, body, now_ms=NOW, max_skew_ms=SKEW)
    return ids


def _edit(writer: Writer, ids: list[str], title: str) -> dict:
    body = writer.body(*(writer.change("visit", i, {"title": title}, None) for i in ids))
    return store.push(writer.device, body, now_ms=NOW, max_skew_ms=SKEW)


def test_a_pull_page_is_one_round_trip(pg_db: Database) -> None:
    writer = Writer(make_device())
    _visits(writer, 3)
    workspace_id = writer.device.workspace_id
    pull = functools.partial(store.pull_json, workspace_id, None, 100, now_ms=NOW)
    assert _waits_for_the_server(pg_db, pull) == 1


def test_a_push_is_three_round_trips_whatever_its_size(pg_db: Database) -> None:
    writer = Writer(make_device())
    ids = _visits(writer, 10)
    # BEGIN, the locked state, the replay lookup, the records; the writes; COMMIT
    assert _waits_for_the_server(pg_db, lambda: _edit(writer, ids, "改")) == 3
    # new records, with references the workspace holds, sent in several pieces
    place = _visits(writer, 1)[0]
    body = writer.body(*(
        writer.change("visit", str(uuid.uuid4()), {"kind": "phone", "place_id": place}, None)
        for _ in range(engine.WRITE_EVERY * 2 + 1)
    ))  # fmt: skip
    push = functools.partial(store.push, writer.device, body, now_ms=NOW, max_skew_ms=SKEW)
    assert _waits_for_the_server(pg_db, push) == 3


def test_a_failed_write_of_a_push_writes_nothing(pg_db: Database, postgres_url: str) -> None:
    writer = Writer(make_device())
    ids = _visits(writer, 2)
    pg_db.execute_sql("SET lock_timeout = '50ms'")
    with psycopg.connect(postgres_url) as other:
        other.execute("LOCK TABLE push_batch IN EXCLUSIVE MODE")  # reads pass, writes wait
        with pytest.raises(Unavailable):
            _edit(writer, ids, "改")
        assert pg_db.connection().info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert store.get_record(writer.device.workspace_id, ids[0])["fields"] == {"kind": "phone"}
    assert _edit(writer, ids, "改")["applied"] == 2


def test_a_push_failing_at_its_first_statement_leaves_no_transaction_open(
    pg_db: Database, postgres_url: str
) -> None:
    writer = Writer(make_device())
    ids = _visits(writer, 2)
    pg_db.execute_sql("SET lock_timeout = '50ms'")
    with psycopg.connect(postgres_url) as other:
        other.execute(
            "SELECT 1 FROM workspace_state WHERE workspace_id = %s FOR UPDATE",
            (writer.device.workspace_id,),
        )
        with pytest.raises(Unavailable):
            _edit(writer, ids, "改")
        assert pg_db.connection().info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert _edit(writer, ids, "改")["applied"] == 2


def test_a_failed_page_leaves_no_transaction_open(pg_db: Database, postgres_url: str) -> None:
    device = make_device()
    pg_db.execute_sql("SET lock_timeout = '50ms'")
    with psycopg.connect(postgres_url) as other:
        other.execute('LOCK TABLE "record" IN ACCESS EXCLUSIVE MODE')
        with pytest.raises(Unavailable):
            store.pull_json(device.workspace_id, None, 100, now_ms=NOW)
        assert pg_db.connection().info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    page = store.pull_json(device.workspace_id, None, 100, now_ms=NOW)
    assert page.startswith(b'{"records":[]')
