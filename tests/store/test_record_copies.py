"""The record table's copies of ``owner_id`` and ``review_status`` (``models.Record``) follow
the fields through every kind of write, on SQLite and PostgreSQL, and the office's lookups by
them find what the fields say."""

from __future__ import annotations

import uuid

from server import store
from server.models import Record
from server.store import casework
from tests.store.storekit import NOW, SKEW, Writer


def copies(rid: str) -> tuple[str | None, str | None]:
    record = Record.get_by_id(rid)
    return record.owner_id, record.review_status


def office(writer: Writer, record_type: str, rid: str, values: dict, now: int) -> None:
    """An office edit based on the stamps the record holds."""
    held = store.get_record(writer.device.workspace_id, rid)
    bases = {name: (held or {}).get("stamps", {}).get(name) for name in values}
    result = store.office_edit(
        writer.device.workspace_id, None, record_type, rid, values, bases, now_ms=now
    )
    assert result.ok and not result.conflicts, result


def test_copies_follow_pushes_and_office_edits(writer: Writer) -> None:
    workspace = writer.device.workspace_id
    visit, concern = str(uuid.uuid4()), str(uuid.uuid4())
    owner, other = str(uuid.uuid4()), str(uuid.uuid4())
    body = writer.body(
        writer.change("visit", visit, {"kind": "phone", "title": "电话回访"}, None),
        writer.change("concern", concern, {"title": "漏水"}, None),
    )
    assert store.push(writer.device, body, now_ms=NOW, max_skew_ms=SKEW)["applied"] == 2
    assert copies(visit) == copies(concern) == (None, None)

    office(writer, "concern", concern, {"owner_id": owner, "review_status": "approved"}, NOW + 1)
    office(writer, "visit", visit, {"review_status": "needs_changes"}, NOW + 2)
    assert copies(concern) == (owner, "approved")
    assert copies(visit) == (None, "needs_changes")
    assert [r["id"] for r in casework.open_concerns_owned(workspace, owner)] == [concern]
    assert [r["id"] for r in casework.returned_to(workspace, writer.device.user_id)] == [visit]

    # the device's fix of the visit sent back: the server marks it resubmitted
    held = store.get_record(workspace, visit)["stamps"]["title"]
    writer.clock.observe(held)
    fix = writer.change("visit", visit, {"title": "电话回访(补充)"}, {"title": held})
    body = writer.body(fix)
    assert store.push(writer.device, body, now_ms=NOW + 3, max_skew_ms=SKEW)["applied"] == 1
    assert copies(visit) == (None, "resubmitted")
    assert casework.returned_to(workspace, writer.device.user_id) == []

    office(writer, "concern", concern, {"owner_id": other}, NOW + 4)
    office(writer, "concern", concern, {"review_status": None}, NOW + 5)
    assert copies(concern) == (other, None)
    assert casework.open_concerns_owned(workspace, owner) == []
    assert [r["id"] for r in casework.open_concerns_owned(workspace, other)] == [concern]
