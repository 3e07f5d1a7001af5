"""What every ``fieldsync-server`` command shares: settings, messages, errors, ``--json``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

import click
from flask import Flask

from server import config, maintenance
from server.db import DATABASE_ERRORS, DatabaseUrlError
from server.errors import ServerError, Unavailable
from server.i18n import N_, texts
from sync import ProtocolError

F = TypeVar("F", bound=Callable[..., Any])

json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
"""The one ``--json`` option: every command that returns data takes it."""


# What the CLI reports as one line: the database or the disk failed.
UNAVAILABLE: tuple[type[Exception], ...] = (*DATABASE_ERRORS, OSError)


@dataclass
class Settings:
    """What every command shares: the database URL (None: the configured one), the language."""

    database_url: str | None = None
    lang: str = "zh"


# The sentence of each error key (``ServerError.key``) a command can meet; the Chinese is in the
# server's catalogue (``server.i18n``).
REASONS = {
    "workspace_name": N_("A workspace name has 1-200 characters."),
    "workspace_exists": N_("A workspace named '%(name)s' already exists."),
    "no_workspace": N_("No workspace '%(name)s'."),
    "bad_username": N_("A username has 1-100 letters, digits or . _ @ -."),
    "bad_role": N_("The role must be one of: %(roles)s."),
    "short_password": N_("A password needs at least %(min)s characters."),
    "long_display_name": N_("A display name has at most 200 characters."),
    "user_exists": N_("A user named %(username)s already exists."),
    "no_user": N_("No user %(username)s."),
    "user_inactive": N_("That user is deactivated."),
    "no_device": N_("No device %(device_id)s."),
    "device_name": N_("A device name has 1-100 characters."),
    "database_error": N_(
        "Database error (%(kind)s): %(detail)s. For a new database run "
        "'fieldsync-server db upgrade' first."
    ),
    "backup_postgres": N_(
        "PostgreSQL is backed up with pg_dump (copy the photo folder %(blobs)s as well): "
        "%(command)s"
    ),
    "restore_postgres": N_(
        "PostgreSQL is restored with pg_restore, then run 'fieldsync-server db new-epoch': "
        "%(command)s"
    ),
    "no_database_file": N_("No database at %(path)s."),
    "backup_exists": N_("%(path)s already exists: choose an empty backup folder."),
    "backup_in_place": N_("Choose a backup folder outside the server's own folders."),
    "no_backup": N_("No backup at %(path)s."),
    "not_a_backup": N_("%(path)s is not a Fieldsync database (or it is damaged)."),
    "restore_exists": N_(
        "The database %(path)s exists: to replace it with the backup, stop the server and add "
        "--force."
    ),
    "prune_days": N_(
        "Push batches are kept at least %(min)s days: --days cannot be below %(min)s."
    ),
    "prune_blob_days": N_(
        "Photos and files no attachment names are kept at least %(min)s day: --blob-days "
        "cannot be below %(min)s."
    ),
    "maintenance_memory": N_("An in-memory database cannot be backed up or restored."),
}


def make_app(settings: Settings) -> Flask:
    """Create the server app for a command (config, database binding) without serving it."""
    from server import create_app

    overrides = {"DATABASE_URL": settings.database_url} if settings.database_url else {}
    return create_app(overrides)


@contextmanager
def opened(settings: Settings) -> Iterator[Flask]:
    """Give a command the app with its database connected, and close it afterwards."""
    app = make_app(settings)
    db = app.extensions["fieldsync_db"]
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


def current_settings() -> Settings:
    """Return the settings of the running command (the defaults outside one)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return Settings(lang=config.language())
    return ctx.find_object(Settings) or Settings(lang=config.language())


def print_json(value: Any) -> None:
    """Print a command's result as indented JSON, keeping Chinese readable."""
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def error_line(exc: ServerError | ProtocolError, lang: str) -> str:
    """Return the one line a command prints for an error, in the language."""
    if isinstance(exc, ServerError):
        reason = REASONS.get(exc.key, N_("Error: %(detail)s"))
        return texts(lang).gettext(reason, **{"detail": exc.detail, **exc.params})
    return texts(lang).gettext("Error: %(detail)s", detail=exc.detail)


def one_line_errors(command: F) -> F:
    """Turn every library error into one translated line and a non-zero exit."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        lang = current_settings().lang
        try:
            return command(*args, **kwargs)
        except ProtocolError as exc:  # ServerError among them
            raise click.ClickException(error_line(exc, lang)) from None
        except DatabaseUrlError as exc:
            raise click.ClickException(
                texts(lang).gettext("Bad database URL: %(detail)s", detail=str(exc))
            ) from None
        except UNAVAILABLE as exc:
            raise click.ClickException(error_line(Unavailable(exc), lang)) from None

    return wrapper  # type: ignore[return-value]


def human_size(size: int) -> str:
    """Return a byte count as people read it: 512 B, 3.4 KB, 12.0 MB."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # not reached
