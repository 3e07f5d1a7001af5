"""The office's report as the demo prints it: ``server.reports.office_report``'s figures,
with the livelihood projects and the reception and forum sessions listed under their counts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from demo.i18n import texts
from demo.text import choice_text
from server import reports
from server import store as office_store
from server.store.records import live_fields
from sync.records import SESSION_KINDS

__all__ = ["figure_lines", "office_report_lines", "percent"]


def office_report_lines(
    lang: str,
    workspace_id: str,
    since: dt.date | None,
    until: dt.date | None,
    conflicts: int,
    quote: str = "",
) -> tuple[dict[str, Any], list[str]]:
    """Compute the office's report for since..until; return its figures and printed lines."""
    figures = reports.office_report(workspace_id, since, until)
    details = {
        "projects": project_lines(lang, workspace_id),
        "sessions": session_lines(lang, workspace_id, since, until),
    }
    return figures, figure_lines(lang, figures, conflicts, quote, details)


def records(workspace_id: str, record_type: str) -> list[dict[str, Any]]:
    """Return the fields of the workspace's live records of one type, as the server holds them."""
    return live_fields(workspace_id, record_type)


def project_lines(lang: str, workspace_id: str) -> list[str]:
    """One line per project: done or not, title, status, dates or progress."""
    lines = []
    projects = sorted(records(workspace_id, "project"), key=lambda p: p.get("started_on") or "")
    for project in projects:
        status = project.get("status") or "proposed"
        if status == "completed":
            sep = "，" if lang == "zh" else ", "
            dates = f"{sep}{project.get('started_on')} – {project.get('completed_on')}"
        else:
            dates = f" {project.get('progress') or 0}%"
        mark = "✓" if status == "completed" else "…"
        title = project.get("title", "")
        status_text = choice_text(lang, "project", "status", status)
        lines.append(
            texts(lang).gettext(
                "%(mark)s %(title)s (%(status)s%(dates)s)",
                mark=mark,
                title=title,
                status=status_text,
                dates=dates,
            )
        )
    return lines


def session_lines(
    lang: str, workspace_id: str, since: dt.date | None, until: dt.date | None
) -> list[str]:
    """One line per reception or forum session in the period: day, title, place, attendance."""
    places: dict[str, str] = {}
    lines = []
    sessions = [v for v in records(workspace_id, "visit") if v.get("kind") in SESSION_KINDS]
    for visit in sorted(sessions, key=lambda v: v.get("started_at") or ""):
        day = (visit.get("started_at") or "")[:10]
        if (since and day < since.isoformat()) or (until and day > until.isoformat()):
            continue
        place_id = visit.get("place_id") or ""
        if place_id and place_id not in places:
            place = office_store.get_record(workspace_id, place_id) or {"fields": {}}
            places[place_id] = place["fields"].get("name", "")
        count = visit.get("attendee_count") or 0
        title = visit.get("title", "")
        lines.append(
            texts(lang).gettext(
                "%(day)s %(title)s · %(place)s · %(count)s people",
                day=day,
                title=title,
                place=places.get(place_id, ""),
                count=count,
            )
        )
    return lines


def percent(rate: float | None) -> str:
    """Return a rate (0..1) as a percentage with one decimal, or a dash when there is none."""
    return "—" if rate is None else f"{rate * 100:.1f}%"


def figure_lines(
    lang: str,
    figures: dict[str, Any],
    conflicts: int,
    quote: str,
    details: dict[str, list[str]] | None = None,
) -> list[str]:
    """Return the lines of the office's report (figures from ``server.reports.office_report``);
    ``details`` adds indented lines under "projects" and "sessions"."""
    details = details or {}
    lines = [
        texts(lang).gettext(
            "Concerns: %(collected)s collected, %(resolved)s resolved (rate %(rate)s)",
            collected=figures["concerns_collected"],
            resolved=figures["concerns_resolved"],
            rate=percent(figures.get("resolution_rate")),
        )
    ]
    if figures.get("median_days_to_resolve") is not None:
        days = f"{figures['median_days_to_resolve']:g}"
        lines.append(texts(lang).gettext("Median time to resolve: %(days)s days", days=days))
    rated = figures.get("satisfaction", {}).get("rated", 0)
    if rated:
        rate = percent(figures.get("satisfaction_rate"))
        lines.append(
            texts(lang).gettext(
                "Satisfaction on return visits: %(rate)s (%(rated)s rated)", rate=rate, rated=rated
            )
        )
    lines.append(
        texts(lang).gettext(
            "Three rates: resolved %(resolved)s, return-visited %(visited)s, "
            "satisfied %(satisfied)s",
            resolved=percent(figures.get("resolution_rate")),
            visited=percent(figures.get("return_visit_rate")),
            satisfied=percent(figures.get("satisfaction_rate")),
        )
    )
    lines.append(
        texts(lang).gettext(
"%(open)s open, %(overdue)s of them overdue", overdue=figures.get("overdue", 0),
            open=figures.get("open_concerns", 0))
    )  # fmt: skip
    lines.append(
        texts(lang).gettext(
            "Livelihood projects: %(total)s, %(completed)s completed",
            total=figures["projects_total"],
            completed=figures["projects_completed"],
        )
    )
    lines.extend("  " + line for line in details.get("projects", []))
    kinds = figures.get("sessions_by_kind", {})
    lines.append(
        texts(lang).gettext(
            "Reception and forum sessions: %(sessions)s (%(reception)s reception, "
            "%(forum)s forum)",
            sessions=figures["sessions"],
            reception=kinds.get("reception", 0),
            forum=kinds.get("forum", 0),
        )
    )
    lines.extend("  " + line for line in details.get("sessions", []))
    lines.append(
        texts(lang).gettext("Visits in all: %(total)s", total=figures.get("visits_total", 0))
    )
    lines.append(
        texts(lang).gettext("Conflicts waiting for the office: %(count)s", count=conflicts)
    )
    if quote:
        lines.append(texts(lang).gettext("The article (in Chinese): “%(quote)s”", quote=quote))
    return lines
