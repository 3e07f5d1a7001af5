"""The engine shared by pushes and office edits: check, decide and write a list of changes
inside one locked write transaction, in a fixed number of statements whatever its size.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from peewee import Database

from server.db import is_postgres
from server.store.sql import (
    State,
    dump_checked,
    dump_stamps,
    dumps,
    ids_clause,
    insert_rows,
    load_stored,
    pipelined,
    send_rows,
    sql_for,
)
from sync import (
    DELETED,
    RECORD_TYPES,
    Change,
    Current,
    Decision,
    Incoming,
    Outcome,
    RecordType,
    Rejection,
    Stamp,
    decide,
    validate_fields,
)
from sync.choices import record_faults, value_fault
from sync.records import ListChoice, checked_columns
from sync.rules import future_errors, future_free, people_errors, voice_key
from sync.vocabulary import Fault

OFFICE_ALLOWANCE_MS = 15 * 60 * 1000  # office edits: the server's clock, the default max skew


@dataclass(frozen=True, slots=True)
class Author:
    """Who writes: the user, the device (None for the office) and the node id of the stamps."""

    user_id: str | None
    device_id: str | None
    node_id: str


@dataclass(slots=True)
class ApplyResult:
    """What an office edit did: counts, conflicts and rejections as in a push response.

    ``conflicts`` items are ``{id, type, record_id, field, kept: {value, stamp}, other: {...}}``;
    ``rejected`` items are ``{index, type, id, errors: {field: [message]}}`` (index is 0).
    ``record`` is the record's wire form after the edit (None when rejected), ``stamp`` the
    stamp given to the edited fields.
    """

    applied: int = 0
    unchanged: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    record: dict[str, Any] | None = None
    stamp: str | None = None

    @property
    def ok(self) -> bool:
        """Whether nothing was rejected."""
        return not self.rejected


_UPSERT_COLUMNS = (
    "id", "workspace_id", "type", "fields", "stamps", "deleted", "seq",
    "created_at", "created_by", "created_device", "created_seq",
    "updated_at", "updated_by", "updated_device", "echo_after", "owner_id", "review_status",
)  # fmt: skip
_INSERT_SUFFIX = " ON CONFLICT (id) DO NOTHING"  # an id taken in another workspace
_UPSERT_SUFFIX = (
    " ON CONFLICT (id) DO UPDATE SET fields = excluded.fields, stamps = excluded.stamps,"
    " deleted = excluded.deleted, seq = excluded.seq, updated_at = excluded.updated_at,"
    " updated_by = excluded.updated_by, updated_device = excluded.updated_device,"
    " echo_after = excluded.echo_after, owner_id = excluded.owner_id,"
    " review_status = excluded.review_status"
)
_CHANGE_COLUMNS = (
    "workspace_id", "record_id", "record_type", "seq", "at", "user_id", "device_id", "source",
    "diff",
)  # fmt: skip
_CONFLICT_COLUMNS = (
    "id", "workspace_id", "record_id", "record_type", "field",
    "kept_value", "kept_stamp", "kept_user", "kept_device",
    "other_value", "other_stamp", "other_user", "other_device", "status", "created_at",
)  # fmt: skip


# -- records as read for a write ---------------------------------------------------------------


@dataclass(slots=True)
class Row:
    id: str
    workspace_id: str
    type: str
    fields: dict[str, Any]
    stamps: dict[str, str]
    deleted: bool
    created_by: str | None
    created_at: Any
    updated: tuple[Any, Any, Any]  # updated_at, updated_by, updated_device
    seq: int = 0
    echo_after: int | None = None  # see ``_echo_after``


# Looking records up by id within a workspace: SQLite must take the primary key, not an index
# that leads with the workspace (it would read the whole workspace); "+" keeps the workspace
# condition from choosing an index. PostgreSQL has an index on (workspace_id, id) for these
# lookups (``migrations.record_lookup_index``), whatever its statistics say.
def _workspace_term(db: Database) -> str:
    return "workspace_id" if is_postgres(db) else "+workspace_id"


def load_rows(db: Database, workspace_id: str, ids: Iterable[str]) -> dict[str, Row]:
    """Read the workspace's records with these ids in one query (other workspaces' records are
    never read: an id taken elsewhere shows up when its insert does nothing, see
    ``apply_changes``)."""
    return _rows_of(_select_rows(db, workspace_id, list(ids)))


def _select_rows(db: Database, workspace_id: str, ids: list[str]) -> Any:
    """Send ``load_rows``'s query; return its cursor (None without ids)."""
    if not ids:
        return None
    clause, param = ids_clause(db, "id", ids)
    return db.execute_sql(
        sql_for(
            db,
            "SELECT id, workspace_id, type, fields, stamps, deleted, created_by, created_at,"
            " updated_at, updated_by, updated_device, seq, echo_after"
            f' FROM "record" WHERE {_workspace_term(db)} = ?'
            f" AND {clause}",
        ),
        (workspace_id, param),
    )


