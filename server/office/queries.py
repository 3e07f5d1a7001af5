"""What the office pages read, as small functions over the models (views never build queries).

Lists are paginated in SQL (count + one page), exports iterate a server-side cursor, so no page
ever holds a whole table in memory. Records come back as plain dicts in the wire form of
PROTOCOL.md section 4: ``{type, id, fields, stamps, deleted, meta}``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from peewee import JOIN, SQL, fn

from server import reports
from server.models import Change, Conflict, Device, Record, User
from server.reports import concern_day, contains
from server.reports import field as jfield
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


def decode(row: Record) -> dict[str, Any]:
    """Turn a Record row into the wire form."""
    return {
        "type": row.type,
        "id": row.id,
        "fields": json.loads(row.fields or "{}"),
        "stamps": json.loads(row.stamps or "{}"),
        "deleted": bool(row.deleted),
        "meta": {
            "workspace_id": row.workspace_id,
            "created_by": row.created_by,
            "created_at": row.created_at,
            "updated_by": row.updated_by,
            "updated_at": row.updated_at,
            "updated_device": row.updated_device,
            "seq": row.seq,
        },
    }


def record_label(record: dict[str, Any]) -> str:
    """A record as people name it; an untitled visit by its kind and date, never a raw id."""
    fields = record["fields"]
    label = fields.get(LABEL_FIELDS.get(record["type"], "title"))
    if not label and record["type"] == "visit" and fields.get("kind"):
        from server.office.labels import choice_label

        when = str(fields.get("started_at") or "")[:10]
        return " ".join(x for x in (choice_label("visit", "kind", fields["kind"]), when) if x)
    return str(label or record["id"][:8])


# --- users and devices -------------------------------------------------------------------------


def active_user(user_id: str) -> User | None:
    return User.get_or_none((User.id == user_id) & (User.active == True))  # noqa: E712


def users(workspace_id: str) -> list[User]:
    return list(User.select().where(User.workspace == workspace_id).order_by(User.username))


def user_labels(workspace_id: str) -> dict[str, str]:
    rows = User.select(User.id, User.username, User.display_name).where(
        User.workspace == workspace_id
    )
    return {u.id: u.display_name or u.username for u in rows}


def active_user_labels(workspace_id: str) -> dict[str, str]:
    """Labels of the workspace's active users (who may own a concern), by name."""
    rows = User.select(User.id, User.username, User.display_name).where(
        User.workspace == workspace_id,
        User.active == True,  # noqa: E712
    )
    labels = {u.id: u.display_name or u.username for u in rows}
    return dict(sorted(labels.items(), key=lambda item: item[1]))


def device_labels(workspace_id: str) -> dict[str, str]:
    rows = Device.select(Device.id, Device.name).where(Device.workspace == workspace_id)
    return {d.id: d.name for d in rows}


