"""Workspaces, users and devices as the office and the services read them: plain rows.

The rows carry the columns of their tables (foreign keys as ``*_id``); nothing here is a peewee
model, so nothing outside the store can run a query through them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from peewee import IntegrityError, fn

from server.db import write_transaction
from server.models import (
    AuditEvent,
    Change,
    Conflict,
    Device,
    EnrollmentCode,
    OfficeSession,
    Record,
    User,
    Workspace,
    WorkspaceGrant,
)
from server.store.conflicts import ConflictRow, conflict_row
from server.store.sql import bound_db, guarded, sql_for, tuples


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
        for device_id, n in tuples(open_.select(column, fn.COUNT(Conflict.id)).group_by(column)):
            if device_id:
                counts[device_id] = counts.get(device_id, 0) + n
    return counts


# -- workspaces ---------------------------------------------------------------------------------


@guarded
def create_workspace(name: str) -> WorkspaceRow | None:
    """Create a workspace; None when the name is taken."""
    try:
        with write_transaction():
            return workspace_row(Workspace.create(name=name))
    except IntegrityError:
        return None


@guarded
def find_workspace(name_or_id: str) -> WorkspaceRow | None:
    """The workspace with this name, else with this id, else None."""
    row = Workspace.get_or_none(Workspace.name == name_or_id) or Workspace.get_or_none(
        Workspace.id == name_or_id
    )
    return None if row is None else workspace_row(row)


@guarded
def workspaces(
    ids: Iterable[str] | None = None, *, limit: int | None = None
) -> list[WorkspaceRow]:
    """Every workspace (or those with these ids), by name; at most ``limit``."""
    query = Workspace.select()
    if ids is not None:
        query = query.where(Workspace.id.in_(sorted(set(ids))))
    query = query.order_by(Workspace.name)
    if limit is not None:
        query = query.limit(limit)
    return [workspace_row(w) for w in query]


@guarded
def rename_workspace(workspace_id: str, name: str) -> bool:
    """Rename a workspace; False when the name is taken."""
    try:
        with write_transaction():
            Workspace.update(name=name).where(Workspace.id == workspace_id).execute()
    except IntegrityError:
        return False
    return True


@guarded
def create_granted_workspace(admin_id: str, name: str) -> WorkspaceRow | None:
    """Create a workspace and grant it to an administrator, in one transaction; None when the
    name is taken."""
    try:
        with write_transaction():
            workspace = Workspace.create(name=name)
            WorkspaceGrant.create(user=admin_id, workspace=workspace.id)
    except IntegrityError:
        return None
    return workspace_row(workspace)


@guarded
def granted_workspace_ids(user_id: str) -> set[str]:
    """The ids of the further workspaces an administrator holds."""
    grants = WorkspaceGrant.select(WorkspaceGrant.workspace).where(WorkspaceGrant.user == user_id)
    return {g.workspace_id for g in grants}


@guarded
def workspace_settings(workspace_id: str) -> str | None:
    """The stored settings (JSON text) of a workspace, None when there is no such workspace."""
    row = Workspace.get_or_none(Workspace.id == workspace_id)
    return None if row is None else str(row.settings)


@guarded
def save_workspace_settings(workspace_id: str, text: str) -> None:
    with write_transaction():
        Workspace.update(settings=text).where(Workspace.id == workspace_id).execute()


# -- users and office sessions ------------------------------------------------------------------


@guarded
def create_user(
    workspace_id: str, username: str, role: str, password_hash: str | None, display_name: str
) -> UserRow | None:
    """Create a user; None when the username is taken."""
    try:
        with write_transaction():
            row = User.create(
                workspace=workspace_id,
                username=username,
                role=role,
                password_hash=password_hash,
                display_name=display_name,
            )
    except IntegrityError:
        return None
    return user_row(row)


@guarded
def user_named(username: str) -> UserRow | None:
    row = User.get_or_none(User.username == username)
    return None if row is None else user_row(row)


@guarded
def user_by_id(user_id: str) -> UserRow | None:
    row = User.get_or_none(User.id == user_id)
    return None if row is None else user_row(row)


@guarded
def update_user(
    user_id: str, *, end_sessions_at: dt.datetime | None = None, **values: Any
) -> None:
    """Change a user's columns (password_hash, active, must_change_password) in one transaction;
    with ``end_sessions_at`` every open office session of theirs ends then too."""
    with write_transaction():
        if values:
            User.update(**values).where(User.id == user_id).execute()
        if end_sessions_at is not None:
            OfficeSession.update(ended_at=end_sessions_at).where(
                (OfficeSession.user == user_id) & OfficeSession.ended_at.is_null()
            ).execute()


@guarded
def set_email(username: str, email: str) -> bool:
    """Set the address a user's reminders are mailed to; False when there is no such user."""
    with write_transaction():
        return bool(User.update(email=email).where(User.username == username).execute())


