"""Each person's inbox, and the daily reminder run that writes it down (and e-mails it).

The inbox is computed from the records: concerns the person owns (open ones, overdue, due
soon), records sent back by review that the person made or owns, and new 附议 (support
follow-ups of the last days) on the person's concerns. ``remind`` writes one ``Reminder`` row per
person, day, reason and record, so running it twice on a day adds nothing and mails nothing new.
No Flask here.
"""

from __future__ import annotations

import datetime as dt
import smtplib
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

from server import config
from server.i18n import N_, texts
from server.store import casework as store
from server.store.casework import latest_reminders
from server.store.people import UserRow

__all__ = ["Digest", "Inbox", "inbox", "latest_reminders", "remind", "send_mail"]

SOON_DAYS = 3  # "due soon": due from today to this many days ahead
VOICE_DAYS = 7  # "new 附议": support follow-ups of the last this many days
REASONS = ("overdue", "due_soon", "returned", "voices")


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
    for record in store.open_concerns_owned(workspace_id, user_id):
        box.assigned.append(record)
        due = record["fields"].get("due_on")
        if isinstance(due, str) and due < now:
            box.overdue.append(record)
        elif isinstance(due, str) and due <= soon:
            box.due_soon.append(record)
    box.assigned.sort(key=_due_key)
    box.overdue.sort(key=_due_key)
    box.due_soon.sort(key=_due_key)
    box.returned = store.returned_to(workspace_id, user_id)
    since = (today - dt.timedelta(days=VOICE_DAYS)).isoformat()
    box.voices = store.new_voices(workspace_id, user_id, since)
    return box


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
    for user, workspace_name in store.active_users():
        box = inbox(user.workspace_id, user.id, today)
        counts = {reason: len(getattr(box, reason)) for reason in REASONS}
        digest = Digest(workspace_name, user.username, counts)
        if not dry_run:
            lines = [(reason, record["id"]) for reason, record in box.items()]
            digest.new = store.write_reminders(user, today.isoformat(), lines)
            if smtp_url and user.email:
                digest.mailed = _mail_new(user, today, smtp_url, sender, box)
        digests.append(digest)
    return digests


def _mail_new(user: UserRow, today: dt.date, smtp_url: str, sender: str, box: Inbox) -> bool:
    """Mail the day's reminders not mailed yet; mark them mailed only once the server took it."""
    day = today.isoformat()
    if not store.any_unmailed(user.id, day):
        return False
    lang = config.language()
    subject, text = digest_subject(day, box, lang), digest_text(user, box, lang)
    send_mail(smtp_url, sender, user.email, subject, text)
    store.mark_mailed(user.id, day)
    return True


REASON_WORDS = {
    "overdue": N_("Overdue (%(n)s)"),
    "due_soon": N_("Due soon (%(n)s)"),
    "returned": N_("Sent back for changes (%(n)s)"),
    "voices": N_("New voices (%(n)s)"),
}


def digest_subject(day: str, box: Inbox, lang: str = "zh") -> str:
    return texts(lang).gettext("Fieldsync reminders %(day)s: %(n)s", day=day, n=box.count)


def digest_text(user: UserRow, box: Inbox, lang: str = "zh") -> str:
    """The e-mail's text: one line per item, grouped by reason (titles, never phones)."""
    _ = texts(lang).gettext
    lines = [_("Hello %(name)s,", name=user.display_name or user.username), ""]
    for reason in REASONS:
        records = getattr(box, reason)
        if not records:
            continue
        lines.append(_(REASON_WORDS[reason], n=len(records)))
        for record in records[:50]:
            fields = record["fields"]
            title = fields.get("title") or fields.get("note") or record["id"][:8]
            due = "  " + _("due %(day)s", day=fields["due_on"]) if fields.get("due_on") else ""
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
