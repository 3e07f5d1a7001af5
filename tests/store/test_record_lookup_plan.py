"""A push reads its records by id, and a pull page walks its range of the index, without reading
the whole workspace (PostgreSQL's plans).

``store.engine.load_rows`` runs ``workspace_id = $1 AND id = ANY($2)``. On a workspace loaded in
bulk (no statistics yet) and with psycopg's prepared statement (a generic plan, blind to the
values), PostgreSQL combined the primary key with an index leading with the workspace, which
reads one index entry per record of the workspace: 30 ms a push at 1,000,000 records.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from peewee import Database
from psycopg import sql

from server import migrations, store
from server.db import open_database
from server.models import Device
from server.store.engine import load_rows
from tests.store.storekit import NOW, make_device

pytestmark = pytest.mark.postgres


def _lookup_statement(db: Database, workspace_id: str, ids: list[str]) -> str:
    """The statement ``store.engine.load_rows`` runs, as it runs it, with its two parameters
    (the workspace, the ids) written as $1 and $2 for PREPARE."""
    seen: list[str] = []
    original = db.execute_sql

    def recording(text: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(text)
        return original(text, *args, **kwargs)

    db.execute_sql = recording  # type: ignore[method-assign]
    try:
        load_rows(db, workspace_id, ids)
    finally:
        del db.execute_sql
    (statement,) = seen
    assert statement.count("%s") == 1 and statement.count("%b") == 1, statement
    return statement.replace("%s", "$1").replace("%b", "$2")


def _bulk_workspace(db: Database, device: Device, count: int) -> list[str]:
    """Fill the device's workspace with ``count`` visits in one statement (no ANALYZE)."""
    db.execute_sql(
        'INSERT INTO "record" (id, workspace_id, type, fields, stamps, deleted, seq, created_at,'
        " updated_at) SELECT gen_random_uuid()::text, %s, 'visit', %s, '{}', false, n,"
        " now(), now() FROM generate_series(1, %s) AS n",
        (device.workspace_id, json.dumps({"kind": "phone"}), count),
    )
    rows = db.execute_sql('SELECT id FROM "record" ORDER BY seq DESC LIMIT 10').fetchall()
    return [r[0] for r in rows]


def _generic_plan(db: Database, workspace_id: str, ids: list[str]) -> str:
    db.execute_sql("SET plan_cache_mode = force_generic_plan")
    lookup = _lookup_statement(db, workspace_id, ids)
    db.execute_sql(f"PREPARE lookup (text, text[]) AS {lookup}")
    try:
        # a utility statement takes no parameters: the values go in as literals
        execute = sql.SQL("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE lookup ({}, {})")
        query = execute.format(sql.Literal(workspace_id), sql.Literal(ids))
        rows = db.execute_sql(query.as_string(db.connection())).fetchall()
    finally:
        db.execute_sql("DEALLOCATE lookup")
        db.execute_sql("RESET plan_cache_mode")
    plan = rows[0][0]
    return json.dumps(plan if not isinstance(plan, str) else json.loads(plan))


def _touched_index_entries(node: dict) -> int:
    """Rows the plan's index scans produced, summed over the tree."""
    own = node["Actual Rows"] if "Index" in node["Node Type"] else 0
    return own + sum(_touched_index_entries(child) for child in node.get("Plans", []))


def test_a_push_reads_its_records_by_id_not_the_whole_workspace(postgres_url: str) -> None:
    db = open_database(postgres_url)
    migrations.upgrade(db)
    device = make_device()
    ids = _bulk_workspace(db, device, 20_000)
    plan = json.loads(_generic_plan(db, device.workspace_id, ids))[0]["Plan"]
    assert _touched_index_entries(plan) < 100, json.dumps(plan, indent=1)
    db.close()


class _Explaining:
    """A cursor that, before running a pull page's statement, runs EXPLAIN ANALYZE of it with
    the same parameters in the same transaction (so with the same settings), and keeps it."""

    def __init__(self, cursor: Any, plans: list[dict[str, Any]]) -> None:
        self.cursor, self.plans = cursor, plans

    def execute(self, query: str, params: Any = None, **kwargs: Any) -> Any:
        if params is not None and '"record" WHERE workspace_id' in query:
            explain = self.cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query, params)
            found = explain.fetchone()[0]
            self.plans.append((found if not isinstance(found, str) else json.loads(found))[0])
        return self.cursor.execute(query, params, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cursor, name)


def test_a_pull_page_walks_the_index_not_the_rest_of_the_workspace(postgres_url: str) -> None:
    db = open_database(postgres_url)
    migrations.upgrade(db)
    device = make_device()
    _bulk_workspace(db, device, 20_000)
    plans: list[dict[str, Any]] = []
    original = db.cursor
    db.cursor = lambda *a, **k: _Explaining(original(*a, **k), plans)  # type: ignore[method-assign]
    try:
        store.pull_json(device.workspace_id, None, 500, now_ms=NOW)
    finally:
        del db.cursor
    [plan] = plans
    # without the settings: a bitmap scan of all 20,000 rows and a sort
    assert _touched_index_entries(plan["Plan"]) <= 501, json.dumps(plan, indent=1)
    db.close()