@dataclass(frozen=True, slots=True)
class SessionRow:
    user_id: str
    created_at: dt.datetime
    ended_at: dt.datetime | None


@guarded
def create_session(token_hash: str, user_id: str, created_at: dt.datetime) -> None:
    with write_transaction():
        OfficeSession.create(id=token_hash, user=user_id, created_at=created_at)


@guarded
def session(token_hash: str) -> SessionRow | None:
    row = OfficeSession.get_or_none(OfficeSession.id == token_hash)
    return None if row is None else SessionRow(row.user_id, row.created_at, row.ended_at)


@guarded
def end_session(token_hash: str, at: dt.datetime) -> None:
    with write_transaction():
        OfficeSession.update(ended_at=at).where(
            (OfficeSession.id == token_hash) & OfficeSession.ended_at.is_null()
        ).execute()


# -- enrollment and devices ---------------------------------------------------------------------


@guarded
def create_enrollment_code(
    code_hash: str,
    user_id: str,
    created_by: str | None,
    created_at: dt.datetime,
    expires_at: dt.datetime,
) -> None:
    with write_transaction():
        EnrollmentCode.create(
            code_hash=code_hash,
            user=user_id,
            created_by=created_by,
            created_at=created_at,
            expires_at=expires_at,
        )


@dataclass(frozen=True, slots=True)
class Enrolled:
    device: DeviceRow
    user: UserRow
    workspace: WorkspaceRow


@guarded
def redeem_enrollment_code(
    code_hash: str, device_id: str, device_name: str, token_hash: str, moment: dt.datetime
) -> Enrolled | str:
    """Turn a code into a device, in one transaction; or say why not: ``unknown``, ``used``
    or ``expired`` (a deactivated user's code is unknown)."""
    try:
        return _redeem(code_hash, device_id, device_name, token_hash, moment)
    except _Taken:
        return "used"  # a concurrent attempt took it first; this one's device is rolled back


def _redeem(
    code_hash: str, device_id: str, device_name: str, token_hash: str, moment: dt.datetime
) -> Enrolled | str:
    with write_transaction():
        row = EnrollmentCode.get_or_none(EnrollmentCode.code_hash == code_hash)
        if row is None:
            return "unknown"
        if row.used_at is not None:
            return "used"
        if row.expires_at <= moment:
            return "expired"
        user = row.user
        if not user.active:
            return "unknown"
        device = Device.create(
            id=device_id,
            user=user,
            workspace=user.workspace_id,
            name=device_name,
            token_hash=token_hash,
            created_at=moment,
        )
        # Single use even under concurrent attempts: only one update finds used_at still null.
        taken = (
            EnrollmentCode.update(used_at=moment, device=device.id)
            .where((EnrollmentCode.id == row.id) & EnrollmentCode.used_at.is_null())
            .execute()
        )
        if taken != 1:
            raise _Taken
        return Enrolled(device_row(device), user_row(user), workspace_row(user.workspace))


class _Taken(Exception):
    pass


# Every API call authenticates, so this is one plain statement (peewee's query building costs
# more than the query itself here).
_AUTH_SQL = (
    "SELECT d.id, d.user_id, d.workspace_id, d.name, d.created_at, d.revoked_at, d.revoked_by,"
    " d.last_push_at, d.last_pull_at, u.active, d.wipe_requested_at, d.wiped_at"
    ' FROM device d JOIN "user" u ON u.id = d.user_id WHERE d.token_hash = ?'
)


@guarded
def device_by_token(token_hash: str) -> tuple[DeviceRow, bool] | None:
    """The device holding a token (by its hash) and whether its user is active, or None."""
    db = bound_db()
    row = db.execute_sql(sql_for(db, _AUTH_SQL), (token_hash,)).fetchone()
    if row is None:
        return None
    when = Device.created_at.python_value
    device = DeviceRow(
        id=row[0],
        user_id=row[1],
        workspace_id=row[2],
        name=row[3],
        created_at=when(row[4]),
        revoked_at=when(row[5]),
        revoked_by=row[6],
        last_push_at=when(row[7]),
        last_pull_at=when(row[8]),
        wipe_requested_at=when(row[10]),
        wiped_at=when(row[11]),
    )
    return device, bool(row[9])


@guarded
def note_pull(device_id: str, moment: dt.datetime) -> None:
    with write_transaction():
        Device.update(last_pull_at=moment).where(Device.id == device_id).execute()


@guarded
def device_by_id(device_id: str) -> DeviceRow | None:
    row = Device.get_or_none(Device.id == device_id)
    return None if row is None else device_row(row)


