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

from werkzeug.security import check_password_hash, generate_password_hash

from server import store
from server.errors import NotFound, Refused, ServerError
from server.store import people
from server.store.conflicts import ConflictRow
from server.store.people import DeviceRow, UserRow, WorkspaceRow
from sync import ErrorCode

ROLES = ("admin", "staff", "representative")
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


def workspace_name(name: str | None) -> str:
    """A workspace name as stored (stripped), or ``Refused`` when it is empty or too long."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 200:
        raise Refused(
            ErrorCode.INVALID_REQUEST, "workspace_name", "A workspace name has 1-200 characters."
        )
    return name


def create_workspace(name: str) -> WorkspaceRow:
    """Create a workspace (one community office) with a unique name."""
    name = workspace_name(name)
    created = people.create_workspace(name)
    if created is None:
        raise workspace_exists(name)
    return created


def workspace_exists(name: str) -> Refused:
    return Refused(
        ErrorCode.INVALID_REQUEST,
        "workspace_exists",
        f"A workspace named {name!r} already exists.",
        name=name,
    )


def get_workspace(workspace: WorkspaceRow | str) -> WorkspaceRow:
    """Return a workspace given itself, its name or its id; raise not_found otherwise."""
    if isinstance(workspace, WorkspaceRow):
        return workspace
    found = people.find_workspace(workspace) if isinstance(workspace, str) else None
    if found is None:
        raise NotFound("no_workspace", f"No workspace {workspace!r}.", name=workspace)
    return found


def list_workspaces() -> list[dict[str, Any]]:
    """Return every workspace as {id, name}."""
    return [workspace_json(w) for w in people.workspaces()]


def create_user(
    username: str,
    workspace: WorkspaceRow | str,
    role: str,
    password: str | None = None,
    display_name: str = "",
) -> UserRow:
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
    created = people.create_user(space.id, username, role, hashed, display_name or "")
    if created is None:
        raise Refused(
            ErrorCode.INVALID_REQUEST,
            "user_exists",
            f"A user named {username!r} already exists.",
            username=username,
        )
    return created


def get_user(username: str) -> UserRow:
    """Return a user by username; raise not_found otherwise."""
    user = people.user_named(username)
    if user is None:
        raise NotFound("no_user", f"No user {username!r}.", username=username)
    return user


def set_password(username: str, password: str) -> None:
    """Replace a user's password."""
    _check_length(password)
    user = get_user(username)
    people.update_user(
        user.id, end_sessions_at=_utc(), password_hash=generate_password_hash(password)
    )


def _check_length(password: str | None) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise Refused(
            ErrorCode.INVALID_REQUEST,
            "short_password",
            f"A password needs at least {MIN_PASSWORD} characters.",
            min=MIN_PASSWORD,
        )


def deactivate_user(username: str, *, now: Now = None) -> UserRow:
    """Take a user out of service: no sign-in, no enrollment, every session and device refused."""
    user = get_user(username)
    people.update_user(user.id, end_sessions_at=_utc(now), active=False)
    return get_user(username)


# -- office sessions --

SESSION_TTL = dt.timedelta(hours=12)


def start_session(user: UserRow, *, now: Now = None) -> str:
    """Record a new office session of ``user``; return the random id its cookie carries."""
    token = new_token()
    people.create_session(sha256_hex(token), user.id, _utc(now))
    return token


def session_user(
    token: Any, user_id: str, *, now: Now = None, ttl: dt.timedelta = SESSION_TTL
) -> UserRow | None:
    """Return the active user of a live session (not ended, younger than ``ttl``), else None."""
    if not isinstance(token, str) or not 0 < len(token) <= 100:
        return None
    row = people.session(sha256_hex(token))
    if row is None or row.ended_at is not None or row.user_id != user_id:
        return None
    if row.created_at <= _utc(now) - ttl:
        return None
    user = people.user_by_id(user_id)
    return user if user is not None and user.active else None


def end_session(token: Any, *, now: Now = None) -> None:
    """End one office session (logout); an unknown id is ignored."""
    if isinstance(token, str) and token:
        people.end_session(sha256_hex(token), _utc(now))


def reset_password(username: str) -> str:
    """Give a user a new temporary password (returned once) to replace at the next login."""
    user = get_user(username)
    temporary = "-".join(secrets.token_hex(2) for _ in range(3))
    people.update_user(  # every open session of theirs ends now
        user.id,
        end_sessions_at=_utc(),
        password_hash=generate_password_hash(temporary),
        must_change_password=True,
    )
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
    _check_length(new)
    user = get_user(username)
    people.update_user(  # one transaction: the new password, no forced change, sessions ended
        user.id,
        end_sessions_at=_utc(),
        password_hash=generate_password_hash(new),
        must_change_password=False,
    )


def reactivate_user(username: str) -> UserRow:
    """Bring a deactivated user back: sign-in and the same devices work again."""
    user = get_user(username)
    people.update_user(user.id, active=True)
    return get_user(username)


def check_password(username: str, password: str) -> UserRow | None:
    """Return the active user whose password this is, else None (same cost either way)."""
    user = people.user_named((username or "").strip())
    if user is None or not user.password_hash:
        check_password_hash(_dummy_hash(), password or "")
        return None
    if not check_password_hash(user.password_hash, password or "") or not user.active:
        return None
    return user


def user_json(user: UserRow) -> dict[str, Any]:
    """Return the wire form of a user."""
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
    }


