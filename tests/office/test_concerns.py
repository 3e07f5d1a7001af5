"""The concern list (filters, Chinese search, pagination), detail, casework steps and edits."""

from __future__ import annotations

import re

from server import store
from server.models import Change
from tests.office import data
from tests.office.conftest import CSRF_RE, csrf_token

ROW_RE = re.compile(r'<a href="/concerns/([0-9a-f-]{36})">')


def listed(client, query: str = "") -> list[str]:
    response = client.get("/concerns" + query)
    assert response.status_code == 200
    return ROW_RE.findall(response.get_data(as_text=True))


def test_every_page_renders(staff, seeded):
    ids = seeded.ids
    paths = ["/", "/?since=2024-01-01&until=2024-06-30", "/concerns", f"/concerns/{ids['pipe']}",
             "/visits", "/places", "/people", "/projects", f"/people/{ids['zhang']}",
             f"/visits/{ids['forum']}", f"/projects/{ids['rainwater']}",
             f"/places/{ids['baisheng']}", "/review", "/review?type=visit", "/conflicts",
             f"/records/concern/{ids['pipe']}/edit", f"/records/concern/{ids['pipe']}/history",
             "/records/visit/new", "/records/place/new"]  # fmt: skip
    for path in paths:
        assert staff.get(path).status_code == 200, path


def test_the_list_hides_deleted_concerns_and_orders_newest_first(staff, seeded):
    ids = seeded.ids
    assert listed(staff) == [ids[k] for k in ("summer", "lights", "riders", "property", "pipe",
                                              "old")]  # fmt: skip


def test_filters_combine(staff, seeded):
    ids = seeded.ids
    assert listed(staff, "?status=confirmed") == [ids["lights"], ids["pipe"]]
    assert listed(staff, "?category=infrastructure") == [ids["pipe"], ids["old"]]
    assert listed(staff, f"?place={ids['chengji']}") == [ids["summer"], ids["riders"]]
    assert listed(staff, "?since=2024-03-01&until=2024-04-30") == [ids["lights"], ids["riders"]]
    query = f"?category=infrastructure&place={ids['baisheng']}&since=2024-01-01"
    assert listed(staff, query) == [ids["pipe"]]
    rep = seeded.users["li"].id
    assert len(listed(staff, f"?rep={rep}")) == 6
    assert listed(staff, f"?rep={seeded.users['wang'].id}") == []


def test_search_finds_chinese_substrings(staff, seeded):
    assert listed(staff, "?q=管道") == [seeded.ids["pipe"]]
    assert listed(staff, "?q=居民反映") != []  # in every description
    assert listed(staff, "?q=不存在的词") == []
    assert listed(staff, "?q=%25") == []  # a wildcard character is just a character


def test_malformed_filters_show_the_list_with_a_message(staff, seeded):
    response = staff.get("/concerns?status=bogus&since=2024-13-45&until=yesterday&place=x"
                         "&rep=nobody&page=-3&category=%27%3B%20DROP")  # fmt: skip
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "无法识别的筛选值" in page and "不是 2024-05-31 这样的日期" in page
    assert "无法识别的地点" in page and "不是页码" in page
    assert len(ROW_RE.findall(page)) == 6  # every bad filter ignored
    assert staff.get("/?since=garbage").status_code == 200


def test_swapped_period_is_turned_round(staff, seeded):
    response = staff.get("/concerns?since=2024-04-30&until=2024-03-01")
    assert "已将两者对调" in response.get_data(as_text=True)
    assert len(ROW_RE.findall(response.get_data(as_text=True))) == 2


def test_pagination_shows_one_page_at_a_time(app, staff, seeded):
    app.config["OFFICE_PAGE_SIZE"] = 4
    first, second = listed(staff), listed(staff, "?page=2")
    assert len(first) == 4 and len(second) == 2 and not set(first) & set(second)
    assert listed(staff, "?page=99") == second  # past the end: the last page
    assert "第 1 页，共 2 页" in staff.get("/concerns").get_data(as_text=True)


def test_phone_numbers_are_masked_in_lists_and_detail(staff, seeded):
    for path in ("/people", "/concerns", f"/concerns/{seeded.ids['pipe']}",
                 f"/people/{seeded.ids['zhang']}"):  # fmt: skip
        page = staff.get(path).get_data(as_text=True)
        assert "138****1234" in page and data.PHONE not in page, path


