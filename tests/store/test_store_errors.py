"""The store's subject modules wrap database errors once: a caller gets ``Unavailable`` (with the
driver's error kept), never a peewee exception, whichever module it asks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from server.db import database, open_database
from server.errors import Unavailable
from server.store import blobs, casework, conflicts, imports, people, records, reports
from server.store.people import DeviceRow

WS = "00000000-0000-4000-8000-000000000001"
DEVICE = DeviceRow("d" * 32, "u", WS, "平板")
CALLS: list[tuple[str, Callable[[], Any]]] = [
    ("records.page", lambda: records.page(WS, "concern", records.RecordFilter(), 20)),
    ("records.count", lambda: records.count(WS, "visit", records.RecordFilter())),
    ("records.iterate", lambda: list(records.iterate(WS, "place", records.RecordFilter(), 5))),
    ("records.history", lambda: records.history(WS, "r")),
    ("people.users", lambda: people.users(WS)),
    ("people.create_workspace", lambda: people.create_workspace("东湖社区")),
    ("people.device_by_token", lambda: people.device_by_token("0" * 64)),
    ("people.open_conflicts_of", lambda: people.open_conflicts_of(DEVICE)),
    ("conflicts.open_conflicts", lambda: conflicts.open_conflicts(WS, 1, 20)),
    (
        "reports.figures",
        lambda: reports.figures(
            WS, None, None, today=dt.date(2024, 6, 30), partly_satisfied_counts=False
        ),
    ),  # fmt: skip
    ("casework.latest_reminders", lambda: casework.latest_reminders(WS, "u")),
    (
        "casework.write_reminders",
        lambda: casework.write_reminders(
            people.UserRow("u", WS, "li", "", "staff"), "2024-06-30", [("overdue", "r")]
        ),
    ),  # fmt: skip
    ("imports.recent_imports", lambda: imports.recent_imports(WS)),
    ("imports.place_names", lambda: list(imports.place_names(WS))),
    ("blobs.held_by", lambda: blobs.held_by(WS, ["a" * 64])),
]


@pytest.fixture
def no_tables(tmp_path: Path) -> Iterator[None]:
    """A bound database whose tables were never created (as if the upgrade never ran)."""
    before = database.obj
    db = open_database(f"sqlite:///{tmp_path / 'empty.db'}")
    yield
    db.close()
    database.initialize(before)


@pytest.mark.parametrize("name, call", CALLS, ids=[name for name, _ in CALLS])
def test_every_store_module_raises_unavailable_not_the_driver_error(no_tables, name, call):
    with pytest.raises(Unavailable) as caught:
        call()
    assert type(caught.value.original).__module__ == "peewee"
    assert "no such table" in str(caught.value.original)