def _rows_of(cursor: Any) -> dict[str, Row]:
    if cursor is None:
        return {}
    return {
        r[0]: Row(
            r[0],
            r[1],
            r[2],
            load_stored(r[3]),
            load_stored(r[4]),
            bool(r[5]),
            r[6],
            r[7],
            r[8:11],
            int(r[11]),
            None if r[12] is None else int(r[12]),
        )  # fmt: skip
        for r in cursor.fetchall()
    }


@dataclass(slots=True)
class Lookup:
    """The reads a batch starts with, sent together (``look_up``): the workspace's records
    the changes name, and which of the other ids they refer to it holds."""

    groups: dict[str, list[dict[str, Any]]]  # the changes' values by type (``_by_type``)
    named: set[str]  # referenced ids that no change of the batch has
    records: Any  # the cursors of the two queries
    held: Any

    def rows(self) -> dict[str, Row]:
        return _rows_of(self.records)

    def unknown(self) -> set[str]:
        """The referenced ids the workspace does not hold (nor the batch make)."""
        if self.held is None:
            return set()
        return self.named - {r[0] for r in self.held.fetchall()}


def look_up(db: Database, workspace_id: str, changes: list[Change]) -> Lookup:
    """Send the reads a batch starts with (see ``Lookup``) and return them unread: inside
    ``pipelined`` on PostgreSQL they travel with whatever was sent before them, and run
    after it."""
    ids = [c.id for c in changes]
    groups = _by_type(changes)
    named = _referenced(groups) - set(ids)
    held = None
    if named:
        clause, param = ids_clause(db, "id", named)
        held = db.execute_sql(
            sql_for(db, f'SELECT id FROM "record" WHERE {_workspace_term(db)} = ? AND {clause}'),
            (workspace_id, param),
        )
    return Lookup(groups, named, _select_rows(db, workspace_id, ids), held)


def _by_type(changes: list[Change]) -> dict[str, list[dict[str, Any]]]:
    """The values of the changes, grouped by record type (a push's are mostly of one)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for change in changes:
        group = groups.get(change.type)
        if group is None:
            groups[change.type] = group = []
        group.append(change.values)
    return groups


def _referenced(groups: dict[str, list[dict[str, Any]]]) -> set[str]:
    """The ids the changes refer to: a field of the type's references at a time."""
    named: set[str] = set()
    for type_name, group in groups.items():
        for name in RECORD_TYPES[type_name].refs:
            for value in _column(group, name):
                if isinstance(value, str):
                    named.add(value)
                elif isinstance(value, list):
                    named.update(v for v in value if isinstance(v, str))
    return named


def _column(group: list[dict[str, Any]], name: str) -> list[Any]:
    return [values[name] for values in group if name in values]


def _foreign_ids(db: Database, workspace_id: str, ids: set[str]) -> set[str]:
    """Return those of ``ids`` that are records of another workspace (one query).

    The one statement of a push that looks past its workspace (by primary key, returning only
    ids): it runs only for references to ids the workspace does not hold, which an ordinary
    push (references to records pushed before or in the same batch) never has.
    """
    if not ids:
        return set()
    clause, param = ids_clause(db, "id", ids)
    cursor = db.execute_sql(
        sql_for(db, f'SELECT id FROM "record" WHERE {clause} AND workspace_id <> ?'),
        (param, workspace_id),
    )
    return {r[0] for r in cursor.fetchall()}


def _refs_of(rtype: RecordType, values: dict[str, Any]) -> dict[str, set[str]]:
    """Return field -> referenced ids of one change."""
    refs: dict[str, set[str]] = {}
    for name in rtype.refs:  # a few names: cheaper than intersecting with ``values``
        if name not in values:
            continue
        value = values[name]
        if isinstance(value, str):
            refs[name] = {value}
        elif isinstance(value, list):
            refs[name] = {v for v in value if isinstance(v, str)}
    return refs


# -- the engine shared by push and office edits -------------------------------------------------


