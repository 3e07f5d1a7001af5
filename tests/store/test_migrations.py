"""Schema creation and migrations (server.migrations), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid

from peewee import CharField, Database
from playhouse.migrate import SchemaMigrator, migrate

from server import migrations, store
from server.db import open_database
from server.models import (
    ALL_MODELS,
    BlobHolder,
    Device,
    ImportBatch,
    Record,
    Reminder,
    ServerState,
    User,
    Workspace,
    WorkspaceGrant,
    WorkspaceState,
)
from sync import encode_cursor
from tests.store.storekit import NOW, SKEW, Writer, make_device


def test_fresh_database_gets_every_table_and_one_state_row(database_url: str) -> None:
    db = open_database(database_url)
    assert migrations.schema_version(db) == 0
    assert migrations.upgrade(db) == migrations.LATEST
    assert all(db.table_exists(m._meta.table_name) for m in ALL_MODELS)
    [state] = ServerState.select()
    assert state.node_id.startswith("office-") and len(state.epoch) == 32
    assert WorkspaceState.select().count() == 0  # made by each workspace's first write
    db.close()


def test_upgrading_twice_is_harmless(database_url: str) -> None:
    db = open_database(database_url)
    migrations.upgrade(db)
    writer = Writer(make_device())
    rid = str(uuid.uuid4())
    body = writer.body(writer.change("visit", rid, {"kind": "phone"}, None))
    store.push(writer.device, body, now_ms=NOW, max_skew_ms=SKEW)
    before = ServerState.get_by_id(1)
    assert migrations.upgrade(db) == migrations.LATEST
    after = ServerState.get_by_id(1)
    assert (after.epoch, after.node_id) == (before.epoch, before.node_id)
    assert WorkspaceState.get_by_id(writer.device.workspace_id).seq == 1
    assert Record.get_by_id(rid).type == "visit"
    db.close()


def _future_add_column(db: Database, migrator: SchemaMigrator) -> None:
    """A future release's migration: a new column with a default, existing rows kept."""
    migrate(migrator.add_column("record", "source_app", CharField(max_length=20, default="v1")))


def _version_1_database(database_url: str) -> tuple[Database, Device]:
    """A database as release 1 left it (schema version 1, no blob_holder table, no
    user.must_change_password), with a device and its user made before."""
    db = open_database(database_url)
    assert migrations.upgrade(db, migrations=migrations.MIGRATIONS[:1]) == 1
    device = make_device()
    db.drop_tables([BlobHolder])
    db.execute_sql('ALTER TABLE "user" DROP COLUMN must_change_password')
    return db, device


def test_version_2_lets_version_1_attachments_keep_their_blobs(database_url: str) -> None:
    db, device = _version_1_database(database_url)
    writer = Writer(device)
    sha, rid = "ab" * 32, str(uuid.uuid4())
    fields = {"subject_type": "visit", "subject_id": str(uuid.uuid4()), "sha256": sha}
    body = writer.body(writer.change("attachment", rid, fields, None))
    store.push(writer.device, body, now_ms=NOW, max_skew_ms=SKEW)
    assert migrations.upgrade(db, migrations=migrations.MIGRATIONS[:2]) == 2
    holders = [(h.workspace_id, h.sha256) for h in BlobHolder.select()]
    assert holders == [(writer.device.workspace_id, sha)]
    assert store.get_record(writer.device.workspace_id, rid)["fields"]["sha256"] == sha
    db.close()


def test_a_later_release_upgrades_without_losing_data(database_url: str) -> None:
    db = open_database(database_url)
    assert migrations.upgrade(db) == migrations.LATEST
    writer = Writer(make_device())
    rid = str(uuid.uuid4())
    body = writer.body(writer.change("visit", rid, {"kind": "phone", "title": "电话回访"}, None))
    store.push(writer.device, body, now_ms=NOW, max_skew_ms=SKEW)
    later = migrations.LATEST + 1
    future = [*migrations.MIGRATIONS, (later, _future_add_column)]
    assert migrations.upgrade(db, migrations=future) == later
    assert migrations.upgrade(db, migrations=future) == later  # and again: nothing to do
    row = db.execute_sql('SELECT source_app, fields FROM "record" WHERE id = %s'.replace(
        "%s", db.param), (rid,)).fetchone()  # fmt: skip
    assert row[0] == "v1" and "电话回访" in row[1]
    assert store.get_record(writer.device.workspace_id, rid)["fields"]["title"] == "电话回访"
    db.close()


