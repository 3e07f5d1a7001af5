"""Audit entries that are not record edits: revealing a masked phone number.

A reveal adds a ``Change`` row with source ``reveal`` to the record's history: who looked at
which field, and when. The row never holds the number itself.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from server.db import write_transaction
from server.models import Change


def log_reveal(
    workspace_id: str, user_id: str, record: dict[str, Any], field: str, now_ms: int
) -> None:
    """Record that a user revealed a masked field of a record."""
    moment = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=now_ms)
    with write_transaction():
        Change.create(
            workspace=workspace_id,
            record_id=record["id"],
            record_type=record["type"],
            seq=record["meta"]["seq"],
            at=moment,
            user_id=user_id,
            device_id=None,
            source="reveal",
            diff=json.dumps({"revealed": [field]}),
        )