@dataclass(slots=True)
class Batch:
    """What one transaction applies: computed in memory, then written in a few statements."""

    workspace_id: str
    author: Author
    source: str
    now: Any
    strict_base: bool  # office edits: a stale base conflicts even against the server's own node
    now_ms: int = 0  # the server's clock: no time may lie ahead of it (plus the allowance)
    allowance_ms: int = OFFICE_ALLOWANCE_MS
    applied: int = 0
    unchanged: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    records: list[tuple[Any, ...]] = field(default_factory=list)  # of records held already
    new_records: list[tuple[Any, ...]] = field(default_factory=list)
    changes: list[tuple[Any, ...]] = field(default_factory=list)
    conflict_rows: list[list[Any]] = field(default_factory=list)
    current_nodes: set[str] = field(default_factory=set)
    voices: set[tuple[str, str]] = field(default_factory=set)  # (concern, person) counted
    visits: dict[str, dict[str, Any]] = field(default_factory=dict)  # fields of known visits
    lists: dict[str, dict[str, Any]] = field(default_factory=dict)  # live choice records


def _decide(batch: Batch, current: Current | None, incoming: Incoming) -> Decision:
    decision = decide(current, incoming)
    if (
        batch.strict_base
        and decision.outcome is Outcome.FAST_FORWARD
        and current is not None
        and current.stamp != incoming.base
    ):
        # The office shares one node, so "same node" does not mean "the same person saw it".
        greater = incoming.stamp > current.stamp
        if current.value == incoming.value:
            return Decision(Outcome.CONCURRENT_EQUAL, incoming_greater=greater)
        kept = Outcome.CONCURRENT_REPLACED if greater else Outcome.CONCURRENT_KEPT
        return Decision(kept, greater)
    return decision


def _check_change(
    change: Change,
    row: Row | None,
    batch: Batch,
    foreign: set[str],
    prechecked: Prechecked,
) -> dict[str, list[str]]:
    """Return field -> messages for a change that may not be applied (empty when fine)."""
    if row is not None and (row.workspace_id != batch.workspace_id or row.type != change.type):
        # One answer for every id this change cannot have (docs/protocol.md section 5): it
        # must not tell whether the id is taken in another workspace or by another type here.
        return {"id": [Fault("id_taken")]}
    rtype = RECORD_TYPES[change.type]
    values = change.values
    timely = False
    if change.type in prechecked.valid and (
        row is not None or values.keys() >= rtype.required or values.get(DELETED)
    ):
        errors: dict[str, list[str]] = {}  # what ``validate_fields`` would say of it
        timely = change.type in prechecked.timely
    else:
        present = () if row is None else row.fields.keys()
        errors = validate_fields(
            rtype, values, is_new=row is None, from_office=prechecked.from_office,
            present=present,
        )  # fmt: skip
    errors.update(_rule_errors(rtype, values, row, batch, failed=errors.keys(), timely=timely))
    if foreign:
        for name, ids in _refs_of(rtype, values).items():
            if ids & foreign:
                errors.setdefault(name, []).append(Fault("foreign_ref"))
    if not errors and rtype.name == "choice":  # later changes of the batch see this one
        after = {**(row.fields if row else {}), **values}
        if values.get(DELETED) or (row is not None and row.deleted and DELETED not in values):
            batch.lists.pop(change.id, None)
        else:
            batch.lists[change.id] = after
    return errors


@dataclass(frozen=True, slots=True)
class Prechecked:
    """What ``precheck`` found of a batch's changes, checked a column at a time."""

    from_office: bool
    types: frozenset[str]  # the types of the batch's changes
    valid: frozenset[str]  # types whose changes' values all pass their rules (``checked_columns``)
    timely: frozenset[str]  # of those, types none of whose times lie ahead (``future_free``)
    plain: frozenset[str]  # of those, types no other rule looks at (``_CROSS_RULED``)


# Types whose new records other rules look at: a concern's people and visit, a list entry and the
# values of lists (``_rule_errors``), a further voice (``_apply_new``).
_CROSS_RULED = frozenset(
    name
    for name, rtype in RECORD_TYPES.items()
    if name in ("concern", "choice", "follow_up")
    or any(isinstance(rule, ListChoice) for rule in rtype.rules.values())
)


def precheck(
    batch: Batch, groups: dict[str, list[dict[str, Any]]], from_office: bool
) -> Prechecked:
    """Check the field values of a batch's changes a column at a time (``checked_columns``):
    the changes of a type that passes are not checked one by one, nor their times (of 10,000
    visits pushed: 10 against 31 ms). The changes of any other type are checked one by one,
    for their exact messages."""
    valid, timely = set(), set()
    for type_name, group in groups.items():
        rtype = RECORD_TYPES[type_name]
        columns = checked_columns(rtype, group, from_office=from_office)
        if columns is None:
            continue
        valid.add(type_name)
        if future_free(rtype, columns, now_ms=batch.now_ms, allowance_ms=batch.allowance_ms):
            timely.add(type_name)
    plain = frozenset(timely - _CROSS_RULED)
    return Prechecked(from_office, frozenset(groups), frozenset(valid), frozenset(timely), plain)


