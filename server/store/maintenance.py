"""Housekeeping in the database: pruning old push batches (``server.maintenance`` does the
files)."""

from __future__ import annotations

import datetime as dt

from peewee import Database

from server.db import write_transaction
from server.models import PushBatch
from server.store.sql import guarded


@guarded
def prune_push_batches(db: Database, cutoff: dt.datetime) -> tuple[int, int]:
    """Delete the push batches created before ``cutoff`` in one transaction; return how many
    went and how many are kept."""
    with db.bind_ctx([PushBatch]), write_transaction(db):
        deleted = PushBatch.delete().where(PushBatch.created_at < cutoff).execute()
        kept = PushBatch.select().count()
    return int(deleted), int(kept)
