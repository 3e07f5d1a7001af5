"""Home and sync, the place page, search, what needs attention, language, CSRF."""

from __future__ import annotations

import json
import re
from pathlib import Path

from field_client.web import create_app, i18n
from sync.records import RECORD_TYPES
from sync.vocabulary import Fault
from sync.wire import Rejection
from tests.field_ui.conftest import NOW, START_MS, TZ, field_error, page_text

SERVER_TIME = f"{START_MS:013d}-000000-office"
TEMPLATES = Path(__file__).parents[2] / "field_client" / "web" / "templates"


def push_answer(store, reject=None, conflict=None):
    """Push the outbox as one batch and apply a server answer with a rejection and a conflict."""
    batch_id, body = store.next_batch()
    index = {c["id"]: i for i, c in enumerate(body["changes"])}
    rejected = [dict(r, index=index[r["id"]]) for r in ([reject] if reject else [])]
    answer = {"batch_id": batch_id, "applied": len(body["changes"]) - len(rejected),
              "unchanged": 0, "rejected": rejected, "conflicts": [conflict] if conflict else [],
              "server_time": SERVER_TIME}  # fmt: skip
    return store.apply_push_response(batch_id, answer)


def test_home_shows_pending_last_sync_and_the_sync_button(client, store):
    store.create("place", {"kind": "compound", "name": "百盛家园"})
    shown = page_text(client.get("/"))
    assert "待同步 1 条" in shown
    assert "从未同步" in shown
    assert "立即同步" in shown
    status = client.get("/status.json?check=1").json
    assert status["pending"] == 1 and status["server"] == "down"
    assert status["server_text"] == "无法连接"


def test_a_sync_with_no_server_keeps_everything_and_says_so(client, app, store):
    store.create("place", {"kind": "compound", "name": "百盛家园"})
    started = client.post("/sync", headers={"Accept": "application/json"}).json
    assert started["started"] is True
    app.extensions["fieldsync_web"].jobs.wait(30)
    job = client.get("/sync/status").json
    assert job["state"] == "done" and job["ok"] is False
    assert job["message"] == "无法连接服务器，所有记录已保存在本机，稍后再同步。"
    assert store.status()["pending"] == 1
    assert "无法连接服务器" in page_text(client.get("/"))


def test_a_finished_sync_is_told_in_plain_words(store, tmp_path):
    def runner(progress):
        progress("push", 3, 3)
        progress("pull", 7, 0)
        returned.append(0)  # the office returns two notes on the first sync only
        return {"sent": 3, "received": 7, "new": 4, "conflicts": 1, "rejected": 2,
                "returned": 2 if len(returned) == 1 else 0}  # fmt: skip

    returned: list[int] = []
    app = create_app(store.home, store=store, now=lambda: NOW, tz=TZ, runner=runner)
    app.config.update(WTF_CSRF_ENABLED=False)
    client = app.test_client()
    assert client.post("/sync").status_code == 302
    app.extensions["fieldsync_web"].jobs.wait(10)
    job = client.get("/sync/status").json
    assert job["message"] == (
        "已发送 3 条，收到 4 条新记录，1 处冲突交由办公室处理，2 条需要修改，"
        "办公室退回 2 条需修改。"
    )
    assert job["rejected"] == 2 and job["ok"] is True
    assert job["stages"] == ["push", "pull"] and job["stages_text"] == "正在发送 → 正在接收"
    client.set_cookie("fieldsync_lang", "en")
    job = client.get("/sync/status").json
    assert job["message"] == (
        "Sent 3, received 4 new, 1 conflicts for the office, 2 changes to fix, "
        "the office sent back 2 to change."
    )
    client.post("/sync")
    app.extensions["fieldsync_web"].jobs.wait(10)
    job = client.get("/sync/status").json  # nothing came back: no "0 ..." clause
    assert (
        job["message"] == "Sent 3, received 4 new, 1 conflicts for the office, 2 changes to fix."
    )