def _rule_errors(
    rtype: RecordType,
    values: dict[str, Any],
    row: Row | None,
    batch: Batch,
    failed: Collection[str] = (),
    timely: bool = False,
) -> dict[str, list[str]]:
    """Apply the record rules of ``sync.rules`` that look at more than one field value.

    ``failed`` names the fields whose values failed their own rule (the rest are checked);
    ``timely`` says none of the values lies ahead of the server's clock (``future_free``).
    """
    if timely:
        errors: dict[str, list[str]] = {}
    else:
        timed = {k: v for k, v in values.items() if k not in failed} if failed else values
        errors = future_errors(
            rtype, timed, now_ms=batch.now_ms, allowance_ms=batch.allowance_ms, checked=True
        )
    if rtype.name == "concern" and {"party_id", "party_ids", "visit_id"} & values.keys():
        after = {**(row.fields if row else {}), **values}
        visit = batch.visits.get(after.get("visit_id") or "")
        for name, messages in people_errors(after, visit).items():
            errors.setdefault(name, []).extend(messages)
    if _LIST_FIELDS[rtype.name] or rtype.name == "choice":
        errors.update(_list_errors(rtype, values, row, batch))
    return errors


# type -> (field, list) of its fields whose values come from a workspace's list
_LIST_FIELDS = {
    name: tuple((f, r.list_name) for f, r in rtype.rules.items() if isinstance(r, ListChoice))
    for name, rtype in RECORD_TYPES.items()
}


def _list_errors(
    rtype: RecordType, values: dict[str, Any], row: Row | None, batch: Batch
) -> dict[str, list[str]]:
    """Check values of workspace lists (categories) and the list entries themselves."""
    errors: dict[str, list[str]] = {}
    held = row.fields if row else {}
    for name, list_name in _LIST_FIELDS[rtype.name]:
        if name in values:
            fault = value_fault(list_name, batch.lists, values[name], held.get(name))
            if fault is not None:
                errors[name] = [fault]
    if rtype.name == "choice" and not values.get(DELETED):
        after = {**held, **values}
        errors.update(record_faults(row.id if row else "", after, batch.lists))
    return errors


def _apply_change(batch: Batch, state: State, change: Change, row: Row | None) -> None:
    """Decide every field of one checked change and queue its writes."""
    if row is None:  # a new record: every write fast-forwards (bases were checked in parsing)
        _apply_new(batch, state, change)
        return
    fields, stamps, deleted = row.fields, row.stamps, row.deleted
    decisions: list[tuple[str, Incoming, Current | None, Decision]] = []
    for name, incoming in change.writes.items():
        stamp = stamps.get(name)
        if stamp is None:
            current = None
        else:
            current = Current(deleted if name == DELETED else fields.get(name), stamp)
        decision = _decide(batch, current, incoming)
        if decision.outcome is Outcome.MALFORMED:
            errors: dict[str, list[str]] = {name: [Fault("stamp_order")]}
            batch.rejected.append(Rejection(change.index, change.type, change.id, errors))
            return
        decisions.append((name, incoming, current, decision))
    diff: dict[str, list[Any]] = {}
    lost = False  # an incoming write lost to the held one: the writer must pull the winner
    for name, incoming, current, decision in decisions:
        if decision.outcome.is_conflict:
            assert current is not None
            _queue_conflict(batch, change, name, current, incoming, decision.takes_incoming)
        if not decision.takes_incoming:
            lost = lost or decision.outcome in _LOSING
            continue
        diff[name] = [None if current is None else current.value, incoming.value, incoming.stamp]
        stamps[name] = incoming.stamp
        if name == DELETED:
            deleted = bool(incoming.value)
        else:
            fields[name] = incoming.value
    if diff:
        server_wrote = _resubmit(batch, state, fields, stamps, diff)
        batch.applied += 1
        echo = not lost and not server_wrote
        _queue_write(batch, state, change, row, fields, stamps, deleted, diff, echo=echo)
    else:
        batch.unchanged += 1
        if lost:  # re-sequence the unchanged record so the writer's next pull brings it
            _queue_write(batch, state, change, row, fields, stamps, deleted, None)


