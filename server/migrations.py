"""Schema creation and ordered migrations, recorded in ``ServerState.schema_version``.

A fresh database gets every table from ``models.ALL_MODELS`` and is stamped with the latest
version: the models always describe the newest schema. An existing database runs, in order and
each in its own transaction, the migrations above its recorded version.

To change a table in a later release:

1. change the model in ``models.py`` (what fresh databases get);
2. append ``(N, _vN)`` to ``MIGRATIONS`` with a function that brings a version N-1 database to
   the same shape with ``playhouse.migrate`` (``add_column``, ``add_index``, ...) and, where
   needed, copies data over; existing rows must survive.

``tests/store/test_migrations.py`` shows such a migration on a version 1 database.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Sequence

from peewee import Database, DatabaseProxy
from playhouse.migrate import PostgresqlMigrator, SchemaMigrator, SqliteMigrator

from server.db import database, is_postgres, write_transaction
from server.models import (
    ALL_MODELS,
    AuditEvent,
    BlobHolder,
    ImportBatch,
    OfficeSession,
    Reminder,
    ServerState,
    WorkspaceGrant,
    WorkspaceState,
)

__all__ = ["MIGRATIONS", "LATEST", "Migration", "new_epoch", "schema_version", "upgrade"]

Migration = Callable[[Database, SchemaMigrator], None]


def _v1(db: Database, migrator: SchemaMigrator) -> None:
    """Version 1: the initial schema (only ever created fresh, by ``upgrade``)."""


def _v2(db: Database, migrator: SchemaMigrator) -> None:
    """Version 2: blobs belong to the workspaces that uploaded them (``blob_holder``).

    Blobs uploaded under version 1 were readable by any workspace whose attachments named them;
    those workspaces keep that access, so no device loses a photo it could see before.
    """
    db.create_tables([BlobHolder], safe=True)
    sha = (
        "(CAST(fields AS jsonb) ->> 'sha256')"
        if is_postgres(db)
        else "json_extract(fields, '$.sha256')"
    )
    db.execute_sql(
        "INSERT INTO blob_holder (workspace_id, sha256, created_at)"
        f" SELECT DISTINCT workspace_id, {sha}, CURRENT_TIMESTAMP FROM record"
        f" WHERE type = 'attachment' AND {sha} IS NOT NULL"
    )


def _v3(db: Database, migrator: SchemaMigrator) -> None:
    """Version 3: office sessions are recorded on the server (``office_session``), so logout,
    a new password or a deactivated user ends them."""
    db.create_tables([OfficeSession], safe=True)


def _v4(db: Database, migrator: SchemaMigrator) -> None:
    """Version 4: a password reset by an administrator asks for a new one at the next login."""
    if "must_change_password" not in {c.name for c in db.get_columns("user")}:
        # plain SQL: playhouse would rebuild the SQLite table, which its foreign keys forbid
        db.execute_sql(
            'ALTER TABLE "user" ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT FALSE'
        )


CASEWORK_FIELDS = ("owner_id", "review_status")  # the inbox's and the navigation's lookups


def _field_of(db: Database, name: str) -> str:
    """SQL for the text of one JSON field of a record (NULL when absent)."""
    if is_postgres(db):
        return f"(CAST(fields AS jsonb) ->> '{name}')"
    return f"json_extract(fields, '$.{name}')"


def record_lookup_index(db: Database) -> None:
    """On PostgreSQL, index records by (workspace, id): a push reads its records with
    ``workspace_id = ? AND id = ANY(?)``, and without this index the planner may combine the
    primary key with an index that leads with the workspace, reading every index entry of the
    workspace (1,000,000 in the bench: 30 ms a push). Statistics do not save it: right after a
    bulk load or an import they are stale, and a prepared statement's generic plan ignores the
    values. SQLite takes the primary key (see ``store.engine._workspace_term``) and goes
    without the index's write cost."""
    if is_postgres(db):
        db.execute_sql(
            "CREATE UNIQUE INDEX IF NOT EXISTS record_workspace_id_id ON record (workspace_id, id)"
        )


