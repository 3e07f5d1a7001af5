"""What the office reads about records: single records, filtered pages, exports, follow-ups,
history and review threads; plain dicts in the wire form of PROTOCOL.md section 4
(``{type, id, fields, stamps, deleted, meta}``).

Lists are paginated in SQL (count + one page), exports iterate a server-side cursor, so no page
ever holds a whole table in memory.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from peewee import JOIN, SQL, fn

from server.db import write_transaction
from server.models import Change, Record, User
from server.store.query import (
    concern_day,
    contains,
    created_day,
    decode,
    field_day,
    in_period,
    live,
)
from server.store.query import field as jfield
from server.store.reads import Creation, with_creation
from server.store.reports import OPEN_STATUSES, week_end
from server.store.sql import database_errors, guarded
from sync.records import RECORD_TYPES

SEARCH_FIELDS = {
    "concern": ("title", "description", "responsible_unit", "resolution"),
    "visit": ("title", "summary"),
    "place": ("name", "address", "notes"),
    "party": ("name", "organisation", "notes"),
    "project": ("title", "description"),
}
LABEL_FIELDS = {"place": "name", "party": "name", "visit": "title", "concern": "title"}
OPTION_LIMIT = 1000


@guarded
def get(
    workspace_id: str, record_id: str, record_type: str | None = None
) -> dict[str, Any] | None:
    """One record of the workspace (tombstones included), or None."""
    query = Record.select().where(Record.id == record_id, Record.workspace == workspace_id)
    if record_type is not None:
        query = query.where(Record.type == record_type)
    row = query.first()
    return decode(row) if row is not None else None


@guarded
def by_ids(workspace_id: str, ids: Iterable[Any]) -> list[dict[str, Any]]:
    """The workspace's records with these ids (one query)."""
    wanted = sorted({i for i in ids if isinstance(i, str)})
    if not wanted:
        return []
    rows = Record.select().where(Record.workspace == workspace_id, Record.id.in_(wanted))
    return [decode(r) for r in rows]


@guarded
def options(workspace_id: str, record_type: str) -> list[tuple[str, str]]:
    """(id, label) pairs for a select box, by label; at most OPTION_LIMIT."""
    name = LABEL_FIELDS.get(record_type, "title")
    rows = (
        live(workspace_id, record_type)
        .select(Record.id, jfield(name))
        .order_by(jfield(name))
        .limit(OPTION_LIMIT)
        .tuples()
    )
    return [(rid, label or rid[:8]) for rid, label in rows]


@dataclass
class Page:
    items: list[dict[str, Any]]
    total: int
    number: int
    size: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def page(workspace_id: str, record_type: str, f: RecordFilter, size: int) -> Page:
    """Page ``f.page`` (clamped to the last) of a filtered list: a count and one page."""
    with database_errors():
        query = _filtered(workspace_id, record_type, f)
        total = query.count()
        number = max(1, min(f.page, max(1, math.ceil(total / size))))
        rows = query.paginate(number, size)
        return Page([decode(r) for r in rows], total, number, size)


def count(workspace_id: str, record_type: str, f: RecordFilter) -> int:
    """How many records a filtered list has."""
    with database_errors():
        return int(_filtered(workspace_id, record_type, f).count())


def iterate(
    workspace_id: str, record_type: str, f: RecordFilter, limit: int
) -> Iterator[dict[str, Any]]:
    """Stream at most ``limit`` records of a filtered list with a server-side cursor."""
    with database_errors():
        for row in _filtered(workspace_id, record_type, f).limit(limit).iterator():
            yield decode(row)


def matching_concerns(
    workspace_id: str, text: str, exclude: str, limit: int = 20
) -> list[dict[str, Any]]:
    """The workspace's live concerns the search text finds (but ``exclude``), newest first."""
    if not text:
        return []
    with database_errors():
        query = _filtered(workspace_id, "concern", RecordFilter(search=text))
        return [decode(row) for row in query.where(Record.id != exclude).limit(limit)]


@dataclass
class RecordFilter:
    """Filters of a record list; ``errors`` says what was not understood (and ignored)."""

    search: str = ""
    status: str = ""
    category: str = ""
    kind: str = ""
    place_id: str = ""
    created_by: str = ""
    review: str = ""
    deleted: bool = False  # the tombstones instead of the live records
    stale_before: dt.date | None = None  # only concerns still open and raised before this day
    owner: str = ""  # a user id, or "none" for concerns nobody owns
    due: str = ""  # "overdue" (open, due before today) or "week" (open, due by Sunday)
    sort: str = ""  # "" newest first, "due" soonest due first, "voices" most 附议 first
    today: dt.date | None = None  # the office's today, for due filters
    since: dt.date | None = None
    until: dt.date | None = None
    page: int = 1
    errors: list[str] = field(default_factory=list)

    def args(self) -> dict[str, str]:
        """The filter as query-string arguments (for links and exports)."""
        values = {
            "q": self.search,
            "status": self.status,
            "category": self.category,
            "kind": self.kind,
            "place": self.place_id,
            "rep": self.created_by,
            "review": self.review,
            "deleted": "1" if self.deleted else "",
            "overdue": "1" if self.stale_before else "",
            "owner": self.owner,
            "due": self.due,
            "sort": self.sort,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }
        return {k: v for k, v in values.items() if v}


