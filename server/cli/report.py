"""``fieldsync-server report``: the dashboard's figures for a period, as text or JSON."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from server.cli.base import current_settings, json_option, one_line_errors, opened, print_json

TEXT = {
    "zh": {
        "title": "工作区“{workspace}”  {period}",
        "all_time": "全部时间",
        "collected": "收集诉求",
        "resolved": "办结诉求",
        "rate": "办结率",
        "median": "办结天数中位数",
        "return_visit": "回访率",
        "satisfaction": "满意率",
        "voices": "附议人次",
        "overdue": "已超期（今天）",
        "due_this_week": "本周到期",
        "projects": "民生项目（已完成/总数）",
        "sessions": "接待日和座谈会",
        "visits": "走访总数",
        "open_old": "超过30天未办结",
        "no_workspace": "找不到工作区“{name}”。",
        "choose_workspace": "有多个工作区，请用 --workspace 指定：{names}",
        "none": "没有工作区；请先运行 fieldsync-server init。",
    },
    "en": {
        "title": "Workspace '{workspace}'  {period}",
        "all_time": "all time",
        "collected": "Concerns collected",
        "resolved": "Concerns resolved",
        "rate": "Resolution rate",
        "median": "Median days to resolve",
        "return_visit": "Return-visit rate",
        "satisfaction": "Satisfaction rate (return visits)",
        "voices": "Voices (附议)",
        "overdue": "Overdue (today)",
        "due_this_week": "Due this week",
        "projects": "Livelihood projects (completed/total)",
        "sessions": "Reception days and forums",
        "visits": "Visits in total",
        "open_old": "Open for more than 30 days",
        "no_workspace": "No workspace '{name}'.",
        "choose_workspace": "There are several workspaces; choose one with --workspace: {names}",
        "none": "No workspace yet; run fieldsync-server init first.",
    },
}


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def format_report(report: dict[str, Any], workspace: str, lang: str) -> str:
    """The report as aligned lines of text in the language."""
    t = TEXT.get(lang, TEXT["zh"])
    since, until = report["since"], report["until"]
    period = f"{since or '…'} — {until or '…'}" if since or until else t["all_time"]
    median = report["median_days_to_resolve"]
    rows = [
        (t["collected"], report["concerns_collected"]),
        (t["resolved"], report["concerns_resolved"]),
        (t["rate"], _percent(report["resolution_rate"])),
        (t["median"], "—" if median is None else f"{median:g}"),
        (t["return_visit"], _percent(report["return_visit_rate"])),
        (t["satisfaction"], _percent(report["satisfaction_rate"])),
        (t["voices"], report["voices"]),
        (t["projects"], f"{report['projects_completed']}/{report['projects_total']}"),
        (t["sessions"], report["sessions"]),
        (t["visits"], report["visits_total"]),
        (t["open_old"], report["open_over_30_days"]),
        (t["overdue"], report["overdue"]),
        (t["due_this_week"], report["due_this_week"]),
    ]
    lines = [t["title"].format(workspace=workspace, period=period)]
    lines += [f"  {label}: {value}" for label, value in rows]
    return "\n".join(lines)


def pick_workspace(name: str | None, lang: str) -> tuple[str, str]:
    """(id, name) of the named workspace, or of the only one."""
    from server.models import Workspace

    t = TEXT.get(lang, TEXT["zh"])
    if name:
        found = Workspace.get_or_none(Workspace.name == name) or Workspace.get_or_none(
            Workspace.id == name
        )
        if found is None:
            raise click.ClickException(t["no_workspace"].format(name=name))
        return found.id, found.name
    spaces = list(Workspace.select().order_by(Workspace.name).limit(20))
    if not spaces:
        raise click.ClickException(t["none"])
    if len(spaces) > 1:
        names = ", ".join(w.name for w in spaces)
        raise click.ClickException(t["choose_workspace"].format(names=names))
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
