"""The store's bulk insert (``store.sql.insert_rows``) and id lists (``ids_clause``), on SQLite
and PostgreSQL: every kind of value arrives as given (NULLs, JSON text with quotes, backslashes
and Chinese, times, big numbers), whatever the number of rows; an ``ON CONFLICT`` suffix counts
only the rows written; an id list finds exactly its ids, whatever characters they hold."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from peewee import Database

from server.models import Change, Device, Record
from server.store.sql import db_time, ids_clause, insert_rows, sql_for
from tests.store.storekit import make_device

COLUMNS = (
    "id", "workspace_id", "type", "fields", "stamps", "deleted", "seq",
    "created_at", "created_by", "updated_at", "updated_by", "updated_device", "echo_after",
)  # fmt: skip
MOMENT = dt.datetime(2026, 3, 1, 9, 30, 15, 123000)
AWKWARD = {"title": '引号 " 和反斜杠 \\ 和 \\" 与 {花括号} , NULL', "note": "", "n": 2**40}


def record_row(workspace_id: str, n: int, **values: Any) -> tuple[Any, ...]:
    row = {
        "id": str(uuid.uuid4()), "workspace_id": workspace_id, "type": "visit",
        "fields": json.dumps({**AWKWARD, "n": n}, ensure_ascii=False), "stamps": "{}",
        "deleted": n % 2 == 1, "seq": 2**40 + n, "created_at": MOMENT, "created_by": None,
        "updated_at": MOMENT, "updated_by": None, "updated_device": None, "echo_after": None,
        **values,
    }  # fmt: skip
    return tuple(row[c] for c in COLUMNS)


def stored(ids: list[str]) -> dict[str, tuple[Any, ...]]:
    query = Record.select(*[getattr(Record, c) for c in COLUMNS]).where(Record.id.in_(ids))
    return {r[0]: r for r in query.tuples()}


def as_stored(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A row as Record reads it back (times as datetimes, booleans as bool)."""
    values = dict(zip(COLUMNS, row, strict=True))
    for name in ("created_at", "updated_at"):
        values[name] = MOMENT
    values["deleted"] = bool(values["deleted"])
    return tuple(values[c] for c in COLUMNS)


@pytest.mark.parametrize("count", [1, 1000])
def test_rows_arrive_as_given(db: Database, device: Device, count: int) -> None:
    rows = [record_row(device.workspace_id, n) for n in range(count)]
    rows[0] = record_row(
        device.workspace_id, 0, created_by="用户-1", updated_by="u", updated_device="d",
        echo_after=0, fields=json.dumps(AWKWARD),  # \\u escapes, not Chinese
    )  # fmt: skip
    assert insert_rows(db, "record", COLUMNS, rows) == count
    back = stored([r[0] for r in rows])
    assert [back[r[0]] for r in rows] == [as_stored(r) for r in rows]
    assert json.loads(back[rows[0][0]][3]) == AWKWARD


def test_a_column_of_nulls_only(db: Database, device: Device) -> None:
    rows = [record_row(device.workspace_id, n) for n in range(3)]
    insert_rows(db, "record", COLUMNS, rows)
    back = stored([r[0] for r in rows])
    assert {(r[8], r[10], r[11], r[12]) for r in back.values()} == {(None, None, None, None)}


@pytest.mark.parametrize("deleted", [True, False])
def test_columns_of_one_value_arrive_as_given(db: Database, device: Device, deleted: bool) -> None:
    """On SQLite a column that holds one value in every row goes in the statement's text."""
    quoted = "O'Brien ''的'' \\ \" ; DROP TABLE record; --"
    fields = json.dumps({**AWKWARD, "q": quoted}, ensure_ascii=False)
    same = {
        "fields": fields, "stamps": quoted, "deleted": deleted, "seq": 2**62 + 1,
        "created_by": "O'B ''的'' \\ --", "updated_by": "", "echo_after": -(2**62),
    }  # fmt: skip
    rows = [record_row(device.workspace_id, n, **same) for n in range(3)]
    assert insert_rows(db, "record", COLUMNS, rows) == 3
    back = stored([r[0] for r in rows])
    assert [back[r[0]] for r in rows] == [as_stored(r) for r in rows]
    assert json.loads(back[rows[0][0]][3])["q"] == quoted


def test_on_conflict_do_nothing_counts_the_rows_written(db: Database, device: Device) -> None:
    taken = record_row(device.workspace_id, 0)
    insert_rows(db, "record", COLUMNS, [taken])
    other = make_device("西湖街道").workspace_id  # its id is taken by the first workspace
    rows = [record_row(other, 1), taken, record_row(other, 2)]
    assert insert_rows(db, "record", COLUMNS, rows, " ON CONFLICT (id) DO NOTHING") == 2
    assert len(stored([r[0] for r in rows])) == 3


def test_on_conflict_do_update_writes_the_new_values(db: Database, device: Device) -> None:
    first = record_row(device.workspace_id, 0)
    insert_rows(db, "record", COLUMNS, [first])
    again = record_row(device.workspace_id, 7, id=first[0], echo_after=5)
    suffix = (
        " ON CONFLICT (id) DO UPDATE SET fields = excluded.fields, seq = excluded.seq,"
        " echo_after = excluded.echo_after"
    )
    assert insert_rows(db, "record", COLUMNS, [again], suffix) == 1
    back = stored([first[0]])[first[0]]
    assert (json.loads(back[3])["n"], back[6], back[12]) == (7, 2**40 + 7, 5)


def test_nothing_to_insert_sends_nothing(db: Database) -> None:
    assert insert_rows(db, "record", COLUMNS, []) == 0


def test_rows_of_a_table_with_a_generated_key_keep_their_order(
    db: Database, device: Device
) -> None:
    columns = ("workspace_id", "record_id", "record_type", "seq", "at", "user_id", "device_id",
               "source", "diff")  # fmt: skip
    now = db_time(db, 1_780_000_000_000)
    rows = [
        (device.workspace_id, f"r{n}", "visit", n, now, None, device.id, "push", '{"a":"\\""}')
        for n in range(50)
    ]
    assert insert_rows(db, "change", columns, rows) == 50
    order = [c.record_id for c in Change.select().order_by(Change.id)]
    assert order == [f"r{n}" for n in range(50)]
    assert {c.diff for c in Change.select()} == {'{"a":"\\""}'}


@pytest.mark.parametrize("count", [1, 1000])
def test_an_id_list_finds_exactly_its_ids(db: Database, device: Device, count: int) -> None:
    awkward = ['a"b', "c,d", "{e}", "NULL", "f\\g", " h ", "走访"]
    ids = [*awkward, *(str(uuid.uuid4()) for _ in range(count))][:count]
    rows = [record_row(device.workspace_id, n, id=rid) for n, rid in enumerate(ids)]
    insert_rows(db, "record", COLUMNS, [*rows, record_row(device.workspace_id, -1)])
    clause, param = ids_clause(db, "id", ids)
    found = db.execute_sql(sql_for(db, f'SELECT id FROM "record" WHERE {clause}'), (param,))
    assert sorted(r[0] for r in found.fetchall()) == sorted(ids)
    clause, param = ids_clause(db, "id", [])
    none = db.execute_sql(sql_for(db, f'SELECT id FROM "record" WHERE {clause}'), (param,))
    assert none.fetchall() == []
