"""Workspaces, users and devices as the office and the services read them: plain rows.

The rows carry the columns of their tables (foreign keys as ``*_id``); nothing here is a peewee
model, so nothing outside the store can run a query through them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from peewee import fn

from server.models import Conflict, Device, User, Workspace
from server.store.sql import guarded


@dataclass(frozen=True, slots=True)
class WorkspaceRow:
    id: str
    name: str
    created_at: dt.datetime | None = None
    settings: str = "{}"


@dataclass(frozen=True, slots=True)
class UserRow:
    id: str
    workspace_id: str
    username: str
    display_name: str
    role: str
    email: str = ""
    password_hash: str | None = None
    active: bool = True
    must_change_password: bool = False
    created_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class DeviceRow:
    id: str
    user_id: str
    workspace_id: str
    name: str
    created_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    revoked_by: str | None = None
    last_seen_at: dt.datetime | None = None
    last_push_at: dt.datetime | None = None
    last_pull_at: dt.datetime | None = None
    wipe_requested_at: dt.datetime | None = None  # revoked with wipe (docs/protocol.md 8)
    wiped_at: dt.datetime | None = None


def workspace_row(row: Workspace) -> WorkspaceRow:
    return WorkspaceRow(row.id, row.name, row.created_at, row.settings or "{}")


def user_row(row: User) -> UserRow:
    return UserRow(
        id=row.id,
        workspace_id=row.workspace_id,
        username=row.username,
        display_name=row.display_name or "",
        role=row.role,
        email=row.email or "",
        password_hash=row.password_hash,
        active=bool(row.active),
        must_change_password=bool(row.must_change_password),
        created_at=row.created_at,
    )


def device_row(row: Device) -> DeviceRow:
    return DeviceRow(
        id=row.id,
        user_id=row.user_id,
        workspace_id=row.workspace_id,
        name=row.name,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        last_seen_at=row.last_seen_at,
        last_push_at=row.last_push_at,
        last_pull_at=row.last_pull_at,
        wipe_requested_at=row.wipe_requested_at,
        wiped_at=row.wiped_at,
    )


# -- the office's lists -------------------------------------------------------------------------


@guarded
def users(workspace_id: str) -> list[UserRow]:
    """The workspace's users, by username."""
    rows = User.select().where(User.workspace == workspace_id).order_by(User.username)
    return [user_row(u) for u in rows]


@guarded
def user_labels(workspace_id: str) -> dict[str, str]:
    rows = User.select(User.id, User.username, User.display_name).where(
        User.workspace == workspace_id
    )
    return {u.id: u.display_name or u.username for u in rows}


@guarded
def active_user_labels(workspace_id: str) -> dict[str, str]:
    """Labels of the workspace's active users (who may own a concern), by name."""
    rows = User.select(User.id, User.username, User.display_name).where(
        User.workspace == workspace_id,
        User.active == True,  # noqa: E712
    )
    labels = {u.id: u.display_name or u.username for u in rows}
    return dict(sorted(labels.items(), key=lambda item: item[1]))


@guarded
def device_labels(workspace_id: str) -> dict[str, str]:
    rows = Device.select(Device.id, Device.name).where(Device.workspace == workspace_id)
    return {d.id: d.name for d in rows}


@guarded
def devices(workspace_id: str) -> list[dict[str, Any]]:
    """The workspace's devices with their user and open conflicts on their edits:
    ``{"device": DeviceRow, "user": UserRow, "open_conflicts": n}``, active ones first."""
    rows = (
        Device.select(Device, User)
        .join(User)
        .where(Device.workspace == workspace_id)
        .order_by(Device.revoked_at.is_null(False), Device.created_at.desc())
    )
    open_counts = _open_conflicts_by_device(workspace_id)
    return [
        {
            "device": device_row(d),
            "user": user_row(d.user),
            "open_conflicts": open_counts.get(d.id, 0),
        }
        for d in rows
    ]


def _open_conflicts_by_device(workspace_id: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    open_ = Conflict.select().where(Conflict.workspace == workspace_id, Conflict.status == "open")
    for column in (Conflict.kept_device, Conflict.other_device):
        rows = open_.select(column, fn.COUNT(Conflict.id)).group_by(column).tuples()
        for device_id, n in rows:
            if device_id:
                counts[device_id] = counts.get(device_id, 0) + n
    return counts
