"""Use cases of the office server: workspaces, users, enrollment, devices. No Flask here.

Every failure is a ``server.errors.ServerError`` (``NotFound`` or ``Refused``, with a stable
``key`` for the message catalogue), so the API renders it as problem+json and the CLI as one
translated line.

Enrollment codes that are unknown, used or expired all answer ``401 unauthorized`` (the code is
a credential); ``reason`` in the problem body says which, so a device can tell its user to ask
for a new code.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
import secrets
import uuid
from typing import Any

from peewee import IntegrityError, fn
from werkzeug.security import check_password_hash, generate_password_hash

from server import store
from server.db import database, write_transaction
from server.errors import NotFound, Refused, ServerError
from server.models import (
    AuditEvent,
    Change,
    Conflict,
    Device,
    EnrollmentCode,
    OfficeSession,
    User,
    Workspace,
)
from sync import ErrorCode

ROLES = User.ROLES
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud and typed by hand
CODE_LENGTH = 10
CODE_TTL = dt.timedelta(hours=72)
MIN_PASSWORD = 8
_USERNAME = re.compile(r"^[\w.@-]{1,100}$")


@functools.cache
def _dummy_hash() -> str:
    """A hash to check against for unknown users, so they cost as much time as a wrong password."""
    return generate_password_hash("fieldsync-timing-guard")


Now = dt.datetime | int | None


# The old name of the server's error root, kept for code that still says it.
ServiceError = ServerError


def _utc(now: Now = None) -> dt.datetime:
    """Return ``now`` (datetime, epoch ms or None) as a naive UTC datetime, as tables store it."""
    if now is None:
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if isinstance(now, int):
        return dt.datetime.fromtimestamp(now / 1000, dt.UTC).replace(tzinfo=None)
    return now.astimezone(dt.UTC).replace(tzinfo=None) if now.tzinfo else now


def _epoch_ms(now: Now = None) -> int:
    moment = _utc(now).replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def sha256_hex(text: str) -> str:
    """Return the SHA-256 hex digest of a text (how tokens and codes are stored)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.replace(tzinfo=dt.UTC).isoformat()


# -- workspaces and users --


def create_workspace(name: str) -> Workspace:
    """Create a workspace (one community office) with a unique name."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 200:
        raise Refused(
            ErrorCode.INVALID_REQUEST, "workspace_name", "A workspace name has 1-200 characters."
        )
    try:
        with write_transaction():
            return Workspace.create(name=name)
    except IntegrityError as exc:
        raise Refused(
            ErrorCode.INVALID_REQUEST,
            "workspace_exists",
            f"A workspace named {name!r} already exists.",
            name=name,
        ) from exc


def get_workspace(workspace: Workspace | str) -> Workspace:
    """Return a workspace given itself, its name or its id; raise not_found otherwise."""
    if isinstance(workspace, Workspace):
        return workspace
    found = Workspace.get_or_none(Workspace.name == workspace) or Workspace.get_or_none(
        Workspace.id == workspace
    )
    if found is None:
        raise NotFound("no_workspace", f"No workspace {workspace!r}.", name=workspace)
    return found


def list_workspaces() -> list[dict[str, Any]]:
    """Return every workspace as {id, name}."""
    return [workspace_json(w) for w in Workspace.select().order_by(Workspace.name)]


def create_user(
    username: str,
    workspace: Workspace | str,
    role: str,
    password: str | None = None,
    display_name: str = "",
) -> User:
    """Create a user of a workspace; passwords are stored hashed (scrypt)."""
    username = (username or "").strip()
    if not _USERNAME.match(username):
        raise Refused(
            ErrorCode.INVALID_REQUEST,
            "bad_username",
            "A username has 1-100 letters, digits or . _ @ -.",
        )
    if role not in ROLES:
        raise Refused(
            ErrorCode.INVALID_REQUEST,
            "bad_role",
            "The role must be one of: " + ", ".join(ROLES) + ".",
            roles=", ".join(ROLES),
        )
    if password is not None and len(password) < MIN_PASSWORD:
        raise Refused(
            ErrorCode.INVALID_REQUEST,
            "short_password",
            f"A password needs at least {MIN_PASSWORD} characters.",
            min=MIN_PASSWORD,
        )
    if len(display_name or "") > 200:
        raise Refused(
            ErrorCode.INVALID_REQUEST, "long_display_name", "A display name has at most 200."
        )
    space = get_workspace(workspace)
    hashed = generate_password_hash(password) if password else None
    try:
        with write_transaction():
            return User.create(
                workspace=space,
                username=username,
                role=role,
                password_hash=hashed,
                display_name=display_name or "",
            )
    except IntegrityError as exc:
        raise Refused(
            ErrorCode.INVALID_REQUEST,
            "user_exists",
            f"A user named {username!r} already exists.",
            username=username,
        ) from exc


def get_user(username: str) -> User:
    """Return a user by username; raise not_found otherwise."""
    user = User.get_or_none(User.username == username)
    if user is None:
        raise NotFound("no_user", f"No user {username!r}.", username=username)
    return user


def set_password(username: str, password: str) -> None:
    """Replace a user's password."""
    if len(password or "") < MIN_PASSWORD:
        raise Refused(
            ErrorCode.INVALID_REQUEST,
            "short_password",
            f"A password needs at least {MIN_PASSWORD} characters.",
            min=MIN_PASSWORD,
        )
    user = get_user(username)
    with write_transaction():
        User.update(password_hash=generate_password_hash(password)).where(
            User.id == user.id
        ).execute()
        _end_sessions_of(user.id)


