"""The office's figures for a period, as the dashboard shows them and ``report`` prints them
(``server.reports.office_report`` adds the workspace's settings).

Counts are computed in SQL over the records' JSON ``fields`` (SQLite ``json_extract``, PostgreSQL
``fields::jsonb ->> 'name'``); the few figures that need each row (median days to resolve) stream
only the resolved concerns' dates. Deleted records never count.

Definitions (a period is ``since``..``until``, both inclusive, either open):

- a concern is *collected* on ``raised_on`` (else the day it was created);
- it is *resolved* when its status is resolved or confirmed, on ``resolved_on`` (else the day it
  was last changed); the resolution rate is resolved / collected;
- the satisfaction rate is satisfied / rated among the period's resolved concerns (partly
  satisfied, 基本满意, counts as satisfied when the workspace's setting says so);
- the return-visit rate is resolved concerns with a return-visit follow-up / resolved;
- *voices* (附议) are support follow-ups on concerns, dated by ``happened_at`` (else created);
- casework figures are as of today: a concern is *overdue* when it is open and its due day is
  before today, *due this week* when it is open and due from today to Sunday;
- *open over 30 days*: collected in the period, not closed today, raised more than 30 days ago;
- a project counts when it ran during the period: started (``started_on``, else created) by the
  end and not completed before the start;
- *sessions* are visits of kind reception or forum, dated by ``started_at`` (else created).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable
from typing import Any

from peewee import SQL, ColumnBase, fn

from server.models import Record
from server.store.query import (
    concern_day,
    created_day,
    field,
    field_day,
    in_period,
    live,
    updated_day,
)
from server.store.reads import list_entries
from server.store.sql import database_errors, guarded
from sync import choices
from sync.casework import CLOSED_STATUSES
from sync.records import (
    CONCERN_STATUSES,
    PROJECT_STATUSES,
    RESOLVED_STATUSES,
    SESSION_KINDS,
    VISIT_KINDS,
)

OPEN_STATUSES = tuple(s for s in CONCERN_STATUSES if s not in CLOSED_STATUSES)
STALE_DAYS = 30
SATISFACTION_LEVELS = ("satisfied", "partly_satisfied", "unsatisfied")


# --- the report --------------------------------------------------------------------------------


@guarded
def figures(
    workspace_id: str,
    since: dt.date | None,
    until: dt.date | None,
    *,
    today: dt.date,
    partly_satisfied_counts: bool,
) -> dict[str, Any]:
    """Compute the office's figures for the period since..until (inclusive; None is open)."""
    report: dict[str, Any] = {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "as_of": today.isoformat(),
        "partly_satisfied_counts": partly_satisfied_counts,
    }
    report.update(_concern_figures(workspace_id, since, until, today, partly_satisfied_counts))
    report.update(_voice_figures(workspace_id, since, until))
    report.update(_casework_figures(workspace_id, today))
    report.update(_project_figures(workspace_id, since, until))
    report.update(_visit_figures(workspace_id, since, until))
    return report


def _counts(query: Any, key: ColumnBase) -> dict[str | None, int]:
    rows = query.select(key.alias("k"), fn.COUNT(Record.id).alias("n")).group_by(key).tuples()
    return {k: n for k, n in rows}


def _ordered(counts: dict[str | None, int], order: Iterable[str]) -> dict[str, int]:
    """Counts in a fixed order of known values; anything else (or missing) goes under "other"."""
    result = {name: counts.get(name, 0) for name in order}
    extra = sum(n for k, n in counts.items() if k not in result)
    if extra:
        result["other"] = result.get("other", 0) + extra
    return result


def _concern_figures(
    workspace_id: str,
    since: dt.date | None,
    until: dt.date | None,
    today: dt.date,
    partly_satisfied_counts: bool,
) -> dict[str, Any]:
    concerns = live(workspace_id, "concern")
    collected = concerns.where(*in_period(concern_day(), since, until))
    found = list_entries(workspace_id)
    lists = {rid: r["fields"] for rid, r in found.items()}
    categories = [e.key for e in choices.entries("concern.category", lists)]
    stale_before = (today - dt.timedelta(days=STALE_DAYS)).isoformat()
    open_old = collected.where(
        fn.COALESCE(field("status"), SQL("'new'")).in_(OPEN_STATUSES), concern_day() < stale_before
    )
    resolved_day = fn.COALESCE(field("resolved_on"), updated_day())
    resolved = concerns.where(
        field("status").in_(sorted(RESOLVED_STATUSES)), *in_period(resolved_day, since, until)
    )
    collected_count = collected.count()
    durations, satisfaction, revisited = _resolution_details(workspace_id, resolved)
    resolved_count = sum(satisfaction.values())
    rated = resolved_count - satisfaction.pop(None, 0)
    satisfied = satisfaction.get("satisfied", 0)
    if partly_satisfied_counts:
        satisfied += satisfaction.get("partly_satisfied", 0)
    return {
        "concerns_collected": collected_count,
        "concerns_resolved": resolved_count,
        "resolution_rate": _rate(resolved_count, collected_count),
        "median_days_to_resolve": statistics.median(durations) if durations else None,
        "return_visits": revisited,
        "return_visit_rate": _rate(revisited, resolved_count),
        "satisfaction_rate": _rate(satisfied, rated),
        "satisfaction": {
            "rated": rated,
            **{
                k: satisfaction.get(k, 0) for k in ("satisfied", "partly_satisfied", "unsatisfied")
            },
        },
        "open_over_30_days": open_old.count(),
        "concerns_by_status": _ordered(
            _counts(collected, fn.COALESCE(field("status"), SQL("'new'"))), CONCERN_STATUSES
        ),
        "concerns_by_category": _ordered(_counts(collected, field("category")), categories),
        "concerns_by_place": _by_place(workspace_id, _counts(collected, field("place_id"))),
    }