def test_a_sync_that_breaks_says_why_in_one_sentence(store):
    def runner(progress):
        return {
            "failed": True,
            "error": "device_revoked",
            "reason_key": "device_revoked",
        }

    app = create_app(store.home, store=store, now=lambda: NOW, tz=TZ, runner=runner)
    app.config.update(WTF_CSRF_ENABLED=False)
    client = app.test_client()
    client.post("/sync")
    app.extensions["fieldsync_web"].jobs.wait(10)
    job = client.get("/sync/status").json
    assert job["state"] == "failed"
    assert (
        job["message"]
        == "同步没有完成：本设备已被办公室停用，请联系办公室。所有记录仍保存在本机。"
    )


def test_an_unknown_error_code_is_still_one_sentence(store):
    app = create_app(store.home, store=store, runner=lambda progress: {"error": "rate_limited"})
    app.config.update(WTF_CSRF_ENABLED=False)
    client = app.test_client()
    client.post("/sync")
    app.extensions["fieldsync_web"].jobs.wait(10)
    job = client.get("/sync/status").json
    assert (
        job["message"]
        == "同步没有完成：服务器没有接受这次同步（rate_limited）。所有记录仍保存在本机。"
    )


def test_the_place_page_shows_open_concerns_visits_and_projects(client, store):
    garden = store.create("place", {"kind": "compound", "name": "百盛家园", "address": "宝塔路"})
    store.create("concern", {"title": "污水管道经常破裂", "place_id": garden, "status": "new"})
    store.create("concern", {"title": "路灯不亮", "place_id": garden, "status": "confirmed"})
    store.create(
        "visit",
        {"kind": "home_visit", "title": "入户走访", "place_id": garden,
         "started_at": "2026-05-20T09:00:00+08:00"},
    )  # fmt: skip
    store.create("project", {"title": "雨污分流改造", "place_id": garden, "progress": 60})
    shown = page_text(client.get(f"/places/{garden}"))
    assert "进门之前看一看" in shown
    assert "污水管道经常破裂" in shown and "路灯不亮" not in shown
    assert "入户走访" in shown and "2026-05-20 09:00" in shown
    assert "雨污分流改造" in shown and "进度 60%" in shown
    assert "百盛家园" in page_text(client.get("/places"))


def test_places_can_be_created_and_bad_names_are_refused(client, store):
    response = client.post("/places", data={"name": "", "kind": "compound", "address": "某路"})
    assert response.status_code == 422 and field_error(response, "name") == "必填"
    assert 'value="某路"' in response.get_data(as_text=True)
    response = client.post("/places", data={"name": "名" * 201, "kind": "compound"})
    assert field_error(response, "name") == "最多 200 个字"
    response = client.post("/places", data={"name": "常发大厦", "kind": "building"})
    assert response.status_code == 302
    assert store.list("place")[0]["fields"]["name"] == "常发大厦"


def test_search_finds_chinese_substrings_across_types(client, store):
    garden = store.create("place", {"kind": "compound", "name": "百盛家园"})
    store.create("party", {"kind": "resident", "name": "王秀英", "place_id": garden})
    store.create("visit", {"kind": "forum", "title": "骑手座谈会", "summary": "谈到休息点"})
    store.create("concern", {"title": "骑手没有休息点", "place_id": garden})
    shown = page_text(client.get("/search?q=休息点"))
    assert "骑手座谈会" in shown and "骑手没有休息点" in shown and "王秀英" not in shown
    assert "王秀英" in page_text(client.get("/search?q=秀英"))
    assert "百盛家园" in page_text(client.get("/search?q=盛家"))
    assert "没有找到“不存在的词”。" in page_text(client.get("/search?q=不存在的词"))


