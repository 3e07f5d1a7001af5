"""``fieldsync-server``: the office server's command line, a thin shell over ``services``.

One small module per family of commands (``setup``, ``device``, ``run``, ``backup``, ``db``,
``report``), sharing ``base``: settings, messages, one-line errors and the ``--json`` option.
Each command calls one plain function (``init_server``, ``add_user``, ...) that takes arguments
and returns values, so tests call them without a shell. Errors become one line on stderr and a
non-zero exit, never a traceback. Text is Simplified Chinese unless ``--lang en`` or
``FIELDSYNC_LANG=en``.

``demo`` is not the server's: it lives in the top-level ``demo`` composition package (which
drives field devices too) and is imported only when that command runs, so the server's own
commands never load the field client.
"""

from __future__ import annotations

import importlib

import click

from server import config
from server.cli.backup import (
    backup,
    backup_command,
    prune,
    prune_command,
    restore,
    restore_command,
)
from server.cli.base import Settings, current_settings, one_line_errors, opened, safe_url
from server.cli.casework import remind_command
from server.cli.db import db_group, new_epoch, upgrade_database
from server.cli.device import device_group, devices, revoke
from server.cli.imports import import_group
from server.cli.report import report
from server.cli.run import run_command, serve
from server.cli.setup import (
    add_user,
    add_workspace,
    enroll_code_command,
    init_command,
    init_server,
    make_enrollment_code,
    user_group,
    workspace_group,
)

__all__ = [
    "Settings",
    "add_user",
    "add_workspace",
    "backup",
    "current_settings",
    "devices",
    "main",
    "make_enrollment_code",
    "new_epoch",
    "one_line_errors",
    "opened",
    "prune",
    "restore",
    "revoke",
    "safe_url",
    "serve",
    "init_server",
    "upgrade_database",
]

# Commands of composition packages outside the server: name -> (module, attribute, short help).
LAZY_COMMANDS = {
    "demo": (
        "demo.cli",
        "demo",
        "Play the article's story end to end: an office server, two devices, one conflict.",
    ),
}


class ServerGroup(click.Group):
    """The command group; a lazy command's module is imported only when that command runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return every command's name, the lazy ones included."""
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Return the command, importing a lazy one's module now."""
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            module, attribute, _ = LAZY_COMMANDS[cmd_name]
            command = getattr(importlib.import_module(module), attribute)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands in ``--help`` without importing the lazy ones."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names))
        rows = []
        for name in names:
            command = self.commands.get(name)
            if command is None:
                rows.append((name, _first_line(LAZY_COMMANDS[name][2], limit)))
            elif not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _first_line(help_text: str, limit: int) -> str:
    """Return the help's first line, shortened to ``limit`` characters."""
    line = help_text.strip().split("\n", 1)[0]
    return line if len(line) <= limit else line[: limit - 3].rstrip() + "..."


@click.group(
    cls=ServerGroup,
    help="Fieldsync 办公室服务器 / office server.\n\n"
    "Example:\n\n\b\n    fieldsync-server init --workspace 庄泉社区 --admin admin --password "
    "change-me-now",
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


for _command in (
    init_command,
    workspace_group,
    user_group,
    enroll_code_command,
    device_group,
    run_command,
    backup_command,
    restore_command,
    prune_command,
    db_group,
    report,
    remind_command,
    import_group,
):
    main.add_command(_command)