def _resubmit(
    batch: Batch,
    state: State,
    fields: dict[str, Any],
    stamps: dict[str, str],
    diff: dict[str, list[Any]],
) -> bool:
    """A device's fix to a record sent back for changes puts it back in the review queue;
    return whether it did (a change the device does not hold yet)."""
    if batch.author.device_id is None or fields.get("review_status") != "needs_changes":
        return False
    stamp = _server_stamp(batch, state, max(stamps.values()))
    diff["review_status"] = ["needs_changes", "resubmitted", stamp]
    fields["review_status"] = "resubmitted"
    stamps["review_status"] = stamp
    return True


_LOSING = frozenset({Outcome.CONCURRENT_KEPT, Outcome.CONCURRENT_EQUAL})


def _apply_new(batch: Batch, state: State, change: Change) -> None:
    # The change's own dicts are the new record's (they are only read from here on).
    fields, stamps, deleted = change.values, change.stamps, False
    if DELETED in fields:
        deleted = bool(fields[DELETED])
        fields = {name: value for name, value in fields.items() if name != DELETED}
    key = None if deleted or change.type != "follow_up" else voice_key(fields)
    absorbed = key is not None and key in batch.voices
    if absorbed:  # this person's voice is already counted
        stamp = _server_stamp(batch, state, max(stamps.values()))
        stamps, deleted = {**stamps, DELETED: stamp}, True
    elif key is not None:
        batch.voices.add(key)
    batch.applied += 1
    _queue_new(batch, state, change, fields, stamps, deleted, echo=not absorbed)


# A new record's creation entry holds no copy of its fields: the record is the copy, and
# ``reads.with_creation`` rebuilds what it held from it and the later rows' old values. A push
# or an office edit writes no audit row for it at all: the record carries the entry's device
# and sequence number (``models.Record.created_seq``), which saves the push an insert per new
# record (12 of PostgreSQL's 36 ms per 1,000 new visits). Imports keep their row (source), whose
# diff is CREATED_DIFF.
CREATED_DIFF = "{}"
CARRIED_SOURCES = ("push", "office")


def _server_stamp(batch: Batch, state: State, after: str) -> str:
    """Tick the server's clock past ``after`` for a write the server makes itself."""
    clock = state.clock(batch.now_ms)
    clock.observe(after)
    state.last_stamp = str(clock.tick())
    return state.last_stamp


def _queue_new(
    batch: Batch,
    state: State,
    change: Change,
    fields: dict[str, Any],
    stamps: dict[str, str],
    deleted: bool,
    *,
    echo: bool,
) -> None:
    """Queue a new record under the next sequence number (and its creation entry's row for an
    import, see ``CREATED_DIFF``): what ``_queue_write`` does for a held record, built in one
    tuple (the row of almost every change of a push)."""
    seq = state.seq = state.seq + 1
    author, now = batch.author, batch.now
    user, device = author.user_id, author.device_id
    echo_after = (None if device is None else 0) if echo else None  # (``_echo_after``)
    carried = batch.source in CARRIED_SOURCES
    batch.new_records.append((
        change.id, batch.workspace_id, change.type, dump_checked(fields), dump_stamps(stamps),
        deleted, seq,
        now, user, device if carried else None, seq if carried else None,  # created
        now, user, device, echo_after,  # updated
        *_looked_up_by(fields),
    ))  # fmt: skip
    if not carried:
        batch.changes.append((
            batch.workspace_id, change.id, change.type, seq, now, user, device, batch.source,
            CREATED_DIFF,
        ))  # fmt: skip


def _queue_write(
    batch: Batch,
    state: State,
    change: Change,
    row: Row,
    fields: dict[str, Any],
    stamps: dict[str, str],
    deleted: bool,
    diff: dict[str, list[Any]] | None,
    *,
    echo: bool = False,
) -> None:
    """Queue the held record's new state under the next sequence number, and its audit row.

    ``echo`` says the new state is exactly the pushing device's write (nothing lost, nothing
    added by the server), so the device's pulls may leave it out (``_echo_after``).
    """
    echo_after = _echo_after(batch, row) if echo else None
    state.seq += 1
    author, now = batch.author, batch.now
    created = (row.created_at, row.created_by, None, None)  # not written: the upsert keeps them
    updated = (now, author.user_id, author.device_id) if diff else row.updated
    batch.records.append((
        change.id, batch.workspace_id, change.type, dump_checked(fields), dump_stamps(stamps),
        deleted, state.seq, *created, *updated, echo_after, *_looked_up_by(fields),
    ))  # fmt: skip
    if diff:
        batch.changes.append((
            batch.workspace_id, change.id, change.type, state.seq, now, author.user_id,
            author.device_id, batch.source, dumps(diff),
        ))  # fmt: skip


