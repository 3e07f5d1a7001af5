"""Casework: owner, due date and supervision of a concern; lists by owner, due and voices."""

from __future__ import annotations

import datetime as dt
import re

from server import casework, inbox, store
from sync.hlc import Stamp
from tests.office import data
from tests.office.conftest import csrf_token
from tests.office.test_concerns import listed


def assign(client, seeded, key: str, **form: str):
    """Post the assignment form of a concern as the page showed it."""
    path = f"/concerns/{seeded.ids[key]}"
    record = store.get_record(seeded.workspace_id, seeded.ids[key])
    names = ("owner_id", "due_on", "supervision")
    bases = {f"base__{n}": record["stamps"].get(n, "") for n in names}
    body = {"csrf_token": csrf_token(client, path), "supervision": "normal", **bases, **form}
    return client.post(f"{path}/assign", data=body, follow_redirects=True)


def device_push(device, clock, rid: str, name: str, value, base=None) -> dict:
    """Push one field of a concern from a device, as its sync would."""
    stamp = f"{clock():013d}-000000-{device.id}"
    change = {"type": "concern", "id": rid,
              "set": {name: {"value": value, "stamp": stamp, "base": base}}}  # fmt: skip
    body = {"batch_id": data.new_id(), "device_time": stamp, "changes": [change]}
    return store.push(device, body, now_ms=clock(), max_skew_ms=900_000)


def fields_of(seeded, key: str) -> dict:
    return store.get_record(seeded.workspace_id, seeded.ids[key])["fields"]


def test_working_days_skip_weekends():
    friday = dt.date(2024, 6, 28)
    assert casework.add_working_days(friday, 1) == dt.date(2024, 7, 1)
    assert casework.add_working_days(friday, 15) == dt.date(2024, 7, 19)
    assert casework.add_working_days(friday, 0) == friday


def test_settings_fall_back_to_defaults_on_anything_odd():
    s = casework.parse_settings(
        '{"time_limits": {"safety": 5, "nope": 3, "business": 0},'
        ' "default_time_limit": true, "partly_satisfied_counts": 1}'
    )
    assert s == casework.Settings(time_limits={"safety": 5})
    assert casework.parse_settings("not json") == casework.Settings()
    assert s.time_limit("safety") == 5 and s.time_limit("business") == 15


def test_assign_with_the_category_time_limit(staff, seeded):
    casework.save_settings(seeded.workspace_id, casework.Settings(time_limits={"business": 10}))
    li = seeded.users["li"].id
    page = assign(staff, seeded, "riders", owner_id=li, supervision="key_supervised")
    assert "已保存" in page.get_data(as_text=True)
    fields = fields_of(seeded, "riders")  # raised 2024-03-05 (a Tuesday) + 10 working days
    assert (fields["owner_id"], fields["due_on"], fields["supervision"]) == (
        li, "2024-03-19", "key_supervised")  # fmt: skip
    detail = staff.get(f"/concerns/{seeded.ids['riders']}").get_data(as_text=True)
    assert "重点督办" in detail and "2024-03-19" in detail


def test_the_category_list_time_limit_wins(staff, seeded, clock):
    casework.save_settings(seeded.workspace_id, casework.Settings(time_limits={"business": 10}))
    entry = {"list": "concern.category", "key": "business", "name_zh": "营商环境", "days": 3}
    data.edit(seeded, clock, "choice", entry)
    assign(staff, seeded, "riders", owner_id=seeded.users["li"].id)
    assert fields_of(seeded, "riders")["due_on"] == "2024-03-08"  # 3 working days after 03-05


def test_assign_with_a_due_date_by_hand_and_clear_it(staff, seeded):
    wang = seeded.users["wang"].id
    assign(staff, seeded, "summer", owner_id=wang, due_on="2024-07-05")
    assert fields_of(seeded, "summer")["due_on"] == "2024-07-05"
    assign(staff, seeded, "summer", owner_id="", due_on="")
    fields = fields_of(seeded, "summer")
    assert fields["owner_id"] is None and fields["due_on"] is None


def test_bad_assignments_are_refused_and_nothing_changes(app, staff, seeded):
    from server import services

    other = services.create_workspace("金山社区")
    stranger = services.create_user("zhao", other, "staff", "zhao-pass-1", "赵")
    before = fields_of(seeded, "riders")
    page = assign(staff, seeded, "riders", owner_id=stranger.id).get_data(as_text=True)
    assert "承办人必须是本工作区的在用账号" in page
    page = assign(staff, seeded, "riders", owner_id=seeded.users["li"].id,
                  due_on="2024-03-01").get_data(as_text=True)  # fmt: skip
    assert "办理期限早于诉求提出日期" in page
    page = assign(staff, seeded, "riders", due_on="2024-13-01").get_data(as_text=True)
    assert "2024-05-31" in page
    page = assign(staff, seeded, "riders", supervision="nonsense").get_data(as_text=True)
    assert "未知的督办级别" in page
    assert fields_of(seeded, "riders") == before


