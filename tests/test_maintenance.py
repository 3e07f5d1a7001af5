"""Housekeeping (``server.maintenance`` and its ``fieldsync-server`` commands): backup of a live
database, restore with a new epoch (devices resync), prune of old push batches, refusals."""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import os
import sqlite3
import threading
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from server import cli, maintenance, migrations, store
from server.cli import Settings, main
from server.db import open_database
from server.errors import Refused
from server.models import PushBatch
from sync import ErrorCode, ProtocolError
from tests.store.storekit import NOW, SKEW, Writer, make_device

ROOT = Path(__file__).resolve().parent.parent
PG_WITH_PASSWORD = "postgresql://fieldsync:s3cret-pw@db.example:5432/fieldsync"


@pytest.fixture(autouse=True)
def instance(tmp_path, monkeypatch):
    """Keep every instance folder (secret key, blobs) inside the test's tmp_path."""
    monkeypatch.setenv("FIELDSYNC_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("FIELDSYNC_LANG", raising=False)
    monkeypatch.delenv("FIELDSYNC_DATABASE_URL", raising=False)
    monkeypatch.delenv("FIELDSYNC_BLOB_DIR", raising=False)
    return tmp_path / "instance"


@pytest.fixture
def runner():
    return CliRunner()


def invoke(runner, database_url, *args):
    return runner.invoke(main, ["--database-url", database_url, *args])


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    return result.output


def push_visits(writer: Writer, count: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(count)]
    changes = [
        writer.change("visit", rid, {"kind": "home_visit", "title": f"走访 {rid[:4]}"}, None)
        for rid in ids
    ]
    response = store.push(writer.device, writer.body(*changes), now_ms=NOW, max_skew_ms=SKEW)
    assert response["applied"] == count
    return ids


def records(url: str) -> list[tuple]:
    path = maintenance.sqlite_path(url)
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT id, workspace_id, type, fields, stamps, deleted, seq FROM record ORDER BY id"
        ).fetchall()


def epoch(url: str) -> str:
    with sqlite3.connect(maintenance.sqlite_path(url)) as conn:
        return conn.execute("SELECT epoch FROM server_state WHERE id = 1").fetchone()[0]


def put_blob(blob_dir: Path, content: bytes) -> str:
    sha = hashlib.sha256(content).hexdigest()
    (blob_dir / sha[:2]).mkdir(parents=True, exist_ok=True)
    (blob_dir / sha[:2] / sha).write_bytes(content)
    return sha


@pytest.fixture
def live(sqlite_url, instance):
    """An initialised SQLite database with a device, its visits and a photo; left open (its
    pool keeps the WAL un-checkpointed, as a running server does)."""
    cli.init_server(Settings(database_url=sqlite_url), "庄泉社区", "admin", "admin-pass-1")
    db = open_database(sqlite_url)
    db.connect(reuse_if_open=True)
    writer = Writer(make_device("庄泉社区"))
    push_visits(writer, 5)
    put_blob(instance / "blobs", "照片".encode() * 100)
    yield db, writer
    db.close_all()


