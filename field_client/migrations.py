"""Device database migrations, recorded in ``device_state.schema_version``.

A fresh home gets every table from ``models.ALL`` and the latest version (the models always
describe the newest schema). An existing home runs, in order and each in its own transaction,
the migrations above its recorded version, so a device made by any earlier release opens with
its records, outbox and credentials intact. A home made by a newer release is refused rather
than damaged.

To change a table in a later release: change the model in ``models.py``, then append
``(N, steps)`` here, a step being an SQL statement or a function of the database (for data
that SQL alone cannot carry over); ``tests/client/test_device_migrations.py`` upgrades a
database made by the first release (``tests/client/data/device-v1.sql``).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

from peewee import Database

from sync import jsonio

Step = str | Callable[[Database], None]


def _one_outbox_row_per_record(db: Database) -> None:
    """Version 3: the per-field ``outbox_entry`` becomes the per-record ``outbox`` (issue 11).

    Nothing pending is lost and nothing is sent twice under two ids: a stored, unanswered batch
    keeps its id and bytes, and its changes become rows tagged with it (taken from its body, so
    they are exactly what was sent); every entry not carried by a batch (a record not in one, or
    a field edited again since it was built) goes into its record's open row, with its value,
    its latest stamp and the base of its first edit, in the order it was queued. (The table
    may exist already, empty: an earlier step's ``create_tables`` makes the models' tables.)
    """
    db.execute_sql(
        'CREATE TABLE IF NOT EXISTS "outbox" ("id" INTEGER NOT NULL PRIMARY KEY,'
        ' "record_type" VARCHAR(20) NOT NULL, "record_id" VARCHAR(36) NOT NULL,'
        ' "writes" TEXT NOT NULL, "batch" VARCHAR(36))'
    )
    db.execute_sql('CREATE INDEX IF NOT EXISTS "outbox_record_id" ON "outbox" ("record_id")')
    db.execute_sql('CREATE INDEX IF NOT EXISTS "outbox_batch" ON "outbox" ("batch")')
    db.execute_sql(
        'CREATE UNIQUE INDEX IF NOT EXISTS "outbox_open" ON "outbox" ("record_id")'
        ' WHERE ("batch" IS NULL)'
    )
    rows: list[tuple[str, str, str, str | None]] = []
    carried: set[tuple[str, str, str]] = set()
    batches = db.execute_sql("SELECT id, body FROM push_batch ORDER BY device_time, id")
    for batch_id, body in batches.fetchall():
        for change in json.loads(gzip.decompress(bytes(body)))["changes"]:
            rows.append((change["type"], change["id"], jsonio.dumps(change["set"]), batch_id))
            carried.update((change["id"], name, w["stamp"]) for name, w in change["set"].items())
    waiting: dict[str, tuple[str, dict[str, Any]]] = {}
    entries = db.execute_sql(
        "SELECT record_type, record_id, field, value, stamp, base FROM outbox_entry ORDER BY seq"
    )
    for rtype, rid, field, value, stamp, base in entries.fetchall():
        if (rid, field, stamp) in carried:
            continue
        writes = waiting.setdefault(rid, (rtype, {}))[1]
        loaded = None if value is None else json.loads(value)
        writes[field] = {"value": loaded, "stamp": stamp, "base": base}
    rows += [(rtype, rid, jsonio.dumps(writes), None) for rid, (rtype, writes) in waiting.items()]
    db.cursor().executemany(
        "INSERT INTO outbox (record_type, record_id, writes, batch) VALUES (?, ?, ?, ?)", rows
    )
    db.execute_sql("DROP TABLE outbox_entry")


def _outbox_wire(db: Database) -> None:
    """Version 4: ``outbox.wire``, each row's change as a batch sends it; rows written before
    have none and get it when a batch takes them. (An earlier step's ``create_tables`` may
    have made the table with the column already.)"""
    if "wire" not in {column.name for column in db.get_columns("outbox")}:
        db.execute_sql("ALTER TABLE outbox ADD COLUMN wire BLOB")


def _fields_as_themselves(db: Database) -> None:
    """Version 7, first step: the fields of a record are kept with every character as itself
    in their JSON but for the escapes JSON requires (a quote, a backslash, a control
    character), as this device writes them: a search passes over the records whose JSON text
    does not hold the text sought (``field_client.store.common.text_match``). Fields pulled
    before came as the server wrote them, which may have escaped more (``\\u8d70`` for 走):
    they are written anew. (Fields that do not read as JSON, which no release stored, are
    left as they are.)"""
    rows = db.execute_sql(
        "SELECT id, fields FROM record WHERE instr(fields, '\\u') OR instr(fields, '\\/')"
    ).fetchall()
    again = []
    for rid, fields in rows:
        try:
            again.append((jsonio.dumps(jsonio.loads(fields)), rid))
        except ValueError:
            continue
    db.cursor().executemany("UPDATE record SET fields = ? WHERE id = ?", again)


def _no_search_copy(db: Database) -> None:
    """Version 7: the record table without its ``search`` column (a copy of each record's
    string values, which a search no longer reads: ``field_client.store.common.text_match``).
    The table is made anew and its rows copied, as SQLite's documentation does any change of
    a table, rather than by ``ALTER TABLE ... DROP COLUMN``, which SQLite before 3.35 (2021)
    does not know."""
    if "search" not in {column.name for column in db.get_columns("record")}:
        return  # made by an earlier step's ``create_tables``, from today's model
    db.execute_sql(
        'CREATE TABLE "record_7" ("id" VARCHAR(36) NOT NULL PRIMARY KEY,'
        ' "type" VARCHAR(20) NOT NULL, "fields" TEXT NOT NULL, "stamps" TEXT NOT NULL,'
        ' "deleted" INTEGER NOT NULL, "meta" TEXT NOT NULL, "updated_ms" INTEGER NOT NULL)'
    )
    db.execute_sql(
        'INSERT INTO "record_7" (id, type, fields, stamps, deleted, meta, updated_ms)'
        " SELECT id, type, fields, stamps, deleted, meta, updated_ms FROM record"
    )
    db.execute_sql('DROP TABLE "record"')
    db.execute_sql('ALTER TABLE "record_7" RENAME TO "record"')
    db.execute_sql(
        'CREATE INDEX IF NOT EXISTS "record_type_updated_ms" ON "record" ("type", "updated_ms")'
    )


__all__ = ["LATEST", "MIGRATIONS", "NewerSchema", "schema_version", "upgrade"]

MIGRATIONS: Sequence[tuple[int, tuple[Step, ...]]] = (
    (1, ()),  # the first release: created fresh only
    (
        2,  # the identities this home had before an enrollment again (issue 9, item 7)
        ("ALTER TABLE device_state ADD COLUMN former_device_ids TEXT NOT NULL DEFAULT '[]'",),
    ),
    (3, (_one_outbox_row_per_record,)),  # one outbox row per record, tagged with its batch
    (4, (_outbox_wire,)),  # each outbox row's change as a batch sends it (issue 11)
    (  # whether the server takes the compact form of a change; unknown (no) until it says so
        5,
        ("ALTER TABLE device_state ADD COLUMN server_compact INTEGER NOT NULL DEFAULT 0",),
    ),
    (  # one index on (type, updated_ms) for the two on each (issue 11: cheaper pulls)
        6,
        (
            'DROP INDEX IF EXISTS "record_type"',
            'DROP INDEX IF EXISTS "record_updated_ms"',
            'CREATE INDEX IF NOT EXISTS "record_type_updated_ms"'
            ' ON "record" ("type", "updated_ms")',
        ),
    ),
    (7, (_fields_as_themselves, _no_search_copy)),  # no search copy (issue 11: cheaper pulls)
)
LATEST = MIGRATIONS[-1][0]


class NewerSchema(Exception):
    """The device database was made by a newer release than this one."""


def schema_version(db: Database) -> int:
    """Return the home's recorded schema version (0 for a new, empty database)."""
    if not db.table_exists("device_state"):
        return 0
    row = db.execute_sql("SELECT schema_version FROM device_state WHERE id = 1").fetchone()
    return 1 if row is None or row[0] is None else int(row[0])


def upgrade(db: Database, models: SimpleNamespace) -> int:
    """Create or migrate the device's tables; return the schema version now recorded."""
    with db.atomic("IMMEDIATE"):
        found = schema_version(db)
        if found > LATEST:
            raise NewerSchema(f"schema version {found}; this release knows up to {LATEST}")
        if found == 0:
            db.create_tables(models.all, safe=True)
            models.DeviceState.get_or_create(id=1, defaults={"schema_version": LATEST})
            return LATEST
    for version, statements in MIGRATIONS:
        with db.atomic("IMMEDIATE"):
            if version <= schema_version(db):
                continue
            for step in statements:
                if isinstance(step, str):
                    db.execute_sql(step)
                else:
                    step(db)
            db.create_tables(models.all, safe=True)  # tables new in this version
            db.execute_sql("UPDATE device_state SET schema_version = ? WHERE id = 1", (version,))
    return schema_version(db)