def test_a_stale_assignment_form_is_refused(staff, seeded, clock):
    path = f"/concerns/{seeded.ids['riders']}"
    token = csrf_token(staff, path)
    wang = seeded.users["wang"].id
    data.edit(seeded, clock, "concern", {"owner_id": wang}, seeded.ids["riders"])
    page = staff.post(f"{path}/assign", data={
        "csrf_token": token, "owner_id": seeded.users["li"].id, "supervision": "normal",
        "base__owner_id": "", "base__due_on": "", "base__supervision": "",
    }, follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "其他人刚刚修改了交办信息" in page
    assert fields_of(seeded, "riders")["owner_id"] == wang


def test_devices_may_not_assign(seeded, clock):
    device = data.enrolled_device(seeded, clock)
    response = device_push(device, clock, seeded.ids["riders"], "owner_id", seeded.users["li"].id)
    assert response["rejected"][0]["errors"] == {"owner_id": ["is set by office staff only"]}


def test_lists_filter_by_owner_and_due_and_sort_by_due_and_voices(staff, seeded, clock):
    ids, li = seeded.ids, seeded.users["li"].id
    data.edit(seeded, clock, "concern", {"owner_id": li, "due_on": "2024-06-20"}, ids["riders"])
    data.edit(seeded, clock, "concern", {"owner_id": li, "due_on": "2024-07-01"}, ids["summer"])
    data.edit(seeded, clock, "concern", {"due_on": "2024-05-01"}, ids["pipe"])  # closed: not due
    for _ in range(2):
        data.edit(seeded, clock, "follow_up", {"subject_type": "concern", "kind": "support",
                                               "subject_id": ids["lights"]})  # fmt: skip
    data.edit(seeded, clock, "follow_up", {"subject_type": "concern", "kind": "support",
                                           "subject_id": ids["old"]})  # fmt: skip
    assert listed(staff, f"?owner={li}") == [ids["summer"], ids["riders"]]
    assert listed(staff, "?owner=me") == []  # wang owns nothing
    assert len(listed(staff, "?owner=none")) == 4
    assert listed(staff, "?due=overdue") == [ids["riders"]]  # today is Sunday 2024-06-30
    assert listed(staff, "?due=week") == []
    assert listed(staff, "?sort=due")[:3] == [ids["pipe"], ids["riders"], ids["summer"]]
    assert listed(staff, "?sort=voices")[:2] == [ids["lights"], ids["old"]]
    page = staff.get("/concerns?sort=voices").get_data(as_text=True)
    assert re.search(r'<td class="num">2</td>', page)
    response = staff.get("/concerns?owner=ghost&due=someday&sort=sideways")
    assert response.status_code == 200 and "未知的承办人" in response.get_data(as_text=True)


def test_a_fix_from_the_device_goes_back_to_review_as_resubmitted(staff, seeded, clock):
    ws, rid = seeded.workspace_id, seeded.ids["riders"]
    data.edit(seeded, clock, "concern", {"review_status": "needs_changes",
                                         "review_note": "请补充骑手人数"}, rid)  # fmt: skip
    assert f'data-review="{rid}"' not in staff.get("/review").get_data(as_text=True)
    data.edit(seeded, clock, "concern", {"priority": "high"}, rid)  # an office edit: no change
    assert store.get_record(ws, rid)["fields"]["review_status"] == "needs_changes"
    device = data.enrolled_device(seeded, clock)
    base = store.get_record(ws, rid)["stamps"]["description"]
    assert (
        device_push(device, clock, rid, "description", "约30名骑手反映充电难", base)["applied"]
        == 1
    )
    record = store.get_record(ws, rid)
    assert record["fields"]["review_status"] == "resubmitted"
    assert record["fields"]["review_note"] == "请补充骑手人数"  # the note stays
    assert Stamp.node_of(record["stamps"]["review_status"]).startswith("office-")
    page = staff.get("/review").get_data(as_text=True)
    block = re.search(rf'data-review="{rid}".*?</form>', page, re.S)[0]
    assert "已重新提交" in block and "请补充骑手人数" in block and "需要修改" in block
    pulled = store.pull(ws, None, 500, now_ms=clock())
    mine = [c for c in pulled["records"] if c["id"] == rid]
    assert mine and mine[0]["fields"]["review_status"] == "resubmitted"


def test_the_inbox_shows_what_waits_and_the_navigation_counts_it(app, staff, seeded, clock):
    ids, wang = seeded.ids, seeded.users["wang"].id
    for key, due in (("riders", "2024-06-20"), ("summer", "2024-07-02"), ("pipe", "2024-05-01")):
        data.edit(seeded, clock, "concern", {"owner_id": wang, "due_on": due}, ids[key])
    data.edit(seeded, clock, "concern", {"owner_id": wang, "review_status": "needs_changes",
                                         "review_note": "请补充照片"}, ids["lights"])  # fmt: skip
    voice = {"subject_type": "concern", "kind": "support", "subject_id": ids["summer"]}
    data.edit(seeded, clock, "follow_up", {**voice, "note": "我也需要"})
    box = inbox.inbox(seeded.workspace_id, wang, data.TODAY)
    assert [r["id"] for r in box.assigned] == [ids["riders"], ids["summer"]]  # pipe is closed
    assert [r["id"] for r in box.overdue] == [ids["riders"]]
    assert [r["id"] for r in box.due_soon] == [ids["summer"]]
    assert [r["id"] for r in box.returned] == [ids["lights"]]
    assert [r["fields"]["subject_id"] for r in box.voices] == [ids["summer"]]
    page = staff.get("/inbox").get_data(as_text=True)
    assert '<span class="count" data-nav="inbox">4</span>' in page
    for text in ("外卖骑手充电难", "暑期托管需求", "楼道照明损坏", "请补充照片", "我也需要"):
        assert text in page
    other = inbox.inbox(seeded.workspace_id, seeded.users["admin"].id, data.TODAY)
    assert other.count == 0 and other.assigned == []
