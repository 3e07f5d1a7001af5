"""Street level (街道): the workspaces an administrator holds, their figures side by side.

A user works in their own workspace; an administrator may hold further ones (``WorkspaceGrant``,
given when they create a workspace from the office pages) and switch between them without
signing out. No Flask here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from server import services
from server.reports import office_report
from server.services import ServiceError
from server.store import people
from server.store.people import WorkspaceRow
from sync import ErrorCode

COUNTS = ("concerns_collected", "concerns_resolved", "return_visits", "open_concerns", "overdue",
          "due_this_week", "voices", "sessions", "visits_total")  # fmt: skip


def held_workspaces(user_id: str) -> list[WorkspaceRow]:
    """The user's own workspace and, for an administrator, those granted; by name."""
    user = people.user_by_id(user_id)
    if user is None:
        return []
    ids = {user.workspace_id}
    if user.role == "admin":
        ids |= people.granted_workspace_ids(user_id)
    return people.workspaces(ids)


def holds(user_id: str, workspace_id: str) -> bool:
    """Whether the user may work in this workspace."""
    return any(w.id == workspace_id for w in held_workspaces(user_id))


def create_held_workspace(admin_id: str, name: str) -> WorkspaceRow:
    """Create a workspace and give it to the administrator who made it (one transaction)."""
    admin = people.user_by_id(admin_id)
    if admin is None or admin.role != "admin":
        raise ServiceError(ErrorCode.FORBIDDEN, "not_admin", "Only administrators may do that.")
    name = services.workspace_name(name)
    workspace = people.create_granted_workspace(admin_id, name)
    if workspace is None:
        raise services.workspace_exists(name)
    return workspace


def rename_workspace(admin_id: str, workspace_id: str, name: str) -> WorkspaceRow:
    """Rename a workspace the administrator holds; names stay unique."""
    if not holds(admin_id, workspace_id):
        raise ServiceError(ErrorCode.NOT_FOUND, "no_workspace", "No such workspace.", name="")
    name = services.workspace_name(name)
    if not people.rename_workspace(workspace_id, name):
        raise services.workspace_exists(name)
    return services.get_workspace(workspace_id)


def street_figures(
    workspaces: list[WorkspaceRow], since: dt.date | None, until: dt.date | None, today: dt.date
) -> dict[str, Any]:
    """One row of figures per workspace and a total (rates recomputed from the summed counts)."""
    rows = []
    for workspace in workspaces:
        report = office_report(workspace.id, since, until, today=today)
        rows.append({"workspace_id": workspace.id, "name": workspace.name, **report})
    total: dict[str, Any] = {name: sum(r[name] for r in rows) for name in COUNTS}
    rated = sum(r["satisfaction"]["rated"] for r in rows)
    satisfied = sum(_satisfied(r) for r in rows)
    total.update(
        resolution_rate=_rate(total["concerns_resolved"], total["concerns_collected"]),
        return_visit_rate=_rate(total["return_visits"], total["concerns_resolved"]),
        satisfaction_rate=_rate(satisfied, rated),
    )
    return {"rows": rows, "total": total}


def _satisfied(row: dict[str, Any]) -> int:
    counts = row["satisfaction"]
    partly = counts["partly_satisfied"] if row["partly_satisfied_counts"] else 0
    return int(counts["satisfied"]) + int(partly)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
