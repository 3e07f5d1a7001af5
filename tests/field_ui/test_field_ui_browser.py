"""The field UI in Debian's Chromium at tablet sizes, against a real office server process.

Offline first: with the office server stopped, a visit with two concerns is recorded and waits;
a sync says it could not reach the server. Then the server starts, Sync shows its progress and
result, and the visit is on the server. A change the server refuses is fixed from the page.
Screenshots go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from field_client.web import create_app
from tests.field_ui.live import FieldUI, Office, chromium_session, sync

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).parents[2] / "artifacts" / "screenshots"
OFFLINE = "无法连接服务器，所有记录已保存在本机，稍后再同步。"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium_session()


STORIES = {
    "landscape": {
        "size": (1024, 768),
        "place": "百盛家园",
        "place_kind": "compound",
        "kind": "入户走访",
        "title": "百盛家园入户走访",
        "concerns": ("污水管道经常破裂", "小区没有物业公司"),
        "similar": "污水管道又破了",
    },
    "portrait": {
        "size": (768, 1024),
        "place": "常发大厦",
        "place_kind": "building",
        "kind": "座谈会",
        "title": "听新声 商圈说 座谈会",
        "concerns": ("骑手没有休息的地方", "快递车没处停放"),
        "similar": "骑手休息的地方太少",
    },
}


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    """One office server for the module: two workspaces, a place in the other one, and an
    enrollment code per story (the server runs; each test stops and restarts it)."""
    root = tmp_path_factory.mktemp("field-ui-office")
    office = Office(root / "office")
    office.cli("init", "--workspace", "庄泉社区", "--admin", "admin", "--password", "admin-pass-1")
    office.cli("workspace", "add", "另一个社区")
    office.cli("user", "add", "liu", "--workspace", "庄泉社区", "--role", "representative")
    office.cli("user", "add", "zhao", "--workspace", "另一个社区", "--role", "representative")
    # One CLI process at a time: they all write the same SQLite file.
    office.codes = [office.cli("enroll-code", "liu")["code"] for _ in [*STORIES, "home", "pad"]]
    other_code = office.cli("enroll-code", "zhao")["code"]
    office.start()
    other = office.enroll(root / "other", other_code)
    office.foreign_place = other.create("place", {"kind": "compound", "name": "外区小区"})
    assert sync(other, office.url).sent == 1
    yield office
    office.stop()


def nav(page: Any, name: str) -> None:
    """Tap a tab of the top bar."""
    page.locator("nav.nav").get_by_role("link", name=name).click()


def record_visit(page: Any, expect: Any, story: dict[str, Any]) -> None:
    """Fill in the visit form as a representative would: kind, place, person, two concerns."""
    nav(page, "记走访")
    page.locator("label.chip", has_text=story["kind"]).click()
    page.fill("#f-title", story["title"])
    page.fill("#f-place_name", story["place"])
    page.select_option("#f-new_place_kind", story["place_kind"])
    page.locator("input[name=person_name]").first.fill("王阿姨")
    page.fill("#f-summary", "大家反映的问题都记下了，回去交办公室。")
    first, second = story["concerns"]
    titles = page.locator("input[name=concern_title]")
    titles.nth(0).fill(first)
    page.locator("select[name=concern_category]").nth(0).select_option("infrastructure")
    page.click("#add-concern")
    titles.nth(1).fill(second)
    page.locator("select[name=concern_category]").nth(1).select_option("property_management")
    page.locator("select[name=concern_priority]").nth(1).select_option("high")
    expect(titles).to_have_count(2)


def press_sync(page: Any, expect: Any, result: str | re.Pattern[str]) -> None:
    """Tap Sync, see the progress, then the one-sentence result."""
    page.click("#sync-button")
    expect(page.locator("#sync-progress")).to_be_visible()
    expect(page.locator("#sync-result")).to_have_text(result, timeout=20_000)
    expect(page.locator("#sync-progress")).to_be_hidden()


@pytest.mark.parametrize("name", list(STORIES))
def test_record_offline_sync_and_fix_a_refused_change(
    browser, office, tmp_path, monkeypatch, name
):
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)  # a loaded 2-core machine runs other suites too
    story = STORIES[name]
    width, height = story["size"]
    suffix = f"{width}x{height}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    if office.process is None:
        office.start()
    device = office.enroll(tmp_path / "device", office.codes.pop())
    office.stop()  # from here on the representative is out in the field

    monkeypatch.setenv("FIELDSYNC_RETRIES", "0")
    ui = FieldUI(create_app(device.home, store=device))
    page = browser.new_page(viewport={"width": width, "height": height}, locale="zh-CN")
    try:
        page.goto(ui.url + "/")
        expect(page.locator("#server-state")).to_contain_text("无法连接")
        expect(page.locator("#pending-count")).to_have_text(re.compile(r"^0"))

        record_visit(page, expect, story)
        page.screenshot(path=str(SHOTS / f"field-visit-concerns-{suffix}.png"))
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(SHOTS / f"field-visit-form-{suffix}.png"))
        page.click("#save-visit")
        expect(page.locator(".flash")).to_contain_text("走访已保存，另有 2 条诉求")
        expect(page.locator("li .tag.pending")).to_have_count(2)

        nav(page, "首页")
        expect(page.locator("#pending-count")).to_have_text(re.compile(r"^5"))
        press_sync(page, expect, OFFLINE)
        expect(page.locator("#pending-count")).to_have_text(re.compile(r"^5"))

        office.start()
        page.reload()
        expect(page.locator("#server-state")).to_contain_text("可以连接")
        done = re.compile(r"^已发送 5 条，收到 \d+ 条新记录。$")  # what other devices sent
        press_sync(page, expect, done)
        expect(page.locator("#pending-count")).to_have_text(re.compile(r"^0"))
        expect(page.locator("#last-sync")).not_to_have_text("从未同步")
        expect(page.locator("#recent-visits-card .tag.pending")).to_have_count(0)
        page.screenshot(path=str(SHOTS / f"field-home-{suffix}.png"))

        held = office.records(device)
        [visit] = [r for r in held.values() if r["fields"].get("title") == story["title"]]
        place = held[visit["fields"]["place_id"]]
        assert place["fields"]["name"] == story["place"]
        concerns = {
            r["fields"]["title"]: r
            for r in held.values()
            if r["type"] == "concern" and r["fields"].get("visit_id") == visit["id"]
        }
        assert set(concerns) == set(story["concerns"])
        assert all(c["fields"]["place_id"] == place["id"] for c in concerns.values())

        # A change that points into another workspace is refused; it is fixed on the page.
        first = concerns[story["concerns"][0]]["id"]
        device.update("concern", first, {"place_id": office.foreign_place})
        press_sync(page, expect, re.compile(r"1 条需要修改。$"))
        page.click("#sync-fix")
        expect(page.locator("#rejected")).to_contain_text("地点：引用了不属于本工作区的记录")
        page.screenshot(path=str(SHOTS / f"field-attention-{suffix}.png"))
        page.locator("#rejected").get_by_role("link", name="修改").click()
        page.select_option("#f-place_id", label=story["place"])
        page.click("#save-fix")
        expect(page.locator(".flash")).to_contain_text("已修改，将在下次同步时发送")
        nav(page, "首页")
        press_sync(page, expect, re.compile(r"^已发送 1 条，收到 0 条新记录。$"))
        assert office.records(device)[first]["fields"]["place_id"] == place["id"]

        nav(page, "地点")
        page.locator("a.tile", has_text=story["place"]).click()
        expect(page.locator("#open-concerns li")).to_have_count(2)
        expect(page.locator("#recent-visits")).to_contain_text(story["title"])
        page.screenshot(path=str(SHOTS / f"field-place-{suffix}.png"), full_page=True)
        place_page = page.url

        # On a visit from the place page, a concern the place already has becomes a 附议.
        with page.expect_navigation(wait_until="load"):  # the suggestions bind on load
            page.get_by_role("link", name="在这里记走访").click()
        expect(page.locator("#recent-places input:checked")).to_have_count(1)
        page.locator("input[name=concern_title]").first.fill(story["similar"])
        box = page.locator("[data-similar]").first
        expect(box).to_contain_text(story["concerns"][0])
        box.get_by_role("button", name="附议这一条").click()
        page.click("#save-visit")
        expect(page.locator(".flash")).to_contain_text("另有 0 条新诉求、1 条附议")
        page.goto(place_page)

        # Typing a concern this place already has offers a further voice (附议) instead.
        with page.expect_navigation(wait_until="load"):
            page.get_by_role("link", name="在这里登记诉求").click()
        page.fill("#f-title", story["similar"])
        expect(page.locator("#similar-box")).to_contain_text(story["concerns"][0])
        page.locator("#similar-box").get_by_role("button", name="附议这一条").click()
        page.select_option("#f-category", "infrastructure")
        page.click("#save-concern")
        expect(page.locator(".flash")).to_contain_text("已附议")
        expect(page.locator("h1")).to_have_text(story["concerns"][0])
        expect(page.locator(".page-head")).to_contain_text("2 人附议")  # the visit's and this
    finally:
        page.close()
        ui.close()


def office_review(browser: Any, office: Office, notes: dict[str, tuple[str, str]]) -> None:
    """Send records back to the representative with a note, as office staff on the office pages."""
    page = browser.new_page(locale="zh-CN")
    try:
        page.goto(office.url + "/login")
        page.fill("#username", "admin")
        page.fill("#password", "admin-pass-1")
        page.locator("#password").press("Enter")
        page.wait_for_load_state()
        for record_id, (record_type, note) in notes.items():
            page.goto(f"{office.url}/review?type={record_type}")
            block = page.locator(f'[data-review="{record_id}"]')
            block.locator("input[name=review_note]").fill(note)
            block.locator("button[value=needs_changes]").click()
            page.wait_for_load_state()
    finally:
        page.close()


def test_home_page_updates_in_place_after_a_sync(browser, office, tmp_path, monkeypatch):
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    if office.process is None:
        office.start()
    device = office.enroll(tmp_path / "device", office.codes.pop())
    sync(device, office.url)  # what other devices sent before is not news to this one
    visit = device.create("visit", {"kind": "forum", "title": "骑手座谈会"})
    concern = device.create("concern", {"title": "骑手没有休息的地方", "visit_id": visit})
    monkeypatch.setenv("FIELDSYNC_RETRIES", "0")
    ui = FieldUI(create_app(device.home, store=device))
    page = browser.new_page(viewport={"width": 1024, "height": 768}, locale="zh-CN")
    try:
        page.goto(ui.url + "/")
        expect(page.locator("#pending-count")).to_have_text(re.compile(r"^2"))
        expect(page.locator("#attention-badge")).to_have_count(0)
        expect(page.locator("#conflict-count")).to_have_count(0)
        page.evaluate("window.notReloaded = true")

        press_sync(page, expect, "已发送 2 条，收到 0 条新记录。")  # its own two are not news
        expect(page.locator("#pending-count")).to_have_text(re.compile(r"^0"))
        stages = page.locator("#sync-card").get_attribute("data-stages") or ""
        assert stages.split() == ["blobs", "push", "pull", "conflicts", "done"], stages

        office_review(browser, office, {visit: ("visit", "请补充到场人数"),
                                        concern: ("concern", "请写明地点")})  # fmt: skip
        pad = office.enroll(tmp_path / "pad", office.codes.pop())  # a colleague's tablet
        sync(pad, office.url)
        device.update("concern", concern, {"status": "accepted"})
        pad.update("concern", concern, {"status": "deferred"})
        assert sync(pad, office.url).sent == 1
        press_sync(page, expect, "已发送 1 条，收到 2 条新记录，1 处冲突交由办公室处理，"
                                 "办公室退回 2 条需修改。")  # fmt: skip
        expect(page.locator("#pending-count")).to_have_text(re.compile(r"^0"))
        expect(page.locator("#attention-badge")).to_have_text("2")
        expect(page.locator("#attention-summary")).to_contain_text("2 项需要您处理")
        expect(page.locator("#conflict-count")).to_have_text("另有 1 处冲突由办公室处理")
        assert page.evaluate("window.notReloaded") is True  # all of it without a reload
        page.screenshot(path=str(SHOTS / "field-home-after-sync-1024x768.png"))
    finally:
        page.close()
        ui.close()
