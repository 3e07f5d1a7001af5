"""What the inbox and the reminder run read and write: a person's open concerns, records sent
back, new 附议, and the ``Reminder`` lines (one per person, day, reason and record).
"""

from __future__ import annotations

import json
from typing import Any

from peewee import SQL, fn

from server.db import write_transaction
from server.models import Record, Reminder, User, Workspace, utcnow
from server.store.people import UserRow, user_row
from server.store.query import created_day, live
from server.store.query import field as jfield
from server.store.reports import OPEN_STATUSES
from server.store.sql import guarded, tuples


def _record(row: Record) -> dict[str, Any]:
    return {"type": row.type, "id": row.id, "fields": json.loads(row.fields or "{}"),
            "created_by": row.created_by}  # fmt: skip


@guarded
def open_concerns_owned(workspace_id: str, user_id: str) -> list[dict[str, Any]]:
    """The open concerns a user owns (``type``, ``id``, ``fields``, ``created_by``)."""
    owned = live(workspace_id, "concern").where(jfield("owner_id") == user_id)
    status = fn.COALESCE(jfield("status"), SQL("'new'"))
    rows = owned.where(status.in_(OPEN_STATUSES)).select(
        Record.type, Record.id, Record.fields, Record.created_by
    )
    return [
        {"type": record_type, "id": rid, "fields": json.loads(text or "{}"),
         "created_by": created_by}
        for record_type, rid, text, created_by in rows.tuples().iterator()
    ]  # fmt: skip


@guarded
def returned_to(workspace_id: str, user_id: str) -> list[dict[str, Any]]:
    """Concerns and visits sent back for changes that the user recorded or owns."""
    rows = Record.select().where(
        Record.workspace == workspace_id,
        Record.type.in_(("concern", "visit")),
        jfield("review_status") == "needs_changes",  # indexed: few rows, then whose
        Record.deleted == False,  # noqa: E712
    )
    found = [_record(r) for r in rows.order_by(Record.updated_at.desc()).limit(5000)]
    mine = [r for r in found
            if r["created_by"] == user_id or r["fields"].get("owner_id") == user_id]  # fmt: skip
    return mine[:500]


@guarded
def new_voices(workspace_id: str, user_id: str, since: str) -> list[dict[str, Any]]:
    """Support follow-ups created since the day ``since`` on concerns the user owns or
    recorded, newest first."""
    rows = live(workspace_id, "follow_up").where(
        jfield("kind") == "support", jfield("subject_type") == "concern", created_day() >= since
    )
    found = [_record(r) for r in rows.order_by(Record.created_at.desc()).limit(2000)]
    subjects = {r["fields"].get("subject_id") for r in found} - {None}
    if not subjects:
        return []
    concerns = live(workspace_id, "concern").where(
        Record.id.in_(sorted(subjects)),
        (jfield("owner_id") == user_id) | (Record.created_by == user_id),
    )
    mine = {rid for (rid,) in concerns.select(Record.id).tuples()}
    return [r for r in found if r["fields"].get("subject_id") in mine][:500]


@guarded
def latest_reminders(workspace_id: str, user_id: str) -> dict[str, Any]:
    """The last reminder run's lines for a person: ``{day, counts: {reason: n}}`` (or empty)."""
    last = (
        Reminder.select(fn.MAX(Reminder.day))
        .where(Reminder.workspace == workspace_id, Reminder.user == user_id)
        .scalar()
    )
    if last is None:
        return {}
    rows = tuples(
        Reminder.select(Reminder.reason, fn.COUNT(Reminder.id))
        .where(Reminder.user == user_id, Reminder.day == last)
        .group_by(Reminder.reason)
    )
    return {"day": last, "counts": {reason: n for reason, n in rows}}


@guarded
def active_users() -> list[tuple[UserRow, str]]:
    """Every active user with their workspace's name, by workspace name and username."""
    rows = (
        User.select(User, Workspace)
        .join(Workspace)
        .where(User.active == True)  # noqa: E712
        .order_by(Workspace.name, User.username)
    )
    return [(user_row(u), u.workspace.name) for u in rows]


@guarded
def write_reminders(user: UserRow, day: str, lines: list[tuple[str, str]]) -> int:
    """Write a person's (reason, record id) lines of a day, in one transaction; return how
    many were new (a line written before is kept as it was)."""
    rows = [
        {"workspace": user.workspace_id, "user": user.id, "day": day, "reason": reason,
         "record_id": record_id, "created_at": utcnow()}
        for reason, record_id in lines
    ]  # fmt: skip
    if not rows:
        return 0
    with write_transaction():
        before = Reminder.select().where(Reminder.user == user.id, Reminder.day == day).count()
        for start in range(0, len(rows), 200):
            Reminder.insert_many(rows[start : start + 200]).on_conflict_ignore().execute()
        after = Reminder.select().where(Reminder.user == user.id, Reminder.day == day).count()
    return int(after - before)


@guarded
def any_unmailed(user_id: str, day: str) -> bool:
    return bool(
        Reminder.select()
        .where(Reminder.user == user_id, Reminder.day == day, Reminder.mailed_at.is_null())
        .exists()
    )


@guarded
def mark_mailed(user_id: str, day: str) -> None:
    with write_transaction():
        Reminder.update(mailed_at=utcnow()).where(
            Reminder.user == user_id, Reminder.day == day, Reminder.mailed_at.is_null()
        ).execute()