def test_backup_then_restore_gives_the_same_records_and_a_new_epoch(
    runner, sqlite_url, live, tmp_path, instance
):
    db, writer = live
    workspace = writer.device.workspace_id
    cursor = store.pull(workspace, None, 100, now_ms=NOW)["cursor"]
    before, old_epoch = records(sqlite_url), epoch(sqlite_url)
    assert len(before) == 5

    folder = tmp_path / "backup"
    result = invoke(runner, sqlite_url, "--lang", "en", "backup", str(folder))
    assert result.exit_code == 0, result.output
    assert "records: 5" in result.output and "Photos and files: 1" in result.output
    assert (folder / "fieldsync.db").is_file() and len(list(folder.glob("blobs/??/*"))) == 1
    assert not list(folder.glob("*.partial")) and not (folder / "fieldsync.db-wal").exists()

    push_visits(writer, 3)  # after the backup: the restored database lacks these
    db.close_all()

    # A fresh database: no --force needed.
    fresh = f"sqlite:///{tmp_path / 'elsewhere' / 'fieldsync.db'}"
    result = invoke(runner, fresh, "--lang", "en", "restore", str(folder))
    assert result.exit_code == 0, result.output
    assert records(fresh) == before and epoch(fresh) != old_epoch
    assert "0 copied, 1 already there" in result.output
    for blob in (instance / "blobs").glob("??/*"):
        blob.unlink()  # lost with the server's disk: the restore brings it back

    # Over the live database: refused without --force, then done.
    message = one_line_error(invoke(runner, sqlite_url, "--lang", "en", "restore", str(folder)))
    assert "--force" in message and len(records(sqlite_url)) == 8
    result = invoke(runner, sqlite_url, "--lang", "en", "restore", str(folder), "--force")
    assert result.exit_code == 0, result.output
    assert "new epoch" in result.output and "pushes again" in result.output
    assert "1 copied, 0 already there" in result.output
    assert len(list((instance / "blobs").glob("??/*"))) == 1
    assert records(sqlite_url) == before
    new_epoch = epoch(sqlite_url)
    assert new_epoch not in (old_epoch, epoch(fresh)) and new_epoch in result.output

    # The device's old cursor: resync_required; from the start it gets the restored records.
    db.connect(reuse_if_open=True)
    with pytest.raises(ProtocolError) as info:
        store.pull(workspace, cursor, 100, now_ms=NOW)
    assert info.value.code is ErrorCode.RESYNC_REQUIRED
    assert len(store.pull(workspace, None, 100, now_ms=NOW)["records"]) == 5
    push_visits(writer, 2)  # and the restored database takes pushes again
    assert migrations.schema_version(db) == migrations.LATEST
    db.close_all()