def deactivate_user(username: str, *, now: Now = None) -> User:
    """Take a user out of service: no sign-in, no enrollment, every session and device refused."""
    user = get_user(username)
    with write_transaction():
        User.update(active=False).where(User.id == user.id).execute()
        _end_sessions_of(user.id, now)
    return get_user(username)


# -- office sessions --

SESSION_TTL = dt.timedelta(hours=12)


def start_session(user: User, *, now: Now = None) -> str:
    """Record a new office session of ``user``; return the random id its cookie carries."""
    token = new_token()
    with write_transaction():
        OfficeSession.create(id=sha256_hex(token), user=user.id, created_at=_utc(now))
    return token


def session_user(token: Any, user_id: str, *, now: Now = None, ttl: dt.timedelta = SESSION_TTL):
    """Return the active user of a live session (not ended, younger than ``ttl``), else None."""
    if not isinstance(token, str) or not 0 < len(token) <= 100:
        return None
    row = OfficeSession.get_or_none(OfficeSession.id == sha256_hex(token))
    if row is None or row.ended_at is not None or row.user_id != user_id:
        return None
    if row.created_at <= _utc(now) - ttl:
        return None
    return User.get_or_none((User.id == user_id) & (User.active == True))  # noqa: E712


def end_session(token: Any, *, now: Now = None) -> None:
    """End one office session (logout); an unknown id is ignored."""
    if isinstance(token, str) and token:
        with write_transaction():
            OfficeSession.update(ended_at=_utc(now)).where(
                (OfficeSession.id == sha256_hex(token)) & OfficeSession.ended_at.is_null()
            ).execute()


def _end_sessions_of(user_id: str, now: Now = None) -> None:
    OfficeSession.update(ended_at=_utc(now)).where(
        (OfficeSession.user == user_id) & OfficeSession.ended_at.is_null()
    ).execute()


def reset_password(username: str) -> str:
    """Give a user a new temporary password (returned once) to replace at the next login."""
    user = get_user(username)
    temporary = "-".join(secrets.token_hex(2) for _ in range(3))
    with write_transaction():
        User.update(
            password_hash=generate_password_hash(temporary), must_change_password=True
        ).where(User.id == user.id).execute()
        _end_sessions_of(user.id)  # every open session of theirs ends now
    return temporary


def change_password(username: str, current: str, new: str) -> None:
    """Replace one's own password after checking the current one; clears a forced change.

    Every session of the user ends (``set_password``): the caller signs the current one in anew.
    """
    if check_password(username, current) is None:
        raise ServiceError(ErrorCode.FORBIDDEN, "wrong_password", "The current password is wrong.")
    if new == current:
        raise ServiceError(
            ErrorCode.INVALID_REQUEST, "same_password", "Choose a password you have not used."
        )
    set_password(username, new)
    with write_transaction():
        User.update(must_change_password=False).where(User.username == username).execute()


