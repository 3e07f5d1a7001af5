"""Read-side helpers for the pages, built only on ``LocalStore``'s public API.

Records come from the store in wire form (``{type, id, fields, stamps, deleted, meta, pending}``);
the pages want flat rows (``{id, title, status, place_name, pending...}``), so ``flat`` turns one
into the other and the helpers below add what a page needs (place names, 附议 counts, similarity).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from field_client.store import CLOSED_STATUSES
from field_client.web.forms import format_local
from field_client.web.similar import is_similar, similarity

__all__ = [
    "attention",
    "concern_rows",
    "flat",
    "is_open",
    "place_rows",
    "places_by_recent",
    "search",
    "similar_open",
    "support_counts",
    "visit_rows",
]


def flat(record: dict[str, Any] | None) -> dict[str, Any]:
    """Return a record's fields with ``id``, ``type`` and ``pending`` (True when unsynced)."""
    if record is None:
        return {}
    row = dict(record["fields"])
    row.update(id=record["id"], type=record["type"], pending=bool(record.get("pending")))
    row["deleted"] = record.get("deleted", False)
    return row


def is_open(concern: dict[str, Any]) -> bool:
    """Say whether a concern (flat row) still needs work."""
    return (concern.get("status") or "new") not in CLOSED_STATUSES


def _place_names(store: Any) -> dict[str, str]:
    return {p["id"]: p["fields"].get("name") or "" for p in store.list("place")}


def support_counts(store: Any) -> Counter[str]:
    """Count the further voices (附议 follow-ups) per concern id."""
    return Counter(
        f["fields"].get("subject_id")
        for f in store.list("follow_up", kind="support")
        if f["fields"].get("subject_type") == "concern"
    )


def places_by_recent(store: Any) -> list[dict[str, Any]]:
    """Return every place as a flat row, recently worked-at ones first, then by name."""
    recent = [p["id"] for p in store.recent_places(limit=12)]
    order = {pid: i for i, pid in enumerate(recent)}
    rows = [flat(p) for p in store.list("place")]
    rows.sort(key=lambda p: (order.get(p["id"], len(order)), p.get("name") or ""))
    return rows


def place_rows(store: Any, text: str = "") -> list[dict[str, Any]]:
    """Return places (recent first) with the count of open concerns, optionally filtered."""
    open_by_place = Counter(
        c["fields"].get("place_id") for c in store.list("concern") if is_open(c["fields"])
    )
    rows = places_by_recent(store)
    if text:
        needle = text.strip().casefold()
        rows = [
            p
            for p in rows
            if needle in (p.get("name") or "").casefold()
            or needle in (p.get("address") or "").casefold()
        ]
    for row in rows:
        row["open_count"] = open_by_place.get(row["id"], 0)
    return rows


