"""A push checks its changes' values a column at a time (``engine.precheck``) and leaves the
rest to the change-by-change checks: the answers and the records are the same as when every
change is checked on its own, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace
from typing import Any

import pytest

from server import store
from server.models import Device
from server.store import engine
from tests.store.storekit import NOW, SKEW, Writer, make_device

CHINA = dt.timezone(dt.timedelta(hours=8))
PAST = dt.datetime.fromtimestamp((NOW - 86_400_000) / 1000, CHINA).isoformat()
SOON = dt.datetime.fromtimestamp((NOW + 60_000) / 1000, CHINA).isoformat()
AHEAD = dt.datetime.fromtimestamp((NOW + SKEW + 60_000) / 1000, CHINA).isoformat()


def _visit(**extra: Any) -> dict[str, Any]:
    return {"kind": "home_visit", "title": "入户走访", "started_at": PAST, **extra}


VOICE = {"subject_type": "concern", "subject_id": 4, "kind": "support", "party_id": 2}
# Batches as lists of (type, record, values): a record's number is the batch's own, a name
# (text) the same in every batch; an id field's number or name says a record of those.
BATCHES: list[list[tuple[str, int | str, dict[str, Any]]]] = [
    [("visit", f"v{n}", _visit(attendee_count=n)) for n in range(6)],  # all well: the column path
    [("visit", "v0", {"title": "改"}), ("visit", "v1", {"_deleted": True, "summary": "x"})],
    [("visit", "v2", {"kind": None}), ("visit", "v3", {"started_at": AHEAD})],  # edits
    [("visit", 0, _visit(started_at=SOON)), ("visit", 1, _visit(summary=None))],
    # each with one value that fails (a column of them fails: each change is checked alone),
    # or that the column checks leave to more (a new record's deletion flag)
    *(
        [("visit", 0, _visit()), ("visit", 1, _visit(**bad))]
        for bad in (
            {"started_at": AHEAD},
            {"started_at": "2024-02-30T09:00+08:00"},
            {"colour": "red"},
            {"review_status": "approved"},
            {"title": "园" * 201},
            {"attendee_count": -1},
            {"attendee_count": True},
            {"place_id": "not-an-id"},
            {"kind": "castle"},
            {"_deleted": None},
            {"kind": None},
            {"lat": 10**400},
            {"_deleted": True},
            {"_deleted": False},
        )
    ),
    [("visit", 0, {"title": "无类型"}), ("visit", 1, {"_deleted": True})],  # required; tombstone
    [("place", 0, {"kind": "community", "name": "园"}), ("visit", 1, _visit(place_id=0))],
    [("visit", 0, _visit()), ("visit", 0, _visit())],  # twice in the batch
    [
        ("party", 2, {"kind": "resident", "name": "王"}),
        ("visit", 3, _visit(party_ids=[2])),
        ("concern", 4, {"title": "路灯", "visit_id": 3, "party_ids": [2], "party_id": 2}),
        ("follow_up", 5, VOICE),
        ("follow_up", 6, VOICE),  # the same voice again: absorbed
        ("concern", 7, {"title": "路灯", "category": "no-such-category"}),
    ],
]


NAMES = {f"v{n}" for n in range(6)}


def _run(device: Device) -> list[Any]:
    """Push every batch from ``device`` (each run's in a workspace of its own); return the
    answers and the records after each, with ids told by their record's number or name."""
    writer = Writer(device)
    ids: dict[Any, str] = {}
    number: dict[str, str] = {}

    def id_of(key: Any) -> str:
        if key not in ids:
            ids[key] = str(uuid.uuid4())
            number[ids[key]] = str(key)
        return ids[key]

    def told(value: Any) -> Any:
        if isinstance(value, str):
            return f"#{number[value]}" if value in number else value
        if isinstance(value, list):
            return [told(v) for v in value]
        if isinstance(value, dict):
            return {k: told(v) for k, v in value.items() if k not in ("server_time", "batch_id")}
        return value

    def key(k: int, n: int | str) -> Any:
        return n if isinstance(n, str) else (k, n)

    def ref(k: int, value: Any) -> Any:
        if isinstance(value, list):
            return [ref(k, v) for v in value]
        named = isinstance(value, int) or isinstance(value, str) and value in NAMES
        return id_of(key(k, value)) if named else value

    seen = []
    for k, batch in enumerate(BATCHES):
        changes = []
        for rtype, n, values in batch:
            refs = {f: ref(k, v) if f.endswith(("_id", "_ids")) else v for f, v in values.items()}
            changes.append(writer.change(rtype, id_of(key(k, n)), refs, None))
        answer = store.push(device, writer.body(*changes), now_ms=NOW, max_skew_ms=SKEW)
        held = [store.get_record(device.workspace_id, rid) for rid in list(ids.values())]
        seen.append(told([answer, [[r["fields"], r["deleted"]] if r else None for r in held]]))
    return seen


def test_the_column_checks_answer_as_the_checks_of_each_change(
    writer: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[frozenset[str]] = []
    precheck = engine.precheck

    def noting(*args: Any, **kwargs: Any) -> engine.Prechecked:
        found = precheck(*args, **kwargs)
        taken.append(found.plain)
        return found

    monkeypatch.setattr(engine, "precheck", noting)
    columns = _run(writer.device)
    assert frozenset({"visit"}) in taken  # (the column path was taken, not only the other)

    def none(*args: Any, **kwargs: Any) -> engine.Prechecked:
        nothing = frozenset[str]()
        return replace(precheck(*args, **kwargs), valid=nothing, timely=nothing, plain=nothing)

    monkeypatch.setattr(engine, "precheck", none)
    each = _run(make_device("西湖街道"))
    assert columns == each
    # (and the answers say what the batches hold: a few of them)
    assert columns[0][0]["applied"] == 6
    assert [r["errors"] for r in columns[4][0]["rejected"]] == [
        {"started_at": ["must not be in the future"]}
    ]
