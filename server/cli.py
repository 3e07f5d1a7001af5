"""``fieldsync-server``: the office server's command line, a thin shell over ``services``.

Each command calls one plain function (``init_server``, ``add_user``, ...) that takes arguments
and returns values, so tests call them without a shell. Errors become one line on stderr and a
non-zero exit, never a traceback. Text is Simplified Chinese unless ``--lang en`` or
``FIELDSYNC_LANG=en``.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from flask import Flask
from peewee import Database, PeeweeException

from server import config, maintenance, services
from server.cli_messages import MESSAGES
from server.db import DatabaseUrlError
from server.demo.cli import demo
from server.office.cli import report
from sync import ProtocolError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Settings:
    """What every command shares: the database URL (None: the configured one), the language."""

    database_url: str | None = None
    lang: str = "zh"


def say(key: str, lang: str, **params: Any) -> str:
    """Return a message from the catalogue in the language, filled in."""
    catalogue = MESSAGES.get(lang, MESSAGES["zh"])
    template = catalogue.get(key) or MESSAGES["en"].get(key) or params.get("detail", key)
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template


def make_app(settings: Settings) -> Flask:
    """Create the server app for a command (config, database binding) without serving it."""
    from server import create_app

    overrides = {"DATABASE_URL": settings.database_url} if settings.database_url else {}
    return create_app(overrides)


@contextmanager
def opened(settings: Settings) -> Iterator[Flask]:
    """Give a command the app with its database connected, and close it afterwards."""
    app = make_app(settings)
    db: Database = app.extensions["fieldsync_db"]
    with app.app_context():
        db.connect(reuse_if_open=True)
        try:
            yield app
        finally:
            if not db.is_closed():
                db.close()


def safe_url(url: str) -> str:
    """Return a database URL fit to print: any password is masked."""
    return maintenance.mask_password(url)


# -- the functions behind the commands (callable from tests) --


def upgrade_database(settings: Settings) -> str:
    """Create or migrate the schema; return the database URL."""
    from server import migrations

    with opened(settings) as app:
        migrations.upgrade(app.extensions["fieldsync_db"])
        return safe_url(str(app.config["DATABASE_URL"]))


def init_server(settings: Settings, workspace: str, admin: str, password: str) -> dict[str, Any]:
    """Create the schema, the first workspace and its first administrator."""
    url = upgrade_database(settings)
    with opened(settings):
        space = services.create_workspace(workspace)
        user = services.create_user(admin, space, "admin", password=password)
        return {
            "database_url": url,
            "workspace": services.workspace_json(space),
            "admin": services.user_json(user),
        }


def add_workspace(settings: Settings, name: str) -> dict[str, Any]:
    """Create a workspace; return it."""
    with opened(settings):
        return services.workspace_json(services.create_workspace(name))


def add_user(
    settings: Settings,
    username: str,
    workspace: str,
    role: str,
    password: str | None = None,
    display_name: str = "",
) -> dict[str, Any]:
    """Create a user; return it with its workspace."""
    with opened(settings):
        user = services.create_user(username, workspace, role, password, display_name)
        return {**services.user_json(user), "workspace": services.workspace_json(user.workspace)}


def make_enrollment_code(settings: Settings, username: str) -> dict[str, Any]:
    """Create an enrollment code for a user; return code, user and lifetime."""
    with opened(settings) as app:
        ttl = dt.timedelta(seconds=app.config["ENROLL_CODE_TTL"])
        code = services.create_enrollment_code(username, ttl=ttl)
        return {
            "code": code,
            "username": username,
            "valid_hours": int(ttl.total_seconds() // 3600),
        }


def devices(settings: Settings, workspace: str | None = None) -> list[dict[str, Any]]:
    """Return the devices, newest first."""
    with opened(settings):
        return services.list_devices(workspace)


def revoke(settings: Settings, device_id: str) -> dict[str, Any]:
    """Revoke a device; return it."""
    with opened(settings):
        return services.device_json(services.revoke_device(device_id))


def serve(settings: Settings, host: str, port: int, echo: Callable[[str], None]) -> None:
    """Run a threaded HTTP server until interrupted (the schema is upgraded first)."""
    from werkzeug.serving import make_server

    upgrade_database(settings)
    app = make_app(settings)
    server = make_server(host, port, app, threaded=True)
    # What is loaded by now (modules, the app) lives as long as the process: keep it out of
    # the collector's full passes, which otherwise rescan it while a push builds thousands of
    # dicts (about 10% of a 1,000-change push).
    gc.freeze()
    shown = f"[{host}]" if ":" in host else host
    echo(say("serving", settings.lang, url=f"http://{shown}:{server.server_port}/"))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        echo(say("stopped", settings.lang))


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
    settings: Settings, days: int = maintenance.MIN_PRUNE_DAYS, now: dt.datetime | None = None
) -> maintenance.PruneResult:
    """Delete old push batches and stale temporary uploads."""
    with opened(settings) as app:
        blob_dir = app.config.get("BLOB_DIR") or Path(app.instance_path) / "blobs"
        return maintenance.prune(app.extensions["fieldsync_db"], blob_dir, days=days, now=now)


def new_epoch(settings: Settings) -> str:
    """Give the database a new epoch (after restoring it by other means); return it."""
    from server import migrations

    with opened(settings) as app:
        return migrations.new_epoch(app.extensions["fieldsync_db"])


def human_size(size: int) -> str:
    """Return a byte count as people read it: 512 B, 3.4 KB, 12.0 MB."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # not reached


