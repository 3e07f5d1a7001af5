"""Peewee models of the device store.

The classes here are unbound templates; ``bind(db)`` makes subclasses bound to one device's
database, so several device homes can live in one process (tests, the demo).

- ``DeviceState``: the single row (id 1): credentials (the token itself is a 0600 file), the
  HLC's last stamp, the pull cursor, the last sync, the re-stamp flag.
- ``Record``: one row per record: fields and per-field stamps as JSON, tombstone flag, server meta.
- ``Outbox``: the unpushed edits of one record in ONE row: ``writes`` is the change's ``set``
  in wire form (field -> value, latest stamp, base of the first edit), and ``batch`` the push
  batch carrying it once one is built. A record has at most one row not in a batch (the
  partial unique index ``outbox_open``); an edit made while its row is in a batch opens a second
  row. The rules are in ``field_client.store.outbox``.
- ``PushBatch``: a batch's id, gzipped body and ``device_time``, persisted before it is sent
  (with its outbox rows tagged in the same transaction), deleted when acknowledged, together
  with those rows (``DELETE FROM outbox WHERE batch = ?``).
- ``Rejection``: a change the server refused, with its reasons; never deleted (``fixed_ms``).
- ``Conflict``: a conflict the server reported on a field this device wrote.
"""

from __future__ import annotations

from types import SimpleNamespace

from peewee import (
    AutoField,
    BigIntegerField,
    BlobField,
    BooleanField,
    CharField,
    Database,
    IntegerField,
    Model,
    TextField,
)

__all__ = ["ALL", "bind"]


class _Base(Model):
    class Meta:
        legacy_table_names = False


class DeviceState(_Base):
    id = IntegerField(primary_key=True)
    server_url = TextField(null=True)
    device_id = CharField(max_length=64, null=True)
    device_name = TextField(null=True)
    user = TextField(null=True)  # JSON
    workspace = TextField(null=True)  # JSON
    last_stamp = CharField(max_length=100, null=True)
    cursor = TextField(null=True)
    last_sync_ms = BigIntegerField(null=True)
    max_acked = CharField(max_length=100, null=True)  # greatest own stamp the server has taken
    restamp_needed = BooleanField(default=False)
    schema_version = IntegerField(default=1)  # field_client.migrations
    former_device_ids = TextField(default="[]")  # JSON: identities before enrolling again
    # The server takes the compact form of a change (its enrollment or push answers said so).
    server_compact = BooleanField(default=False)


class Record(_Base):
    id = CharField(primary_key=True, max_length=36)
    type = CharField(max_length=20)
    fields = TextField(default="{}")
    stamps = TextField(default="{}")
    deleted = BooleanField(default=False)
    meta = TextField(default="{}")
    # (a ``search`` column, a copy of the string values, until schema version 7: a search
    # reads the fields themselves, field_client.store.common.text_match)
    updated_ms = BigIntegerField(default=0)

    class Meta:
        # One index serves every list of a type, most recently changed first (and counts,
        # recent places, review notes): two, on type and on updated_ms, cost a pull of 10,000
        # records 104 M instructions of the device's CPU, this one 64 M (schema version 6).
        indexes = ((("type", "updated_ms"), False),)


class Outbox(_Base):
    id = AutoField()  # queue order: a record's row keeps the place of its first edit
    record_type = CharField(max_length=20)
    record_id = CharField(max_length=36, index=True)
    writes = TextField()  # JSON: field -> {"value", "stamp", "base"}, in first-edit order
    wire = BlobField(null=True)  # the change as sent, but for type and id (outbox.wire_of)
    batch = CharField(max_length=36, null=True, index=True)  # the push batch carrying it


# At most one row per record waiting for a batch: every edit coalesces into it.
Outbox.add_index(
    Outbox.index(Outbox.record_id, unique=True, name="outbox_open").where(Outbox.batch.is_null())
)


class PushBatch(_Base):
    id = CharField(primary_key=True, max_length=36)
    body = BlobField()  # the JSON body, gzipped: sent as it is, again on every retry
    size = IntegerField(default=0)  # number of changes in the body
    record_ids = TextField(default="[]")  # unused since schema 3 (the outbox rows name it)
    device_time = CharField(max_length=100, default="")
    created_ms = BigIntegerField()


class Rejection(_Base):
    id = AutoField()
    batch_id = CharField(max_length=36)
    record_type = CharField(max_length=20)
    record_id = CharField(max_length=36, index=True)
    values = TextField()  # JSON: field -> the value the server refused
    bases = TextField(default="{}")  # JSON: field -> the base it was sent with
    errors = TextField()  # JSON: field -> messages
    created_ms = BigIntegerField()
    fixed_ms = BigIntegerField(null=True)


class Conflict(_Base):
    id = CharField(primary_key=True, max_length=64)
    record_type = CharField(max_length=20)
    record_id = CharField(max_length=36, index=True)
    field = CharField(max_length=64)
    kept = TextField()  # JSON {value, stamp}
    other = TextField()  # JSON {value, stamp}
    reported_ms = BigIntegerField()
    open = BooleanField(default=True)


ALL = (DeviceState, Record, Outbox, PushBatch, Rejection, Conflict)


def bind(db: Database) -> SimpleNamespace:
    """Return the models as subclasses bound to ``db`` (attribute per model name)."""
    bound = {}
    for model in ALL:
        meta = type("Meta", (), {"database": db, "table_name": model._meta.table_name})
        bound[model.__name__] = type(model.__name__, (model,), {"Meta": meta})
    return SimpleNamespace(**bound, all=tuple(bound.values()))
