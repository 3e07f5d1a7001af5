"""``fieldsync-server report``: the dashboard's figures for a period, as text or JSON."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from server.cli.base import current_settings, json_option, one_line_errors, opened, print_json
from server.i18n import texts


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def format_report(report: dict[str, Any], workspace: str, lang: str) -> str:
    """The report as aligned lines of text in the language."""
    _ = texts(lang).gettext
    since, until = report["since"], report["until"]
    period = f"{since or '…'} — {until or '…'}" if since or until else _("all time")
    median = report["median_days_to_resolve"]
    rows = [
        (_("Concerns collected"), report["concerns_collected"]),
        (_("Concerns resolved"), report["concerns_resolved"]),
        (_("Resolution rate"), _percent(report["resolution_rate"])),
        (_("Median days to resolve"), "—" if median is None else f"{median:g}"),
        (_("Return-visit rate"), _percent(report["return_visit_rate"])),
        (_("Satisfaction rate (return visits)"), _percent(report["satisfaction_rate"])),
        (_("Voices (附议)"), report["voices"]),
        (
            _("Livelihood projects (completed/total)"),
            f"{report['projects_completed']}/{report['projects_total']}",
        ),
        (_("Reception days and forums"), report["sessions"]),
        (_("Visits in total"), report["visits_total"]),
        (_("Open for more than 30 days"), report["open_over_30_days"]),
        (_("Overdue (today)"), report["overdue"]),
        (_("Due this week"), report["due_this_week"]),
    ]
    lines = [_("Workspace '%(workspace)s'  %(period)s", workspace=workspace, period=period)]
    lines += [f"  {label}: {value}" for label, value in rows]
    return "\n".join(lines)


def pick_workspace(name: str | None, lang: str) -> tuple[str, str]:
    """(id, name) of the named workspace, or of the only one."""
    from server.store import people

    _ = texts(lang).gettext
    if name:
        found = people.find_workspace(name)
        if found is None:
            raise click.ClickException(_("No workspace '%(name)s'.", name=name))
        return found.id, found.name
    spaces = people.workspaces(limit=20)
    if not spaces:
        raise click.ClickException(_("No workspace yet; run fieldsync-server init first."))
    if len(spaces) > 1:
        names = ", ".join(w.name for w in spaces)
        raise click.ClickException(
            _("There are several workspaces; choose one with --workspace: %(names)s", names=names)
        )
    return spaces[0].id, spaces[0].name


@click.command("report")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="First day (YYYY-MM-DD).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Last day (YYYY-MM-DD).")
@click.option("--workspace", help="Workspace name or id (default: the only one).")
@json_option
@one_line_errors
def report(
    since: dt.datetime | None, until: dt.datetime | None, workspace: str | None, as_json: bool
) -> None:
    """Print the office's figures for a period: concerns, projects, sessions.

    Example:

        fieldsync-server report --since 2022-01-01 --until 2024-12-31
    """
    from server.reports import office_report

    settings = current_settings()
    with opened(settings):
        ws_id, ws_name = pick_workspace(workspace, settings.lang)
        figures = office_report(
            ws_id, since.date() if since else None, until.date() if until else None
        )
    if as_json:
        print_json({"workspace": ws_name, **figures})
    else:
        click.echo(format_report(figures, ws_name, settings.lang))