def _audit(
    device: DeviceRow, action: str, by_id: str | None, moment: dt.datetime, **detail: Any
) -> None:
    """Add an audit event about a device (never a name or phone number in ``detail``)."""
    AuditEvent.create(
        workspace=device.workspace_id,
        at=moment,
        user_id=by_id,
        action=action,
        subject=device.id,
        detail=json.dumps(detail),
    )


@guarded
def revoke_device(device: DeviceRow, at: dt.datetime, by: str | None, *, wipe: bool) -> None:
    """Revoke a device (a revoked one keeps its first revocation; ``wipe`` may be added later)
    and add the audit event, in one transaction."""
    add_wipe = wipe and device.wipe_requested_at is None and device.wiped_at is None
    if device.revoked_at is not None and not add_wipe:
        return
    with write_transaction():
        changes: dict[Any, Any] = {}
        if device.revoked_at is None:
            changes.update({Device.revoked_at: at, Device.revoked_by: by})
        if add_wipe:
            changes[Device.wipe_requested_at] = at
        Device.update(changes).where(Device.id == device.id).execute()
        _audit(device, "device_revoke", by, at, wipe=wipe)


@guarded
def confirm_wiped(device: DeviceRow, at: dt.datetime) -> None:
    """Record that a device revoked with wipe deleted its personal data (once; with its audit
    event, in one transaction)."""
    with write_transaction():
        done = (
            Device.update(wiped_at=at)
            .where(
                (Device.id == device.id)
                & Device.wipe_requested_at.is_null(False)
                & Device.wiped_at.is_null()
            )
            .execute()
        )
        if done:
            _audit(device, "device_wiped", None, at)


@guarded
def devices_with_owners(
    workspace_id: str | None = None,
) -> list[tuple[DeviceRow, UserRow, WorkspaceRow]]:
    """The devices (of one workspace, or all) with their user and workspace, newest first."""
    query = Device.select(Device, User, Workspace).join(User).switch(Device).join(Workspace)
    if workspace_id is not None:
        query = query.where(Device.workspace == workspace_id)
    rows = query.order_by(Device.created_at.desc(), Device.id)
    return [(device_row(d), user_row(d.user), workspace_row(d.workspace)) for d in rows]


_OWNERS_SQL = (
    'SELECT u.username, u.display_name, u.role, w.name FROM "user" u, workspace w'
    " WHERE u.id = ? AND w.id = ?"
)


@guarded
def owners(device: DeviceRow) -> tuple[UserRow, WorkspaceRow] | None:
    """A device's user and workspace, in one query (asked on most syncs), not two."""
    db = bound_db()
    row = db.execute_sql(
        sql_for(db, _OWNERS_SQL), (device.user_id, device.workspace_id)
    ).fetchone()
    if row is None:
        return None
    user = UserRow(device.user_id, device.workspace_id, row[0], row[1] or "", row[2])
    return user, WorkspaceRow(device.workspace_id, row[3])


_ANY_OPEN_CONFLICT_SQL = (
    "SELECT 1 FROM conflict WHERE workspace_id = ? AND status = 'open' LIMIT 1"
)


@guarded
def open_conflicts_of(device: DeviceRow, limit: int = 200) -> list[ConflictRow]:
    """Open conflicts on records this device wrote (in a conflict or in the history), oldest
    first."""
    db = bound_db()
    if (
        db.execute_sql(sql_for(db, _ANY_OPEN_CONFLICT_SQL), (device.workspace_id,)).fetchone()
        is None
    ):
        return []  # the usual case, asked on most syncs: one cheap query instead of the join
    # Open conflicts are few: test each against the history by record id (indexed), rather than
    # collecting every record the device ever wrote.
    # A device that created the record touched it: from version 11 its creation is on the
    # record (``Record.created_device``), no longer a row of the history.
    touched = fn.EXISTS(
        Change.select(Change.id).where(
            (Change.record_id == Conflict.record_id) & (Change.device_id == device.id)
        )
    ) | fn.EXISTS(
        Record.select(Record.id).where(
            (Record.id == Conflict.record_id) & (Record.created_device == device.id)
        )
    )
    query = (
        Conflict.select()
        .where(
            (Conflict.workspace == device.workspace_id)
            & (Conflict.status == "open")
            & (
                (Conflict.kept_device == device.id)
                | (Conflict.other_device == device.id)
                | touched
            )
        )
        .order_by(Conflict.created_at, Conflict.id)
        .limit(limit)
    )
    return [conflict_row(c) for c in query]


@guarded
def check_database() -> None:
    """Run a trivial query, so that a health check fails when the database does."""
    bound_db().execute_sql("SELECT 1").fetchone()