def test_revealing_a_phone_number_is_recorded_without_the_number(staff, seeded):
    zhang = seeded.ids["zhang"]
    token = csrf_token(staff, f"/people/{zhang}")
    response = staff.post(f"/people/{zhang}/reveal", data={"csrf_token": token})
    assert data.PHONE in response.get_data(as_text=True)
    rows = list(Change.select().where(Change.record_id == zhang, Change.source == "reveal"))
    assert len(rows) == 1 and rows[0].user_id == seeded.users["wang"].id
    assert data.PHONE not in rows[0].diff
    history = staff.get(f"/records/party/{zhang}/history").get_data(as_text=True)
    assert "显示了完整电话号码" in history and data.PHONE not in history


def test_history_shows_what_a_new_record_held(staff, seeded):
    rid = seeded.ids["pipe"]
    # a new record's creation entry is no audit row, nor a copy of its fields: the record
    assert not Change.select().where(Change.record_id == rid, Change.diff == "{}").exists()
    history = staff.get(f"/records/concern/{rid}/history").get_data(as_text=True)
    assert "污水管道反复堵塞，居民反映多次。" in history  # its description as created
    assert "2024-01-10" in history  # and the day it was raised


def test_detail_shows_the_timeline(staff, seeded):
    page = staff.get(f"/concerns/{seeded.ids['pipe']}").get_data(as_text=True)
    assert "回访：居民满意" in page  # the follow-up
    assert "已回访" in page  # the status change from the audit history
    assert "李明" in page  # who recorded it


def step(client, record_id: str, to: str, **extra: str):
    page = client.get(f"/concerns/{record_id}").get_data(as_text=True)
    form = re.search(rf'<form[^>]*data-step="{to}">(.*?)</form>', page, re.S)
    assert form, f"no {to} step offered"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form[1]))
    fields = {k: v.replace("&#34;", '"') for k, v in fields.items()}
    return client.post(f"/concerns/{record_id}/step", data={**fields, **extra})


def test_casework_steps_move_a_concern_along(staff, seeded, app):
    summer = seeded.ids["summer"]
    assert step(staff, summer, "accepted").status_code == 302
    assert step(staff, summer, "referred", responsible_unit="街道民生办").status_code == 302
    assert step(staff, summer, "in_progress").status_code == 302
    assert step(staff, summer, "resolved", resolution="开办暑期托管班").status_code == 302
    assert step(staff, summer, "confirmed", satisfaction="satisfied").status_code == 302
    fields = store.get_record(seeded.workspace_id, summer)["fields"]
    assert fields["status"] == "confirmed" and fields["responsible_unit"] == "街道民生办"
    assert fields["resolved_on"] == "2024-06-30" and fields["satisfaction"] == "satisfied"
    page = staff.get(f"/concerns/{summer}").get_data(as_text=True)
    assert "此诉求已结束办理" in page


def test_confirming_an_undated_resolution_dates_it_as_the_field_does(staff, seeded, clock):
    summer = seeded.ids["summer"]
    data.edit(seeded, clock, "concern", {"status": "resolved"}, record_id=summer)
    assert not store.get_record(seeded.workspace_id, summer)["fields"].get("resolved_on")
    assert step(staff, summer, "confirmed", satisfaction="satisfied").status_code == 302
    fields = store.get_record(seeded.workspace_id, summer)["fields"]
    assert (fields["status"], fields["resolved_on"]) == ("confirmed", "2024-06-30")


def test_side_exit_with_a_duplicate_reference(staff, seeded):
    response = step(staff, seeded.ids["summer"], "duplicate", duplicate_of=seeded.ids["riders"])
    assert response.status_code == 302
    fields = store.get_record(seeded.workspace_id, seeded.ids["summer"])["fields"]
    assert fields["status"] == "duplicate" and fields["duplicate_of"] == seeded.ids["riders"]


def edit_form(client, record_type: str, record_id: str) -> dict[str, str]:
    page = client.get(f"/records/{record_type}/{record_id}/edit").get_data(as_text=True)
    fields = dict(re.findall(r'<input type="hidden" name="((?:shown|base)__[^"]+)" '
                             r'value="([^"]*)"', page))  # fmt: skip
    fields = {k: v.replace("&#34;", '"') for k, v in fields.items()}
    fields["csrf_token"] = CSRF_RE.search(page)[1]
    return fields


def test_an_edit_saves_only_the_changed_fields(staff, seeded):
    pipe = seeded.ids["pipe"]
    before = store.get_record(seeded.workspace_id, pipe)
    form = edit_form(staff, "concern", pipe)
    form.update({"title": "污水管道反复堵塞（已改造）", "category": "infrastructure",
                 "status": "confirmed", "raised_on": "2024-01-10"})  # fmt: skip
    response = staff.post(f"/records/concern/{pipe}/edit", data=form)
    assert response.status_code == 302
    after = store.get_record(seeded.workspace_id, pipe)
    assert after["fields"]["title"] == "污水管道反复堵塞（已改造）"
    changed = {k for k in after["stamps"] if after["stamps"][k] != before["stamps"].get(k)}
    assert changed == {"title"}