def _looked_up_by(fields: dict[str, Any]) -> tuple[str | None, str | None]:
    """The record's copies of the two fields the office looks records up by
    (``models.Record.owner_id``, ``review_status``): the rules let only text or nothing into
    them."""
    owner, review = fields.get("owner_id"), fields.get("review_status")
    return (
        owner if isinstance(owner, str) else None,
        review if isinstance(review, str) else None,
    )


def _echo_after(batch: Batch, row: Row | None) -> int | None:
    """What ``record.echo_after`` says of the record the device has just written (its state
    is exactly the device's write): 0 when every change of the record is this device's own,
    the only case its pulls leave the record out (docs/protocol.md section 6, "No echo"); else
    the number of the change the write was made on (kept, not used by pulls: leaving such a
    write out would need to know the device had pulled that change, section 11). When the
    record's latest change was already this device's own such write, its value carries over."""
    device = batch.author.device_id
    if device is None:
        return None
    if row is None:
        return 0
    if row.updated[2] == device and row.echo_after is not None:
        return row.echo_after
    return row.seq


def _queue_conflict(
    batch: Batch, change: Change, name: str, current: Current, incoming: Incoming, took: bool
) -> None:
    conflict_id = str(uuid.uuid4())
    mine = {"value": incoming.value, "stamp": incoming.stamp}
    theirs = {"value": current.value, "stamp": current.stamp}
    kept, other = (mine, theirs) if took else (theirs, mine)
    batch.conflicts.append({
        "id": conflict_id, "type": change.type, "record_id": change.id, "field": name,
        "kept": kept, "other": other,
    })  # fmt: skip
    current_node = Stamp.node_of(current.stamp)
    batch.current_nodes.add(current_node)
    author = batch.author
    mine_who: list[Any] = [author.user_id, author.device_id]
    theirs_who: list[Any] = [None, current_node]  # the user is filled in from Device below
    kept_who, other_who = (mine_who, theirs_who) if took else (theirs_who, mine_who)
    batch.conflict_rows.append([
        conflict_id, batch.workspace_id, change.id, change.type, name,
        dumps(kept["value"]), kept["stamp"], *kept_who,
        dumps(other["value"]), other["stamp"], *other_who, "open", batch.now,
    ])  # fmt: skip


def apply_changes(
    db: Database,
    state: State,
    batch: Batch,
    changes: list[Change],
    then: Callable[[], None] | None = None,
    looked: Lookup | None = None,
) -> None:
    """Check, decide and write a list of changes (inside a locked write transaction).

    Every statement names the batch's workspace. A new record's id may still be taken by a
    record of another workspace: its insert then does nothing, so what the batch wrote is
    undone (a savepoint) and the batch decided again with those changes rejected
    (``id_taken``). ``then`` runs once the batch is decided, before its writes end (the
    push's own rows); it runs again when the batch is decided again. ``looked`` is
    ``look_up`` of the changes, when already sent (it must have been sent under the lock).
    """
    looked = looked or look_up(db, batch.workspace_id, changes)
    rows = looked.rows()
    prechecked = precheck(batch, looked.groups, from_office=batch.author.device_id is None)
    foreign = _foreign_ids(db, batch.workspace_id, looked.unknown())
    seq, last_stamp = state.seq, state.last_stamp
    taken: set[str] = set()
    while True:
        decided = _Decided(db, state, batch, changes, rows)
        missing = decided.write(prechecked, foreign, taken, then)
        if not missing:
            return
        taken |= missing
        state.seq, state.last_stamp = seq, last_stamp
        _reset(batch)
        rows = load_rows(db, batch.workspace_id, (c.id for c in changes))  # decided in place


# PostgreSQL: the rows of every this many decided changes are sent while the rest is decided
# (pipeline mode), so the server inserts them on its own core meanwhile. Smaller sends cost a
# statement each; larger ones leave more of the writing after the last decision.
WRITE_EVERY = 250


