"""Concerns: list by place and status, similar ones offered for 附议, status changes, notes."""

from __future__ import annotations

from field_client.web.similar import bigrams, is_similar, similarity
from tests.field_ui.conftest import field_error, page_text


def seed(store):
    """Two places with concerns in several states."""
    garden = store.create("place", {"kind": "compound", "name": "百盛家园"})
    mall = store.create("place", {"kind": "business_district", "name": "城际商圈"})
    ids = {
        "pipe": store.create(
            "concern",
            {
                "title": "污水管道经常破裂",
                "place_id": garden,
                "status": "accepted",
                "category": "infrastructure",
            },
        ),  # fmt: skip
        "lights": store.create(
            "concern", {"title": "路灯不亮", "place_id": garden, "status": "resolved"}
        ),
        "riders": store.create(
            "concern", {"title": "骑手没有休息点", "place_id": mall, "status": "new"}
        ),
    }
    return garden, mall, ids


def test_bigrams_find_similar_chinese_titles():
    assert bigrams("污水 管道！") == {"污水", "水管", "管道"}
    assert is_similar("污水管又坏了", "污水管道经常破裂")
    assert is_similar("没有物业", "小区没有物业公司")  # one inside the other
    assert not is_similar("路灯不亮", "污水管道经常破裂")
    assert similarity("", "污水") == 0.0


def test_the_list_shows_open_concerns_by_default_and_filters_by_place_and_status(client, store):
    garden, mall, ids = seed(store)
    shown = page_text(client.get("/concerns"))
    assert "污水管道经常破裂" in shown and "骑手没有休息点" in shown
    assert "路灯不亮" not in shown  # resolved: not open
    shown = page_text(client.get(f"/concerns?place_id={mall}"))
    assert "骑手没有休息点" in shown and "污水管道经常破裂" not in shown
    shown = page_text(client.get(f"/concerns?place_id={garden}&status=resolved"))
    assert "路灯不亮" in shown and "污水管道经常破裂" not in shown
    assert client.get("/concerns?status=nonsense").status_code == 200