def test_version_5_adds_casework_settings_reminders_imports_and_grants(database_url: str) -> None:
    db = open_database(database_url)
    assert migrations.upgrade(db, migrations=migrations.MIGRATIONS[:4]) == 4
    db.drop_tables([Reminder, ImportBatch, WorkspaceGrant])
    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.drop_column("workspace", "settings"), migrator.drop_column("user", "email"))
    db.execute_sql("INSERT INTO workspace (id, name, created_at) VALUES (%s, %s, %s)".replace(
        "%s", db.param), ("w1", "庄泉社区", "2024-01-01 00:00:00"))  # fmt: skip
    assert migrations.upgrade(db) == migrations.LATEST
    assert Workspace.get_by_id("w1").settings == "{}" and Reminder.select().count() == 0
    db.close()


def test_new_epoch_changes_only_the_epoch(database_url: str) -> None:
    db = open_database(database_url)
    migrations.upgrade(db)
    before = ServerState.get_by_id(1)
    epoch = migrations.new_epoch(db)
    after = ServerState.get_by_id(1)
    assert after.epoch == epoch != before.epoch and after.node_id == before.node_id
    db.close()


def test_version_3_keeps_users_and_asks_nobody_for_a_new_password(database_url: str) -> None:
    db, device = _version_1_database(database_url)
    assert migrations.upgrade(db) == migrations.LATEST
    user = User.get_by_id(device.user_id)
    assert user.must_change_password is False and user.active
    db.close()


def test_version_7_gives_every_workspace_the_old_counter(database_url: str) -> None:
    db = open_database(database_url)
    assert migrations.upgrade(db, migrations=migrations.MIGRATIONS[:6]) == 6
    east, west = make_device("东湖街道"), make_device("西湖街道")
    # as version 6 left it: one counter and office clock for all, in server_state
    db.drop_tables([WorkspaceState])
    db.execute_sql("ALTER TABLE server_state ADD COLUMN seq BIGINT NOT NULL DEFAULT 0")
    db.execute_sql("ALTER TABLE server_state ADD COLUMN last_stamp VARCHAR(100) DEFAULT ''")
    held = "1700000000000-000003-office-1"
    sql = (
        'INSERT INTO "record" (id, workspace_id, type, fields, stamps, deleted, seq, created_at,'
        " updated_at) VALUES (?, ?, 'visit', ?, ?, ?, ?, ?, ?)"
    ).replace("?", db.param)
    old = {}
    for seq, device in enumerate((east, west, east), start=1):
        old[seq] = str(uuid.uuid4())
        stamps = json.dumps({"kind": held})
        db.execute_sql(sql, (old[seq], device.workspace_id, '{"kind":"phone"}', stamps, False,
                             seq, "2024-01-01 00:00:00", "2024-01-01 00:00:00"))  # fmt: skip
    db.execute_sql(
        f"UPDATE server_state SET seq = 3, last_stamp = {db.param} WHERE id = 1", (held,)
    )
    epoch = ServerState.get_by_id(1).epoch
    assert migrations.upgrade(db) == migrations.LATEST
    assert {(w.workspace_id, w.seq, w.last_stamp) for w in WorkspaceState.select()} == {
        (east.workspace_id, 3, held), (west.workspace_id, 3, held)}  # fmt: skip
    assert not {"seq", "last_stamp"} & {c.name for c in db.get_columns("server_state")}
    # a cursor handed out before the upgrade goes on: new numbers are above every old one
    writer = Writer(east)
    rid = str(uuid.uuid4())
    store.push(east, writer.body(writer.change("visit", rid, {"kind": "phone"}, None)),
               now_ms=NOW, max_skew_ms=SKEW)  # fmt: skip
    page = store.pull(east.workspace_id, encode_cursor(epoch, 3), 100, now_ms=NOW)
    assert [(r["id"], r["meta"]["seq"]) for r in page["records"]] == [(rid, 4)]
    first = store.pull(east.workspace_id, None, 100, now_ms=NOW)
    assert [r["id"] for r in first["records"]] == [old[1], old[3], rid]
    assert store.server_time(now_ms=0, workspace_id=west.workspace_id)[:20] == held[:20]
    db.close()


