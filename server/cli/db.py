"""``db upgrade`` and ``db new-epoch``: the schema and the database's epoch."""

from __future__ import annotations

import click

from server.cli.base import Settings, current_settings, one_line_errors, opened, safe_url
from server.i18n import texts


def upgrade_database(settings: Settings) -> str:
    """Create or migrate the schema; return the database URL."""
    from server import migrations

    with opened(settings) as app:
        migrations.upgrade(app.extensions["fieldsync_db"])
        return safe_url(str(app.config["DATABASE_URL"]))


def new_epoch(settings: Settings) -> str:
    """Give the database a new epoch (after restoring it by other means); return it."""
    from server import migrations

    with opened(settings) as app:
        return migrations.new_epoch(app.extensions["fieldsync_db"])


@click.group("db")
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
    settings = current_settings()
    url = upgrade_database(settings)
    click.echo(texts(settings.lang).gettext("Database: %(url)s", url=url))
    click.echo(texts(settings.lang).gettext("The database schema is up to date."))


@db_group.command("new-epoch")
@one_line_errors
def db_new_epoch_command() -> None:
    """Give the database a new epoch after restoring it by other means (pg_restore): every
    device then pulls from the start and pushes again what the database lacks.

    Example:

    \b
        fieldsync-server --database-url postgresql://fieldsync@127.0.0.1/fieldsync db new-epoch
    """
    settings = current_settings()
    click.echo(
        texts(settings.lang).gettext(
            "The database has a new epoch (%(epoch)s): at its next sync every device "
            "pulls from the start and pushes again the changes this database lacks.",
            epoch=new_epoch(settings),
        )
    )
