"""The one-minute visit form: what it saves, and how it answers bad input."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from field_client.store import LocalStore
from tests.field_ui.conftest import field_error, page_text


def visit_form(**overrides: Any) -> dict[str, Any]:
    """A filled-in visit form as the browser posts it (two concern rows, one new person)."""
    form: dict[str, Any] = {
        "kind": "home_visit",
        "title": "百盛家园入户走访",
        "place_name": "百盛家园",
        "new_place_kind": "compound",
        "started_at": "2026-05-31T08:45",
        "ended_at": "2026-05-31T09:30",
        "summary": "居民反映污水管道老化，小区没有物业。",
        "person_name": ["王阿姨"],
        "person_kind": ["resident"],
        "person_phone": [""],
        "concern_title": ["污水管道经常破裂", "小区没有物业公司"],
        "concern_category": ["infrastructure", "property_management"],
        "concern_priority": ["high", "normal"],
        "concern_group": ["resident", ""],
        "concern_support_of": ["", ""],
    }
    form.update(overrides)
    return form


def only(store: LocalStore, rtype: str) -> dict[str, Any]:
    [record] = store.list(rtype)
    return record["fields"]


def test_a_visit_with_a_new_place_person_and_two_concerns_is_saved_in_one_go(client, store):
    response = client.post("/visits/new", data=visit_form())
    assert response.status_code == 302
    visit_id = response.headers["Location"].rsplit("/", 1)[1]
    place = store.list("place")[0]
    visit = store.get("visit", visit_id)["fields"]
    assert place["fields"] == {"name": "百盛家园", "kind": "compound"}
    assert visit["place_id"] == place["id"]
    assert visit["started_at"] == "2026-05-31T08:45:00+08:00"  # local time with its offset
    assert visit["ended_at"] == "2026-05-31T09:30:00+08:00"
    assert visit["party_ids"] == [store.list("party")[0]["id"]]
    assert only(store, "party") == {
        "kind": "resident",
        "name": "王阿姨",
        "place_id": place["id"],
    }
    concerns = {c["fields"]["title"]: c["fields"] for c in store.list("concern")}
    assert set(concerns) == {"污水管道经常破裂", "小区没有物业公司"}
    pipe = concerns["污水管道经常破裂"]
    assert (pipe["place_id"], pipe["visit_id"], pipe["raised_on"]) == (
        place["id"],
        visit_id,
        "2026-05-31",
    )
    assert [pipe["category"], pipe["priority"], pipe["status"]] == [
        "infrastructure",
        "high",
        "new",
    ]
    assert pipe["raised_by_group"] == "resident"
    assert store.status()["pending"] == 5

    shown = page_text(client.get(f"/visits/{visit_id}"))
    assert "污水管道经常破裂" in shown and "小区没有物业公司" in shown and "待同步" in shown


def test_a_tapped_recent_place_and_people_are_used_without_typing(client, store):
    place_id = store.create("place", {"kind": "compound", "name": "百盛家园"})
    party_id = store.create("party", {"kind": "merchant", "name": "李老板"})
    form = visit_form(place_name="", place_id=place_id, party_ids=[party_id], person_name=[""])
    form.update(concern_title=[""], concern_category=["other"], concern_priority=["normal"])
    form.update(concern_group=[""], concern_support_of=[""])
    assert client.post("/visits/new", data=form).status_code == 302
    visit = only(store, "visit")
    assert visit["place_id"] == place_id and visit["party_ids"] == [party_id]
    assert len(store.list("place")) == 1 and store.list("concern") == []


def test_the_form_prefills_now_and_offers_recent_places_first(client, store):
    store.create("place", {"kind": "compound", "name": "百盛家园"})
    html = client.get("/visits/new").get_data(as_text=True)
    assert 'value="2026-05-31T09:30"' in html
    assert "UTC+08:00" in html
    assert "百盛家园" in html


def test_empty_and_over_long_fields_are_named_next_to_the_field_and_kept(client, store):
    form = visit_form(kind="", title="长" * 201, place_name="", summary="我写的摘要")
    form["concern_title"] = ["诉" * 201, "小区没有物业公司"]
    response = client.post("/visits/new", data=form)
    assert response.status_code == 422
    assert field_error(response, "kind") == "请选择一项"
    assert field_error(response, "title") == "最多 200 个字"
    assert field_error(response, "place") == "请选择或输入地点"
    assert field_error(response, "concern_title.0") == "最多 200 个字"
    html = response.get_data(as_text=True)
    assert "我写的摘要" in html and "小区没有物业公司" in html  # what was typed stays
    assert store.status()["pending"] == 0


def test_impossible_times_are_refused(client, store):
    response = client.post("/visits/new", data=visit_form(ended_at="2026-05-31T08:00"))
    assert response.status_code == 422
    assert field_error(response, "ended_at") == "结束时间早于开始时间"
    response = client.post("/visits/new", data=visit_form(started_at="昨天下午"))
    assert field_error(response, "started_at").startswith("时间格式不对")
    assert "昨天下午" in response.get_data(as_text=True)
    response = client.post("/visits/new", data=visit_form(started_at="2026-02-30T09:00"))
    assert field_error(response, "started_at").startswith("时间格式不对")
    response = client.post("/visits/new", data=visit_form(started_at=""))
    assert field_error(response, "started_at") == "必填"
    assert store.list("visit") == []


def test_a_time_with_its_own_offset_is_kept_as_typed(client, store):
    form = visit_form(started_at="2026-05-31T09:30:00+09:00", ended_at="")
    assert client.post("/visits/new", data=form).status_code == 302
    assert only(store, "visit")["started_at"] == "2026-05-31T09:30:00+09:00"


def test_a_person_without_a_name_is_refused(client, store):
    form = visit_form(person_name=[""], person_phone=["13800000000"])
    response = client.post("/visits/new", data=form)
    assert field_error(response, "person_name.0") == "请填写姓名或称呼"
    assert "13800000000" in response.get_data(as_text=True)


def test_a_place_name_matching_two_places_asks_which_one(client, store):
    first = store.create("place", {"kind": "building", "name": "3号楼", "address": "百盛家园"})
    second = store.create("place", {"kind": "building", "name": "3号楼", "address": "城际商圈"})
    response = client.post("/visits/new", data=visit_form(place_name="3号楼"))
    assert response.status_code == 422
    assert field_error(response, "place") == "有 2 个地点都叫“3号楼”，请在下面选一个。"
    html = response.get_data(as_text=True)
    assert f'value="{first}"' in html and f'value="{second}"' in html
    assert 'value="3号楼"' in html
    response = client.post("/visits/new", data=visit_form(place_name="3号楼", place_id=second))
    assert response.status_code == 302
    assert only(store, "visit")["place_id"] == second
    assert len(store.list("place")) == 2


def test_a_concern_marked_as_support_becomes_a_further_voice(client, store):
    place_id = store.create("place", {"kind": "compound", "name": "百盛家园"})
    old = store.create("concern", {"title": "污水管道破裂", "place_id": place_id})
    form = visit_form(place_name="百盛家园")
    form["concern_support_of"] = [old, ""]
    response = client.post("/visits/new", data=form, follow_redirects=True)
    assert "走访已保存，另有 1 条新诉求、1 条附议。" in page_text(response)
    titles = sorted(c["fields"]["title"] for c in store.list("concern"))
    assert titles == ["小区没有物业公司", "污水管道破裂"]  # no duplicate of the pipe
    support = only(store, "follow_up")
    assert [support["kind"], support["subject_id"]] == ["support", old]
    assert support["group"] == "resident"


def test_editing_a_visit_keeps_its_place_and_changes_the_summary(client, store):
    place_id = store.create("place", {"kind": "compound", "name": "百盛家园"})
    visit_id = store.create(
        "visit", {"kind": "forum", "place_id": place_id, "started_at": "2026-05-30T14:00:00+08:00"}
    )
    page = client.get(f"/visits/{visit_id}/edit").get_data(as_text=True)
    assert 'value="2026-05-30T14:00"' in page
    form = {"kind": "forum", "place_id": place_id, "started_at": "2026-05-30T14:00",
            "summary": "补充：座谈会有 12 名骑手参加"}  # fmt: skip
    assert client.post(f"/visits/{visit_id}/edit", data=form).status_code == 302
    fields = store.get("visit", visit_id)["fields"]
    assert fields["summary"] == "补充：座谈会有 12 名骑手参加"
    assert fields["place_id"] == place_id
    form["ended_at"] = "2026-05-30T13:00"
    response = client.post(f"/visits/{visit_id}/edit", data=form)
    assert field_error(response, "ended_at") == "结束时间早于开始时间"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(["home_visit", "forum", "", "bogus"]),
    text=st.text(max_size=260),
    when=st.one_of(
        st.text(max_size=45), st.sampled_from(["2026-05-31T09:30", "0001-01-01T00:00"])
    ),
    count=st.text(max_size=8),
)
def test_no_typed_input_makes_the_visit_form_fail(client, store, kind, text, when, count):
    form = visit_form(kind=kind, title=text, place_name=text, started_at=when, ended_at=text)
    form.update(attendee_count=count, summary=text, concern_title=[text, text])
    form.update(concern_support_of=[text, "no-such-id"], party_ids=[text])
    response = client.post("/visits/new", data=form)
    assert response.status_code in (302, 422)