def test_rejected_changes_show_the_reason_in_chinese_and_can_be_fixed(client, store):
    garden = store.create("place", {"kind": "compound", "name": "百盛家园"})
    cid = store.create("concern", {"title": "污水管道经常破裂", "category": "infrastructure"})
    rules = RECORD_TYPES["concern"].rules  # the server's answer, with codes as the server sends
    errors = {"title": [rules["title"].check("长" * 201)], "category": [Fault("not_a_choice")]}
    reject = json.loads(json.dumps(Rejection(0, "concern", cid, errors).to_json()))
    counts = push_answer(store, reject=reject)
    assert counts["rejected"] == 1
    shown = page_text(client.get("/attention"))
    assert "需要修改的记录" in shown
    assert "标题：最多 200 个字" in shown and "类别：不是允许的选项" in shown
    assert "1" in page_text(client.get("/"))  # the nav badge counts it
    [item] = store.rejected()
    url = f"/attention/rejected/{item['id']}"
    assert "污水管道经常破裂" in client.get(url).get_data(as_text=True)

    response = client.post(url, data={"f_title": "", "f_category": "infrastructure"})
    assert response.status_code == 422 and field_error(response, "title") == "必填"
    response = client.post(url, data={"f_title": "污水管破裂", "f_category": "nope"})
    assert field_error(response, "category") == "请选择一项"
    assert 'value="污水管破裂"' in response.get_data(as_text=True)
    fixed = {"f_title": "污水管破裂", "f_category": "infrastructure"}
    assert client.post(url, data=fixed).status_code == 302
    assert store.rejected() == []
    assert store.get("concern", cid)["fields"]["title"] == "污水管破裂"
    assert {e["field"] for e in store.pending()} == {"title", "category"}
    assert client.get(url).status_code == 404  # already fixed
    assert garden


def test_a_refused_reference_is_fixed_by_picking_a_local_place(client, store):
    garden = store.create("place", {"kind": "compound", "name": "百盛家园"})
    push_answer(store)
    cid = store.create("concern", {"title": "井盖松动", "place_id": garden})
    reason = {"place_id": [Fault("foreign_ref")]}
    push_answer(
        store, reject=json.loads(json.dumps(Rejection(0, "concern", cid, reason).to_json()))
    )
    assert "地点：引用了不属于本工作区的记录" in page_text(client.get("/attention"))
    [item] = store.rejected()
    form = client.get(f"/attention/rejected/{item['id']}").get_data(as_text=True)
    assert f'<option value="{garden}"' in form
    data = {"f_title": "井盖松动", "f_place_id": garden}
    assert client.post(f"/attention/rejected/{item['id']}", data=data).status_code == 302
    assert store.rejected() == []


def test_store_refusals_are_named_next_to_the_field_and_at_the_top(app):
    from field_client.errors import ValidationError
    from field_client.web.capture import store_errors

    with app.test_request_context("/"):
        found = store_errors(ValidationError("invalid", {"lat": [Fault("not_number")]}))
    assert found == {"lat": "必须是数字", "_": "纬度：必须是数字"}


def test_conflicts_and_office_notes_are_listed(client, store):
    cid = store.create("concern", {"title": "没有物业", "status": "resolved"})
    vid = store.create("visit", {"kind": "forum", "title": "骑手座谈会"})
    conflict = {"id": "c-1", "type": "concern", "record_id": cid, "field": "status",
                "kept": {"value": "in_progress", "stamp": SERVER_TIME},
                "other": {"value": "resolved", "stamp": SERVER_TIME}}  # fmt: skip
    push_answer(store, conflict=conflict)
    visit = store.get("visit", vid)
    fields = dict(visit["fields"], review_status="needs_changes", review_note="请补充到场人数")
    stamps = dict(visit["stamps"], review_status=SERVER_TIME, review_note=SERVER_TIME)
    page = {"records": [dict(visit, fields=fields, stamps=stamps)], "cursor": "c1",
            "more": False, "server_time": SERVER_TIME}  # fmt: skip
    store.apply_pull_page(page)
    shown = page_text(client.get("/attention"))
    assert "办公室正在处理的冲突" in shown and "状态" in shown
    assert "办理中" in shown and "已办结" in shown  # both values, by their labels
    assert "办公室的修改意见" in shown and "请补充到场人数" in shown and "需修改" in shown
    assert "请补充到场人数" in page_text(client.get(f"/visits/{vid}"))