def _filtered(workspace_id: str, record_type: str, f: RecordFilter) -> Any:
    """The query of a filtered list, newest first."""
    if f.deleted:
        query = Record.select().where(
            Record.workspace == workspace_id,
            Record.type == record_type,
            Record.deleted == True,  # noqa: E712
        )
    else:
        query = live(workspace_id, record_type)
    if f.search:
        matches = [contains(jfield(name), f.search) for name in SEARCH_FIELDS[record_type]]
        if record_type == "concern":
            matches.extend(_by_people(workspace_id, f.search))
        query = query.where(_any(matches))
    for name, value in (
        ("status", f.status),
        ("category", f.category),
        ("kind", f.kind),
        ("place_id", f.place_id),
    ):
        if value and name in RECORD_TYPES[record_type].rules:
            query = query.where(jfield(name) == value)
    if f.created_by:
        query = query.where(Record.created_by == f.created_by)
    if f.stale_before and record_type == "concern":
        status = fn.COALESCE(jfield("status"), SQL("'new'"))
        query = query.where(status.in_(OPEN_STATUSES), concern_day() < f.stale_before.isoformat())
    if f.review and "review_status" in RECORD_TYPES[record_type].rules:
        review = jfield("review_status")
        if f.review == "pending":
            query = query.where(review.is_null() | review.in_(("pending", "resubmitted")))
        else:
            query = query.where(review == f.review)
    if record_type == "concern":
        query = _casework_filters(query, f)
    day = _day_of(record_type)
    query = query.where(*in_period(day, f.since, f.until))
    if record_type == "concern" and f.sort == "due":
        return query.order_by(jfield("due_on").is_null(), jfield("due_on"), day.desc(), Record.id)
    if record_type == "concern" and f.sort == "voices":
        voices = _voice_counts_query(workspace_id).alias("v")
        count = fn.COALESCE(voices.c.n, 0)
        joined = query.join(voices, on=(voices.c.sid == Record.id), join_type=JOIN.LEFT_OUTER)
        return joined.order_by(count.desc(), day.desc(), Record.id)
    return query.order_by(day.desc(), Record.created_at.desc(), Record.id)


def _by_people(workspace_id: str, text: str) -> list[Any]:
    """Conditions matching concerns recorded or owned by a user whose name contains the text."""
    named = User.select(User.id).where(
        User.workspace == workspace_id,
        contains(User.display_name, text) | contains(User.username, text),
    )
    ids = [u.id for u in named]
    if not ids:
        return []
    return [Record.created_by.in_(ids), jfield("owner_id").in_(ids)]


def _casework_filters(query: Any, f: RecordFilter) -> Any:
    if f.owner == "none":
        query = query.where(jfield("owner_id").is_null())
    elif f.owner:
        query = query.where(jfield("owner_id") == f.owner)
    if f.due and f.today is not None:
        status = fn.COALESCE(jfield("status"), SQL("'new'"))
        query = query.where(status.in_(OPEN_STATUSES))
        if f.due == "overdue":
            query = query.where(jfield("due_on") < f.today.isoformat())
        elif f.due == "week":
            sunday = week_end(f.today).isoformat()
            query = query.where(jfield("due_on").between(f.today.isoformat(), sunday))
    return query


def _voice_counts_query(workspace_id: str) -> Any:
    """Select (sid, n): the number of 附议 (support follow-ups) per concern id."""
    subject = jfield("subject_id")
    return (
        live(workspace_id, "follow_up")
        .select(subject.alias("sid"), fn.COUNT(Record.id).alias("n"))
        .where(jfield("kind") == "support", jfield("subject_type") == "concern")
        .group_by(subject)
    )


def voice_counts(workspace_id: str, concern_ids: Iterable[str]) -> dict[str, int]:
    """The number of 附议 of each of these concerns, in one query."""
    wanted = sorted(set(concern_ids))
    if not wanted:
        return {}
    with database_errors():
        query = _voice_counts_query(workspace_id).where(jfield("subject_id").in_(wanted))
        return {sid: n for sid, n in query.tuples()}


def _any(conditions: list[Any]) -> Any:
    result = conditions[0]
    for condition in conditions[1:]:
        result = result | condition
    return result


def _day_of(record_type: str) -> Any:
    if record_type == "concern":
        return concern_day()
    if record_type == "visit":
        return fn.COALESCE(field_day("started_at"), created_day())
    if record_type == "project":
        return fn.COALESCE(field_day("started_on"), created_day())
    return created_day()


