"""``pull_json`` (each record rendered by the database) says exactly what ``pull`` says, on SQLite
and PostgreSQL: every page of every walk, whoever pulls, whatever the stored authors and times
hold (quotes, backslashes, control characters, Chinese, times with and without microseconds)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from peewee import Database

from server import store
from server.db import is_postgres
from server.errors import Unavailable
from tests.store.storekit import NOW, SKEW, Writer, make_device

NASTY = ['say "hi"', "back\\slash", "tab\tnew\nline\x01\x1f\x7f", "王代表", "\u2028é\U0001f600"]


def _push(writer: Writer, *changes: dict[str, Any]) -> None:
    response = store.push(writer.device, writer.body(*changes), now_ms=NOW, max_skew_ms=SKEW)
    assert response["rejected"] == []


def _workspace_of_three_writers(writer: Writer) -> tuple[list[str], Writer]:
    """Interleave two devices' new visits, a tombstone and an edit; return the record ids (in
    the order first written) and the other writer."""
    other = Writer(make_device(), writer.tick)
    ids = [str(uuid.uuid4()) for _ in range(10)]
    for n, rid in enumerate(ids):
        who = writer if n % 3 else other
        _push(who, who.change("visit", rid, {"kind": "home_visit", "title": f"走访 {n}"}, None))
    _push(other, other.change("visit", ids[4], {"_deleted": True}, None))
    return ids, other


def _walk(workspace_id: str, limit: int, device_id: str | None) -> list[tuple[dict, dict]]:
    """Every page from the start, as (pull_json's body parsed, pull's dict)."""
    pages, cursor = [], None
    while True:
        body = store.pull_json(workspace_id, cursor, limit, now_ms=NOW, device_id=device_id)
        page = store.pull(workspace_id, cursor, limit, now_ms=NOW, device_id=device_id)
        pages.append((json.loads(body), page))
        cursor = page["cursor"]
        if not page["more"]:
            return pages


def _no_nul(text: str | None) -> str | None:
    return None if text is None else text.replace("\x00", "")


def _stored_time(db: Database, value: dt.datetime | str) -> Any:
    """A time as the store keeps it: a datetime on PostgreSQL, its text on SQLite."""
    if is_postgres(db):
        return value
    return str(value) if isinstance(value, dt.datetime) else value


def test_every_page_is_the_same_for_every_puller(db: Database, writer: Writer) -> None:
    ids, other = _workspace_of_three_writers(writer)
    for device_id in (None, writer.device.id, other.device.id):
        for limit in (1, 3, 4, 50):
            pages = _walk(writer.device.workspace_id, limit, device_id)
            for as_json, as_dict in pages:
                assert as_json == as_dict

    def records(limit: int, device_id: str | None) -> list[dict]:
        pages = _walk(writer.device.workspace_id, limit, device_id)
        return [record for as_json, _ in pages for record in as_json["records"]]

    # Not vacuous: a writer's own records are left out of its pulls; the tombstone comes.
    everyone = records(50, None)
    assert sorted(r["id"] for r in everyone) == sorted(ids)
    assert len(records(3, writer.device.id)) < len(everyone)
    assert any(r["deleted"] for r in records(5, None))


def test_an_empty_workspace_and_a_page_past_the_end(db: Database, writer: Writer) -> None:
    [(as_json, as_dict)] = _walk(writer.device.workspace_id, 10, None)
    assert as_json == as_dict and as_json["records"] == [] and as_json["more"] is False
    _workspace_of_three_writers(writer)
    last = store.pull(writer.device.workspace_id, None, 50, now_ms=NOW)["cursor"]
    body = store.pull_json(writer.device.workspace_id, last, 50, now_ms=NOW)
    assert json.loads(body) == store.pull(writer.device.workspace_id, last, 50, now_ms=NOW)


texts = st.one_of(st.none(), st.sampled_from(NASTY), st.text(max_size=12))
times = st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31))
microseconds_or_not = st.one_of(times, times.map(lambda t: t.replace(microsecond=0)))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@example(
    authors=[(NASTY[0], NASTY[1]), (NASTY[2], None), (NASTY[3], NASTY[4])],
    moments=[(dt.datetime(2026, 1, 2, 3, 4, 5), dt.datetime(2026, 1, 2, 3, 4, 5, 60))],
    limit=2,
)
@given(
    authors=st.lists(st.tuples(texts, texts), min_size=1, max_size=10),
    moments=st.lists(st.tuples(microseconds_or_not, microseconds_or_not), min_size=1, max_size=10),
    limit=st.integers(1, 12),
)
def test_any_stored_author_and_time_reads_the_same(
    db: Database,
    writer: Writer,
    authors: list[tuple[str | None, str | None]],
    moments: list[tuple[dt.datetime, dt.datetime]],
    limit: int,
) -> None:
    """Authors and times are whatever the store wrote: quoted, escaped and rendered alike."""
    if is_postgres(db):  # PostgreSQL text cannot hold NUL, so the store never wrote one there
        authors = [(_no_nul(first), _no_nul(second)) for first, second in authors]
    ids = _seeded(writer)
    for n, rid in enumerate(ids):
        created_by, updated_by = authors[n % len(authors)]
        created_at, updated_at = moments[n % len(moments)]
        db.execute_sql(
            'UPDATE "record" SET created_by = ?, updated_by = ?, created_at = ?, updated_at = ?'
            " WHERE id = ?".replace("?", db.param),
            (created_by, updated_by, _stored_time(db, created_at), _stored_time(db, updated_at))
            + (rid,),
        )
    for as_json, as_dict in _walk(writer.device.workspace_id, limit, None):
        assert as_json == as_dict


def test_sqlite_times_of_any_text_read_the_same(sqlite_db: Database) -> None:
    """On SQLite a time is text: whatever text is there reads as ``iso_utc`` renders it."""
    writer = Writer(make_device())
    ids = _seeded(writer)
    odd = ["2026-01-02 03:04:05", "2026-01-02T03:04:05.000001", "短", "", 'x"\\\n 王代表 y']
    for rid, text in zip(ids, odd * 2, strict=False):
        sqlite_db.execute_sql('UPDATE "record" SET created_at = ? WHERE id = ?', (text, rid))
    for as_json, as_dict in _walk(writer.device.workspace_id, 3, None):
        assert as_json == as_dict


_SEEDED: dict[str, list[str]] = {}


def _seeded(writer: Writer) -> list[str]:
    """The test's records, written once per workspace (hypothesis runs many examples on one)."""
    key = writer.device.workspace_id
    if key not in _SEEDED:
        _SEEDED[key] = _workspace_of_three_writers(writer)[0]
    return _SEEDED[key]


def test_a_database_failure_mid_pull_is_unavailable_not_a_driver_error(
    db: Database, writer: Writer, database_url: str
) -> None:
    # PostgreSQL's page goes through its own binary cursor: its errors must be said like every
    # other statement's (503 unavailable), not escape as the driver's.
    _push(writer, writer.change("visit", str(uuid.uuid4()), {"kind": "home_visit"}, None))
    db.connect(reuse_if_open=True)
    if is_postgres(db):
        pid = db.connection().info.backend_pid
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
    else:
        db.execute_sql('DROP TABLE "record"')
    with pytest.raises(Unavailable):
        store.pull_json(writer.device.workspace_id, None, 10, now_ms=NOW)
