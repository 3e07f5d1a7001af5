"""The administrator's housekeeping: backup, restore, prune. No Flask: plain paths and URLs in,
plain values out, refusals as ``server.errors.Refused`` (the CLI prints them as one line).

Backup (SQLite): sqlite3's online backup API copies a consistent snapshot while the server keeps
running, then the blob folder is copied beside it. The database goes first: a device uploads a
blob before it pushes the attachment naming it, and blobs are never changed or removed, so every
blob the snapshot refers to is already on disk when the folder is copied.

Restore (SQLite): the backup is copied to a temporary file next to the database, given a new
epoch there (``migrations.new_epoch``), then copied into the live database in one transaction of
the backup API (so an open WAL is handled and nothing half-restored is ever seen). With the new
epoch every device cursor gets ``resync_required``: devices pull from the start and push again
what the restored database lacks.

Prune: push batches older than N days (N >= 30, docs/protocol.md section 5) go in one
transaction; temporary files of dead blob uploads go with ``BlobStore.sweep``; blobs that no
attachment names (live or deleted: staff can restore a deleted one) and that nobody uploaded or
was told about for ``blob_days`` (default 30) go in batches (``prune_blobs``). Each batch holds
the write lock a push holds while it picks and deletes, so a push naming a blob commits either
before (the blob is named: kept) or after (the blob was untouched for the grace period, and the
device's ``missing`` question before its push touches it or says to upload it again).

PostgreSQL is backed up and restored with its own tools (``pg_dump``, ``pg_restore``); the
refusals say which command to run.
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from server import migrations
from server.blobs import TEMP_PREFIX, BlobStore, is_hash
from server.db import Database, open_plain_sqlite, sqlite_file
from server.errors import Refused
from server.store.maintenance import named_or_held, prune_push_batches, unnamed_blobs
from sync import ErrorCode

__all__ = [
    "BACKUP_BLOBS",
    "BACKUP_DATABASE",
    "MIN_PRUNE_DAYS",
    "BackupResult",
    "PruneResult",
    "RestoreResult",
    "backup",
    "mask_password",
    "prune",
    "restore",
    "sqlite_path",
]

BACKUP_DATABASE = "fieldsync.db"
BACKUP_BLOBS = "blobs"
MIN_PRUNE_DAYS = 30  # the protocol keeps push batches (idempotency) at least this long
_COUNTED = ("workspace", "user", "device", "record", "conflict", "change")


@dataclass(frozen=True)
class BackupResult:
    database: Path
    database_bytes: int
    counts: dict[str, int]  # rows per table (workspaces, users, devices, records, ...)
    blobs: Path
    blob_count: int
    blob_bytes: int


@dataclass(frozen=True)
class RestoreResult:
    database: Path
    database_bytes: int
    counts: dict[str, int]
    epoch: str
    blobs_copied: int
    blobs_present: int


@dataclass(frozen=True)
class PruneResult:
    cutoff: dt.datetime  # naive UTC: batches created before it were deleted
    batches_deleted: int
    batches_kept: int
    temp_files_removed: int
    blobs_removed: int = 0
    blob_bytes_removed: int = 0
    blob_cutoff: dt.datetime | None = None  # naive UTC: unnamed blobs untouched since went


@dataclass(frozen=True)
class BlobPrune:
    removed: int
    bytes: int
    batches: int


def _refuse(key: str, detail: str, **params: object) -> Refused:
    return Refused(ErrorCode.INVALID_REQUEST, key, detail, **params)


def mask_password(url: str) -> str:
    """Return a database URL fit to print: any password is masked."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def sqlite_path(database_url: str) -> Path | None:
    """Return the file of an SQLite database URL, None for PostgreSQL."""
    path = sqlite_file(database_url)
    if path is None:
        return None
    if path == ":memory:":
        raise _refuse("maintenance_memory", "An in-memory database cannot be backed up.")
    return Path(path).resolve()


def pg_dump_command(database_url: str, folder: Path | str) -> str:
    """Return the pg_dump command that backs up a PostgreSQL database (password masked)."""
    dump = shlex.quote(str(Path(folder) / "fieldsync.dump"))
    return f"pg_dump --format=custom --file={dump} {shlex.quote(mask_password(database_url))}"


def pg_restore_command(database_url: str, folder: Path | str) -> str:
    """Return the pg_restore command that restores a pg_dump backup (password masked)."""
    dump = shlex.quote(str(Path(folder) / "fieldsync.dump"))
    url = shlex.quote(mask_password(database_url))
    return f"pg_restore --clean --if-exists --dbname={url} {dump}"


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    return {
        name: int(conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0])
        for name in _COUNTED
        if name in tables
    }