def concern_rows(
    store: Any, *, place_id: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    """Return concerns as flat rows with place names and 附议 counts.

    ``status`` is one of the protocol's statuses, ``"open"`` (still needs work) or None (all).
    """
    exact = status if status not in (None, "", "open", "all") else None
    records = store.list("concern", place=place_id or None, status=exact)
    names, supports = _place_names(store), support_counts(store)
    rows = []
    for record in records:
        row = flat(record)
        if status == "open" and not is_open(row):
            continue
        row["place_name"] = names.get(row.get("place_id") or "", "")
        row["supports"] = supports.get(row["id"], 0)
        rows.append(row)
    return rows


def visit_rows(
    store: Any, *, place_id: str | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """Return visits as flat rows, latest start first, with place names and a display time."""
    names = _place_names(store)
    rows = [flat(v) for v in store.list("visit", place=place_id or None)]
    rows.sort(key=lambda v: v.get("started_at") or "", reverse=True)
    for row in rows[:limit]:
        row["place_name"] = names.get(row.get("place_id") or "", "")
        row["when"] = format_local(row.get("started_at"))
    return rows[:limit]


def similar_open(
    store: Any, place_id: str | None, title: str, *, exclude: str | None = None, limit: int = 5
) -> list[dict[str, Any]]:
    """Return open concerns at the place (or anywhere, without one) whose title is similar."""
    if not (title or "").strip():
        return []
    if place_id:
        candidates = [flat(c) for c in store.open_concerns(place_id)]
    else:
        candidates = [flat(c) for c in store.list("concern") if is_open(c["fields"])]
    supports = support_counts(store)
    found = []
    for row in candidates:
        if row["id"] == exclude or not is_similar(title, row.get("title") or ""):
            continue
        row["supports"] = supports.get(row["id"], 0)
        row["score"] = similarity(title, row.get("title") or "")
        found.append(row)
    found.sort(key=lambda r: r["score"], reverse=True)
    return found[:limit]


def search(store: Any, text: str) -> dict[str, list[dict[str, Any]]]:
    """Find places, parties, visits and concerns containing ``text`` (Chinese substring)."""
    text = (text or "").strip()
    if not text:
        return {}
    names = _place_names(store)
    found: dict[str, list[dict[str, Any]]] = {}
    for rtype in ("place", "party", "visit", "concern"):
        rows = [flat(r) for r in store.search(text, rtype=rtype, limit=50)]
        for row in rows:
            row["place_name"] = names.get(row.get("place_id") or "", "")
            row["when"] = format_local(row.get("started_at"))
        found[rtype] = rows
    return found


def record_label(record: dict[str, Any] | None) -> str:
    """Return the human name of a record (name, title, note), or "" when unknown."""
    if not record:
        return ""
    fields = record.get("fields", {})
    return str(fields.get("name") or fields.get("title") or fields.get("note") or "")


SOON_DAYS = 3  # as the office's inbox: due from today to this many days ahead


def mine(store: Any, today: dt.date) -> dict[str, list[dict[str, Any]]]:
    """Return the open concerns this device's user owns: all, overdue, due soon (flat rows)."""
    user_id = (store.status().get("user") or {}).get("id")
    if not isinstance(user_id, str) or not user_id:
        return {"mine": [], "overdue": [], "due_soon": []}
    rows = [flat(c) for c in store.owned_concerns(user_id)]
    now, soon = today.isoformat(), (today + dt.timedelta(days=SOON_DAYS)).isoformat()
    overdue = [r for r in rows if isinstance(r.get("due_on"), str) and r["due_on"] < now]
    due_soon = [r for r in rows if isinstance(r.get("due_on"), str) and now <= r["due_on"] <= soon]
    return {"mine": rows, "overdue": overdue, "due_soon": due_soon}


def attention(store: Any) -> dict[str, list[dict[str, Any]]]:
    """Return what needs the representative: rejected changes, conflicts, office notes."""
    rejected = store.rejected()
    for item in rejected:
        item["label"] = record_label(store.get(None, item["record_id"]))
    conflicts = store.conflicts()
    for item in conflicts:
        item["label"] = record_label(store.get(None, item["record_id"]))
    reviews = [flat(r) for r in store.review_notes()]
    return {"rejected": rejected, "conflicts": conflicts, "reviews": reviews}


def visit_line(store: Any, visit: dict[str, Any], kind_label: str) -> str:
    """A readable line for a visit: its title, else kind · place · first person · date."""
    if visit.get("title"):
        return str(visit["title"])
    parts = [kind_label]
    place = store.get("place", visit["place_id"]) if visit.get("place_id") else None
    if place and place["fields"].get("name"):
        parts.append(place["fields"]["name"])
    people = visit.get("party_ids") or []
    person = store.get("party", people[0]) if people else None
    if person and person["fields"].get("name"):
        more = f" +{len(people) - 1}" if len(people) > 1 else ""
        parts.append(person["fields"]["name"] + more)
    if visit.get("started_at"):
        parts.append(str(visit["started_at"])[:10])
    return " · ".join(parts)
