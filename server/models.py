"""Peewee models of the office server. Every table, in one place.

Records keep their fields and per-field stamps as JSON text (one row per record), so a push reads
a batch's records in one query and a pull streams rows without joins. ``seq`` is the change
sequence: it is assigned under the lock of the workspace's ``WorkspaceState`` row, so it grows in
commit order within the workspace.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from peewee import (
    SQL,
    BigAutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from server.db import database


def utcnow() -> dt.datetime:
    """Return the current UTC time as a naive datetime (how every table stores time)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def new_id() -> str:
    return str(uuid.uuid4())


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class ServerState(BaseModel):
    """The single row (id 1): this database's epoch, the server's node id, the schema version."""

    id = IntegerField(primary_key=True)
    epoch = CharField(max_length=64)
    node_id = CharField(max_length=64)
    schema_version = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)


class Workspace(BaseModel):
    id = CharField(primary_key=True, max_length=36, default=new_id)
    name = CharField(max_length=200, unique=True)
    created_at = DateTimeField(default=utcnow)
    settings = TextField(default="{}")  # JSON: casework settings (server/casework.py)


class WorkspaceState(BaseModel):
    """One row per workspace: its change sequence and its office clock (the last office stamp
    or newest pushed stamp). Every write of the workspace locks this row first, so writes of
    one workspace are serialised and writes of different workspaces are not."""

    workspace = ForeignKeyField(Workspace, primary_key=True, on_delete="CASCADE")
    seq = BigIntegerField(default=0)
    last_stamp = CharField(max_length=100, default="")

    class Meta:
        table_name = "workspace_state"


class User(BaseModel):
    ROLES = ("admin", "staff", "representative")

    id = CharField(primary_key=True, max_length=36, default=new_id)
    workspace = ForeignKeyField(Workspace, backref="users", on_delete="RESTRICT")
    username = CharField(max_length=100, unique=True)
    display_name = CharField(max_length=200, default="")
    email = CharField(max_length=254, default="")  # for reminder e-mails; "" for none
    role = CharField(max_length=20)
    password_hash = CharField(max_length=300, null=True)
    active = BooleanField(default=True)
    must_change_password = BooleanField(default=False)  # after an administrator's reset
    created_at = DateTimeField(default=utcnow)
    workspace_id: Any  # the foreign key's column (peewee adds it)


class Device(BaseModel):
    id = CharField(primary_key=True, max_length=64)  # the device's node id in its stamps
    user = ForeignKeyField(User, backref="devices", on_delete="RESTRICT")
    workspace = ForeignKeyField(Workspace, backref="devices", on_delete="RESTRICT")
    name = CharField(max_length=100)
    token_hash = CharField(max_length=64, unique=True)  # sha256 hex of the bearer token
    created_at = DateTimeField(default=utcnow)
    revoked_at = DateTimeField(null=True)
    revoked_by = CharField(max_length=36, null=True)
    # Revoked with wipe: the device may still send what it has, then deletes its personal data
    # and says so (``wiped_at``); docs/protocol.md section 8.
    wipe_requested_at = DateTimeField(null=True)
    wiped_at = DateTimeField(null=True)
    last_seen_at = DateTimeField(null=True)
    last_push_at = DateTimeField(null=True)
    last_pull_at = DateTimeField(null=True)
    user_id: Any  # the foreign key's column (peewee adds it)
    workspace_id: Any  # the foreign key's column (peewee adds it)


class EnrollmentCode(BaseModel):
    id: Any  # the AutoField peewee adds
    code_hash = CharField(max_length=64, unique=True)
    user = ForeignKeyField(User, backref="enrollment_codes", on_delete="CASCADE")
    created_by = CharField(max_length=36, null=True)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    used_at = DateTimeField(null=True)
    device = ForeignKeyField(Device, null=True, on_delete="SET NULL")
    user_id: Any  # the foreign key's column (peewee adds it)
    device_id: Any  # the foreign key's column (peewee adds it)