@guarded
def follow_ups(workspace_id: str, subject_id: str) -> list[dict[str, Any]]:
    rows = live(workspace_id, "follow_up").where(jfield("subject_id") == subject_id)
    return [decode(r) for r in rows.order_by(jfield("happened_at"), Record.created_at)]


@guarded
def concerns_of(
    workspace_id: str, ref_field: str, record_id: str, limit: int = 200
) -> list[dict[str, Any]]:
    """The live concerns naming ``record_id`` in ``ref_field`` (a person: in party_ids too)."""
    condition = jfield(ref_field) == record_id
    if ref_field == "party_id":  # the people who raised it (a list; ids never contain quotes)
        condition = condition | contains(jfield("party_ids"), f'"{record_id}"')
    rows = live(workspace_id, "concern").where(condition)
    return [decode(r) for r in rows.order_by(concern_day().desc()).limit(limit)]


@guarded
def history(workspace_id: str, record_id: str, limit: int = 500) -> list[dict[str, Any]]:
    """The record's audit trail, newest first."""
    rows = (
        Change.select()
        .where(Change.workspace == workspace_id, Change.record_id == record_id)
        .order_by(Change.seq.desc(), Change.id.desc())
        .limit(limit)
    )
    entries = [
        {
            "at": c.at,
            "user_id": c.user_id,
            "device_id": c.device_id,
            "source": c.source,
            "diff": _load_diff(c.diff),
        }
        for c in rows
    ]
    # a carried creation is the oldest entry: past the limit when the page is full
    entry = None if len(entries) >= limit else _page_entry
    return with_creation(workspace_id, record_id, entries[::-1], entry)[::-1]


def _page_entry(creation: Creation) -> dict[str, Any]:
    """A creation entry the record carries (``reads.with_creation``) as ``history`` shows it."""
    _, at, user_id, device_id, source = creation
    return {"at": Change.at.python_value(at), "user_id": user_id, "device_id": device_id,
            "source": source, "diff": {}}  # fmt: skip


@guarded
def review_threads(workspace_id: str, record_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each record's review notes and review status changes, oldest first (one query)."""
    if not record_ids:
        return {}
    rows = (
        Change.select()
        .where(Change.workspace == workspace_id, Change.record_id.in_(record_ids))
        .order_by(Change.seq, Change.id)
    )
    threads: dict[str, list[dict[str, Any]]] = {}
    for c in rows.iterator():
        diff = _load_diff(c.diff)
        status, note = diff.get("review_status"), diff.get("review_note")
        if not status and not (note and note[1]):
            continue
        threads.setdefault(c.record_id, []).append({
            "at": c.at, "user_id": c.user_id, "device_id": c.device_id,
            "status": status[1] if status else None, "note": note[1] if note else None,
        })  # fmt: skip
    return threads


def _load_diff(text: str | None) -> dict[str, Any]:
    try:
        diff = json.loads(text or "{}")
    except ValueError:
        return {}
    return diff if isinstance(diff, dict) else {}


@guarded
def pending_review_count(workspace_id: str) -> int:
    """Visits and concerns not yet reviewed (or resubmitted): all but approved and sent back."""
    total = 0
    for record_type in ("visit", "concern"):
        records = live(workspace_id, record_type)
        done = records.where(jfield("review_status").in_(("approved", "needs_changes")))
        total += records.count() - done.count()  # both counts use indexes, no JSON scan
    return total


@guarded
def any_live(workspace_id: str, record_type: str) -> bool:
    """Whether the workspace holds a live record of this type."""
    return bool(live(workspace_id, record_type).exists())


@guarded
def live_fields(workspace_id: str, record_type: str) -> list[dict[str, Any]]:
    """The fields of every live record of a type (small types only: the demo's projects)."""
    return [json.loads(row.fields or "{}") for row in live(workspace_id, record_type)]


@guarded
def attachments_of(workspace_id: str, record_id: str, limit: int) -> list[dict[str, Any]]:
    """The live attachments of a record, oldest first, at most ``limit``."""
    rows = live(workspace_id, "attachment").where(jfield("subject_id") == record_id)
    return [decode(row) for row in rows.order_by(Record.created_at).limit(limit)]


def log_reveal(
    workspace_id: str, user_id: str, record: dict[str, Any], field: str, now_ms: int
) -> None:
    """Add a ``reveal`` entry to a record's history: who looked at which masked field, when.

    The entry never holds the value itself.
    """
    with database_errors(), write_transaction():
        Change.create(
            workspace=workspace_id,
            record_id=record["id"],
            record_type=record["type"],
            seq=record["meta"]["seq"],
            at=dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=now_ms),
            user_id=user_id,
            device_id=None,
            source="reveal",
            diff=json.dumps({"revealed": [field]}),
        )