def _counts_text(counts: dict[str, int], lang: str) -> str:
    separator = "，" if lang == "zh" else ", "
    return separator.join(
        say("rows", lang, n=n, table=say(f"table_{t}", lang)) for t, n in counts.items()
    )


# -- the commands --


def one_line_errors(command: F) -> F:
    """Turn every library error into one translated line and a non-zero exit."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        lang = _settings().lang
        try:
            return command(*args, **kwargs)
        except services.ServiceError as exc:
            message = say(exc.key, lang, detail=exc.detail, **exc.params)
            raise click.ClickException(message) from None
        except ProtocolError as exc:
            raise click.ClickException(say("error", lang, detail=exc.detail)) from None
        except DatabaseUrlError as exc:
            raise click.ClickException(say("bad_database_url", lang, detail=str(exc))) from None
        except (PeeweeException, OSError, sqlite3.Error) as exc:
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            raise click.ClickException(
                say("database_error", lang, kind=type(exc).__name__, detail=first)
            ) from None

    return wrapper  # type: ignore[return-value]


def _settings() -> Settings:
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return Settings(lang=config.language())
    return ctx.find_object(Settings) or Settings(lang=config.language())


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


@click.group(
    help="Fieldsync 办公室服务器 / office server.\n\n"
    "Example:\n\n\b\n    fieldsync-server init --workspace 庄泉社区 --admin admin --password "
    "change-me-now"
)
@click.option(
    "--database-url",
    metavar="URL",
    help="sqlite:///path/fieldsync.db or postgresql://user@host/db "
    "(default: FIELDSYNC_DATABASE_URL, else an SQLite file in the instance folder).",
)
@click.option(
    "--lang",
    type=click.Choice(config.LANGUAGES),
    help="Language of messages: zh (default) or en (or FIELDSYNC_LANG).",
)
@click.version_option(package_name="fieldsync", message="%(prog)s %(version)s")
@click.pass_context
def main(ctx: click.Context, database_url: str | None, lang: str | None) -> None:
    ctx.obj = Settings(database_url=database_url, lang=config.language(lang))


@main.command("init")
@click.option("--workspace", required=True, help="Name of the first workspace (office).")
@click.option("--admin", required=True, help="Username of the first administrator.")
@click.option("--password", required=True, help="Password of the administrator (8+ chars).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@one_line_errors
def init_command(workspace: str, admin: str, password: str, as_json: bool) -> None:
    """Create the database, the first workspace and its first administrator.

    Example:

    \b
        fieldsync-server init --workspace 庄泉社区 --admin admin --password change-me-now
    """
    settings = _settings()
    result = init_server(settings, workspace, admin, password)
    if as_json:
        _print_json(result)
        return
    click.echo(say("database", settings.lang, url=result["database_url"]))
    click.echo(say("initialized", settings.lang, workspace=workspace, admin=admin))


@main.group("workspace")
def workspace_group() -> None:
    """Manage workspaces (one per community office).

    Example:

    \b
        fieldsync-server workspace add 庄泉社区
    """


@workspace_group.command("add")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@one_line_errors
def workspace_add_command(name: str, as_json: bool) -> None:
    """Create a workspace.

    Example:

    \b
        fieldsync-server workspace add 庄泉社区
    """
    settings = _settings()
    result = add_workspace(settings, name)
    if as_json:
        _print_json(result)
    else:
        click.echo(say("workspace_added", settings.lang, **result))


@main.group("user")
def user_group() -> None:
    """Manage users (admin, staff, representative).

    Example:

    \b
        fieldsync-server user add wang --workspace 庄泉社区 --role representative
    """


@user_group.command("add")
@click.argument("username")
@click.option("--workspace", required=True, help="Name of the user's workspace.")
@click.option(
    "--role",
    required=True,
    type=click.Choice(services.ROLES),
    help="representative (field work), staff (office pages) or admin.",
)
@click.option("--password", help="Password for the office pages (8+ chars; optional).")
@click.option("--display-name", default="", help="Name shown to people, e.g. 王芳.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@one_line_errors
def user_add_command(
    username: str,
    workspace: str,
    role: str,
    password: str | None,
    display_name: str,
    as_json: bool,
) -> None:
    """Create a user in a workspace.

    Example:

    \b
        fieldsync-server user add wang --workspace 庄泉社区 --role representative
    """
    settings = _settings()
    result = add_user(settings, username, workspace, role, password, display_name)
    if as_json:
        _print_json(result)
    else:
        click.echo(
            say(
                "user_added",
                settings.lang,
                username=result["username"],
                role=result["role"],
                workspace=result["workspace"]["name"],
            )
        )


@main.command("enroll-code")
@click.argument("username")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@one_line_errors
def enroll_code_command(username: str, as_json: bool) -> None:
    """Create a single-use enrollment code for a user's device; the code is the last line.

    Example:

    \b
        fieldsync-server enroll-code wang
    """
    settings = _settings()
    result = make_enrollment_code(settings, username)
    if as_json:
        _print_json(result)
        return
    click.echo(say("code_for", settings.lang, username=username, hours=result["valid_hours"]))
    click.echo(result["code"])


@main.group("device")
def device_group() -> None:
    """List and revoke enrolled devices.

    Example:

    \b
        fieldsync-server device list
    """


@device_group.command("list")
@click.option("--workspace", help="Only this workspace's devices.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@one_line_errors
def device_list_command(workspace: str | None, as_json: bool) -> None:
    """List devices, newest first.

    Example:

    \b
        fieldsync-server device list --json
    """
    settings = _settings()
    rows = devices(settings, workspace)
    if as_json:
        _print_json(rows)
        return
    if not rows:
        click.echo(say("no_devices", settings.lang))
        return
    click.echo(say("device_header", settings.lang))
    for row in rows:
        revoked = say("yes" if row["revoked"] else "no", settings.lang)
        last = row["last_sync"] or say("never", settings.lang)
        fields = (row["device_id"], row["name"], row["user"]["username"])
        click.echo("\t".join((*fields, row["workspace"]["name"], last, revoked)))


@device_group.command("revoke")
@click.argument("device_id")
@one_line_errors
def device_revoke_command(device_id: str) -> None:
    """Revoke a device: its token stops working; its local data stays on it.

    Example:

    \b
        fieldsync-server device revoke 0b8f4c1e9d2a4f6b8c3e5a7d9f1b2c4d
    """
    settings = _settings()
    result = revoke(settings, device_id)
    click.echo(say("revoked", settings.lang, device_id=result["device_id"], name=result["name"]))


@main.command("run")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port (0: any free).")
@one_line_errors
def run_command(host: str, port: int) -> None:
    """Serve the API and office pages with a threaded HTTP server (upgrades the schema first).

    For production use gunicorn: gunicorn -w 4 'server:create_app()'.

    Example:

    \b
        fieldsync-server run --host 0.0.0.0 --port 8000
    """
    serve(_settings(), host, port, lambda line: click.echo(line) or sys.stdout.flush())


@main.command("backup")
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
    settings = _settings()
    lang = settings.lang
    result = backup(settings, folder)
    size = human_size(result.database_bytes)
    counts = _counts_text(result.counts, lang)
    click.echo(say("backup_done", lang, path=result.database, size=size, counts=counts))
    blob_size = human_size(result.blob_bytes)
    click.echo(
        say("backup_blobs", lang, count=result.blob_count, size=blob_size, path=result.blobs)
    )


@main.command("restore")
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
    settings = _settings()
    lang = settings.lang
    result = restore(settings, path, force)
    size = human_size(result.database_bytes)
    counts = _counts_text(result.counts, lang)
    click.echo(say("restore_done", lang, path=result.database, size=size, counts=counts))
    click.echo(
        say("restore_blobs", lang, copied=result.blobs_copied, present=result.blobs_present)
    )
    click.echo(say("restore_epoch", lang, epoch=result.epoch))


@main.command("prune")
@click.option(
    "--days",
    default=maintenance.MIN_PRUNE_DAYS,
    show_default=True,
    type=int,
    help=f"Delete push batches older than this (at least {maintenance.MIN_PRUNE_DAYS}).",
)
@one_line_errors
def prune_command(days: int) -> None:
    """Delete old push batches and temporary files of interrupted photo uploads.

    Example:

    \b
        fieldsync-server prune --days 90
    """
    settings = _settings()
    result = prune(settings, days)
    cutoff = result.cutoff.strftime("%Y-%m-%d %H:%M UTC")
    click.echo(
        say(
            "prune_done",
            settings.lang,
            deleted=result.batches_deleted,
            kept=result.batches_kept,
            cutoff=cutoff,
            temps=result.temp_files_removed,
        )
    )


@main.group("db")
def db_group() -> None:
    """Database maintenance.

    Example:

    \b
        fieldsync-server db upgrade
    """


@db_group.command("upgrade")
@one_line_errors
def db_upgrade_command() -> None:
    """Create the tables or migrate them to this release's schema, keeping all data.

    Example:

    \b
        fieldsync-server --database-url postgresql://fieldsync@127.0.0.1/fieldsync db upgrade
    """
    settings = _settings()
    url = upgrade_database(settings)
    click.echo(say("database", settings.lang, url=url))
    click.echo(say("upgraded", settings.lang))


@db_group.command("new-epoch")
@one_line_errors
def db_new_epoch_command() -> None:
    """Give the database a new epoch after restoring it by other means (pg_restore): every
    device then pulls from the start and pushes again what the database lacks.

    Example:

    \b
        fieldsync-server --database-url postgresql://fieldsync@127.0.0.1/fieldsync db new-epoch
    """
    settings = _settings()
    click.echo(say("restore_epoch", settings.lang, epoch=new_epoch(settings)))


main.add_command(demo)
main.add_command(report)