def reactivate_user(username: str) -> User:
    """Bring a deactivated user back: sign-in and the same devices work again."""
    user = get_user(username)
    with write_transaction():
        User.update(active=True).where(User.id == user.id).execute()
    return get_user(username)


def check_password(username: str, password: str) -> User | None:
    """Return the active user whose password this is, else None (same cost either way)."""
    user = User.get_or_none(User.username == (username or "").strip())
    if user is None or not user.password_hash:
        check_password_hash(_dummy_hash(), password or "")
        return None
    if not check_password_hash(user.password_hash, password or "") or not user.active:
        return None
    return user


def user_json(user: User) -> dict[str, Any]:
    """Return the wire form of a user."""
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
    }


def workspace_json(workspace: Workspace) -> dict[str, Any]:
    """Return the wire form of a workspace."""
    return {"id": workspace.id, "name": workspace.name}


# -- enrollment --


def display_code(code: str) -> str:
    """Show an enrollment code the one way people see it everywhere: ``CDY4F-FR4PG``."""
    plain = normalize_code(code)
    return f"{plain[:5]}-{plain[5:]}" if len(plain) > 5 else plain


def normalize_code(code: str) -> str:
    """Return an enrollment code as stored: upper case, without spaces or dashes."""
    return re.sub(r"[\s-]+", "", code or "").upper()


def create_enrollment_code(
    username: str, created_by: str | None = None, now: Now = None, ttl: dt.timedelta = CODE_TTL
) -> str:
    """Create a single-use enrollment code for a user, valid for 72 hours; return it (once)."""
    user = get_user(username)
    if not user.active:
        raise Refused(ErrorCode.FORBIDDEN, "user_inactive", f"User {username!r} is deactivated.")
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    moment = _utc(now)
    with write_transaction():
        EnrollmentCode.create(
            code_hash=sha256_hex(code),
            user=user,
            created_by=created_by,
            created_at=moment,
            expires_at=moment + ttl,
        )
    return code


def _bad_code(reason: str) -> Refused:
    details = {
        "unknown": "This enrollment code is not known. Check it, or ask the office for a new one.",
        "used": "This enrollment code was already used. Ask the office for a new one.",
        "expired": "This enrollment code has expired. Ask the office for a new one.",
    }
    return Refused(ErrorCode.UNAUTHORIZED, f"code_{reason}", details[reason], reason=reason)


def new_device_id() -> str:
    """Return a new device id: also the device's node id in its stamps."""
    return uuid.uuid4().hex


