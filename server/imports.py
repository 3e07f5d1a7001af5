"""Importing ledgers: preview (mapping, per-row errors, duplicates), import all or nothing, undo.

An import writes every new record and its ``ImportBatch`` row in one transaction, as office
edits (they sync to devices like any other); undo deletes them all in one transaction. Reading
and checking the file is ``server.ledger``; no Flask here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from server.ledger import Row, RowError, Table, convert_rows, mapping_errors
from server.services import ServiceError
from server.store import imports as store
from server.store.batches import BatchRefused
from server.store.imports import ImportRow
from sync import ErrorCode

PREVIEW_ROWS = 20


@dataclass
class Duplicate:
    row: int
    label: str  # name (and masked phone) as shown
    of_row: int | None = None  # the earlier row of the same file, or
    of_record: str | None = None  # the existing record's id


@dataclass
class Preview:
    """What an import would write: rows, their problems, duplicates (skipped unless kept)."""

    record_type: str
    headers: list[str]
    mapping: dict[str, str]
    rows: list[Row]
    errors: list[RowError]
    mapping_problems: list[tuple[str, str]]
    duplicates: list[Duplicate] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the import may be written (no mapping problem, no row error)."""
        return not self.errors and not self.mapping_problems

    def to_write(self, keep_duplicates: bool) -> list[Row]:
        skipped = set() if keep_duplicates else {d.row for d in self.duplicates}
        return [r for r in self.rows if r.number not in skipped]


def _place_ids(workspace_id: str) -> dict[str, str]:
    """Name -> id of the workspace's places (the first of equal names)."""
    found: dict[str, str] = {}
    for rid, name in store.place_names(workspace_id):
        if isinstance(name, str):
            found.setdefault(name.strip(), rid)
    return found


def preview(
    workspace_id: str,
    record_type: str,
    table: Table,
    mapping: Mapping[str, str],
    choice_words: Mapping[str, Mapping[str, str]],
) -> Preview:
    """Check a mapped table against the workspace: row errors, place names, duplicates."""
    problems = mapping_errors(record_type, mapping)
    result = Preview(record_type, table.headers, dict(mapping), [], [], problems)
    if problems:
        return result
    rows, errors = convert_rows(record_type, table, mapping, choice_words)
    places = _place_ids(workspace_id)
    ref = "parent_id" if record_type == "place" else "place_id"
    header = next((h for h, t in mapping.items() if t in ("place", "parent")), "")
    for row in rows:
        if row.place_name:
            if row.place_name in places:
                row.values[ref] = places[row.place_name]
            else:
                errors.append(RowError(row.number, header, "unknown_place", row.place_name))
    result.rows, result.errors = rows, sorted(errors, key=lambda e: e.row)
    result.duplicates = _duplicates(workspace_id, record_type, rows)
    return result


def _key(record_type: str, values: Mapping[str, Any]) -> tuple[str, ...] | None:
    if record_type == "party":
        name, phone = values.get("name"), values.get("phone") or ""
        return (str(name).strip(), _digits(phone)) if name else None
    if record_type == "place":
        return (str(values["name"]).strip(),) if values.get("name") else None
    title = values.get("title")
    return (str(title).strip(), str(values.get("raised_on") or "")) if title else None


def _digits(phone: Any) -> str:
    return "".join(c for c in str(phone) if c.isdigit())


def _duplicates(workspace_id: str, record_type: str, rows: list[Row]) -> list[Duplicate]:
    """Rows that repeat an existing record or an earlier row (parties: by name and phone)."""
    existing: dict[tuple[str, ...], str] = {}
    for record_id, fields in store.live_fields(workspace_id, record_type):
        key = _key(record_type, fields)
        if key is not None:
            existing.setdefault(key, record_id)
    seen: dict[tuple[str, ...], int] = {}
    found: list[Duplicate] = []
    for row in rows:
        key = _key(record_type, row.values)
        if key is None:
            continue
        label = key[0] + (f" {_mask(key[1])}" if record_type == "party" and key[1] else "")
        if key in existing:
            found.append(Duplicate(row.number, label, of_record=existing[key]))
        elif key in seen:
            found.append(Duplicate(row.number, label, of_row=seen[key]))
        else:
            seen[key] = row.number
    return found


def _mask(digits: str) -> str:
    return digits[:3] + "*" * max(0, len(digits) - 7) + digits[-4:] if len(digits) > 7 else digits


def run_import(
    workspace_id: str,
    user_id: str | None,
    checked: Preview,
    *,
    filename: str,
    keep_duplicates: bool = False,
    now_ms: int,
) -> ImportRow:
    """Write every row of a checked preview in one transaction (refused if any row has errors)."""
    if not checked.ok:
        raise ServiceError(
            ErrorCode.INVALID_REQUEST, "import_has_errors",
            "Fix the rows with errors (or the mapping) first; nothing was written.",
        )  # fmt: skip
    rows = checked.to_write(keep_duplicates)
    if not rows:
        raise ServiceError(ErrorCode.INVALID_REQUEST, "import_nothing", "Nothing to import.")
    changes = [(checked.record_type, str(uuid.uuid4()), row.values) for row in rows]
    try:
        return store.write_import(
            workspace_id, user_id, checked.record_type, filename[:200], changes, now_ms=now_ms
        )
    except BatchRefused as exc:
        raise ServiceError(
            ErrorCode.INVALID_REQUEST, "import_refused",
            f"The server refused {len(exc.rejected)} rows; nothing was written.",
        ) from exc  # fmt: skip


def undo_import(
    workspace_id: str, user_id: str | None, batch_id: str, *, now_ms: int
) -> ImportRow:
    """Delete every record an import created, in one transaction; once."""
    batch = store.import_batch(workspace_id, batch_id)
    if batch is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "import_not_found", "No such import.")
    if batch.undone_at is not None:
        raise ServiceError(ErrorCode.CONFLICT, "import_undone", "This import is already undone.")
    if not store.undo_import(batch, user_id, now_ms=now_ms):  # someone undid it meanwhile
        raise ServiceError(ErrorCode.CONFLICT, "import_undone", "This import is already undone.")
    found = store.import_batch(workspace_id, batch_id)
    assert found is not None  # it was there a moment ago; imports are never deleted
    return found


def recent_imports(workspace_id: str, limit: int = 20) -> list[ImportRow]:
    """The workspace's latest imports, newest first."""
    return store.recent_imports(workspace_id, limit)