def _resolution_details(
    workspace_id: str, resolved: Any
) -> tuple[list[int], dict[str | None, int], int]:
    """Stream the resolved concerns: days to resolve, satisfaction counts, return-visited."""
    rows = resolved.select(
        Record.id,
        concern_day().alias("raised"),
        field("resolved_on").alias("resolved"),
        field("satisfaction").alias("satisfaction"),
    ).tuples()
    visited = _return_visited(workspace_id)
    durations: list[int] = []
    satisfaction: dict[str | None, int] = {}
    revisited = 0
    for record_id, raised, resolved_on, level in rows.iterator():
        satisfaction[level] = satisfaction.get(level, 0) + 1
        revisited += record_id in visited
        days = _days_between(raised, resolved_on)
        if days is not None:
            durations.append(days)
    return durations, satisfaction, revisited


def _return_visited(workspace_id: str) -> set[str]:
    """Ids of the concerns that have a return-visit follow-up."""
    rows = (
        live(workspace_id, "follow_up")
        .select(field("subject_id"))
        .where(field("kind") == "return_visit", field("subject_type") == "concern")
        .distinct()
        .tuples()
    )
    return {sid for (sid,) in rows.iterator() if sid}


def _voice_figures(
    workspace_id: str, since: dt.date | None, until: dt.date | None
) -> dict[str, Any]:
    day = fn.COALESCE(field_day("happened_at"), created_day())
    voices = live(workspace_id, "follow_up").where(
        field("kind") == "support", field("subject_type") == "concern",
        *in_period(day, since, until),
    )  # fmt: skip
    return {"voices": voices.count()}


def week_end(day: dt.date) -> dt.date:
    """The Sunday of the week of ``day`` (the end of "due this week")."""
    return day + dt.timedelta(days=6 - day.weekday())


def casework_figures(workspace_id: str, today: dt.date) -> dict[str, Any]:
    """Open concerns, overdue and due this week, in total and per owner (as of today)."""
    with database_errors():
        return _casework_figures(workspace_id, today)


def _casework_figures(workspace_id: str, today: dt.date) -> dict[str, Any]:
    status = fn.COALESCE(field("status"), SQL("'new'"))
    rows = (
        live(workspace_id, "concern")
        .select(field("owner_id"), field("due_on"))
        .where(status.in_(OPEN_STATUSES))
        .tuples()
    )
    now, sunday = today.isoformat(), week_end(today).isoformat()
    owners: dict[str | None, dict[str, int]] = {}
    for owner, due in rows.iterator():
        counts = owners.setdefault(owner, {"open": 0, "overdue": 0, "due_this_week": 0})
        counts["open"] += 1
        if isinstance(due, str) and due < now:
            counts["overdue"] += 1
        elif isinstance(due, str) and due <= sunday:
            counts["due_this_week"] += 1
    ordered = sorted(
        owners.items(), key=lambda o: (o[0] is None, -o[1]["overdue"], -o[1]["due_this_week"])
    )
    by_owner: list[dict[str, Any]] = [{"owner_id": k, **v} for k, v in ordered]
    return {
        "open_concerns": sum(o["open"] for o in by_owner),
        "overdue": sum(o["overdue"] for o in by_owner),
        "due_this_week": sum(o["due_this_week"] for o in by_owner),
        "by_owner": by_owner,
    }


def _days_between(start: Any, end: Any) -> int | None:
    try:
        days = (dt.date.fromisoformat(str(end)[:10]) - dt.date.fromisoformat(str(start)[:10])).days
    except (TypeError, ValueError):
        return None
    return days if days >= 0 else None


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _by_place(workspace_id: str, counts: dict[str | None, int]) -> list[dict[str, Any]]:
    ids = [k for k in counts if k]
    names: dict[str, str] = {}
    if ids:
        rows = live(workspace_id, "place").where(Record.id.in_(ids))
        names = {pid: name or pid for pid, name in rows.select(Record.id, field("name")).tuples()}
    places = [
        {"place_id": k, "name": names.get(k) if k else None, "count": n} for k, n in counts.items()
    ]
    return sorted(places, key=lambda p: (-p["count"], p["name"] or "\uffff"))


def _project_figures(
    workspace_id: str, since: dt.date | None, until: dt.date | None
) -> dict[str, Any]:
    started = fn.COALESCE(field_day("started_on"), created_day())
    conditions = in_period(started, None, until)
    if since is not None:
        finished = field_day("completed_on")
        conditions.append(finished.is_null() | (finished >= since.isoformat()))
    projects = live(workspace_id, "project").where(*conditions)
    by_status = _ordered(
        _counts(projects, fn.COALESCE(field("status"), SQL("'proposed'"))), PROJECT_STATUSES
    )
    return {
        "projects_total": sum(by_status.values()),
        "projects_completed": by_status.get("completed", 0),
        "projects_by_status": by_status,
    }


def _visit_figures(
    workspace_id: str, since: dt.date | None, until: dt.date | None
) -> dict[str, Any]:
    day = fn.COALESCE(field_day("started_at"), created_day())
    visits = live(workspace_id, "visit").where(*in_period(day, since, until))
    by_kind = _ordered(_counts(visits, field("kind")), VISIT_KINDS)
    sessions = {kind: by_kind.get(kind, 0) for kind in sorted(SESSION_KINDS, reverse=True)}
    return {
        "sessions": sum(sessions.values()),
        "sessions_by_kind": sessions,
        "visits_total": sum(by_kind.values()),
        "visits_by_kind": by_kind,
    }