class _Decided:
    """Decides a batch and writes what is decided on the way (``apply_changes``).

    On PostgreSQL the writes go in pipeline mode: each send of rows is a statement whose
    answer nobody waits for, and the new records' written-row counts are read once the
    pipeline has ended; the batch runs under a savepoint, so one with a taken id is undone
    whole (rows of other changes are written by then). On SQLite (no round trips, no second
    process to write) the rows are written once the batch is decided: a writer thread would
    take Python's lock back for every row of ``executemany``. The new records go first, and
    their count is known at once, so a taken id is undone by deleting them, before anything
    else is written (a savepoint costs SQLite a copy of each page it then changes: 5 ms more
    per 1,000 new records, median).
    """

    def __init__(
        self, db: Database, state: State, batch: Batch, changes: list[Change], rows: dict[str, Row]
    ) -> None:
        self.db, self.state, self.batch, self.changes, self.rows = db, state, batch, changes, rows
        self.sent = (0, 0, 0)  # how many new records, records and audit rows went
        self.inserts: list[Any] = []  # cursors of the new records' inserts

    def write(
        self,
        prechecked: Prechecked,
        foreign: set[str],
        taken: set[str],
        then: Callable[[], None] | None,
    ) -> set[str]:
        """Decide and write the batch; return the ids of new records whose insert did nothing
        (taken in another workspace), with everything the batch wrote undone."""
        db, batch = self.db, self.batch
        postgres = is_postgres(db)
        _load_context(db, batch, self.changes, self.rows, prechecked.types)
        every = WRITE_EVERY if postgres else len(self.changes) + 1
        with pipelined(db):
            if postgres:
                db.execute_sql("SAVEPOINT decided")
            _decide_all(
                self.state, batch, self.changes, self.rows, prechecked, foreign, taken,
                every, self.send,
            )  # fmt: skip
            if not postgres:
                self.send_new()
                missing = self.taken()
                if missing:
                    _delete_records(db, batch.workspace_id, self.new_ids() - missing)
                    return missing
            self.send()
            _insert_conflicts(db, batch)
            if then is not None:
                then()
        missing = self.taken() if postgres else set()
        if missing:
            db.execute_sql("ROLLBACK TO SAVEPOINT decided")
        return missing

    def send_new(self) -> None:
        """Write (send) the new records decided since the last send."""
        batch = self.batch
        rows = batch.new_records[self.sent[0] :]
        cursor = send_rows(self.db, "record", _UPSERT_COLUMNS, rows, _INSERT_SUFFIX)
        if cursor is not None:
            self.inserts.append(cursor)
        self.sent = (len(batch.new_records), *self.sent[1:])

    def send(self) -> None:
        """Write (send) the rows decided since the last send."""
        db, batch = self.db, self.batch
        self.send_new()
        _, old, audit = self.sent
        send_rows(db, "record", _UPSERT_COLUMNS, batch.records[old:], _UPSERT_SUFFIX)
        send_rows(db, "change", _CHANGE_COLUMNS, batch.changes[audit:])
        self.sent = (len(batch.new_records), len(batch.records), len(batch.changes))

    def new_ids(self) -> set[str]:
        return {r[0] for r in self.batch.new_records}

    def taken(self) -> set[str]:
        """The new records' ids whose insert did nothing (once the inserts' counts are known)."""
        inserted = sum(int(cursor.rowcount) for cursor in self.inserts)
        if inserted == len(self.batch.new_records):
            return set()
        new_ids = self.new_ids()
        # (none when all are in after all: the driver counted differently)
        return new_ids - load_rows(self.db, self.batch.workspace_id, new_ids).keys()


def _delete_records(db: Database, workspace_id: str, ids: Collection[str]) -> None:
    if ids:
        clause, param = ids_clause(db, "id", ids)
        db.execute_sql(
            sql_for(db, f'DELETE FROM "record" WHERE {_workspace_term(db)} = ? AND {clause}'),
            (workspace_id, param),
        )


def _decide_all(
    state: State,
    batch: Batch,
    changes: list[Change],
    rows: dict[str, Row],
    prechecked: Prechecked,
    foreign: set[str],
    taken: set[str],
    every: int,
    send: Callable[[], None],
) -> None:
    """Decide each change in turn, calling ``send`` after every ``every`` changes."""
    seen: set[str] = set()
    errors: dict[str, list[str]]
    plain = () if foreign else prechecked.plain
    for number, change in enumerate(changes, 1):
        values = change.values
        row = rows.get(change.id)
        if change.id in seen:
            errors = {"id": [Fault("twice_in_batch")]}
        elif change.id in taken:
            errors = {"id": [Fault("id_taken")]}
        elif (
            row is None
            and change.type in plain
            and DELETED not in values
            and values.keys() >= RECORD_TYPES[change.type].required
        ):
            # A new record that ``precheck`` found well and no other rule looks at: what
            # ``_check_change`` and ``_apply_new`` would do, without their calls (a push's
            # usual change: 7 ms less for 10,000 visits).
            seen.add(change.id)
            errors = {}
            batch.applied += 1
            _queue_new(batch, state, change, values, change.stamps, False, echo=True)
        else:
            seen.add(change.id)
            errors = _check_change(change, row, batch, foreign, prechecked)
            if not errors:
                _apply_change(batch, state, change, row)
        if errors:
            batch.rejected.append(Rejection(change.index, change.type, change.id, errors))
        if number % every == 0:
            send()