def new_token() -> str:
    """Return a new bearer token: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def enroll(code: str, device_name: str, *, now: Now = None) -> dict[str, Any]:
    """Turn an enrollment code into a device and its token; return the enroll response body."""
    device_name = (device_name or "").strip()
    if not 1 <= len(device_name) <= 100:
        raise Refused(
            ErrorCode.INVALID_REQUEST, "device_name", "A device name has 1-100 characters."
        )
    moment = _utc(now)
    token = new_token()
    with write_transaction():
        code_hash = sha256_hex(normalize_code(code))
        row = EnrollmentCode.get_or_none(EnrollmentCode.code_hash == code_hash)
        if row is None:
            raise _bad_code("unknown")
        if row.used_at is not None:
            raise _bad_code("used")
        if row.expires_at <= moment:
            raise _bad_code("expired")
        user = row.user
        if not user.active:
            raise _bad_code("unknown")
        device = Device.create(
            id=new_device_id(),
            user=user,
            workspace=user.workspace_id,
            name=device_name,
            token_hash=sha256_hex(token),
            created_at=moment,
        )
        # Single use even under concurrent attempts: only one update finds used_at still null.
        taken = (
            EnrollmentCode.update(used_at=moment, device=device.id)
            .where((EnrollmentCode.id == row.id) & EnrollmentCode.used_at.is_null())
            .execute()
        )
        if taken != 1:
            raise _bad_code("used")
    return {
        "device_id": device.id,
        "token": token,
        "user": user_json(user),
        "workspace": workspace_json(user.workspace),
        "server_time": server_time(now),
    }


# -- devices --


# Every API call authenticates, so this is one plain statement (peewee's query building costs
# more than the query itself here).
_AUTH_SQL = (
    "SELECT d.id, d.user_id, d.workspace_id, d.name, d.created_at, d.revoked_at, d.revoked_by,"
    " d.last_push_at, d.last_pull_at, u.active, d.wipe_requested_at, d.wiped_at"
    ' FROM device d JOIN "user" u ON u.id = d.user_id WHERE d.token_hash = ?'
)


def _revoked(wipe: bool) -> Refused:
    if not wipe:
        return Refused(
            ErrorCode.DEVICE_REVOKED,
            "device_revoked",
            "The office revoked this device. Its local data is kept; ask the office to enroll "
            "it again.",
        )
    refusal = Refused(
        ErrorCode.DEVICE_REVOKED,
        "device_revoked_wipe",
        "The office revoked this device with wipe: push what it holds, delete its synced "
        "personal data, then POST /api/v1/device/wiped.",
    )
    refusal.extra["wipe"] = True
    return refusal


def authenticate_device(token: str | None, *, wiping: bool = False) -> Device:
    """Return the device holding this bearer token; raise unauthorized or device_revoked.

    ``wiping``: the route is one a device revoked with wipe may still use (sending what it
    has, saying it wiped) until it has said so; every other route tells it to wipe.
    """
    if not token:
        raise Refused(
            ErrorCode.UNAUTHORIZED, "no_token", "Send 'Authorization: Bearer <device token>'."
        )
    sql = _AUTH_SQL.replace("?", database.param)
    row = database.execute_sql(sql, (sha256_hex(token),)).fetchone()
    if row is None:
        raise Refused(ErrorCode.UNAUTHORIZED, "bad_token", "The device token is not known.")
    wipe_pending = row[10] is not None and row[11] is None
    if row[5] is not None and not (wipe_pending and wiping):
        raise _revoked(wipe_pending)
    if not row[9]:
        raise Refused(
            ErrorCode.FORBIDDEN, "user_inactive", "The user of this device is deactivated."
        )
    when = Device.created_at.python_value
    return Device(
        id=row[0],
        user=row[1],
        workspace=row[2],
        name=row[3],
        created_at=when(row[4]),
        revoked_at=when(row[5]),
        revoked_by=row[6],
        last_push_at=when(row[7]),
        last_pull_at=when(row[8]),
        wipe_requested_at=when(row[10]),
    )


def note_pull(device: Device, *, now: Now = None) -> None:
    """Remember when a device last pulled (at most one write a minute per device)."""
    moment = _utc(now)
    last = device.last_pull_at
    if last is None or moment - last >= dt.timedelta(minutes=1) or moment < last:
        with write_transaction():
            Device.update(last_pull_at=moment).where(Device.id == device.id).execute()


def get_device(device_id: str) -> Device:
    """Return a device by id; raise not_found otherwise."""
    device = Device.get_or_none(Device.id == device_id)
    if device is None:
        raise NotFound("no_device", f"No device {device_id!r}.", device_id=device_id)
    return device


def _audit(
    device: Device, action: str, by_id: str | None, moment: dt.datetime, **detail: Any
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


def revoke_device(
    device_id: str, by: User | str | None = None, *, wipe: bool = False, now: Now = None
) -> Device:
    """Revoke a device: its token stops working at once (an audit event says who did it).

    ``wipe``: the device may still send what it holds, then deletes its synced personal data
    (docs/protocol.md section 8); a device revoked earlier can be told to wipe later.
    Revoking twice is harmless.
    """
    device = get_device(device_id)
    by_id = by.id if isinstance(by, User) else by
    moment = _utc(now)
    add_wipe = wipe and device.wipe_requested_at is None and device.wiped_at is None
    if device.revoked_at is None or add_wipe:
        with write_transaction():
            changes: dict[Any, Any] = {}
            if device.revoked_at is None:
                changes.update({Device.revoked_at: moment, Device.revoked_by: by_id})
            if add_wipe:
                changes[Device.wipe_requested_at] = moment
            Device.update(changes).where(Device.id == device.id).execute()
            _audit(device, "device_revoke", by_id, moment, wipe=wipe)
    return get_device(device_id)


def confirm_wiped(device: Device, *, now: Now = None) -> dict[str, Any]:
    """Record that a device revoked with wipe deleted its personal data; from now on every
    request of it is refused. Saying it twice is harmless."""
    moment = _utc(now)
    with write_transaction():
        done = (
            Device.update(wiped_at=moment)
            .where(
                (Device.id == device.id)
                & Device.wipe_requested_at.is_null(False)
                & Device.wiped_at.is_null()
            )
            .execute()
        )
        if done:
            _audit(device, "device_wiped", None, moment)
    return {"device_id": device.id, "wiped": True, "server_time": server_time(now)}


def device_json(device: Device) -> dict[str, Any]:
    """Return a device for listings (no token, of course)."""
    seen = [t for t in (device.last_push_at, device.last_pull_at) if t is not None]
    return {
        "device_id": device.id,
        "name": device.name,
        "user": user_json(device.user),
        "workspace": workspace_json(device.workspace),
        "created_at": _iso(device.created_at),
        "last_sync": _iso(max(seen)) if seen else None,
        "revoked": device.revoked_at is not None,
        "revoked_at": _iso(device.revoked_at),
        "wipe": _wipe_state(device),
    }


def _wipe_state(device: Device) -> str | None:
    """None (no wipe asked), "pending" (asked, the device has not said it wiped) or "done"."""
    if getattr(device, "wiped_at", None) is not None:
        return "done"
    return "pending" if getattr(device, "wipe_requested_at", None) is not None else None


def list_devices(workspace: Workspace | str | None = None) -> list[dict[str, Any]]:
    """Return the devices (of one workspace, or all), newest first."""
    query = Device.select(Device, User, Workspace).join(User).switch(Device).join(Workspace)
    if workspace is not None:
        query = query.where(Device.workspace == get_workspace(workspace).id)
    return [device_json(d) for d in query.order_by(Device.created_at.desc(), Device.id)]


def _conflict_json(conflict: Conflict) -> dict[str, Any]:
    def value(text: str | None) -> Any:
        return None if text is None else json.loads(text)

    return {
        "id": conflict.id,
        "type": conflict.record_type,
        "record_id": conflict.record_id,
        "field": conflict.field,
        "kept": {"value": value(conflict.kept_value), "stamp": conflict.kept_stamp},
        "other": {"value": value(conflict.other_value), "stamp": conflict.other_stamp},
    }


_ANY_OPEN_CONFLICT_SQL = (
    "SELECT 1 FROM conflict WHERE workspace_id = ? AND status = 'open' LIMIT 1"
)


def open_conflicts_of(device: Device, limit: int = 200) -> list[dict[str, Any]]:
    """Return open conflicts on records this device wrote (in a conflict or in the history)."""
    sql = _ANY_OPEN_CONFLICT_SQL.replace("?", database.param)
    if database.execute_sql(sql, (device.workspace_id,)).fetchone() is None:
        return []  # the usual case, asked on most syncs: one cheap query instead of the join
    # Open conflicts are few: test each against the history by record id (indexed), rather than
    # collecting every record the device ever wrote.
    touched = fn.EXISTS(
        Change.select(Change.id).where(
            (Change.record_id == Conflict.record_id) & (Change.device_id == device.id)
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
    return [_conflict_json(c) for c in query]


_OWNERS_SQL = (
    'SELECT u.username, u.display_name, u.role, w.name FROM "user" u, workspace w'
    " WHERE u.id = ? AND w.id = ?"
)


def _load_owners(device: Device) -> None:
    """Read the device's user and workspace in one query (asked on most syncs), not two."""
    sql = _OWNERS_SQL.replace("?", database.param)
    row = database.execute_sql(sql, (device.user_id, device.workspace_id)).fetchone()
    if row is not None:
        device.user = User(id=device.user_id, username=row[0], display_name=row[1], role=row[2])
        device.workspace = Workspace(id=device.workspace_id, name=row[3])


def device_info(device: Device, *, now: Now = None) -> dict[str, Any]:
    """Return the body of GET /device: the device, its user and workspace, sync state."""
    _load_owners(device)
    body = device_json(device)
    body["open_conflicts"] = open_conflicts_of(device)
    body["server_time"] = server_time(now)
    return body


def server_time(now: Now = None) -> str:
    """Return the server's clock as a stamp (its node id) for ``server_time`` in responses."""
    return store.server_time(now_ms=_epoch_ms(now))


def check_database() -> None:
    """Run a trivial query, so that a health check fails when the database does."""
    database.execute_sql("SELECT 1").fetchone()