def _v5(db: Database, migrator: SchemaMigrator) -> None:
    """Version 5: casework settings, users' e-mail, inbox reminders, imports, workspace grants."""
    # plain SQL: playhouse would rebuild the SQLite tables, which their foreign keys forbid
    if "settings" not in {c.name for c in db.get_columns("workspace")}:
        db.execute_sql("ALTER TABLE workspace ADD COLUMN settings TEXT NOT NULL DEFAULT '{}'")
    if "email" not in {c.name for c in db.get_columns("user")}:
        db.execute_sql("ALTER TABLE \"user\" ADD COLUMN email VARCHAR(254) NOT NULL DEFAULT ''")
    db.create_tables([Reminder, ImportBatch, WorkspaceGrant], safe=True)
    for name in CASEWORK_FIELDS:  # indexes on JSON expressions, replaced in version 10
        db.execute_sql(
            f"CREATE INDEX IF NOT EXISTS record_{name} ON record"
            f" (workspace_id, type, {_field_of(db, name)})"
        )


def _add_columns(db: Database, table: str, columns: dict[str, str]) -> None:
    """Add the columns a table lacks (plain SQL: playhouse would rebuild an SQLite table, which
    its foreign keys forbid)."""
    have = {c.name for c in db.get_columns(table)}
    for name, kind in columns.items():
        if name not in have:
            db.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN {name} {kind}')


def _v6(db: Database, migrator: SchemaMigrator) -> None:
    """Version 6: revoke with wipe, blob quotas and blob pruning, audit events.

    Blobs held before keep size 0 (not counted against a quota) and count as touched when
    they were first held.
    """
    moment = "TIMESTAMP" if is_postgres(db) else "DATETIME"
    _add_columns(db, "device", {"wipe_requested_at": moment, "wiped_at": moment})
    _add_columns(db, "blob_holder", {
        "device_id": "VARCHAR(64) NULL",
        "size": "BIGINT NOT NULL DEFAULT 0",
        "touched_at": moment,
    })  # fmt: skip
    db.execute_sql("UPDATE blob_holder SET touched_at = created_at WHERE touched_at IS NULL")
    db.execute_sql("CREATE INDEX IF NOT EXISTS blob_holder_device_id ON blob_holder (device_id)")
    db.create_tables([AuditEvent], safe=True)


def _v7(db: Database, migrator: SchemaMigrator) -> None:
    """Version 7: one change sequence and office clock per workspace (``workspace_state``)
    instead of the single counter in ``server_state``, so different workspaces' writes do not
    wait for each other. Every workspace's counter starts at the old global one, so every new
    sequence number is above every cursor handed out before."""
    db.create_tables([WorkspaceState], safe=True)
    if "seq" not in {c.name for c in db.get_columns("server_state")}:
        return
    db.execute_sql(
        "INSERT INTO workspace_state (workspace_id, seq, last_stamp)"
        " SELECT w.id, s.seq, s.last_stamp FROM workspace w JOIN server_state s ON s.id = 1"
    )
    for column in ("seq", "last_stamp"):
        db.execute_sql(f"ALTER TABLE server_state DROP COLUMN {column}")


def _v8(db: Database, migrator: SchemaMigrator) -> None:
    """Version 8: ``record.echo_after``, so a device's pull leaves out its own accepted writes
    (empty on older rows: they come back as before)."""
    _add_columns(db, "record", {"echo_after": "BIGINT NULL"})


def _v9(db: Database, migrator: SchemaMigrator) -> None:
    """Version 9: PostgreSQL indexes records by (workspace, id) (``record_lookup_index``)."""
    record_lookup_index(db)


