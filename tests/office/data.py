"""Known office data for the view, report and browser tests, written through the real store.

Numbers the tests rely on (period 2024-01-01 .. 2024-06-30, today 2024-06-30):
concerns collected 5, resolved 3 (rate 60%), median days to resolve 10, satisfaction 1 of 2
rated, open over 30 days 1; projects 3 (1 completed); sessions 2 (1 reception, 1 forum) of 3
visits. All time: 6 collected, 4 resolved; a deleted concern never counts. One conflict on the
riders concern's status waits for review (the office said resolved; a device, offline,
said referred).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from server import services, store
from tests.clock import ManualClock

TODAY = dt.date(2024, 6, 30)
NOW_MS = int(dt.datetime(2024, 6, 30, 4, 0, tzinfo=dt.UTC).timestamp() * 1000)  # 12:00 Beijing
PHONE = "13812341234"
PASSWORDS = {"admin": "admin-pass-1", "wang": "staff-pass-1", "li": "rep-pass-12"}


@dataclass
class Seeded:
    workspace_id: str
    users: dict[str, Any]
    ids: dict[str, str] = field(default_factory=dict)
    device: Any = None
    conflict_id: str | None = None


def new_id() -> str:
    return str(uuid.uuid4())


def people(clock: ManualClock) -> Seeded:
    """A workspace with an admin, a staff member and a representative."""
    space = services.create_workspace("庄泉社区")
    users = {
        "admin": services.create_user("admin", space, "admin", PASSWORDS["admin"], "管理员"),
        "wang": services.create_user("wang", space, "staff", PASSWORDS["wang"], "王芳"),
        "li": services.create_user("li", space, "representative", PASSWORDS["li"], "李明"),
    }
    return Seeded(space.id, users)


def edit(s: Seeded, clock: ManualClock, record_type: str, values: dict[str, Any],
         record_id: str | None = None, user: str = "wang") -> str:  # fmt: skip
    """Create or change a record as an office edit; return its id."""
    record_id = record_id or new_id()
    current = store.get_record(s.workspace_id, record_id)
    bases = {k: (current["stamps"].get(k) if current else None) for k in values}
    result = store.office_edit(s.workspace_id, s.users[user].id, record_type, record_id, values,
                               bases, now_ms=clock())  # fmt: skip
    assert result.ok and not result.conflicts, result
    clock.advance(1)
    return record_id


def seed(clock: ManualClock) -> Seeded:
    """The known data set described in the module docstring."""
    s = people(clock)
    ids = s.ids
    ids["baisheng"] = edit(s, clock, "place", {"kind": "compound", "name": "百盛家园"})
    ids["chengji"] = edit(s, clock, "place", {"kind": "business_district", "name": "城际商圈"})
    ids["changfa"] = edit(s, clock, "place", {"kind": "building", "name": "常发大厦"})
    ids["zhang"] = edit(s, clock, "party", {"kind": "resident", "name": "张阿姨", "phone": PHONE,
                                           "place_id": ids["baisheng"]})  # fmt: skip
    concerns = [
        ("pipe", "污水管道反复堵塞", "2024-01-10", "confirmed", "2024-01-20", "satisfied",
         "infrastructure", "baisheng"),
        ("property", "小区无物业管理", "2024-02-01", "resolved", "2024-03-02", None,
         "property_management", "baisheng"),
        ("riders", "外卖骑手充电难", "2024-03-05", "in_progress", None, None, "business",
         "chengji"),
        ("lights", "楼道照明损坏", "2024-04-01", "confirmed", "2024-04-05", "partly_satisfied",
         "safety", "changfa"),
        ("summer", "暑期托管需求", "2024-06-20", "new", None, None, "social_services", "chengji"),
        ("old", "雨水井盖松动", "2023-05-01", "resolved", "2023-05-11", None, "infrastructure",
         "baisheng"),
        ("gone", "已删除的诉求", "2024-02-02", "new", None, None, "other", "baisheng"),
    ]  # fmt: skip
    for key, title, raised, status, resolved, satisfaction, category, place in concerns:
        values = {"title": title, "raised_on": raised, "status": status, "category": category,
                  "place_id": ids[place], "description": f"{title}，居民反映多次。"}  # fmt: skip
        if resolved:
            values["resolved_on"] = resolved
        if satisfaction:
            values["satisfaction"] = satisfaction
        if key == "pipe":
            values["party_id"] = ids["zhang"]
        ids[key] = edit(s, clock, "concern", values, user="li")
    edit(s, clock, "concern", {"_deleted": True}, ids["gone"])
    projects = [
        ("rainwater", "雨污分流改造", "completed", "2023-09-01", "2024-03-31"),
        ("propertyco", "引入物业公司", "in_progress", "2024-02-01", None),
        ("holiday", "暑期托管班", "proposed", None, None),
    ]
    for key, title, status, started, completed in projects:
        values = {"title": title, "status": status, "place_id": ids["baisheng"]}
        if started:
            values["started_on"] = started
        if completed:
            values["completed_on"] = completed
        ids[key] = edit(s, clock, "project", values)
    visits = [
        ("reception", "reception", "接待日", "2024-03-15T09:00:00+08:00"),
        ("forum", "forum", "听新声 商圈说", "2024-05-20T14:00:00+08:00"),
        ("home", "home_visit", "走访张阿姨", "2024-01-10T10:00:00+08:00"),
        ("reception2023", "reception", "接待日", "2023-12-01T09:00:00+08:00"),
    ]
    for key, kind, title, started in visits:
        ids[key] = edit(s, clock, "visit", {"kind": kind, "title": title, "started_at": started,
                                            "place_id": ids["chengji"]}, user="li")  # fmt: skip
    edit(s, clock, "follow_up", {"subject_type": "concern", "subject_id": ids["pipe"],
                                 "kind": "return_visit", "note": "回访：居民满意",
                                 "happened_at": "2024-01-21T10:00:00+08:00"})  # fmt: skip
    return s


def enrolled_device(s: Seeded, clock: ManualClock, name: str = "李明的平板") -> Any:
    code = services.create_enrollment_code("li", created_by=s.users["admin"].id, now=clock())
    body = services.enroll(code, name, now=clock())
    return services.authenticate_device(body["token"])


def make_conflict(s: Seeded, clock: ManualClock) -> str:
    """A device edits the riders concern's status from a stale base: one open conflict."""
    record = store.get_record(s.workspace_id, s.ids["riders"])
    assert record is not None
    base = record["stamps"]["status"]
    s.device = s.device or enrolled_device(s, clock)
    edit(s, clock, "concern", {"status": "resolved", "resolved_on": "2024-06-29"}, s.ids["riders"])
    stamp = f"{clock() - 1500:013d}-000000-{s.device.id}"  # older than the office edit
    body = {
        "batch_id": new_id(),
        "device_time": stamp,
        "changes": [{"type": "concern", "id": s.ids["riders"],
                     "set": {"status": {"value": "referred", "stamp": stamp, "base": base}}}],
    }  # fmt: skip
    response = store.push(s.device, body, now_ms=clock(), max_skew_ms=900_000)
    assert len(response["conflicts"]) == 1, response
    s.conflict_id = response["conflicts"][0]["id"]
    clock.advance(1)
    return s.conflict_id
