"""Each person's inbox, and the daily reminder run that writes it down (and e-mails it).

The inbox is computed from the records: concerns the person owns (open ones, overdue, due
soon), records sent back by review that the person made or owns, and new 附议 (support
follow-ups of the last days) on the person's concerns. ``remind`` writes one ``Reminder`` row per
person, day, reason and record, so running it twice on a day adds nothing and mails nothing new.
No Flask here.
"""

from __future__ import annotations

import datetime as dt
import json
import smtplib
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

from peewee import SQL, fn

from server.db import write_transaction
from server.models import Record, Reminder, User, Workspace, utcnow
from server.store.query import created_day, live
from server.store.query import field as jfield
from server.store.reports import OPEN_STATUSES

SOON_DAYS = 3  # "due soon": due from today to this many days ahead
VOICE_DAYS = 7  # "new 附议": support follow-ups of the last this many days
REASONS = ("overdue", "due_soon", "returned", "voices")


def _record(row: Record) -> dict[str, Any]:
    return {"type": row.type, "id": row.id, "fields": json.loads(row.fields or "{}"),
            "created_by": row.created_by}  # fmt: skip


@dataclass
class Inbox:
    """What waits for one person: lists of records (``type``, ``id``, ``fields``)."""

    assigned: list[dict[str, Any]] = field(default_factory=list)  # open, owned, by due day
    overdue: list[dict[str, Any]] = field(default_factory=list)
    due_soon: list[dict[str, Any]] = field(default_factory=list)
    returned: list[dict[str, Any]] = field(default_factory=list)
    voices: list[dict[str, Any]] = field(default_factory=list)  # support follow-ups

    @property
    def count(self) -> int:
        """How many things ask for attention (the navigation's number)."""
        return len(self.overdue) + len(self.due_soon) + len(self.returned) + len(self.voices)

    def items(self) -> Iterable[tuple[str, dict[str, Any]]]:
        """(reason, record) of everything that asks for attention."""
        for reason in REASONS:
            for record in getattr(self, reason):
                yield reason, record


def _due_key(record: dict[str, Any]) -> tuple[bool, str]:
    due = record["fields"].get("due_on")
    return (not isinstance(due, str), due if isinstance(due, str) else "")


def inbox(workspace_id: str, user_id: str, today: dt.date) -> Inbox:
    """Compute one person's inbox as of ``today`` (a few queries, whatever the workspace size)."""
    box = Inbox()
    now, soon = today.isoformat(), (today + dt.timedelta(days=SOON_DAYS)).isoformat()
    owned = live(workspace_id, "concern").where(jfield("owner_id") == user_id)
    status = fn.COALESCE(jfield("status"), SQL("'new'"))
    rows = owned.where(status.in_(OPEN_STATUSES)).select(
        Record.type, Record.id, Record.fields, Record.created_by
    )
    for record_type, rid, text, created_by in rows.tuples().iterator():
        record = {"type": record_type, "id": rid, "fields": json.loads(text or "{}"),
                  "created_by": created_by}  # fmt: skip
        box.assigned.append(record)
        due = record["fields"].get("due_on")
        if isinstance(due, str) and due < now:
            box.overdue.append(record)
        elif isinstance(due, str) and due <= soon:
            box.due_soon.append(record)
    box.assigned.sort(key=_due_key)
    box.overdue.sort(key=_due_key)
    box.due_soon.sort(key=_due_key)
    box.returned = _returned(workspace_id, user_id)
    box.voices = _new_voices(workspace_id, user_id, today)
    return box


def _returned(workspace_id: str, user_id: str) -> list[dict[str, Any]]:
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


def _new_voices(workspace_id: str, user_id: str, today: dt.date) -> list[dict[str, Any]]:
    """Support follow-ups of the last days on concerns the user owns or recorded."""
    since = (today - dt.timedelta(days=VOICE_DAYS)).isoformat()
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


def latest_reminders(workspace_id: str, user_id: str) -> dict[str, Any]:
    """The last reminder run's lines for a person: ``{day, counts: {reason: n}}`` (or empty)."""
    last = (
        Reminder.select(fn.MAX(Reminder.day))
        .where(Reminder.workspace == workspace_id, Reminder.user == user_id)
        .scalar()
    )
    if last is None:
        return {}
    rows = (
        Reminder.select(Reminder.reason, fn.COUNT(Reminder.id))
        .where(Reminder.user == user_id, Reminder.day == last)
        .group_by(Reminder.reason)
        .tuples()
    )
    return {"day": last, "counts": dict(rows)}


