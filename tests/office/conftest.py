"""Fixtures for the office pages: an app on a fresh SQLite file holding the known data of
``tests/office/data.py``, a manual clock, and signed-in clients. CSRF stays on: tests send the
token a page gave them, as a browser does.

The known data is written once per session through the real store, then each test gets its own
copy of that database file (password hashing and ~40 office edits per test would be slow).
"""

from __future__ import annotations

import copy
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server import create_app
from tests.office import data

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_app(database_file: Path, instance: Path, clock: data.ManualClock, **extra: Any) -> Flask:
    return create_app({
        "DATABASE_URL": f"sqlite:///{database_file}",
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "test-secret",
        "AUTO_UPGRADE": True,
        "TESTING": True,
        "NOW_MS": clock,
        **extra,
    })  # fmt: skip


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, data.Seeded, int]:
    """The known data in an SQLite file, written once: (file, what was made, clock after)."""
    folder = tmp_path_factory.mktemp("office-template")
    clock = data.ManualClock(data.NOW_MS)
    app = make_app(folder / "seeded.db", folder / "instance", clock)
    db = app.extensions["fieldsync_db"]
    db.connect(reuse_if_open=True)
    seeded = data.seed(clock)
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # everything into the file, then copy it
    db.close()
    if hasattr(db, "close_all"):  # a pooled database keeps connections open
        db.close_all()
    return folder / "seeded.db", seeded, clock.ms


@pytest.fixture
def clock(template: tuple[Path, data.Seeded, int]) -> data.ManualClock:
    return data.ManualClock(template[2])


@pytest.fixture
def app(
    template: tuple[Path, data.Seeded, int], tmp_path: Path, clock: data.ManualClock
) -> Iterator[Flask]:
    database_file = tmp_path / "fieldsync.db"
    shutil.copyfile(template[0], database_file)
    app = make_app(database_file, tmp_path / "instance", clock)
    db = app.extensions["fieldsync_db"]
    db.connect(reuse_if_open=True)
    yield app
    if not db.is_closed():
        db.close()
    if hasattr(db, "close_all"):
        db.close_all()


@pytest.fixture
def seeded(app: Flask, template: tuple[Path, data.Seeded, int]) -> data.Seeded:
    return copy.deepcopy(template[1])


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client: FlaskClient, username: str, password: str | None = None) -> Any:
    token = csrf_token(client)
    return client.post("/login", data={
        "username": username,
        "password": password or data.PASSWORDS[username],
        "csrf_token": token,
    })  # fmt: skip


@pytest.fixture
def staff(app: Flask, seeded: data.Seeded) -> FlaskClient:
    client = app.test_client()
    assert login(client, "wang").status_code == 302
    return client


@pytest.fixture
def admin(app: Flask, seeded: data.Seeded) -> FlaskClient:
    client = app.test_client()
    assert login(client, "admin").status_code == 302
    return client
