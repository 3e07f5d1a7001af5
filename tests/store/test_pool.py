"""The PostgreSQL connection pool (``server.db.PostgresqlPool``): a connection back from a
request moments ago is reused without a round trip; one idle longer is checked first; a
connection that broke unseen fails one request and is not put back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from peewee import OperationalError

from server.db import PostgresqlPool, make_database

pytestmark = pytest.mark.postgres


@pytest.fixture
def pool(postgres_url: str) -> Iterator[PostgresqlPool]:
    db = make_database(postgres_url)
    assert isinstance(db, PostgresqlPool)
    yield db
    db.close_all()


@pytest.fixture
def checks(pool: PostgresqlPool, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The connections the pool checked with a round trip."""
    seen: list[Any] = []
    check = pool._adapter.is_connection_closed

    def counting(conn: Any) -> bool:
        seen.append(conn)
        return bool(check(conn))

    monkeypatch.setattr(pool._adapter, "is_connection_closed", counting)
    return seen


def request(pool: PostgresqlPool) -> int:
    """What a request does: take a connection, run a statement, give it back; return the
    backend's pid."""
    pool.connect(reuse_if_open=True)
    try:
        return int(pool.execute_sql("SELECT pg_backend_pid()").fetchone()[0])
    finally:
        pool.close()


def test_a_connection_back_moments_ago_is_reused_without_a_check(
    pool: PostgresqlPool, checks: list[Any]
) -> None:
    first = request(pool)
    assert request(pool) == first and request(pool) == first
    assert checks == []


def test_a_connection_idle_longer_is_checked(
    pool: PostgresqlPool, checks: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = request(pool)
    monkeypatch.setattr(pool, "RECHECK_AFTER_S", 0.0)
    assert request(pool) == first
    assert len(checks) == 1


def test_an_idle_connection_that_was_dropped_is_replaced(
    pool: PostgresqlPool, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = request(pool)
    terminate(postgres_url, first)
    monkeypatch.setattr(pool, "RECHECK_AFTER_S", 0.0)
    assert request(pool) != first


def test_a_connection_dropped_unseen_fails_one_request_and_is_not_put_back(
    pool: PostgresqlPool, postgres_url: str
) -> None:
    first = request(pool)
    terminate(postgres_url, first)
    with pytest.raises(OperationalError):
        request(pool)
    assert request(pool) != first


def terminate(url: str, pid: int) -> None:
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