def _reset(batch: Batch) -> None:
    """Forget what a batch decided, to decide it again."""
    batch.applied = batch.unchanged = 0
    for name in ("conflicts", "rejected", "records", "new_records", "changes", "conflict_rows"):
        getattr(batch, name).clear()
    batch.current_nodes.clear()
    batch.voices.clear()
    batch.visits.clear()
    batch.lists.clear()


def _load_context(
    db: Database,
    batch: Batch,
    changes: list[Change],
    rows: dict[str, Row],
    types: Collection[str],
) -> None:
    """Read what the record rules need: the visits concerns name, the voices already counted,
    the workspace's lists.

    Each is one query, and only when the batch has a concern naming a visit, a new voice, a
    list entry or a value of a list. The changes are looked through only when the batch
    (``types``) has changes of a type the rules look at.
    """
    visit_ids: set[str] = set()
    subjects: set[str] = set()
    if "concern" in types or "follow_up" in types:
        for change in changes:
            values = change.values
            if change.type == "concern":
                row = rows.get(change.id)
                visit_id = values.get("visit_id") or (row.fields.get("visit_id") if row else None)
                if isinstance(visit_id, str):
                    visit_ids.add(visit_id)
            if change.type == "follow_up" and change.id not in rows and voice_key(values):
                subjects.add(str(values["subject_id"]))
    listed = any(_LIST_FIELDS[name] for name in types)  # (a category of another type is unknown)
    if "choice" in types or listed and any("category" in c.values for c in changes):
        batch.lists = _live_choices(db, batch.workspace_id)
    if visit_ids:
        _load_visits(db, batch, changes, visit_ids)
    if subjects:
        batch.voices = _counted_voices(db, batch.workspace_id, subjects)


def _load_visits(db: Database, batch: Batch, changes: list[Change], ids: set[str]) -> None:
    """Know the people of each named visit: as stored, then as this batch changes them."""
    for row in load_rows(db, batch.workspace_id, ids).values():
        if row.type == "visit":
            batch.visits[row.id] = dict(row.fields)
    for change in changes:
        if change.type == "visit" and change.id in ids and "party_ids" in change.values:
            visit = batch.visits.setdefault(change.id, {})
            visit["party_ids"] = change.values["party_ids"]


def _live_choices(db: Database, workspace_id: str) -> dict[str, dict[str, Any]]:
    """Return id -> fields of the workspace's live list entries (one query)."""
    cursor = db.execute_sql(
        sql_for(
            db,
            'SELECT id, fields FROM "record" WHERE workspace_id = ? AND type = ? AND NOT deleted',
        ),
        (workspace_id, "choice"),
    )
    return {r[0]: load_stored(r[1]) for r in cursor.fetchall()}


def _counted_voices(db: Database, workspace_id: str, subjects: set[str]) -> set[tuple[str, str]]:
    """Return (concern, person) of the live voices on these concerns (one query)."""
    if is_postgres(db):
        subject = "(fields::jsonb ->> 'subject_id')"
    else:
        subject = "json_extract(fields, '$.subject_id')"
    clause, param = ids_clause(db, subject, subjects)
    cursor = db.execute_sql(
        sql_for(
            db,
            f'SELECT fields FROM "record" WHERE workspace_id = ? AND type = ? AND NOT deleted'
            f" AND {clause}",
        ),
        (workspace_id, "follow_up", param),
    )
    voices = (voice_key(load_stored(r[0])) for r in cursor.fetchall())
    return {key for key in voices if key is not None}


def _insert_conflicts(db: Database, batch: Batch) -> None:
    if not batch.conflict_rows:
        return
    users: dict[str, str] = {}
    devices = batch.current_nodes - {None}
    if devices:
        clause, param = ids_clause(db, "id", devices)
        cursor = db.execute_sql(
            sql_for(db, f"SELECT id, user_id FROM device WHERE workspace_id = ? AND {clause}"),
            (batch.workspace_id, param),
        )
        users = dict(cursor.fetchall())
    for row in batch.conflict_rows:
        for user_at, device_at in ((7, 8), (11, 12)):
            if row[user_at] is None and row[device_at] is not None:
                if row[device_at] in users:
                    row[user_at] = users[row[device_at]]
                else:  # the server's own node: an office edit, no device
                    row[device_at] = None
    insert_rows(db, "conflict", _CONFLICT_COLUMNS, [tuple(r) for r in batch.conflict_rows])