def test_language_switch_translates_the_pages(client, store):
    store.create("place", {"kind": "compound", "name": "百盛家园"})
    response = client.get("/lang/en?next=/concerns")
    assert response.headers["Location"] == "/concerns"
    shown = page_text(client.get("/visits/new"))
    assert "Record a visit" in shown and "Home visit" in shown and "记录走访" not in shown
    client.get("/lang/xx?next=//evil.example/")
    assert "Record a visit" in page_text(client.get("/visits/new"))
    client.get("/lang/zh")
    assert "记录一次走访" in page_text(client.get("/visits/new"))


def test_the_device_language_setting_is_the_default(store, monkeypatch):
    monkeypatch.setenv("FIELDSYNC_LANG", "en")
    client = create_app(store.home, store=store, check=lambda: False).test_client()
    assert "Sync now" in page_text(client.get("/"))
    client.set_cookie("fieldsync_lang", "zh")
    assert "立即同步" in page_text(client.get("/"))


def test_forms_need_the_page_token(store):
    app = create_app(store.home, store=store, now=lambda: NOW, tz=TZ, check=lambda: False)
    client = app.test_client()
    response = client.post("/places", data={"name": "常发大厦", "kind": "building"})
    assert response.status_code == 400 and "页面已过期" in page_text(response)
    assert store.list("place") == []
    html = client.get("/places").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    data = {"name": "常发大厦", "kind": "building", "csrf_token": token}
    assert client.post("/places", data=data).status_code == 302
    assert client.post("/sync", headers={"Accept": "application/json"}).status_code == 400


def test_a_form_still_posts_after_the_ui_restarts(store):
    first = create_app(store.home, store=store, check=lambda: False).test_client()
    html = first.get("/places").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    second = create_app(store.home, store=store, check=lambda: False).test_client()
    second.set_cookie("session", first.get_cookie("session").value)
    data = {"name": "常发大厦", "kind": "building", "csrf_token": token}
    assert second.post("/places", data=data).status_code == 302
    assert (store.home / "web-secret").stat().st_mode & 0o777 == 0o600


def test_an_unenrolled_device_says_how_to_enroll_instead_of_failing(tmp_path):
    app = create_app(tmp_path / "fresh", now=lambda: NOW, tz=TZ)
    app.config.update(WTF_CSRF_ENABLED=False)
    client = app.test_client()
    assert "fieldsync init" in page_text(client.get("/"))
    response = client.post("/places", data={"name": "常发大厦", "kind": "building"})
    assert response.status_code == 503 and "尚未注册" in page_text(response)


def test_every_name_group_of_the_templates_exists():
    # the templates' sentences are in the field client's catalogue (tests/test_catalogues.py)
    groups = set(re.findall(r"L\('([a-z_]+)'", "".join(
        p.read_text(encoding="utf-8") for p in TEMPLATES.glob("*.html"))))  # fmt: skip
    assert groups and not groups - {*i18n.GROUPS, "field", "record_type"}


def test_every_asset_is_local():
    web = TEMPLATES.parent
    for path in [
        *web.glob("templates/*.html"),
        *web.glob("static/*.css"),
        *web.glob("static/*.js"),
    ]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text, re.I), path.name
        assert "@import" not in text and "@font-face" not in text, path.name


def test_the_protocols_rule_messages_show_in_the_page_language():
    fault = RECORD_TYPES["concern"].rules["title"].check("长" * 201)
    assert i18n.fault("zh", fault) == "最多 200 个字"
    assert i18n.fault("en", fault) == "must be at most 200 characters"
    assert i18n.fault("zh", "something new from a later server") == (
        "something new from a later server"
    )
