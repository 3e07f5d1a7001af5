"""``fieldsync-server remind`` (the daily digest) and ``user email`` (where it is mailed)."""

from __future__ import annotations

import datetime as dt
import re
import smtplib
from typing import Any
from zoneinfo import ZoneInfo

import click
from flask import Flask

from server.cli.base import Settings, current_settings, json_option, one_line_errors, opened
from server.cli.base import print_json as _print_json
from server.cli.setup import user_group
from server.i18n import N_, texts

LINE = N_(
    "%(workspace)s %(username)s: overdue %(overdue)s, due soon %(due_soon)s, returned "
    "%(returned)s, new voices %(voices)s; %(new)s new lines%(mailed)s"
)
WOULD = N_(
    "%(workspace)s %(username)s: overdue %(overdue)s, due soon %(due_soon)s, returned "
    "%(returned)s, new voices %(voices)s (dry run, nothing written)"
)
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,60}$")


def office_today(app: Flask) -> dt.date:
    """Today in the office's time zone by the app's clock."""
    zone = ZoneInfo(app.config.get("OFFICE_TIMEZONE", "Asia/Shanghai"))
    return dt.datetime.fromtimestamp(app.config["NOW_MS"]() / 1000, zone).date()


def run_reminders(
    settings: Settings, day: dt.date | None = None, *, dry_run: bool = False
) -> list[dict[str, Any]]:
    """Write (and mail, when SMTP is configured) every person's reminders of the day."""
    from server.inbox import remind

    with opened(settings) as app:
        today = day or office_today(app)
        smtp_url = None if dry_run else app.config.get("SMTP_URL")
        try:
            digests = remind(
                today, dry_run=dry_run, smtp_url=smtp_url, sender=app.config["SMTP_FROM"]
            )
        except (OSError, smtplib.SMTPException, ValueError) as exc:
            detail = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            raise click.ClickException(
                texts(settings.lang).gettext(
                    "Reminders are in the inboxes, but e-mail failed: %(detail)s (the next "
                    "run tries again)",
                    detail=detail,
                )
            ) from None
    return [{"day": today.isoformat(), **d.to_json()} for d in digests]


@click.command("remind")
@click.option("--dry-run", is_flag=True, help="Show what is due; write and send nothing.")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Run for this day.")
@json_option
@one_line_errors
def remind_command(dry_run: bool, day: dt.datetime | None, as_json: bool) -> None:
    """Write what is due per person into their inboxes (and e-mail it); once a day is enough.

    Running it twice on a day writes and mails nothing twice. E-mail goes out when
    FIELDSYNC_SMTP_URL is set (smtp://host:25) and the user has an address (user email).

    Example:

        fieldsync-server remind --dry-run
    """
    settings = current_settings()
    digests = run_reminders(settings, day.date() if day else None, dry_run=dry_run)
    if as_json:
        _print_json(digests)
        return
    if not digests:
        click.echo(texts(settings.lang).gettext("No active users."))
    for d in digests:
        mailed = texts(settings.lang).gettext(", e-mailed") if d["mailed"] else ""
        line = WOULD if dry_run else LINE
        click.echo(texts(settings.lang).gettext(line, **{**d, "mailed": mailed}))


def set_email(settings: Settings, username: str, email: str) -> dict[str, Any]:
    """Set (or with "" clear) the address a user's reminders are mailed to."""
    from server.store import people

    email = email.strip()
    if email and not _EMAIL.match(email):
        raise click.ClickException(
            texts(settings.lang).gettext("'%(email)s' is not an e-mail address.", email=email[:80])
        )
    with opened(settings):
        changed = people.set_email(username, email)
    if not changed:
        raise click.ClickException(
            texts(settings.lang).gettext("No user '%(username)s'.", username=username[:100])
        )
    return {"username": username, "email": email}


@user_group.command("email")
@click.argument("username")
@click.argument("email")
@one_line_errors
def user_email_command(username: str, email: str) -> None:
    """Set the e-mail address of a user's daily reminders ("" clears it).

    Example:

        fieldsync-server user email wang wang@example.org
    """
    settings = current_settings()
    result = set_email(settings, username, email)
    click.echo(
        texts(settings.lang).gettext("Reminder e-mail of %(username)s: %(email)s", **result)
    )
