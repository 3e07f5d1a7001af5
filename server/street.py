"""Street level (街道): the workspaces an administrator holds, their figures side by side.

A user works in their own workspace; an administrator may hold further ones (``WorkspaceGrant``,
given when they create a workspace from the office pages) and switch between them without
signing out. No Flask here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from peewee import IntegrityError

from server import services
from server.db import write_transaction
from server.models import User, Workspace, WorkspaceGrant
from server.reports import office_report
from server.services import ServiceError
from sync import ErrorCode

COUNTS = ("concerns_collected", "concerns_resolved", "return_visits", "open_concerns", "overdue",
          "due_this_week", "voices", "sessions", "visits_total")  # fmt: skip


def held_workspaces(user_id: str) -> list[Workspace]:
    """The user's own workspace and, for an administrator, those granted; by name."""
    user = User.get_or_none(User.id == user_id)
    if user is None:
        return []
    ids = {user.workspace_id}
    if user.role == "admin":
        grants = WorkspaceGrant.select(WorkspaceGrant.workspace).where(
            WorkspaceGrant.user == user_id
        )
        ids |= {g.workspace_id for g in grants}
    return list(Workspace.select().where(Workspace.id.in_(sorted(ids))).order_by(Workspace.name))


def holds(user_id: str, workspace_id: str) -> bool:
    """Whether the user may work in this workspace."""
    return any(w.id == workspace_id for w in held_workspaces(user_id))


def create_held_workspace(admin_id: str, name: str) -> Workspace:
    """Create a workspace and give it to the administrator who made it (one transaction)."""
    admin = User.get_or_none((User.id == admin_id) & (User.role == "admin"))
    if admin is None:
        raise ServiceError(ErrorCode.FORBIDDEN, "not_admin", "Only administrators may do that.")
    with write_transaction():
        workspace = services.create_workspace(name)
        WorkspaceGrant.create(user=admin_id, workspace=workspace.id)
    return workspace


def rename_workspace(admin_id: str, workspace_id: str, name: str) -> Workspace:
    """Rename a workspace the administrator holds; names stay unique."""
    if not holds(admin_id, workspace_id):
        raise ServiceError(ErrorCode.NOT_FOUND, "no_workspace", "No such workspace.", name="")
    name = (name or "").strip()
    if not 1 <= len(name) <= 200:
        raise ServiceError(
            ErrorCode.INVALID_REQUEST, "workspace_name", "A workspace name has 1-200 characters."
        )
    try:
        with write_transaction():
            Workspace.update(name=name).where(Workspace.id == workspace_id).execute()
    except IntegrityError as exc:
        raise ServiceError(
            ErrorCode.INVALID_REQUEST, "workspace_exists",
            f"A workspace named {name!r} already exists.", name=name,
        ) from exc  # fmt: skip
    return Workspace.get_by_id(workspace_id)


def street_figures(
    workspaces: list[Workspace], since: dt.date | None, until: dt.date | None, today: dt.date
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
