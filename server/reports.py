"""The office's figures for a period, as the dashboard shows them and ``report`` prints them.

Counts are computed in SQL over the records' JSON ``fields`` (SQLite ``json_extract``, PostgreSQL
``fields::jsonb ->> 'name'``); the few figures that need each row (median days to resolve) stream
only the resolved concerns' dates. Deleted records never count.

Definitions (a period is ``since``..``until``, both inclusive, either open):

- a concern is *collected* on ``raised_on`` (else the day it was created);
- it is *resolved* when its status is resolved or confirmed, on ``resolved_on`` (else the day it
  was last changed); the resolution rate is resolved / collected;
- the satisfaction rate is satisfied / rated among the period's resolved concerns;
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

from peewee import SQL, Cast, ColumnBase, Expression, NodeList, fn

from server import store
from server.db import is_postgres
from server.models import Record
from sync import choices
from sync.records import (
    CONCERN_STATUSES,
    PROJECT_STATUSES,
    RECORD_TYPES,
    RESOLVED_STATUSES,
    SESSION_KINDS,
    VISIT_KINDS,
)

CLOSED_STATUSES = frozenset({"resolved", "confirmed", "duplicate", "rejected"})
OPEN_STATUSES = tuple(s for s in CONCERN_STATUSES if s not in CLOSED_STATUSES)
STALE_DAYS = 30
SATISFACTION_LEVELS = ("satisfied", "partly_satisfied", "unsatisfied")
_KNOWN_FIELDS = frozenset(name for t in RECORD_TYPES.values() for name in t.rules)


# --- SQL over the JSON fields (shared with the office's list queries) -------------------------


def field(name: str) -> ColumnBase:
    """The text of one JSON field of ``Record.fields`` as an SQL expression (NULL when absent)."""
    if name not in _KNOWN_FIELDS:  # the name is spliced into SQL: only known field names
        raise ValueError(f"unknown record field {name!r}")
    if is_postgres():
        return NodeList((Cast(Record.fields, "jsonb"), SQL("->>"), SQL(f"'{name}'")), parens=True)
    return fn.json_extract(Record.fields, SQL(f"'$.{name}'"))


def _day(column: ColumnBase) -> ColumnBase:
    """The ISO date (YYYY-MM-DD) of a timestamp column."""
    if is_postgres():
        return fn.to_char(column, SQL("'YYYY-MM-DD'"))
    return fn.substr(column, 1, 10)


def created_day() -> ColumnBase:
    return _day(Record.created_at)


def updated_day() -> ColumnBase:
    return _day(Record.updated_at)


def field_day(name: str) -> ColumnBase:
    """The date part of a date or ISO time field (its local date, as written with its offset)."""
    return fn.substr(field(name), 1, 10)


def concern_day() -> ColumnBase:
    """The day a concern was collected: ``raised_on``, else its creation day."""
    return fn.COALESCE(field("raised_on"), created_day())


def contains(expression: ColumnBase, text: str) -> Expression:
    """Plain substring match (works for Chinese; no wildcard characters to escape)."""
    if is_postgres():
        return fn.strpos(expression, text) > 0
    return fn.instr(expression, text) > 0


def in_period(expression: ColumnBase, since: dt.date | None, until: dt.date | None) -> list[Any]:
    """Conditions putting an ISO date expression within since..until (inclusive)."""
    conditions: list[Any] = []
    if since is not None:
        conditions.append(expression >= since.isoformat())
    if until is not None:
        conditions.append(expression <= until.isoformat())
    return conditions


def live(workspace_id: str, record_type: str) -> Any:
    """Select the workspace's records of one type that are not deleted."""
    return Record.select().where(
        Record.workspace == workspace_id,
        Record.type == record_type,
        Record.deleted == False,  # noqa: E712 (peewee expression)
    )


# --- the report --------------------------------------------------------------------------------


def office_report(
    workspace_id: str,
    since: dt.date | None,
    until: dt.date | None,
    *,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """Compute the office's figures for the period since..until (inclusive; None is open)."""
    today = today or dt.date.today()
    report: dict[str, Any] = {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "as_of": today.isoformat(),
    }
    report.update(_concern_figures(workspace_id, since, until, today))
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
    workspace_id: str, since: dt.date | None, until: dt.date | None, today: dt.date
) -> dict[str, Any]:
    concerns = live(workspace_id, "concern")
    collected = concerns.where(*in_period(concern_day(), since, until))
    found = store.list_entries(workspace_id)
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
    durations, satisfaction = _resolution_details(resolved)
    resolved_count = sum(satisfaction.values())
    rated = resolved_count - satisfaction.pop(None, 0)
    return {
        "concerns_collected": collected_count,
        "concerns_resolved": resolved_count,
        "resolution_rate": _rate(resolved_count, collected_count),
        "median_days_to_resolve": statistics.median(durations) if durations else None,
        "satisfaction_rate": _rate(satisfaction.get("satisfied", 0), rated),
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


def _resolution_details(resolved: Any) -> tuple[list[int], dict[str | None, int]]:
    """Stream the resolved concerns' dates: days to resolve, and satisfaction counts."""
    rows = resolved.select(
        concern_day().alias("raised"),
        field("resolved_on").alias("resolved"),
        field("satisfaction").alias("satisfaction"),
    ).tuples()
    durations: list[int] = []
    satisfaction: dict[str | None, int] = {}
    for raised, resolved_on, level in rows.iterator():
        satisfaction[level] = satisfaction.get(level, 0) + 1
        days = _days_between(raised, resolved_on)
        if days is not None:
            durations.append(days)
    return durations, satisfaction


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
