"""``device list`` and ``device revoke``: the enrolled field devices."""

from __future__ import annotations

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
from server.i18n import texts


def devices(settings: Settings, workspace: str | None = None) -> list[dict[str, Any]]:
    """Return the devices, newest first."""
    with opened(settings):
        return services.list_devices(workspace)


def revoke(settings: Settings, device_id: str, wipe: bool = False) -> dict[str, Any]:
    """Revoke a device (``wipe``: and have it delete its personal data); return it."""
    with opened(settings):
        return services.device_json(services.revoke_device(device_id, wipe=wipe))


@click.group("device")
def device_group() -> None:
    """List and revoke enrolled devices.

    Example:

    \b
        fieldsync-server device list
    """


@device_group.command("list")
@click.option("--workspace", help="Only this workspace's devices.")
@json_option
@one_line_errors
def device_list_command(workspace: str | None, as_json: bool) -> None:
    """List devices, newest first.

    Example:

    \b
        fieldsync-server device list --json
    """
    settings = current_settings()
    rows = devices(settings, workspace)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo(texts(settings.lang).gettext("No devices."))
        return
    click.echo(
        texts(settings.lang).gettext("DEVICE ID\tNAME\tUSER\tWORKSPACE\tLAST SYNC\tREVOKED")
    )
    for row in rows:
        words = texts(settings.lang)
        revoked = words.gettext("yes") if row["revoked"] else words.gettext("no")
        last = row["last_sync"] or texts(settings.lang).gettext("never")
        fields = (row["device_id"], row["name"], row["user"]["username"])
        click.echo("\t".join((*fields, row["workspace"]["name"], last, revoked)))


@device_group.command("revoke")
@click.argument("device_id")
@click.option(
    "--wipe",
    is_flag=True,
    help="Also have the device delete its personal data, after it sends what it holds.",
)
@one_line_errors
def device_revoke_command(device_id: str, wipe: bool) -> None:
    """Revoke a device: its token stops working; its local data stays on it, unless --wipe.

    With --wipe the device, at its next contact, first sends its unsent changes and photos,
    then deletes the records, people and photos it holds.

    Example:

    \b
        fieldsync-server device revoke --wipe 0b8f4c1e9d2a4f6b8c3e5a7d9f1b2c4d
    """
    settings = current_settings()
    result = revoke(settings, device_id, wipe)
    text = texts(settings.lang)
    if wipe:
        line = text.gettext(
            "Revoked device %(device_id)s (%(name)s) with wipe: at its next contact it sends "
            "what it holds, then deletes the personal data on it.",
            device_id=result["device_id"],
            name=result["name"],
        )
    else:
        line = text.gettext(
            "Revoked device %(device_id)s (%(name)s).",
            device_id=result["device_id"],
            name=result["name"],
        )
    click.echo(line)