def test_a_stale_edit_shows_both_values_and_overwrites_nothing(staff, seeded, clock):
    pipe = seeded.ids["pipe"]
    form = edit_form(staff, "concern", pipe)  # opened now ...
    data.edit(seeded, clock, "concern", {"title": "别人改的标题"}, pipe, user="admin")  # ... then
    form.update({"title": "我的标题", "status": "confirmed", "category": "infrastructure",
                 "raised_on": "2024-01-10"})  # fmt: skip
    response = staff.post(f"/records/concern/{pipe}/edit", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "我的标题" in page and "别人改的标题" in page
    assert store.get_record(seeded.workspace_id, pipe)["fields"]["title"] == "别人改的标题"
    # "Save my values" re-sends them based on what is saved now, and wins
    resend = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    resend = {k: v.replace("&#34;", '"') for k, v in resend.items()}
    assert staff.post(f"/records/concern/{pipe}/edit", data=resend).status_code == 302
    assert store.get_record(seeded.workspace_id, pipe)["fields"]["title"] == "我的标题"


def test_invalid_input_redisplays_the_form_with_messages(staff, seeded):
    form = edit_form(staff, "concern", seeded.ids["pipe"])
    form.update({"title": "", "raised_on": "2024-02-31", "status": "confirmed"})
    response = staff.post(f"/records/concern/{seeded.ids['pipe']}/edit", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "此项为必填" in page and "2024-05-31 这样的日期" in page


def test_new_records_are_created_through_the_store(staff, seeded):
    token = csrf_token(staff, "/records/place/new")
    response = staff.post("/records/place/new", data={
        "csrf_token": token, "kind": "compound", "name": "无物业小区",
        "shown__kind": "null", "shown__name": "null", "base__kind": "", "base__name": "",
    })  # fmt: skip
    assert response.status_code == 302
    page = staff.get("/places?q=无物业").get_data(as_text=True)
    assert "无物业小区" in page


def test_unknown_records_are_404(staff, seeded):
    assert staff.get("/concerns/00000000-0000-0000-0000-000000000000").status_code == 404
    assert (
        staff.get(f"/concerns/{seeded.ids['zhang']}").status_code == 404
    )  # a party, not a concern
    assert staff.get("/records/nonsense/x/edit").status_code == 404


def test_delete_and_restore_a_record(staff, seeded):
    riders = seeded.ids["riders"]
    page = staff.get(f"/concerns/{riders}").get_data(as_text=True)
    token = CSRF_RE.search(page)[1]
    base = store.get_record(seeded.workspace_id, riders)["stamps"].get("_deleted", "")
    form = {"csrf_token": token, "action": "delete", "base___deleted": base or ""}
    assert staff.post(f"/records/concern/{riders}/delete", data=form).status_code == 302
    assert store.get_record(seeded.workspace_id, riders)["deleted"] is True
    assert riders not in listed(staff)
    assert listed(staff, "?deleted=1") == [riders, seeded.ids["gone"]]
    page = staff.get(f"/concerns/{riders}").get_data(as_text=True)
    assert "此记录已删除" in page
    stale = staff.post(f"/records/concern/{riders}/delete", data={**form, "action": "restore"})
    assert "期间有人修改了此记录" in staff.get(stale.headers["Location"]).get_data(as_text=True)
    base = store.get_record(seeded.workspace_id, riders)["stamps"]["_deleted"]
    restore = {**form, "action": "restore", "base___deleted": base}
    assert staff.post(f"/records/concern/{riders}/delete", data=restore).status_code == 302
    assert store.get_record(seeded.workspace_id, riders)["deleted"] is False


def test_the_dashboards_overdue_figure_links_to_those_concerns(staff, seeded):
    page = staff.get("/?since=2024-01-01&until=2024-06-30").get_data(as_text=True)
    assert "/concerns?overdue=1&amp;since=2024-01-01&amp;until=2024-06-30" in page
    assert listed(staff, "?overdue=1&since=2024-01-01&until=2024-06-30") == [seeded.ids["riders"]]
    assert listed(staff, "?overdue=1") == [seeded.ids["riders"]]


def test_page_numbers_and_dates_are_ascii_only(staff, seeded):
    page = staff.get("/concerns?page=%D9%A2&since=%D9%A2%D9%A0%D9%A2%D9%A4-01-01").get_data(
        as_text=True
    )
    assert "不是页码" in page and "不是 2024-05-31 这样的日期" in page