def devices(workspace_id: str) -> list[dict[str, Any]]:
    """The workspace's devices with their user and open conflicts on their edits."""
    rows = (
        Device.select(Device, User)
        .join(User)
        .where(Device.workspace == workspace_id)
        .order_by(Device.revoked_at.is_null(False), Device.created_at.desc())
    )
    open_counts = _open_conflicts_by_device(workspace_id)
    return [
        {"device": d, "user": d.user, "open_conflicts": open_counts.get(d.id, 0)} for d in rows
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


# --- records -----------------------------------------------------------------------------------


def get(workspace_id: str, record_id: str, record_type: str | None = None) -> dict | None:
    """One record of the workspace (tombstones included), or None."""
    query = Record.select().where(Record.id == record_id, Record.workspace == workspace_id)
    if record_type is not None:
        query = query.where(Record.type == record_type)
    row = query.first()
    return decode(row) if row is not None else None


def by_ids(workspace_id: str, ids: Iterable[Any]) -> list[dict[str, Any]]:
    """The workspace's records with these ids (one query)."""
    wanted = sorted({i for i in ids if isinstance(i, str)})
    if not wanted:
        return []
    rows = Record.select().where(Record.workspace == workspace_id, Record.id.in_(wanted))
    return [decode(r) for r in rows]


def labels(workspace_id: str, ids: Iterable[str | None]) -> dict[str, str]:
    """Display labels (name or title) of the referenced records, in one query."""
    wanted = sorted({i for i in ids if isinstance(i, str)})
    if not wanted:
        return {}
    rows = Record.select().where(Record.workspace == workspace_id, Record.id.in_(wanted))
    return {row.id: record_label(decode(row)) for row in rows}


def options(workspace_id: str, record_type: str) -> list[tuple[str, str]]:
    """(id, label) pairs for a select box, by label; at most OPTION_LIMIT."""
    name = LABEL_FIELDS.get(record_type, "title")
    rows = (
        reports.live(workspace_id, record_type)
        .select(Record.id, jfield(name))
        .order_by(jfield(name))
        .limit(OPTION_LIMIT)
        .tuples()
    )
    return [(rid, label or rid[:8]) for rid, label in rows]


def concern_matches(
    workspace_id: str, text: str, exclude: str, limit: int = 20
) -> list[tuple[str, str]]:
    """(id, label) of the workspace's live concerns the search text finds, newest first."""
    if not text:
        return []
    query = filtered(workspace_id, "concern", RecordFilter(search=text))
    rows = query.where(Record.id != exclude).limit(limit)
    return [(row.id, record_label(decode(row))) for row in rows]


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


def paginate(query: Any, number: int, size: int) -> Page:
    """Count the query and fetch one page of it."""
    total = query.count()
    number = max(1, min(number, max(1, math.ceil(total / size))))
    rows = query.paginate(number, size)
    return Page([decode(r) for r in rows], total, number, size)


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


def filtered(workspace_id: str, record_type: str, f: RecordFilter) -> Any:
    """The query of a filtered list, newest first."""
    if f.deleted:
        query = Record.select().where(
            Record.workspace == workspace_id,
            Record.type == record_type,
            Record.deleted == True,  # noqa: E712
        )
    else:
        query = reports.live(workspace_id, record_type)
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
        query = query.where(
            status.in_(reports.OPEN_STATUSES), concern_day() < f.stale_before.isoformat()
        )
    if f.review and "review_status" in RECORD_TYPES[record_type].rules:
        review = jfield("review_status")
        if f.review == "pending":
            query = query.where(review.is_null() | review.in_(("pending", "resubmitted")))
        else:
            query = query.where(review == f.review)
    if record_type == "concern":
        query = _casework_filters(query, f)
    day = _day_of(record_type)
    query = query.where(*reports.in_period(day, f.since, f.until))
    if record_type == "concern" and f.sort == "due":
        return query.order_by(jfield("due_on").is_null(), jfield("due_on"), day.desc(), Record.id)
    if record_type == "concern" and f.sort == "voices":
        voices = voice_counts_query(workspace_id).alias("v")
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
        query = query.where(status.in_(reports.OPEN_STATUSES))
        if f.due == "overdue":
            query = query.where(jfield("due_on") < f.today.isoformat())
        elif f.due == "week":
            sunday = reports.week_end(f.today).isoformat()
            query = query.where(jfield("due_on").between(f.today.isoformat(), sunday))
    return query


def voice_counts_query(workspace_id: str) -> Any:
    """Select (sid, n): the number of 附议 (support follow-ups) per concern id."""
    subject = jfield("subject_id")
    return (
        reports.live(workspace_id, "follow_up")
        .select(subject.alias("sid"), fn.COUNT(Record.id).alias("n"))
        .where(jfield("kind") == "support", jfield("subject_type") == "concern")
        .group_by(subject)
    )


def voice_counts(workspace_id: str, concern_ids: Iterable[str]) -> dict[str, int]:
    """The number of 附议 of each of these concerns, in one query."""
    wanted = sorted(set(concern_ids))
    if not wanted:
        return {}
    query = voice_counts_query(workspace_id).where(jfield("subject_id").in_(wanted))
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
        return fn.COALESCE(reports.field_day("started_at"), reports.created_day())
    if record_type == "project":
        return fn.COALESCE(reports.field_day("started_on"), reports.created_day())
    return reports.created_day()


def iterate(query: Any, limit: int) -> Iterator[dict[str, Any]]:
    """Stream at most ``limit`` records of a query with a server-side cursor."""
    for row in query.limit(limit).iterator():
        yield decode(row)


def follow_ups(workspace_id: str, subject_id: str) -> list[dict[str, Any]]:
    rows = reports.live(workspace_id, "follow_up").where(jfield("subject_id") == subject_id)
    return [decode(r) for r in rows.order_by(jfield("happened_at"), Record.created_at)]


def concerns_of(workspace_id: str, ref_field: str, record_id: str, limit: int = 200) -> list:
    """The live concerns naming ``record_id`` in ``ref_field`` (a person: in party_ids too)."""
    condition = jfield(ref_field) == record_id
    if ref_field == "party_id":  # the people who raised it (a list; ids never contain quotes)
        condition = condition | reports.contains(jfield("party_ids"), f'"{record_id}"')
    rows = reports.live(workspace_id, "concern").where(condition)
    return [decode(r) for r in rows.order_by(concern_day().desc()).limit(limit)]


# --- audit history and conflicts ---------------------------------------------------------------


def history(workspace_id: str, record_id: str, limit: int = 500) -> list[dict[str, Any]]:
    """The record's audit trail, newest first."""
    rows = (
        Change.select()
        .where(Change.workspace == workspace_id, Change.record_id == record_id)
        .order_by(Change.seq.desc(), Change.id.desc())
        .limit(limit)
    )
    return [
        {
            "at": c.at,
            "user_id": c.user_id,
            "device_id": c.device_id,
            "source": c.source,
            "diff": _load_diff(c.diff),
        }
        for c in rows
    ]


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


def open_conflicts(workspace_id: str, number: int, size: int) -> tuple[list[Conflict], int]:
    query = Conflict.select().where(Conflict.workspace == workspace_id, Conflict.status == "open")
    total = query.count()
    rows = list(query.order_by(Conflict.created_at, Conflict.id).paginate(number, size))
    return rows, total


def open_conflict_count(workspace_id: str) -> int:
    return (
        Conflict.select()
        .where(Conflict.workspace == workspace_id, Conflict.status == "open")
        .count()
    )


def conflict(workspace_id: str, conflict_id: str) -> Conflict | None:
    return Conflict.get_or_none(
        (Conflict.id == conflict_id) & (Conflict.workspace == workspace_id)
    )


def conflicts_of(workspace_id: str, record_id: str) -> list[Conflict]:
    return list(
        Conflict.select()
        .where(
            Conflict.workspace == workspace_id,
            Conflict.record_id == record_id,
            Conflict.status == "open",
        )
        .order_by(Conflict.created_at)
    )


def pending_review_count(workspace_id: str) -> int:
    """Visits and concerns not yet reviewed (or resubmitted): all but approved and sent back."""
    total = 0
    for record_type in ("visit", "concern"):
        records = reports.live(workspace_id, record_type)
        done = records.where(jfield("review_status").in_(("approved", "needs_changes")))
        total += records.count() - done.count()  # both counts use indexes, no JSON scan
    return total
