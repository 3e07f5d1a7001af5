"""``fieldsync``: the field device's command line, a thin shell over the store and the syncer.

Every command has help with an ``Example:``; lists, shows, ``sync`` and ``status`` take
``--json``. Errors are one line in Simplified Chinese (``--lang en`` for English) and a non-zero
exit; being offline during ``sync`` is not an error.

    base.py      the group, the App, one-line errors, tables and JSON, ``init``
    records.py   place, party, visit, concern, project, follow-up
    syncing.py   sync, status, conflicts, rejected, serve
"""

from __future__ import annotations

from field_client.cli import records, syncing  # noqa: F401  (they register their commands)
from field_client.cli.base import App, Failure, enroll, main
from field_client.cli.syncing import run_sync, summary

__all__ = ["App", "Failure", "enroll", "main", "run_sync", "summary"]
