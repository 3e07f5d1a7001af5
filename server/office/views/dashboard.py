"""The dashboard: the office's figures for a chosen period, with charts drawn on the server."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import render_template, request
from flask_babel import gettext as _

from server.office import bp, charts, labels
from server.office.queries import user_labels
from server.office.views.common import parse_date, today, workspace_id
from server.reports import office_report
from server.store.records import any_live


def presets(day: dt.date) -> list[tuple[str, dt.date | None, dt.date | None]]:
    """Common periods: this month, this quarter, this year, the last 12 months, everything."""
    quarter_start = dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return [
        (_("This month"), day.replace(day=1), day),
        (_("This quarter"), quarter_start, day),
        (_("This year"), dt.date(day.year, 1, 1), day),
        (_("Last 12 months"), day - dt.timedelta(days=365), day),
        (_("All time"), None, None),
    ]


def default_period(ws: str, day: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The period the dashboard opens on: all the data there is, or the last 12 months."""
    if any_live(ws, "concern"):
        return None, None
    return day - dt.timedelta(days=365), day


@bp.route("/")
def dashboard() -> Any:
    errors: list[str] = []
    day = today()
    if "since" in request.args or "until" in request.args:
        since, until = parse_date("since", errors), parse_date("until", errors)
    else:
        since, until = default_period(workspace_id(), day)
    if since and until and since > until:
        since, until = until, since
        errors.append(_("The period ends before it starts; the dates were swapped."))
    report = office_report(workspace_id(), since, until, today=day)
    return render_template(
        "office/dashboard.html",
        report=report,
        since=since,
        until=until,
        presets=[(label, s, u, (s, u) == (since, until)) for label, s, u in presets(day)],
        errors=errors,
        charts=_charts(report),
        owners=user_labels(workspace_id()),
    )


def _charts(report: dict[str, Any]) -> dict[str, Any]:
    def choice(field: str, counts: dict[str, int], record_type: str = "concern") -> list:
        return [(labels.choice_label(record_type, field, k), n) for k, n in counts.items() if n]

    places = [(p["name"] or _("No place"), p["count"]) for p in report["concerns_by_place"][:10]]
    visits = choice("kind", report["visits_by_kind"], "visit")
    return {
        "resolution": charts.ring(report["resolution_rate"], _("Resolution rate")),
        "return_visits": charts.ring(
            report["return_visit_rate"], _("Return-visit rate"), color=charts.PALETTE[4]
        ),
        "satisfaction": charts.ring(
            report["satisfaction_rate"], _("Satisfaction rate"), color=charts.PALETTE[2]
        ),
        "category": charts.bars(choice("category", report["concerns_by_category"]),
                                _("Concerns by category")),
        "place": charts.bars(places, _("Concerns by place"), color=charts.PALETTE[1]),
        "status": charts.bars(choice("status", report["concerns_by_status"]),
                              _("Concerns by status"), color=charts.PALETTE[3]),
        "projects": charts.bars(choice("status", report["projects_by_status"], "project"),
                                _("Projects by status"), color=charts.PALETTE[6]),
        "visits": charts.bars(visits, _("Visits by kind"), color=charts.PALETTE[5]),
    }  # fmt: skip