# -- the daily reminder run ---------------------------------------------------------------------


@dataclass
class Digest:
    """One person's reminders of a day: counts per reason, new lines written, mailed or not."""

    workspace: str
    username: str
    counts: dict[str, int]
    new: int = 0
    mailed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"workspace": self.workspace, "username": self.username, **self.counts,
                "new": self.new, "mailed": self.mailed}  # fmt: skip


def remind(
    today: dt.date, *, dry_run: bool = False, smtp_url: str | None = None, sender: str = ""
) -> list[Digest]:
    """Write every active person's inbox of ``today`` as reminders; mail the new ones.

    Idempotent per day: a second run writes no line twice and mails nobody twice. With
    ``dry_run`` nothing is written or sent; the digests say what would be.
    """
    digests: list[Digest] = []
    people = (
        User.select(User, Workspace)
        .join(Workspace)
        .where(User.active == True)  # noqa: E712
        .order_by(Workspace.name, User.username)
    )
    for user in people:
        box = inbox(user.workspace_id, user.id, today)
        counts = {reason: len(getattr(box, reason)) for reason in REASONS}
        digest = Digest(user.workspace.name, user.username, counts)
        if not dry_run:
            digest.new = _write(user, today, box)
            if smtp_url and user.email:
                digest.mailed = _mail_new(user, today, smtp_url, sender, box)
        digests.append(digest)
    return digests


def _write(user: User, today: dt.date, box: Inbox) -> int:
    day = today.isoformat()
    rows = [
        {"workspace": user.workspace_id, "user": user.id, "day": day, "reason": reason,
         "record_id": record["id"], "created_at": utcnow()}
        for reason, record in box.items()
    ]  # fmt: skip
    if not rows:
        return 0
    with write_transaction():
        before = Reminder.select().where(Reminder.user == user.id, Reminder.day == day).count()
        for start in range(0, len(rows), 200):
            Reminder.insert_many(rows[start : start + 200]).on_conflict_ignore().execute()
        after = Reminder.select().where(Reminder.user == user.id, Reminder.day == day).count()
    return after - before


def _mail_new(user: User, today: dt.date, smtp_url: str, sender: str, box: Inbox) -> bool:
    """Mail the day's reminders not mailed yet; mark them mailed only once the server took it."""
    day = today.isoformat()
    unmailed = Reminder.select().where(
        Reminder.user == user.id, Reminder.day == day, Reminder.mailed_at.is_null()
    )
    if not unmailed.exists():
        return False
    send_mail(smtp_url, sender, user.email, digest_subject(day, box), digest_text(user, box))
    with write_transaction():
        Reminder.update(mailed_at=utcnow()).where(
            Reminder.user == user.id, Reminder.day == day, Reminder.mailed_at.is_null()
        ).execute()
    return True


REASON_WORDS = {
    "overdue": "已超期",
    "due_soon": "即将到期",
    "returned": "退回修改",
    "voices": "新附议",
}


def digest_subject(day: str, box: Inbox) -> str:
    return f"Fieldsync 待办提醒 {day}：{box.count} 项"


def digest_text(user: User, box: Inbox) -> str:
    """The e-mail's text: one line per item, grouped by reason (titles, never phones)."""
    lines = [f"{user.display_name or user.username}，您好：", ""]
    for reason in REASONS:
        records = getattr(box, reason)
        if not records:
            continue
        lines.append(f"{REASON_WORDS[reason]}（{len(records)}）")
        for record in records[:50]:
            fields = record["fields"]
            title = fields.get("title") or fields.get("note") or record["id"][:8]
            due = f"  期限 {fields['due_on']}" if fields.get("due_on") else ""
            lines.append(f"  - {title}{due}")
        lines.append("")
    return "\n".join(lines)


def send_mail(smtp_url: str, sender: str, to: str, subject: str, text: str) -> None:
    """Send one plain-text mail through the SMTP server of ``smtp_url`` (smtp:// or smtps://)."""
    url = urlsplit(smtp_url)
    if url.scheme not in ("smtp", "smtps") or not url.hostname:
        raise ValueError("FIELDSYNC_SMTP_URL must look like smtp://host:25")
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message.set_content(text)
    factory = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
    with factory(url.hostname, url.port or (465 if url.scheme == "smtps" else 25),
                 timeout=30) as client:  # fmt: skip
        if url.username:
            client.login(unquote(url.username), unquote(url.password or ""))
        client.send_message(message)
