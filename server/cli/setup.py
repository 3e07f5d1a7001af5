"""``init``, ``workspace add``, ``user add``, ``enroll-code``: set up an office and its people."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from server import services
from server.cli.base import (
    Settings,
    current_settings,
    json_option,
    one_line_errors,
    opened,
    print_json,
)
from server.cli.db import upgrade_database
from server.i18n import texts


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
        return {
            **services.user_json(user),
            "workspace": services.workspace_json(services.get_workspace(user.workspace_id)),
        }


def make_enrollment_code(settings: Settings, username: str) -> dict[str, Any]:
    """Create an enrollment code for a user; return code, user and lifetime."""
    with opened(settings) as app:
        ttl = dt.timedelta(seconds=app.config["ENROLL_CODE_TTL"])
        code = services.create_enrollment_code(username, ttl=ttl)
        return {
            "code": services.display_code(code),
            "username": username,
            "valid_hours": int(ttl.total_seconds() // 3600),
        }


@click.command("init")
@click.option("--workspace", required=True, help="Name of the first workspace (office).")
@click.option("--admin", required=True, help="Username of the first administrator.")
@click.option("--password", required=True, help="Password of the administrator (8+ chars).")
@json_option
@one_line_errors
def init_command(workspace: str, admin: str, password: str, as_json: bool) -> None:
    """Create the database, the first workspace and its first administrator.

    Example:

    \b
        fieldsync-server init --workspace 庄泉社区 --admin admin --password change-me-now
    """
    settings = current_settings()
    result = init_server(settings, workspace, admin, password)
    if as_json:
        print_json(result)
        return
    click.echo(texts(settings.lang).gettext("Database: %(url)s", url=result["database_url"]))
    click.echo(
        texts(settings.lang).gettext(
            "Initialised: workspace '%(workspace)s', administrator %(admin)s.",
            workspace=workspace,
            admin=admin,
        )
    )


@click.group("workspace")
def workspace_group() -> None:
    """Manage workspaces (one per community office).

    Example:

    \b
        fieldsync-server workspace add 庄泉社区
    """


@workspace_group.command("add")
@click.argument("name")
@json_option
@one_line_errors
def workspace_add_command(name: str, as_json: bool) -> None:
    """Create a workspace.

    Example:

    \b
        fieldsync-server workspace add 庄泉社区
    """
    settings = current_settings()
    result = add_workspace(settings, name)
    if as_json:
        print_json(result)
    else:
        click.echo(
            texts(settings.lang).gettext("Created workspace '%(name)s' (%(id)s).", **result)
        )


@click.group("user")
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
@json_option
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
    settings = current_settings()
    result = add_user(settings, username, workspace, role, password, display_name)
    if as_json:
        print_json(result)
    else:
        click.echo(
            texts(settings.lang).gettext(
                "Created user %(username)s (%(role)s, workspace '%(workspace)s').",
                username=result["username"],
                role=result["role"],
                workspace=result["workspace"]["name"],
            )
        )


@click.command("enroll-code")
@click.argument("username")
@json_option
@one_line_errors
def enroll_code_command(username: str, as_json: bool) -> None:
    """Create a single-use enrollment code for a user's device; the code is the last line.

    Example:

    \b
        fieldsync-server enroll-code wang
    """
    settings = current_settings()
    result = make_enrollment_code(settings, username)
    if as_json:
        print_json(result)
        return
    click.echo(
        texts(settings.lang).gettext(
            "Enrollment code for %(username)s (single use, valid for %(hours)s hours):",
            username=username,
            hours=result["valid_hours"],
        )
    )
    click.echo(result["code"])