class Record(BaseModel):
    id = CharField(primary_key=True, max_length=36)
    # No index of its own: the (workspace, seq) and (workspace, type, ...) indexes lead with it.
    workspace = ForeignKeyField(Workspace, backref="records", on_delete="RESTRICT", index=False)
    type = CharField(max_length=20)
    fields = TextField(default="{}")  # JSON: field -> value
    stamps = TextField(default="{}")  # JSON: field (and _deleted) -> stamp string
    deleted = BooleanField(default=False)
    seq = BigIntegerField()
    created_at = DateTimeField(default=utcnow)
    created_by = CharField(max_length=36, null=True)  # user id
    # The creation's device (None: an office edit) and sequence number. Set when the creation
    # wrote no ``change`` row (a push or an office edit, from version 11): the record is then
    # its own creation entry (``reads.with_creation``), which saves a push one insert per new
    # record. None on records created before, whose creation row is in ``change``.
    created_device = CharField(max_length=64, null=True)
    created_seq = BigIntegerField(null=True)
    updated_at = DateTimeField(default=utcnow)
    updated_by = CharField(max_length=36, null=True)
    updated_device = CharField(max_length=64, null=True)
    # Set when the latest change is exactly updated_device's write: 0 when every change of the
    # record is that device's, and that device's pulls then leave the record out
    # (docs/protocol.md section 6); else the number of the change it was written on.
    echo_after = BigIntegerField(null=True)
    # Copies of the two fields the office looks records up by (the inbox: a user's concerns;
    # the review queue), written with ``fields`` by the store's engine: an index on a plain
    # column costs a write nothing to compute, where one on a JSON expression parsed the fields
    # of every record written (60 ms of PostgreSQL's CPU per 10,000 new visits).
    owner_id = TextField(null=True)
    review_status = TextField(null=True)

    workspace_id: Any  # the foreign key's column (peewee adds it)

    class Meta:
        indexes = (
            (("workspace", "seq"), False),
            # Its first two columns serve lookups by (workspace, type) as well.
            (("workspace", "type", "review_status"), False),
            (("workspace", "type", "owner_id"), False),
        )


class Conflict(BaseModel):
    STATUSES = ("open", "resolved")

    id = CharField(primary_key=True, max_length=36, default=new_id)
    workspace = ForeignKeyField(Workspace, backref="conflicts", on_delete="RESTRICT")
    record_id = CharField(max_length=36, index=True)
    record_type = CharField(max_length=20)
    field = CharField(max_length=64)
    kept_value = TextField(null=True)  # JSON
    kept_stamp = CharField(max_length=100)
    kept_user = CharField(max_length=36, null=True)
    kept_device = CharField(max_length=64, null=True)
    other_value = TextField(null=True)  # JSON
    other_stamp = CharField(max_length=100)
    other_user = CharField(max_length=36, null=True)
    other_device = CharField(max_length=64, null=True)
    status = CharField(max_length=20, default="open", index=True)
    created_at = DateTimeField(default=utcnow)
    resolved_at = DateTimeField(null=True)
    resolved_by = CharField(max_length=36, null=True)
    resolution_stamp = CharField(max_length=100, null=True)
    workspace_id: Any  # the foreign key's column (peewee adds it)


class PushBatch(BaseModel):
    """A push's response, kept so that a repeated batch gets the same answer (idempotency)."""

    device = ForeignKeyField(Device, backref="batches", on_delete="CASCADE")
    batch_id = CharField(max_length=36)
    response = TextField()  # JSON
    created_at = DateTimeField(default=utcnow, index=True)

    device_id: Any  # the foreign key's column (peewee adds it)

    class Meta:
        indexes = ((("device", "batch_id"), True),)


class Change(BaseModel):
    """Audit history: one row per applied record change, with its field diffs. A record
    created by a push or an office edit from version 11 has no row for its creation: the
    record holds it (``Record.created_seq``)."""

    id = BigAutoField()
    workspace = ForeignKeyField(Workspace, on_delete="RESTRICT", index=False)  # history: record_id
    record_id = CharField(max_length=36, index=True)
    record_type = CharField(max_length=20)
    seq = BigIntegerField()
    at = DateTimeField(default=utcnow)
    user_id = CharField(max_length=36, null=True)
    device_id = CharField(max_length=64, null=True)  # null: an office edit
    source = CharField(max_length=20)  # push | office | conflict_resolution | reveal
    diff = TextField()  # JSON: field -> [old value, new value, stamp]
    workspace_id: Any  # the foreign key's column (peewee adds it)