def test_the_list_has_no_status_controls_and_the_page_offers_the_reps_steps(client, store):
    _, _, ids = seed(store)
    listing = client.get("/concerns").get_data(as_text=True)
    assert "/status" not in listing and '<select name="status"' not in listing
    page = client.get(f"/concerns/{ids['pipe']}").get_data(as_text=True)
    assert 'name="status" value="resolved"' in page
    assert 'value="accepted"' not in page  # an office step
    response = client.post(
        f"/concerns/{ids['pipe']}/status", data={"status": "resolved", "next": "/concerns"}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/concerns"
    fields = store.get("concern", ids["pipe"])["fields"]
    assert (fields["status"], fields["resolved_on"]) == ("resolved", "2026-05-31")
    for refused in ("bogus", "new", "referred"):  # not a step a representative takes from here
        client.post(f"/concerns/{ids['pipe']}/status", data={"status": refused})
        assert store.get("concern", ids["pipe"])["fields"]["status"] == "resolved"
    outside = client.post(
        f"/concerns/{ids['pipe']}/status",
        data={"status": "confirmed", "next": "https://evil.example/"},
    )
    assert outside.headers["Location"] == f"/concerns/{ids['pipe']}"
    assert store.get("concern", ids["pipe"])["fields"]["status"] == "confirmed"


def test_similar_open_concerns_at_the_same_place_are_suggested(client, store):
    garden, mall, ids = seed(store)
    answer = client.get(f"/concerns/similar.json?place_id={garden}&title=污水管又坏了").json
    assert [s["id"] for s in answer["similar"]] == [ids["pipe"]]
    assert answer["similar"][0]["status"] == "已受理"
    elsewhere = client.get(f"/concerns/similar.json?place_id={mall}&title=污水管又坏了").json
    assert elsewhere["similar"] == []
    by_name = client.get("/concerns/similar.json?place_name=百盛家园&title=管道破裂").json
    assert [s["id"] for s in by_name["similar"]] == [ids["pipe"]]
    new_place = client.get("/concerns/similar.json?place_name=新小区&title=管道破裂").json
    assert new_place["similar"] == []


def test_a_new_concern_like_an_open_one_offers_support_first(client, store):
    garden, _, ids = seed(store)
    form = {"title": "污水管又坏了", "category": "infrastructure", "priority": "normal",
            "place_id": garden, "raised_by_group": "resident"}  # fmt: skip
    response = client.post("/concerns/new", data=form)
    assert response.status_code == 200
    assert "这个地点已有类似的未办结诉求" in page_text(response)
    assert len(store.list("concern")) == 3  # nothing saved yet

    response = client.post("/concerns/new", data=dict(form, support_of=["", ids["pipe"]]))
    assert response.headers["Location"] == f"/concerns/{ids['pipe']}"
    [voice] = store.list("follow_up")
    assert voice["fields"]["kind"] == "support" and voice["fields"]["subject_id"] == ids["pipe"]
    assert "1 人附议" in page_text(client.get(f"/concerns/{ids['pipe']}"))

    response = client.post("/concerns/new", data=dict(form, confirm_new="1"))
    assert response.status_code == 302
    assert len(store.list("concern")) == 4


def test_a_new_concern_needs_a_title_and_a_category(client, store):
    response = client.post("/concerns/new", data={"title": "  ", "category": "", "note": ""})
    assert response.status_code == 422
    assert field_error(response, "title") == "必填"
    assert field_error(response, "category") == "请选择一项"
    response = client.post("/concerns/new", data={"title": "长" * 201, "category": "other"})
    assert field_error(response, "title") == "最多 200 个字"
    response = client.post(
        "/concerns/new", data={"title": "无名", "category": "other", "place_id": "no-such-place"}
    )
    assert field_error(response, "place_id") == "这个地点不存在了，请重新选择"
    assert store.list("concern") == []


def test_follow_up_notes_and_support_on_the_concern_page(client, store):
    _, _, ids = seed(store)
    url = f"/concerns/{ids['riders']}/follow-up"
    response = client.post(url, data={"kind": "call", "note": ""})
    assert response.status_code == 422 and field_error(response, "note") == "必填"
    assert client.post(url, data={"kind": "call", "note": "已电话联系物业"}).status_code == 302
    assert client.post(url, data={"kind": "support", "group": "worker"}).status_code == 302
    kinds = sorted(f["fields"]["kind"] for f in store.list("follow_up"))
    assert kinds == ["call", "support"]
    shown = page_text(client.get(f"/concerns/{ids['riders']}"))
    assert "已电话联系物业" in shown and "1 人附议" in shown


def test_unknown_concerns_places_and_visits_are_404_pages_not_errors(client):
    for url in ("/concerns/nope", "/places/nope", "/visits/nope", "/visits/nope/edit"):
        response = client.get(url)
        assert response.status_code == 404
        assert "找不到" in page_text(response)
    assert client.post("/concerns/nope/status", data={"status": "new"}).status_code == 404
    wrong = client.delete("/concerns")
    assert wrong.status_code == 405 and "请回到首页重试" in page_text(wrong)
    big = client.post("/places", data={"name": "大" * (3 * 1024 * 1024), "kind": "shop"})
    assert big.status_code == 413 and "请回到首页重试" in page_text(big)


def test_a_concern_can_be_edited_after_a_note_from_the_office(client, store):
    garden, _, ids = seed(store)
    url = f"/concerns/{ids['riders']}/edit"
    assert "骑手没有休息点" in client.get(url).get_data(as_text=True)
    form = {"title": "骑手没有休息点（常发大厦一楼）", "category": "social_services",
            "priority": "high", "place_id": garden, "responsible_unit": "街道"}  # fmt: skip
    assert client.post(url, data=form).status_code == 302
    fields = store.get("concern", ids["riders"])["fields"]
    assert fields["title"] == "骑手没有休息点（常发大厦一楼）"
    assert (fields["place_id"], fields["responsible_unit"]) == (garden, "街道")
    response = client.post(url, data=dict(form, title="", responsible_unit="单" * 201))
    assert field_error(response, "title") == "必填"
    assert field_error(response, "responsible_unit") == "最多 200 个字"