def _check_fieldsync(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a file that is not a sound Fieldsync database."""
    try:
        ok = conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        has_state = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='server_state'"
        ).fetchone()
    except sqlite3.DatabaseError:
        ok, has_state = False, None
    if not ok or not has_state:
        raise _refuse(
            "not_a_backup", f"{path} is not a Fieldsync database (or it is damaged).", path=path
        )


def _copy_database(source: Path, target: Path, *, self_contained: bool = True) -> None:
    """Copy an SQLite database with the backup API: one consistent snapshot of ``source``,
    written to ``target`` in one transaction (other connections to ``target`` see all of it or
    none). ``self_contained``: leave the copy in rollback-journal mode, one file with no WAL
    beside it (the server switches back to WAL when it opens it). A new ``target`` is made
    readable by its owner only, like the database itself."""
    if not target.exists():
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    with (
        closing(sqlite3.connect(source)) as src,
        closing(sqlite3.connect(target)) as dst,
    ):
        src.execute("PRAGMA busy_timeout = 10000")
        dst.execute("PRAGMA busy_timeout = 10000")
        src.backup(dst)
        if self_contained:
            dst.execute("PRAGMA journal_mode = DELETE")


def _blob_files(root: Path) -> Iterator[Path]:
    """Yield the stored blobs under ``root`` (no temporary upload files)."""
    if root.is_dir():
        for path in sorted(root.glob("??/*")):
            if path.is_file() and not path.name.startswith(TEMP_PREFIX):
                yield path


def _copy_blobs(source: Path, target: Path) -> tuple[int, int, int]:
    """Copy the blobs of ``source`` into ``target``, keeping those already there (a blob is
    named by its content); return (copied, already there, bytes copied)."""
    copied = present = size = 0
    for blob in _blob_files(source):
        dest = target / blob.parent.name / blob.name
        if dest.is_file():
            present += 1
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        temp = dest.with_name(TEMP_PREFIX + blob.name)
        shutil.copyfile(blob, temp)
        os.replace(temp, dest)
        copied += 1
        size += dest.stat().st_size
    return copied, present, size


def backup(database_url: str, blob_dir: Path | str, folder: Path | str) -> BackupResult:
    """Back up an SQLite database and its blobs into ``folder`` (``fieldsync.db`` + ``blobs/``),
    safely while the server runs. Refuses PostgreSQL (naming the pg_dump command), a missing
    database, and a folder that already holds a backup."""
    folder = Path(folder).resolve()
    source = sqlite_path(database_url)
    if source is None:
        command = pg_dump_command(database_url, folder)
        raise _refuse(
            "backup_postgres",
            f"PostgreSQL is backed up with pg_dump: {command}",
            command=command,
            blobs=blob_dir,
        )
    if not source.is_file():
        raise _refuse("no_database_file", f"No database at {source}.", path=source)
    target = folder / BACKUP_DATABASE
    if target.exists():
        raise _refuse("backup_exists", f"{target} already exists.", path=target)
    if Path(blob_dir).resolve() == folder / BACKUP_BLOBS:
        raise _refuse("backup_in_place", "Choose a folder other than the server's.", path=folder)
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / (BACKUP_DATABASE + ".partial")
    temp.unlink(missing_ok=True)
    try:
        _copy_database(source, temp)
        with closing(sqlite3.connect(temp)) as conn:
            _check_fieldsync(conn, source)
            counts = _counts(conn)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    blobs = folder / BACKUP_BLOBS
    blobs.mkdir(exist_ok=True)
    _copy_blobs(Path(blob_dir), blobs)
    files = list(_blob_files(blobs))
    return BackupResult(
        database=target,
        database_bytes=target.stat().st_size,
        counts=counts,
        blobs=blobs,
        blob_count=len(files),
        blob_bytes=sum(path.stat().st_size for path in files),
    )


def _backup_database(path: Path) -> Path:
    """The database file of a backup: ``path`` itself or ``path/fieldsync.db``."""
    found = path / BACKUP_DATABASE if path.is_dir() else path
    if not found.is_file():
        raise _refuse("no_backup", f"No backup at {found}.", path=found)
    return found


def restore(
    database_url: str, blob_dir: Path | str, path: Path | str, *, force: bool = False
) -> RestoreResult:
    """Restore an SQLite backup (a folder from ``backup``, or a database file) over the
    database of ``database_url`` and copy its blobs in; give the database a new epoch so every
    device resyncs. Refuses PostgreSQL, a backup that is not a Fieldsync database, and an
    existing database unless ``force``. Stop the server first."""
    path = Path(path).resolve()
    target = sqlite_path(database_url)
    if target is None:
        command = pg_restore_command(database_url, path)
        raise _refuse(
            "restore_postgres",
            f"PostgreSQL is restored with pg_restore: {command}",
            command=command,
        )
    source = _backup_database(path)
    if source == target:
        raise _refuse("backup_in_place", "Choose a folder other than the server's.", path=path)
    if target.exists() and not force:
        raise _refuse(
            "restore_exists", f"{target} exists; add --force to replace it.", path=target
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(target.name + ".restoring")
    temp.unlink(missing_ok=True)
    with closing(sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)) as conn:
        _check_fieldsync(conn, source)
    try:
        _copy_database(source, temp)
        with closing(sqlite3.connect(temp)) as conn:
            counts = _counts(conn)
        staged = open_plain_sqlite(temp)
        try:
            migrations.upgrade(staged)  # a backup from an older release gets this schema
            epoch = migrations.new_epoch(staged)
        finally:
            staged.close()
        _copy_database(temp, target, self_contained=False)
    finally:
        temp.unlink(missing_ok=True)
    copied = present = 0
    if path.is_dir():
        copied, present, _ = _copy_blobs(path / BACKUP_BLOBS, Path(blob_dir))
    return RestoreResult(
        database=target,
        database_bytes=target.stat().st_size,
        counts=counts,
        epoch=epoch,
        blobs_copied=copied,
        blobs_present=present,
    )


def prune(
    db: Database,
    blob_dir: Path | str,
    *,
    days: int = MIN_PRUNE_DAYS,
    now: dt.datetime | None = None,
    temp_age_s: float = 24 * 3600,
    blob_days: int = MIN_PRUNE_DAYS,
    batch: int = 500,
) -> PruneResult:
    """Delete push batches older than ``days`` (at least 30) in one transaction, the temporary
    files of uploads that died more than ``temp_age_s`` ago, and the blobs no attachment names
    that nobody touched for ``blob_days``, ``batch`` blobs per transaction; return the counts.

    ``now`` is UTC (aware, or naive as the tables store it); None: the wall clock.
    """
    if days < MIN_PRUNE_DAYS:
        raise _refuse(
            "prune_days",
            f"Push batches are kept at least {MIN_PRUNE_DAYS} days.",
            min=MIN_PRUNE_DAYS,
        )
    if blob_days < 1:
        raise _refuse("prune_blob_days", "Unnamed blobs are kept at least a day.", min=1)
    if now is None:
        now = dt.datetime.now(dt.UTC)
    if now.tzinfo is not None:
        now = now.astimezone(dt.UTC).replace(tzinfo=None)
    cutoff = now - dt.timedelta(days=days)
    deleted, kept = prune_push_batches(db, cutoff)
    removed = BlobStore(blob_dir).sweep(
        older_than_s=temp_age_s, now_s=now.replace(tzinfo=dt.UTC).timestamp()
    )
    blob_cutoff = now - dt.timedelta(days=blob_days)
    pruned = prune_blobs(db, BlobStore(blob_dir), blob_cutoff, batch=batch)
    return PruneResult(
        cutoff=cutoff,
        batches_deleted=int(deleted),
        batches_kept=int(kept),
        temp_files_removed=removed,
        blobs_removed=pruned.removed,
        blob_bytes_removed=pruned.bytes,
        blob_cutoff=blob_cutoff,
    )


def prune_blobs(
    db: Database, store: BlobStore, cutoff: dt.datetime, *, batch: int = 500
) -> BlobPrune:
    """Delete the blobs no attachment names whose every holder was last touched before
    ``cutoff``, and stored files no workspace holds that are older than it; ``batch`` per
    transaction, each under the write lock (its files are deleted before it commits)."""
    removed = size = batches = 0
    while True:
        with unnamed_blobs(db, cutoff, batch) as hashes:
            gone = _remove_files(store, hashes)  # inside the transaction and its lock
        if not hashes:
            break
        batches += 1
        removed, size = removed + gone[0], size + gone[1]
    orphans = _orphan_files(store, cutoff)
    for start in range(0, len(orphans), batch):
        chunk = orphans[start : start + batch]
        with named_or_held(db, chunk) as kept:
            gone = _remove_files(store, [sha for sha in chunk if sha not in kept])
        batches += 1
        removed, size = removed + gone[0], size + gone[1]
    return BlobPrune(removed=removed, bytes=size, batches=batches)


def _remove_files(store: BlobStore, hashes: list[str]) -> tuple[int, int]:
    """Delete these blobs' files; return (how many were there, their bytes)."""
    count = size = 0
    for sha in hashes:
        path = store.path(sha)
        try:
            size += path.stat().st_size
        except FileNotFoundError:
            continue
        if store.remove(sha):
            count += 1
    return count, size


def _orphan_files(store: BlobStore, cutoff: dt.datetime) -> list[str]:
    """The stored blobs last written before ``cutoff`` (candidates: no holder is checked)."""
    limit = cutoff.replace(tzinfo=dt.UTC).timestamp()
    found = []
    for path in _blob_files(store.root):
        if is_hash(path.name) and path.stat().st_mtime < limit:
            found.append(path.name)
    return found