class BlobHolder(BaseModel):
    """A workspace that has uploaded a blob's bytes: only such a workspace may read the blob or
    be told that the server has it, so a known hash alone never opens another workspace's photo.
    """

    workspace = ForeignKeyField(Workspace, on_delete="CASCADE")
    sha256 = CharField(max_length=64)
    created_at = DateTimeField(default=utcnow)
    device_id = CharField(max_length=64, null=True)  # the device whose upload counts (quota)
    # bytes counted against the quotas (0: held before version 6)
    size = BigIntegerField(default=0, constraints=[SQL("DEFAULT 0")])
    # Last time a device uploaded it or was told the server has it: ``prune`` keeps a blob no
    # attachment names yet for a grace period after that (its attachment may come later).
    touched_at = DateTimeField(null=True)

    workspace_id: Any  # the foreign key's column (peewee adds it)

    class Meta:
        indexes = ((("workspace", "sha256"), True), (("device_id",), False))


class AuditEvent(BaseModel):
    """An office action that is not a record edit (revoking a device, a device's wipe)."""

    id = BigAutoField()
    workspace = ForeignKeyField(Workspace, on_delete="CASCADE", index=False)
    at = DateTimeField(default=utcnow)
    user_id = CharField(max_length=36, null=True)  # who did it; None: the CLI or a device
    action = CharField(max_length=40)  # device_revoke | device_wiped
    subject = CharField(max_length=64)  # the device id
    detail = TextField(default="{}")  # JSON, never names or phone numbers

    workspace_id: Any  # the foreign key's column (peewee adds it)

    class Meta:
        table_name = "audit_event"
        indexes = ((("workspace", "at"), False),)


class OfficeSession(BaseModel):
    """One signed-in office session, by the SHA-256 of the random id its cookie holds: logout,
    a new password or a deactivated user ends it, whatever copies of the cookie exist."""

    id = CharField(primary_key=True, max_length=64)
    user = ForeignKeyField(User, on_delete="CASCADE")
    created_at = DateTimeField(default=utcnow)
    ended_at = DateTimeField(null=True)

    user_id: Any  # the foreign key's column (peewee adds it)

    class Meta:
        table_name = "office_session"


class Reminder(BaseModel):
    """An inbox line written by the daily reminder run: one per person, day, reason, record."""

    id = BigAutoField()
    workspace = ForeignKeyField(Workspace, on_delete="CASCADE", index=False)
    user = ForeignKeyField(User, on_delete="CASCADE", index=False)
    day = CharField(max_length=10)  # the office's day of the run, YYYY-MM-DD
    reason = CharField(max_length=20)  # overdue | due_soon | returned | voices
    record_id = CharField(max_length=36)
    created_at = DateTimeField(default=utcnow)
    mailed_at = DateTimeField(null=True)

    workspace_id: Any  # the foreign key's column (peewee adds it)
    user_id: Any  # the foreign key's column (peewee adds it)

    class Meta:
        indexes = ((("user", "day", "reason", "record_id"), True),)


class ImportBatch(BaseModel):
    """One ledger import: what it created (undo deletes exactly these), by whom, from what file."""

    id = CharField(primary_key=True, max_length=36, default=new_id)
    workspace = ForeignKeyField(Workspace, on_delete="CASCADE")
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")  # None: the CLI
    record_type = CharField(max_length=20)
    filename = CharField(max_length=200)
    rows = IntegerField()
    record_ids = TextField()  # JSON list of the created records' ids
    created_at = DateTimeField(default=utcnow)
    undone_at = DateTimeField(null=True)
    undone_by = CharField(max_length=36, null=True)
    workspace_id: Any  # the foreign key's column (peewee adds it)
    user_id: Any  # the foreign key's column (peewee adds it)


class WorkspaceGrant(BaseModel):
    """A further workspace an administrator holds (街道: several 社区), besides the user's own."""

    user = ForeignKeyField(User, on_delete="CASCADE")
    workspace = ForeignKeyField(Workspace, on_delete="CASCADE")
    created_at = DateTimeField(default=utcnow)

    user_id: Any  # the foreign key's column (peewee adds it)
    workspace_id: Any  # the foreign key's column (peewee adds it)

    class Meta:
        indexes = ((("user", "workspace"), True),)


ALL_MODELS = [
    ServerState,
    Workspace,
    WorkspaceState,
    User,
    Device,
    EnrollmentCode,
    Record,
    Conflict,
    PushBatch,
    Change,
    BlobHolder,
    OfficeSession,
    Reminder,
    ImportBatch,
    WorkspaceGrant,
    AuditEvent,
]
