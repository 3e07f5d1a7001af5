"""The field app's sync against a real office server process and a Python field client device:
a conflict made offline reaches the office queue and its resolution reaches the app; closing
the browser in the middle of a sync (the push sent, its answer not yet back) loses nothing and
doubles nothing once the app is opened again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.field_ui.live import CHROMIUM, CHROMIUM_ARGS, Office, sync
from tests.pwa.app import enroll, record_visit, records
from tests.pwa.screens import new_office, sign_in

pytestmark = pytest.mark.browser

TABLET = {"width": 768, "height": 1024}


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    root = tmp_path_factory.mktemp("field-app-sync")
    office = new_office(root, codes=0)
    yield office
    office.stop()


def test_a_conflict_with_a_python_device_is_resolved_in_the_office_and_reaches_the_app(
    browser: Any, office: Office, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    desk = office.enroll(tmp_path / "desk", office.cli("enroll-code", "liu")["code"])
    place = desk.create("place", {"kind": "compound", "name": "百盛家园"})
    concern = desk.create("concern", {
        "title": "电梯经常停", "category": "infrastructure", "status": "new",
        "priority": "normal", "place_id": place, "raised_on": "2026-12-01",
    })  # fmt: skip
    sync(desk, office.url)

    context = browser.new_context(viewport=TABLET, locale="zh-CN")
    page = context.new_page()
    enroll(page, office)
    page.click("#sync")  # pulls the concern
    expect(page.locator("#sync-result")).to_contain_text("同步完成")
    context.set_offline(True)
    page.goto(f"{office.url}/field/#concern={concern}")
    expect(page.locator("#concern-title")).to_have_text("电梯经常停")
    page.click("[data-step=resolved]")  # offline, on the tablet: 已解决
    for _ in range(100):  # kept on the tablet before the other device's edit (a later stamp)
        if [r["fields"]["status"] for r in records(page, "concern")] == ["resolved"]:
            break
        page.wait_for_timeout(50)
    assert [r["fields"]["status"] for r in records(page, "concern")] == ["resolved"]
    # Meanwhile, on the Python device, the same concern's status becomes 处理中 and syncs first.
    desk.update("concern", concern, {"status": "in_progress"})
    sync(desk, office.url)

    context.set_offline(False)
    page.goto(f"{office.url}/field/")
    page.click("#sync")
    expect(page.locator("#sync-result")).to_contain_text("有 1 处与他人的修改冲突")
    assert [r["fields"]["status"] for r in records(page, "concern")] == ["in_progress"]

    admin = sign_in(browser, office)
    admin.goto(office.url + "/conflicts")
    card = admin.locator(".conflict-card")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("电梯经常停")
    card.locator("input[value=custom]").check()
    card.locator("select[name=custom]").select_option("deferred")  # the office decides: 暂缓
    card.locator("button[type=submit]").click()
    expect(admin.locator("[data-empty]")).to_be_visible()
    admin.close()

    page.click("#sync")
    expect(page.locator("#sync-result")).to_have_text("同步完成：发送 0 条，收到 1 条新记录。")
    assert [r["fields"]["status"] for r in records(page, "concern")] == ["deferred"]
    page.goto(f"{office.url}/field/#concern={concern}")
    expect(page.locator("#concern")).to_contain_text("暂缓")
    context.close()
    sync(desk, office.url)
    assert desk.get("concern", concern)["fields"]["status"] == "deferred"


def test_closing_the_browser_mid_sync_loses_nothing_and_doubles_nothing(
    browser: Any, office: Office, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    profile = tmp_path / "profile"  # a persistent profile: storage survives the browser
    launch = {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "viewport": TABLET,
              "locale": "zh-CN"}  # fmt: skip
    batches: list[str] = []

    def seen(request: Any) -> None:
        if request.url.endswith("/sync/push"):
            batches.append(json.loads(request.post_data)["batch_id"])

    context = browser.browser_type.launch_persistent_context(str(profile), **launch)
    page = context.pages[0] if context.pages else context.new_page()
    page.on("request", seen)
    enroll(page, office)
    record_visit(page, "锦绣花园", ["赵师傅"], ["楼道灯坏了", "门禁坏了"])
    expect(page.locator("#pending")).to_have_text("5")
    answered: list[int] = []

    def swallow(route: Any) -> None:
        answered.append(route.fetch().status)  # the office takes the push and answers...
        # ...and the answer never reaches the app: the browser is closed before it does.

    page.route("**/api/v1/sync/push", swallow)
    page.click("#sync")
    for _ in range(200):
        if answered:
            break
        page.wait_for_timeout(50)
    assert answered == [200]
    context.close()

    desk = office.enroll(tmp_path / "desk", office.cli("enroll-code", "liu")["code"])
    held = office.records(desk)
    titles = [r["fields"]["title"] for r in held.values() if r["type"] == "concern"]
    assert titles.count("楼道灯坏了") == 1 and titles.count("门禁坏了") == 1  # at the office

    context = browser.browser_type.launch_persistent_context(str(profile), **launch)
    page = context.pages[0] if context.pages else context.new_page()
    page.on("request", seen)
    page.goto(f"{office.url}/field/")
    expect(page.locator("#pending")).to_have_text("5")  # unanswered: still queued here
    page.click("#sync")
    expect(page.locator("#sync-result")).to_contain_text("同步完成：发送 5 条")
    expect(page.locator("#pending")).to_have_text("0")
    assert len(batches) == 2 and batches[0] == batches[1]  # the same batch, answered once
    mine = [r["fields"]["title"] for r in records(page, "concern")]
    assert mine.count("楼道灯坏了") == 1 and mine.count("门禁坏了") == 1
    assert len(records(page, "visit")) == 1
    context.close()

    held = office.records(desk)
    titles = [r["fields"]["title"] for r in held.values() if r["type"] == "concern"]
    assert titles.count("楼道灯坏了") == 1 and titles.count("门禁坏了") == 1
    places = [r["id"] for r in held.values() if r["type"] == "place"
              and r["fields"]["name"] == "锦绣花园"]  # fmt: skip
    assert len(places) == 1
    visits = [r for r in held.values() if r["type"] == "visit"
              and r["fields"]["place_id"] == places[0]]  # fmt: skip
    assert len(visits) == 1