def test_backup_while_the_server_writes_is_consistent(sqlite_url, live, tmp_path, instance):
    _, writer = live
    stop = threading.Event()
    pushed: list[int] = []

    def keep_pushing() -> None:
        while not stop.is_set():
            push_visits(writer, 10)
            pushed.append(10)

    thread = threading.Thread(target=keep_pushing)
    thread.start()
    try:
        while len(pushed) < 3:
            stop.wait(0.01)
        result = maintenance.backup(sqlite_url, instance / "blobs", tmp_path / "b")
    finally:
        stop.set()
        thread.join()
    count = result.counts["record"]
    assert count >= 35 and (count - 5) % 10 == 0  # whole batches only
    with sqlite3.connect(result.database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM record").fetchone()[0] == count
    assert result.blob_count == 1 and result.blob_bytes == len("照片".encode() * 100)


def test_backup_speaks_chinese_by_default_and_refuses_a_used_folder(runner, sqlite_url, live):
    folder = Path(maintenance.sqlite_path(sqlite_url)).parent / "backup-1"
    result = invoke(runner, sqlite_url, "backup", str(folder))
    assert result.exit_code == 0 and "已备份数据库" in result.output and "记录 5" in result.output
    message = one_line_error(invoke(runner, sqlite_url, "backup", str(folder)))
    assert "已存在" in message
    english = one_line_error(invoke(runner, sqlite_url, "--lang", "en", "backup", str(folder)))
    assert "already exists" in english


def test_backup_refuses_postgres_with_the_pg_dump_command(runner, tmp_path):
    result = invoke(runner, PG_WITH_PASSWORD, "--lang", "en", "backup", str(tmp_path / "b"))
    message = one_line_error(result)
    assert "pg_dump --format=custom" in message and "s3cret-pw" not in message
    assert "postgresql://fieldsync:***@db.example:5432/fieldsync" in message
    assert "pg_dump" in one_line_error(invoke(runner, PG_WITH_PASSWORD, "backup", str(tmp_path)))
    assert not (tmp_path / "b").exists()
    result = invoke(runner, PG_WITH_PASSWORD, "--lang", "en", "restore", str(tmp_path))
    message = one_line_error(result)
    assert "pg_restore" in message and "db new-epoch" in message and "s3cret-pw" not in message


@pytest.mark.postgres
def test_backup_refuses_a_real_postgres_database(runner, postgres_url, tmp_path):
    message = one_line_error(invoke(runner, postgres_url, "backup", str(tmp_path / "b")))
    assert "pg_dump" in message


def test_restore_refuses_what_is_not_a_backup(runner, sqlite_url, tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    message = one_line_error(invoke(runner, sqlite_url, "--lang", "en", "restore", str(junk)))
    assert "not a Fieldsync database" in message
    empty = tmp_path / "empty"
    empty.mkdir()
    message = one_line_error(invoke(runner, sqlite_url, "--lang", "en", "restore", str(empty)))
    assert "No backup" in message
    message = one_line_error(invoke(runner, sqlite_url, "restore", str(tmp_path / "nowhere")))
    assert "找不到备份" in message
    assert not Path(maintenance.sqlite_path(sqlite_url)).exists()


def test_prune_keeps_batches_newer_than_the_cutoff(database_url, tmp_path):
    db = open_database(database_url)
    db.connect(reuse_if_open=True)
    migrations.upgrade(db)
    try:
        device = make_device()
        now = dt.datetime(2026, 11, 28, 12, 0)
        for age_days in (0, 10, 29.9, 30.1, 45, 400):
            PushBatch.create(
                device=device,
                batch_id=str(uuid.uuid4()),
                response="{}",
                created_at=now - dt.timedelta(days=age_days),
            )
        blobs = tmp_path / "blobs"
        (blobs / "ab").mkdir(parents=True)
        stale, fresh = blobs / "ab" / ".upload-stale", blobs / "ab" / ".upload-fresh"
        stale.write_bytes(b"x")
        fresh.write_bytes(b"y")
        old = (now - dt.timedelta(days=2)).replace(tzinfo=dt.UTC).timestamp()
        os.utime(stale, (old, old))
        os.utime(fresh, (now.replace(tzinfo=dt.UTC).timestamp(),) * 2)

        with pytest.raises(Refused) as info:
            maintenance.prune(db, blobs, days=29, now=now)
        assert info.value.key == "prune_days" and PushBatch.select().count() == 6

        result = maintenance.prune(db, blobs, days=30, now=now.replace(tzinfo=dt.UTC))
        assert (result.batches_deleted, result.batches_kept) == (3, 3)
        assert result.cutoff == now - dt.timedelta(days=30)
        ages = sorted((now - b.created_at).days for b in PushBatch.select())
        assert ages == [0, 10, 29]
        assert result.temp_files_removed == 1 and not stale.exists() and fresh.exists()

        result = maintenance.prune(db, blobs, days=31, now=now)
        assert (result.batches_deleted, result.batches_kept) == (0, 3)
    finally:
        db.close_all()


def test_prune_command(runner, sqlite_url):
    cli.init_server(Settings(database_url=sqlite_url), "庄泉社区", "admin", "admin-pass-1")
    message = one_line_error(invoke(runner, sqlite_url, "--lang", "en", "prune", "--days", "7"))
    assert "30 days" in message
    assert "30 天" in one_line_error(invoke(runner, sqlite_url, "prune", "--days", "7"))
    result = invoke(runner, sqlite_url, "--lang", "en", "prune")
    assert result.exit_code == 0 and "Deleted 0 push batches" in result.output
    assert "Removed 0 photos and files (0 B) that no attachment names." in result.output
    zh = invoke(runner, sqlite_url, "prune", "--blob-days", "60").output
    assert "已删除 0 个没有附件引用的照片和文件" in zh
    assert "至少" in one_line_error(invoke(runner, sqlite_url, "prune", "--blob-days", "0"))
    assert cli.prune(Settings(database_url=sqlite_url), 60).batches_deleted == 0


def test_db_new_epoch_command(runner, sqlite_url):
    cli.init_server(Settings(database_url=sqlite_url), "庄泉社区", "admin", "admin-pass-1")
    before = epoch(sqlite_url)
    result = invoke(runner, sqlite_url, "--lang", "en", "db", "new-epoch")
    assert result.exit_code == 0 and epoch(sqlite_url) != before
    assert epoch(sqlite_url) in result.output


def test_maintenance_does_not_import_flask():
    tree = ast.parse((ROOT / "server" / "maintenance.py").read_text(encoding="utf-8"))
    names = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    names |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {name.split(".")[0] for name in names} & {"flask", "werkzeug"}