def _v10(db: Database, migrator: SchemaMigrator) -> None:
    """Version 10: ``record.owner_id`` and ``record.review_status``, copies of those fields
    (see ``models.Record``), indexed in place of the JSON expressions of version 5; the index
    on (workspace, type) goes, as the new indexes lead with those columns."""
    _add_columns(db, "record", {name: "TEXT NULL" for name in CASEWORK_FIELDS})
    copies = ", ".join(f"{name} = {_field_of(db, name)}" for name in CASEWORK_FIELDS)
    held = " OR ".join(f"{_field_of(db, name)} IS NOT NULL" for name in CASEWORK_FIELDS)
    db.execute_sql(f'UPDATE "record" SET {copies} WHERE {held}')
    for name in CASEWORK_FIELDS:
        db.execute_sql(f"DROP INDEX IF EXISTS record_{name}")
        db.execute_sql(
            f"CREATE INDEX IF NOT EXISTS record_workspace_id_type_{name}"
            f' ON "record" (workspace_id, type, {name})'
        )
    db.execute_sql("DROP INDEX IF EXISTS record_workspace_id_type")


def _v11(db: Database, migrator: SchemaMigrator) -> None:
    """Version 11: ``record.created_device`` and ``record.created_seq`` (see
    ``models.Record``): new records carry their creation entry. Older records keep their
    creation rows in ``change`` and these columns empty."""
    _add_columns(
        db, "record", {"created_device": "VARCHAR(64) NULL", "created_seq": "BIGINT NULL"}
    )


MIGRATIONS: Sequence[tuple[int, Migration]] = (
    (1, _v1), (2, _v2), (3, _v3), (4, _v4), (5, _v5), (6, _v6), (7, _v7), (8, _v8), (9, _v9),
    (10, _v10), (11, _v11),
)  # fmt: skip
LATEST = MIGRATIONS[-1][0]


def _target(db: Database | DatabaseProxy | None) -> Database:
    target = db if db is not None else database
    if isinstance(target, DatabaseProxy):
        target = target.obj
    if target is None:
        raise RuntimeError("no database: call server.db.open_database(url) first")
    return target


def migrator_for(db: Database) -> SchemaMigrator:
    """Return the playhouse.migrate migrator for this database."""
    return PostgresqlMigrator(db) if is_postgres(db) else SqliteMigrator(db)


def schema_version(db: Database | DatabaseProxy | None = None) -> int:
    """Return the database's recorded schema version (0 when it has no tables yet)."""
    target = _target(db)
    if not target.table_exists(ServerState._meta.table_name):
        return 0
    row = target.execute_sql("SELECT schema_version FROM server_state WHERE id = 1").fetchone()
    return 0 if row is None else int(row[0])


def new_node_id() -> str:
    """Return a fresh node id for the server's own (office) stamps."""
    return f"office-{secrets.token_hex(4)}"


def upgrade(
    db: Database | DatabaseProxy | None = None,
    *,
    migrations: Sequence[tuple[int, Migration]] = MIGRATIONS,
) -> int:
    """Create or migrate every table and the ServerState row; return the schema version.

    Safe to run any number of times and from several processes (each step is one transaction
    holding the write lock). ``migrations`` is for tests of future versions.
    """
    target = _target(db)
    latest = migrations[-1][0]
    with target.bind_ctx(ALL_MODELS):
        with write_transaction(target):
            if schema_version(target) == 0:
                target.create_tables(ALL_MODELS, safe=True)
                record_lookup_index(target)
                if not ServerState.select().where(ServerState.id == 1).exists():
                    ServerState.create(
                        id=1,
                        epoch=uuid.uuid4().hex,
                        node_id=new_node_id(),
                        schema_version=latest,
                    )
                return latest
        for version, migrate in migrations:
            with write_transaction(target):
                if version <= schema_version(target):
                    continue
                migrate(target, migrator_for(target))
                ServerState.update(schema_version=version).where(ServerState.id == 1).execute()
        return schema_version(target)


def new_epoch(db: Database | DatabaseProxy | None = None) -> str:
    """Give the database a new epoch (after a restore): every device cursor then resyncs."""
    target = _target(db)
    epoch = uuid.uuid4().hex
    with target.bind_ctx(ALL_MODELS), write_transaction(target):
        ServerState.update(epoch=epoch).where(ServerState.id == 1).execute()
        # A restored record may be older than what its writer holds now: no pull leaves it out.
        target.execute_sql('UPDATE "record" SET echo_after = NULL WHERE echo_after IS NOT NULL')
    return epoch