def workspace_json(workspace: WorkspaceRow) -> dict[str, Any]:
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
    people.create_enrollment_code(sha256_hex(code), user.id, created_by, moment, moment + ttl)
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
    enrolled = people.redeem_enrollment_code(
        sha256_hex(normalize_code(code)), new_device_id(), device_name, sha256_hex(token), moment
    )
    if isinstance(enrolled, str):
        raise _bad_code(enrolled)
    return {
        "device_id": enrolled.device.id,
        "token": token,
        "user": user_json(enrolled.user),
        "workspace": workspace_json(enrolled.workspace),
        "server_time": server_time(now),
    }


# -- devices --


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


def authenticate_device(token: str | None, *, wiping: bool = False) -> DeviceRow:
    """Return the device holding this bearer token; raise unauthorized or device_revoked.

    ``wiping``: the route is one a device revoked with wipe may still use (sending what it
    has, saying it wiped) until it has said so; every other route tells it to wipe.
    """
    if not token:
        raise Refused(
            ErrorCode.UNAUTHORIZED, "no_token", "Send 'Authorization: Bearer <device token>'."
        )
    found = people.device_by_token(sha256_hex(token))
    if found is None:
        raise Refused(ErrorCode.UNAUTHORIZED, "bad_token", "The device token is not known.")
    device, user_active = found
    wipe_pending = device.wipe_requested_at is not None and device.wiped_at is None
    if device.revoked_at is not None and not (wipe_pending and wiping):
        raise _revoked(wipe_pending)
    if not user_active:
        raise Refused(
            ErrorCode.FORBIDDEN, "user_inactive", "The user of this device is deactivated."
        )
    return device


def note_pull(device: DeviceRow, *, now: Now = None) -> None:
    """Remember when a device last pulled (at most one write a minute per device)."""
    moment = _utc(now)
    last = device.last_pull_at
    if last is None or moment - last >= dt.timedelta(minutes=1) or moment < last:
        people.note_pull(device.id, moment)


def get_device(device_id: str) -> DeviceRow:
    """Return a device by id; raise not_found otherwise."""
    device = people.device_by_id(device_id)
    if device is None:
        raise NotFound("no_device", f"No device {device_id!r}.", device_id=device_id)
    return device


def revoke_device(
    device_id: str, by: UserRow | str | None = None, *, wipe: bool = False, now: Now = None
) -> DeviceRow:
    """Revoke a device: its token stops working at once (an audit event says who did it).

    ``wipe``: the device may still send what it holds, then deletes its synced personal data
    (docs/protocol.md section 8); a device revoked earlier can be told to wipe later.
    Revoking twice is harmless.
    """
    device = get_device(device_id)
    by_id = by.id if isinstance(by, UserRow) else by
    people.revoke_device(device, _utc(now), by_id, wipe=wipe)
    return get_device(device_id)


def confirm_wiped(device: DeviceRow, *, now: Now = None) -> dict[str, Any]:
    """Record that a device revoked with wipe deleted its personal data; from now on every
    request of it is refused. Saying it twice is harmless."""
    people.confirm_wiped(device, _utc(now))
    return {"device_id": device.id, "wiped": True, "server_time": server_time(now)}


def device_json(
    device: DeviceRow, user: UserRow | None = None, workspace: WorkspaceRow | None = None
) -> dict[str, Any]:
    """Return a device for listings (no token, of course); its user and workspace are read
    when not given."""
    if user is None or workspace is None:
        found = people.owners(device)
        if found is None:
            raise NotFound("no_device", f"No device {device.id!r}.", device_id=device.id)
        user, workspace = found
    seen = [t for t in (device.last_push_at, device.last_pull_at) if t is not None]
    return {
        "device_id": device.id,
        "name": device.name,
        "user": user_json(user),
        "workspace": workspace_json(workspace),
        "created_at": _iso(device.created_at),
        "last_sync": _iso(max(seen)) if seen else None,
        "revoked": device.revoked_at is not None,
        "revoked_at": _iso(device.revoked_at),
        "wipe": _wipe_state(device),
    }


def _wipe_state(device: DeviceRow) -> str | None:
    """None (no wipe asked), "pending" (asked, the device has not said it wiped) or "done"."""
    if device.wiped_at is not None:
        return "done"
    return "pending" if device.wipe_requested_at is not None else None


def list_devices(workspace: WorkspaceRow | str | None = None) -> list[dict[str, Any]]:
    """Return the devices (of one workspace, or all), newest first."""
    space = None if workspace is None else get_workspace(workspace).id
    return [device_json(d, u, w) for d, u, w in people.devices_with_owners(space)]


def _conflict_json(conflict: ConflictRow) -> dict[str, Any]:
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


def open_conflicts_of(device: DeviceRow, limit: int = 200) -> list[dict[str, Any]]:
    """Return open conflicts on records this device wrote (in a conflict or in the history)."""
    return [_conflict_json(c) for c in people.open_conflicts_of(device, limit)]


def device_info(device: DeviceRow, *, now: Now = None) -> dict[str, Any]:
    """Return the body of GET /device: the device, its user and workspace, sync state."""
    body = device_json(device)
    body["open_conflicts"] = open_conflicts_of(device)
    body["server_time"] = server_time(now)
    return body


def server_time(now: Now = None) -> str:
    """Return the server's clock as a stamp (its node id) for ``server_time`` in responses."""
    return store.server_time(now_ms=_epoch_ms(now))


def check_database() -> None:
    """Run a trivial query, so that a health check fails when the database does."""
    people.check_database()
