"""``backup``, ``restore``, ``prune``: keep the office's data safe and small."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from server import maintenance
from server.cli.base import (
    Settings,
    current_settings,
    human_size,
    make_app,
    one_line_errors,
    opened,
)
from server.i18n import N_, texts


def storage(settings: Settings) -> tuple[str, Path]:
    """Return the configured database URL and blob folder (nothing is connected)."""
    app = make_app(settings)
    blob_dir = app.config.get("BLOB_DIR") or Path(app.instance_path) / "blobs"
    return str(app.config["DATABASE_URL"]), Path(blob_dir)


def backup(settings: Settings, folder: str | Path) -> maintenance.BackupResult:
    """Back up the database and blobs into ``folder`` (SQLite; safe while the server runs)."""
    url, blob_dir = storage(settings)
    return maintenance.backup(url, blob_dir, folder)


def restore(
    settings: Settings, path: str | Path, force: bool = False
) -> maintenance.RestoreResult:
    """Restore a backup over the database (SQLite) and give it a new epoch."""
    url, blob_dir = storage(settings)
    return maintenance.restore(url, blob_dir, path, force=force)


def prune(
    settings: Settings,
    days: int = maintenance.MIN_PRUNE_DAYS,
    now: dt.datetime | None = None,
    blob_days: int | None = None,
) -> maintenance.PruneResult:
    """Delete old push batches, stale temporary uploads and blobs no attachment names."""
    with opened(settings) as app:
        blob_dir = app.config.get("BLOB_DIR") or Path(app.instance_path) / "blobs"
        return maintenance.prune(
            app.extensions["fieldsync_db"], blob_dir, days=days, now=now,
            blob_days=app.config["BLOB_PRUNE_DAYS"] if blob_days is None else blob_days,
        )  # fmt: skip


TABLES = {
    "workspace": N_("workspaces"),
    "user": N_("users"),
    "device": N_("devices"),
    "record": N_("records"),
    "conflict": N_("conflicts"),
    # Rows of the history: edits, reveals, imports, and creations made before schema version
    # 11 (a record created since carries its creation entry itself: ``models.Record``).
    "change": N_("history entries"),
}


def counts_text(counts: dict[str, int], lang: str) -> str:
    """Return table row counts as one line: 3 concerns, 2 visits."""
    separator = "，" if lang == "zh" else ", "
    return separator.join(
        texts(lang).gettext("%(table)s: %(n)s", n=n, table=texts(lang).gettext(TABLES[t]))
        for t, n in counts.items()
    )


@click.command("backup")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@one_line_errors
def backup_command(folder: Path) -> None:
    """Back up the database and the photos into FOLDER (fieldsync.db + blobs/).

    SQLite: a consistent copy, safe while the server runs. PostgreSQL: prints the pg_dump
    command to use instead.

    Example:

    \b
        fieldsync-server backup /media/usb/fieldsync-2026-11-28
    """
    settings = current_settings()
    _ = texts(settings.lang).gettext
    result = backup(settings, folder)
    database = {"path": result.database, "size": human_size(result.database_bytes)}
    counts = counts_text(result.counts, settings.lang)
    click.echo(_("Backed up the database to %(path)s (%(size)s): %(counts)s.", **database,
                 counts=counts))  # fmt: skip
    blobs = {"count": result.blob_count, "path": result.blobs}
    blobs["size"] = human_size(result.blob_bytes)
    click.echo(_("Photos and files: %(count)s (%(size)s) in %(path)s.", **blobs))


@click.command("restore")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace the existing database.")
@one_line_errors
def restore_command(path: Path, force: bool) -> None:
    """Restore a backup made by 'backup' (SQLite; stop the server first).

    The restored database gets a new epoch: at their next sync, devices pull from the start
    and push again what the backup lacks.

    Example:

    \b
        fieldsync-server restore /media/usb/fieldsync-2026-11-28 --force
    """
    settings = current_settings()
    _ = texts(settings.lang).gettext
    result = restore(settings, path, force)
    database = {"path": result.database, "size": human_size(result.database_bytes)}
    counts = counts_text(result.counts, settings.lang)
    click.echo(_("Restored the database %(path)s from the backup (%(size)s): %(counts)s.",
                 **database, counts=counts))  # fmt: skip
    copied, present = result.blobs_copied, result.blobs_present
    click.echo(_("Photos and files: %(copied)s copied, %(present)s already there.",
                 copied=copied, present=present))  # fmt: skip
    click.echo(_("The database has a new epoch (%(epoch)s): at its next sync every device pulls "
                 "from the start and pushes again the changes this database lacks.",
                 epoch=result.epoch))  # fmt: skip


@click.command("prune")
@click.option(
    "--days",
    default=maintenance.MIN_PRUNE_DAYS,
    show_default=True,
    type=int,
    help=f"Delete push batches older than this (at least {maintenance.MIN_PRUNE_DAYS}).",
)
@click.option(
    "--blob-days",
    type=int,
    default=None,
    help="Delete photos and files no attachment names, untouched this long "
    "(default FIELDSYNC_BLOB_PRUNE_DAYS, 30).",
)
@one_line_errors
def prune_command(days: int, blob_days: int | None) -> None:
    """Delete old push batches, temporary files of interrupted photo uploads, and photos and
    files that no attachment names and nobody uploaded or asked about for 30 days.

    Example:

    \b
        fieldsync-server prune --days 90 --blob-days 60
    """
    settings = current_settings()
    result = prune(settings, days, blob_days=blob_days)
    cutoff = result.cutoff.strftime("%Y-%m-%d %H:%M UTC")
    click.echo(
        texts(settings.lang).gettext(
            "Deleted %(deleted)s push batches older than %(cutoff)s (%(kept)s kept); "
            "removed %(temps)s temporary files of interrupted uploads.",
            deleted=result.batches_deleted,
            kept=result.batches_kept,
            cutoff=cutoff,
            temps=result.temp_files_removed,
        )
    )
    click.echo(
        texts(settings.lang).gettext(
            "Removed %(count)s photos and files (%(size)s) that no attachment names.",
            count=result.blobs_removed,
            size=human_size(result.blob_bytes_removed),
        )
    )
