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
from server.cli_messages import MESSAGES
from server.db import DATABASE_ERRORS, DatabaseUrlError
from server.errors import ServerError, Unavailable
from sync import ProtocolError

F = TypeVar("F", bound=Callable[..., Any])

json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
"""The one ``--json`` option: every command that returns data takes it."""


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
        return say(exc.key, lang, **{"detail": exc.detail, **exc.params})
    return say("error", lang, detail=exc.detail)


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
            raise click.ClickException(say("bad_database_url", lang, detail=str(exc))) from None
        except (*DATABASE_ERRORS, OSError) as exc:
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
