"""Fixtures for the store behaviour suite: a migrated database on SQLite and PostgreSQL, a
workspace with an enrolled device and a writer that stamps its pushes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from peewee import Database

from server import migrations
from server.db import open_database
from server.models import Device
from tests.store.storekit import Writer, make_device


def _migrated(url: str) -> Iterator[Database]:
    target = open_database(url)
    target.connect(reuse_if_open=True)
    migrations.upgrade(target)
    yield target
    target.close()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A migrated database (SQLite or PostgreSQL), bound to the models."""
    yield from _migrated(database_url)


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Iterator[Database]:
    """A migrated SQLite database, for tests that need not run on both backends."""
    yield from _migrated(sqlite_url)


@pytest.fixture
def pg_db(postgres_url: str) -> Iterator[Database]:
    """A migrated PostgreSQL database, for tests of what only PostgreSQL does."""
    yield from _migrated(postgres_url)


@pytest.fixture
def device(db: Database) -> Device:
    return make_device()


@pytest.fixture
def writer(device: Device) -> Writer:
    return Writer(device)
