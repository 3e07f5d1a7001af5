"""Reading the store: lists with filters, search (Chinese included), names, places."""

from __future__ import annotations

import builtins
from typing import Any

import peewee

from field_client.errors import AmbiguousName, NotFound
from field_client.store.common import (
    CLOSED_STATUSES,
    guarded,
    label,
    record_type_of,
    text_match,
)
from field_client.store.core import StoreCore


class QueryMixin(StoreCore):
    """Listing, search and name resolution of ``LocalStore``."""

    @guarded
    def list(
        self,
        rtype: str,
        *,
        place: str | None = None,
        status: str | None = None,
        kind: str | None = None,
        category: str | None = None,
        subject: str | None = None,
        visit: str | None = None,
        text: str | None = None,
        include_deleted: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """List records of a type, most recently changed first, with optional filters:
        ``place`` (place id: the place_id, or for places the parent_id), ``status``, ``kind``,
        ``category``, ``subject`` (follow-ups/attachments of a record), ``visit`` (concerns
        raised at a visit), ``text`` (substring of any text field)."""
        record_type_of(rtype)
        R = self.m.Record
        query = R.select().where(R.type == rtype)
        if not include_deleted:
            query = query.where(R.deleted == False)  # noqa: E712
        for name, value in (
            ("place_id" if rtype != "place" else "parent_id", place),
            ("status", status),
            ("kind", kind),
            ("category", category),
            ("subject_id", subject),
            ("visit_id", visit),
        ):
            if value is not None:
                query = query.where(peewee.fn.json_extract(R.fields, f"$.{name}") == value)
        if text:
            query = query.where(text_match(R.fields, R.type, text, rtype))
        query = query.order_by(R.updated_ms.desc(), R.id.desc()).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        return self._to_dicts(list(query))

    @guarded
    def count(self, rtype: str, *, include_deleted: bool = False) -> int:
        """Count the records of a type."""
        R = self.m.Record
        query = R.select().where(R.type == rtype)
        if not include_deleted:
            query = query.where(R.deleted == False)  # noqa: E712
        return int(query.count())

    @guarded
    def search(
        self, text: str, *, rtype: str | None = None, limit: int = 50
    ) -> builtins.list[dict[str, Any]]:
        """Find records whose text contains ``text`` (any language, Chinese included)."""
        R = self.m.Record
        query = R.select().where(R.deleted == False)  # noqa: E712
        if rtype:
            query = query.where(R.type == rtype)
        query = query.where(text_match(R.fields, R.type, text.strip(), rtype))
        return self._to_dicts(list(query.order_by(R.updated_ms.desc()).limit(limit)))

    def find(self, rtype: str, name_or_id: str) -> dict[str, Any]:
        """Resolve a record by id, or by its unique name/title (exact, then substring).

        Raises NotFound when nothing matches and AmbiguousName when several do.
        """
        key = name_or_id.strip()
        record = self.get(rtype, key)
        if record is not None:
            return record
        matching = [r for r in self.list(rtype, text=key) if key in label(r)]
        candidates = [r for r in matching if label(r) == key] or matching
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise NotFound("unknown name", type=rtype, id=key)
        raise AmbiguousName(
            "ambiguous name",
            [(r["id"], label(r)) for r in candidates[:10]],
            type=rtype,
            name=key,
        )

    def find_place(self, name_or_id: str) -> dict[str, Any]:
        """Resolve a place by id or unique name (see ``find``)."""
        return self.find("place", name_or_id)

    def find_party(self, name_or_id: str) -> dict[str, Any]:
        """Resolve a party by id or unique name (see ``find``)."""
        return self.find("party", name_or_id)

    @guarded
    def recent_places(self, limit: int = 10) -> builtins.list[dict[str, Any]]:
        """Return places recently worked at (visited, concerns raised) or edited, newest first."""
        rows = self.db.execute_sql(
            "SELECT pid FROM (SELECT json_extract(fields, '$.place_id') AS pid, updated_ms"
            " FROM record WHERE type IN ('visit', 'concern', 'project') AND deleted = 0"
            " UNION ALL SELECT id, updated_ms FROM record WHERE type = 'place' AND deleted = 0)"
            " WHERE pid IS NOT NULL GROUP BY pid ORDER BY MAX(updated_ms) DESC LIMIT ?",
            (limit * 2,),
        ).fetchall()
        places = [self.get("place", pid) for (pid,) in rows]
        return [p for p in places if p is not None and not p["deleted"]][:limit]

    def open_concerns(self, place_id: str) -> builtins.list[dict[str, Any]]:
        """Return the concerns of a place (and of places inside it) that are still open."""
        place_ids = {place_id} | {p["id"] for p in self.list("place", place=place_id)}
        found = []
        for pid in sorted(place_ids):
            found += [
                c
                for c in self.list("concern", place=pid)
                if c["fields"].get("status") not in CLOSED_STATUSES
            ]
        return sorted(found, key=lambda c: c["stamps"].get("title", ""), reverse=True)

    @guarded
    def owned_concerns(self, user_id: str) -> builtins.list[dict[str, Any]]:
        """Return the open concerns the office gave this user to own, soonest due first."""
        R = self.m.Record
        owner = peewee.fn.json_extract(R.fields, "$.owner_id")
        query = R.select().where(
            R.type == "concern",
            R.deleted == False,  # noqa: E712
            owner == user_id,
        )
        found = [
            c
            for c in self._to_dicts(list(query))
            if (c["fields"].get("status") or "new") not in CLOSED_STATUSES
        ]
        return sorted(found, key=lambda c: (c["fields"].get("due_on") or "9999", c["id"]))

    @guarded
    def review_notes(self) -> builtins.list[dict[str, Any]]:
        """Return visits and concerns the office reviewed with a note or asked to change."""
        R = self.m.Record
        status = peewee.fn.json_extract(R.fields, "$.review_status")
        note = peewee.fn.json_extract(R.fields, "$.review_note")
        query = R.select().where(
            R.type.in_(["visit", "concern"]),
            R.deleted == False,  # noqa: E712
            (status == "needs_changes") | ((note.is_null(False)) & (note != "")),
        )
        return self._to_dicts(list(query.order_by(R.updated_ms.desc())))
