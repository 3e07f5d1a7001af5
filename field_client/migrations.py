"""Device database migrations, recorded in ``device_state.schema_version``.

A fresh home gets every table from ``models.ALL`` and the latest version (the models always
describe the newest schema). An existing home runs, in order and each in its own transaction,
the migrations above its recorded version, so a device made by any earlier release opens with
its records, outbox and credentials intact. A home made by a newer release is refused rather
than damaged.

To change a table in a later release: change the model in ``models.py``, then append
``(N, sql statements)`` here; ``tests/client/test_device_migrations.py`` upgrades a database
made by the first release (``tests/client/data/device-v1.sql``).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

from peewee import Database

__all__ = ["LATEST", "MIGRATIONS", "NewerSchema", "schema_version", "upgrade"]

MIGRATIONS: Sequence[tuple[int, tuple[str, ...]]] = (
    (1, ()),  # the first release: created fresh only
    (
        2,  # the identities this home had before an enrollment again (issue 9, item 7)
        ("ALTER TABLE device_state ADD COLUMN former_device_ids TEXT NOT NULL DEFAULT '[]'",),
    ),
)
LATEST = MIGRATIONS[-1][0]


class NewerSchema(Exception):
    """The device database was made by a newer release than this one."""


def schema_version(db: Database) -> int:
    """Return the home's recorded schema version (0 for a new, empty database)."""
    if not db.table_exists("device_state"):
        return 0
    row = db.execute_sql("SELECT schema_version FROM device_state WHERE id = 1").fetchone()
    return 1 if row is None or row[0] is None else int(row[0])


def upgrade(db: Database, models: SimpleNamespace) -> int:
    """Create or migrate the device's tables; return the schema version now recorded."""
    with db.atomic("IMMEDIATE"):
        found = schema_version(db)
        if found > LATEST:
            raise NewerSchema(f"schema version {found}; this release knows up to {LATEST}")
        if found == 0:
            db.create_tables(models.all, safe=True)
            models.DeviceState.get_or_create(id=1, defaults={"schema_version": LATEST})
            return LATEST
    for version, statements in MIGRATIONS:
        with db.atomic("IMMEDIATE"):
            if version <= schema_version(db):
                continue
            for statement in statements:
                db.execute_sql(statement)
            db.create_tables(models.all, safe=True)  # tables new in this version
            db.execute_sql("UPDATE device_state SET schema_version = ? WHERE id = 1", (version,))
    return schema_version(db)
