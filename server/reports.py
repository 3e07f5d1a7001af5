"""The office's figures for a period (``office_report``): the store's figures with the
workspace's casework settings. Definitions: ``server.store.reports``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from server.store.reports import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    SATISFACTION_LEVELS,
    STALE_DAYS,
    casework_figures,
    figures,
    week_end,
)

__all__ = [
    "CLOSED_STATUSES",
    "OPEN_STATUSES",
    "SATISFACTION_LEVELS",
    "STALE_DAYS",
    "casework_figures",
    "office_report",
    "week_end",
]


def office_report(
    workspace_id: str,
    since: dt.date | None,
    until: dt.date | None,
    *,
    today: dt.date | None = None,
    partly_satisfied_counts: bool | None = None,
) -> dict[str, Any]:
    """Compute the office's figures for the period since..until (inclusive; None is open).

    ``partly_satisfied_counts`` None: as the workspace's casework settings say.
    """
    if partly_satisfied_counts is None:
        from server.casework import get_settings

        partly_satisfied_counts = get_settings(workspace_id).partly_satisfied_counts
    return figures(
        workspace_id,
        since,
        until,
        today=today or dt.date.today(),
        partly_satisfied_counts=partly_satisfied_counts,
    )
