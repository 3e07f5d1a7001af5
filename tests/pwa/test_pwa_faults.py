"""The field app under bad input and faults, in Chromium against a real office server process:
empty and over-long fields, a second tab at the same time, a full storage, a server that
answers 500 or not at all; and its layout at tablet and phone sizes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.field_ui.live import Office
from tests.pwa.app import enroll, fill_visit, record_visit, records, wait_for
from tests.pwa.screens import new_office

pytestmark = pytest.mark.browser

TABLET = {"width": 768, "height": 1024}


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    root = tmp_path_factory.mktemp("field-app-faults")
    office = new_office(root, codes=0)
    yield office
    office.stop()


@pytest.fixture
def server_view(office: Office, tmp_path: Path) -> Any:
    """What the server holds, read through the API pull of a second (Python) device."""
    device = office.enroll(tmp_path / "desk", office.cli("enroll-code", "liu")["code"])

    def held(record_type: str) -> list[dict[str, Any]]:
        return [r for r in office.records(device).values() if r["type"] == record_type]

    return held


def test_empty_and_over_long_fields_are_explained_and_nothing_half_saved(
    browser: Any, office: Office, server_view: Any
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    context = browser.new_context(viewport=TABLET, locale="zh-CN")
    page = context.new_page()
    enroll(page, office)
    page.click("#record-visit")
    page.click("#save-visit")  # nothing typed: the browser asks for the place first
    assert page.locator("#place_name").evaluate("e => e.validity.valueMissing")
    expect(page.locator("#visit-form")).to_be_visible()
    page.fill("#place_name", "   ")  # only spaces: the app says what is missing
    page.click("#save-visit")
    expect(page.locator("#form-error")).to_have_text("请填写：地点名称")

    page.fill("#place_name", "百盛家园")
    title = page.locator("input[name=concern_title]").first
    title.fill("长" * 300)  # typed or pasted: the field stops at the vocabulary's 200
    assert len(title.input_value()) == 200
    title.evaluate("e => { e.value = '长'.repeat(201); }")  # past the field's own limit
    page.click("#save-visit")
    expect(page.locator("#form-error")).to_have_text("诉求内容: 最多 200 个字")
    assert records(page, "visit") == [] and records(page, "place") == []

    title.fill("长" * 200)
    page.click("#save-visit")
    expect(page.locator("#sync-result")).to_contain_text("待同步")
    page.click("#sync")
    expect(page.locator("#sync-result")).to_have_text("同步完成：发送 3 条，收到 0 条新记录。")
    assert [c for c in server_view("concern") if c["fields"]["title"] == "长" * 200]
    context.close()


def test_server_500_and_timeout_keep_the_visit_queued_and_say_why(
    browser: Any, office: Office, server_view: Any
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    context = browser.new_context(viewport=TABLET, locale="zh-CN")
    page = context.new_page()
    page.clock.install()  # time runs as usual until the test jumps it past the request timeout
    enroll(page, office)
    record_visit(page, "锦绣花园", ["赵师傅"], ["楼道灯坏了"])
    pending = page.locator("#pending").inner_text()
    assert pending == "4"
    batches: list[str] = []

    def seen(request: Any) -> None:
        if request.url.endswith("/sync/push"):
            batches.append(json.loads(request.post_data)["batch_id"])

    page.on("request", seen)
    problem = {"type": "about:blank", "title": "Internal Server Error", "status": 500}
    page.route("**/api/v1/sync/push", lambda route: route.fulfill(status=500, json=problem))
    page.click("#sync")
    expect(page.locator("#sync-result")).to_have_text(
        "服务器出错了，记录仍保存在本机，稍后再同步。"
    )
    expect(page.locator("#pending")).to_have_text(pending)
    page.unroute_all()

    held: list[Any] = []
    page.route("**/api/v1/sync/push", lambda route: held.append(route))  # never answered
    page.click("#sync")
    expect(page.locator("#sync")).to_have_text("正在同步…")
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the push did not go out"
    page.clock.fast_forward(31_000)
    expect(page.locator("#sync-result")).to_have_text(
        "服务器没有及时回答，记录仍保存在本机，稍后再同步。"
    )
    expect(page.locator("#pending")).to_have_text(pending)
    page.unroute_all(behavior="ignoreErrors")

    page.click("#sync")
    expect(page.locator("#sync-result")).to_contain_text("同步完成：发送 4 条")
    expect(page.locator("#pending")).to_have_text("0")
    assert len(batches) == 3 and len(set(batches)) == 1  # one batch, sent until answered
    places = [p["id"] for p in server_view("place") if p["fields"]["name"] == "锦绣花园"]
    assert len(places) == 1
    assert len([v for v in server_view("visit") if v["fields"]["place_id"] == places[0]]) == 1
    assert len([c for c in server_view("concern") if c["fields"]["title"] == "楼道灯坏了"]) == 1
    context.close()


# Chromium 156 accepts CDP's Storage.overrideQuotaForOrigin but IndexedDB does not follow it,
# so the full disk is made at the browser's API: every IndexedDB write fails the way Chromium
# fails one over quota (a QuotaExceededError DOMException) while the page's flag is set.
FULL_DISK = """
for (const name of ["put", "add"]) {
  const real = IDBObjectStore.prototype[name];
  IDBObjectStore.prototype[name] = function (...args) {
    if (globalThis.diskFull) {
      throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
    }
    return real.apply(this, args);
  };
}
"""


def test_full_storage_says_so_keeps_the_form_and_loses_nothing(
    browser: Any, office: Office, server_view: Any
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    context = browser.new_context(viewport=TABLET, locale="zh-CN")
    context.add_init_script(FULL_DISK)
    page = context.new_page()
    enroll(page, office)
    record_visit(page, "阳光小区", ["孙大爷"], ["电梯经常停"])
    page.evaluate("() => { globalThis.diskFull = true; }")
    fill_visit(page, "阳光小区", ["周阿姨"], ["垃圾没人清"])
    page.click("#save-visit")
    expect(page.locator("#form-error")).to_have_text(
        "本机存储空间已满，这次没有保存，已有的记录都还在；请清理设备空间后再试。"
    )
    assert page.locator("input[name=concern_title]").first.input_value() == "垃圾没人清"
    assert len(records(page, "visit")) == 1 and len(records(page, "concern")) == 1
    # A sync that cannot write its answer stops with the same words; nothing half applied.
    page.click("#cancel-visit")
    page.click("#sync")
    expect(page.locator("#sync-result")).to_have_text(
        "本机存储空间已满，这次没有保存，已有的记录都还在；请清理设备空间后再试。"
    )
    expect(page.locator("#pending")).to_have_text("4")

    page.evaluate("() => { globalThis.diskFull = false; }")  # space freed
    fill_visit(page, "阳光小区", ["周阿姨"], ["垃圾没人清"])
    page.click("#save-visit")
    expect(page.locator("#sync-result")).to_contain_text("待同步")
    page.click("#sync")
    expect(page.locator("#sync-result")).to_contain_text("同步完成：发送 7 条")
    titles = [c["fields"]["title"] for c in server_view("concern")]
    assert titles.count("电梯经常停") == 1 and titles.count("垃圾没人清") == 1
    context.close()


def test_a_second_tab_waits_for_the_first_ones_sync_and_both_tabs_write_safely(
    browser: Any, office: Office, server_view: Any
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    context = browser.new_context(viewport=TABLET, locale="zh-CN")
    first = context.new_page()
    enroll(first, office)
    second = context.new_page()
    second.goto(f"{office.url}/field/")
    expect(second.locator("#pending")).to_have_text("0")
    # Both tabs save a visit at the same moment: each is kept whole, with its own stamps.
    fill_visit(first, "东湖小区", ["钱老师"], ["停车位太少"])
    fill_visit(second, "西湖小区", ["吴大姐"], ["路灯不亮"])
    first.evaluate("() => document.getElementById('save-visit').click()")
    second.evaluate("() => document.getElementById('save-visit').click()")
    expect(first.locator("#pending")).to_have_text("8")
    expect(second.locator("#pending")).to_have_text("8")
    visits = records(first, "visit")
    assert len(visits) == 2
    assert visits[0]["stamps"]["place_id"] != visits[1]["stamps"]["place_id"]

    # One tab syncs at a time: while the first holds the sync, the second says so.
    first.evaluate(
        """() => { navigator.locks.request("fieldsync-sync",
        () => new Promise((done) => { globalThis.release = done; })); }"""
    )
    wait_for(first, "() => typeof globalThis.release === 'function'")
    second.click("#sync")
    expect(second.locator("#sync-result")).to_have_text("另一个窗口正在同步，请稍候。")
    expect(second.locator("#pending")).to_have_text("8")
    first.evaluate("() => globalThis.release()")
    second.click("#sync")
    expect(second.locator("#sync-result")).to_contain_text("同步完成：发送 8 条")
    expect(first.locator("#pending")).to_have_text("0")  # the other tab's home follows

    # Both press Sync together: one syncs, the other waits its turn; nothing is sent twice.
    record_visit(first, "东湖小区", [], ["井盖松动"])
    first.evaluate("() => document.getElementById('sync').click()")
    second.evaluate("() => document.getElementById('sync').click()")
    expect(first.locator("#pending")).to_have_text("0")
    expect(second.locator("#pending")).to_have_text("0")
    titles = [c["fields"]["title"] for c in server_view("concern")]
    for title in ("停车位太少", "路灯不亮", "井盖松动"):
        assert titles.count(title) == 1, title
    context.close()


CHECK_LAYOUT = """() => {
  const wide = document.documentElement.scrollWidth > window.innerWidth;
  const small = [...document.querySelectorAll("button, input, select, a, summary")]
    .filter((e) => e.offsetParent !== null && e.type !== "hidden")
    .map((e) => [e.id || e.name || e.textContent.trim(), e.getBoundingClientRect()])
    .filter(([, r]) => r.height < 44 || r.width < 44)
    .map(([name, r]) => `${name} ${Math.round(r.width)}x${Math.round(r.height)}`);
  return { wide, small };
}"""


@pytest.mark.parametrize("size", [(1024, 768), (768, 1024), (390, 844)])
def test_layout_fits_the_screen_with_large_touch_targets(
    browser: Any, office: Office, size: tuple[int, int]
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{office.url}/field/")
    expect(page.locator("#enroll")).to_be_visible(timeout=20_000)
    screens = {"enroll": page.evaluate(CHECK_LAYOUT)}
    enroll(page, office)
    record_visit(page, "百盛家园", ["王阿姨"], ["污水管道经常破裂"])
    screens["home"] = page.evaluate(CHECK_LAYOUT)
    fill_visit(page, "百盛家园", ["王阿姨", "李师傅"], ["小区没有物业公司", "路面坑洼"])
    screens["visit form"] = page.evaluate(CHECK_LAYOUT)
    page.click("#lang")
    screens["visit form, English"] = page.evaluate(CHECK_LAYOUT)
    for name, found in screens.items():
        assert not found["wide"], f"{name} scrolls sideways at {size}"
        assert not found["small"], f"{name} at {size}: {found['small']}"
    context.close()