def test_version_9_indexes_records_by_workspace_and_id(database_url: str) -> None:
    db = open_database(database_url)
    assert migrations.upgrade(db, migrations=migrations.MIGRATIONS[:8]) == 8
    postgres = database_url.startswith("postgresql")
    if postgres:  # as version 8 left it
        db.execute_sql("DROP INDEX record_workspace_id_id")
    device = make_device()
    rid = str(uuid.uuid4())
    db.execute_sql(
        'INSERT INTO "record" (id, workspace_id, type, fields, stamps, deleted, seq, created_at,'
        " updated_at) VALUES (?, ?, 'visit', '{}', '{}', ?, 1, ?, ?)".replace("?", db.param),
        (rid, device.workspace_id, False, "2024-01-01 00:00:00", "2024-01-01 00:00:00"),
    )
    assert migrations.upgrade(db) == migrations.LATEST
    names = {index.name for index in db.get_indexes("record")}
    assert ("record_workspace_id_id" in names) == postgres
    assert db.execute_sql('SELECT count(*) FROM "record"').fetchone()[0] == 1
    db.close()


def _as_version_9(db: Database) -> None:
    """Give a fresh database's record table the shape version 9 left it in: no copies of
    owner_id and review_status, indexes on their JSON expressions and on (workspace, type)."""
    for name in migrations.CASEWORK_FIELDS:
        db.execute_sql(f"DROP INDEX record_workspace_id_type_{name}")
        db.execute_sql(f'ALTER TABLE "record" DROP COLUMN {name}')
    db.execute_sql('CREATE INDEX record_workspace_id_type ON "record" (workspace_id, type)')
    for name in migrations.CASEWORK_FIELDS:
        db.execute_sql(
            f'CREATE INDEX record_{name} ON "record" (workspace_id, type,'
            f" {migrations._field_of(db, name)})"
        )


def test_version_10_copies_the_looked_up_fields_into_indexed_columns(database_url: str) -> None:
    db = open_database(database_url)
    assert migrations.upgrade(db, migrations=migrations.MIGRATIONS[:9]) == 9
    _as_version_9(db)
    device = make_device()
    owner = str(uuid.uuid4())
    held = {
        "owned": ("concern", {"title": "漏水", "owner_id": owner, "review_status": "approved"}),
        "returned": ("visit", {"kind": "phone", "review_status": "needs_changes"}),
        "plain": ("visit", {"kind": "phone"}),
    }
    ids = {key: str(uuid.uuid4()) for key in held}
    sql = (
        'INSERT INTO "record" (id, workspace_id, type, fields, stamps, deleted, seq, created_at,'
        " updated_at) VALUES (?, ?, ?, ?, '{}', ?, ?, ?, ?)"
    ).replace("?", db.param)
    for seq, (key, (record_type, fields)) in enumerate(held.items(), start=1):
        db.execute_sql(sql, (ids[key], device.workspace_id, record_type,
                             json.dumps(fields, ensure_ascii=False), False, seq,
                             "2024-01-01 00:00:00", "2024-01-01 00:00:00"))  # fmt: skip
    assert migrations.upgrade(db) == migrations.LATEST
    copies = {
        rid: (owner_id, review)
        for rid, owner_id, review in db.execute_sql(
            'SELECT id, owner_id, review_status FROM "record"'
        ).fetchall()
    }
    assert copies == {
        ids["owned"]: (owner, "approved"),
        ids["returned"]: (None, "needs_changes"),
        ids["plain"]: (None, None),
    }
    names = {index.name for index in db.get_indexes("record")}
    assert {"record_workspace_id_type_owner_id", "record_workspace_id_type_review_status"} <= names
    assert not {"record_owner_id", "record_review_status", "record_workspace_id_type"} & names
    db.close()
