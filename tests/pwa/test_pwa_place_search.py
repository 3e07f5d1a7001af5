"""The field app's place page (before you walk in) and search, in Chromium against a real office
server process: what a desk device recorded reaches the app by sync and shows there."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.field_ui.live import Office
from tests.pwa.screens import new_office, open_app, seed, shot, until

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    root = tmp_path_factory.mktemp("field-app-place")
    office = new_office(root)
    office.seeded = seed(office, root / "desk")[1]
    yield office
    office.stop()


def test_search_finds_chinese_names_places_and_concern_text(browser: Any, office: Office) -> None:
    from playwright.sync_api import expect

    context, page = open_app(browser, office, (1024, 768))
    page.click("#nav-search")
    page.fill("#q", "污水")
    expect(page.locator("#found-concerns")).to_contain_text("污水管道经常破裂")
    expect(page.locator("#found-places")).to_have_count(0)
    page.fill("#q", "阿姨")  # part of a name
    expect(page.locator("#found-people")).to_contain_text("王阿姨")
    expect(page.locator("#found-people")).to_contain_text("百盛家园")
    page.fill("#q", "盛家")  # the middle of a place's name
    expect(page.locator("#found-places")).to_contain_text("百盛家园")
    page.fill("#q", "下水道")  # a visit's summary
    expect(page.locator("#found-visits")).to_contain_text("百盛家园")
    page.fill("#q", "菜市场")  # a place and a concern both
    expect(page.locator("#found-places")).to_contain_text("东门菜市场")
    expect(page.locator("#found-concerns")).to_contain_text("菜市场垃圾清运不及时")
    page.fill("#q", "地铁")
    expect(page.locator("#nothing")).to_have_text("没有找到“地铁”。")
    shot(page, "search-1024x768")
    page.fill("#q", "盛家")
    page.locator("#found-places a").first.click()
    expect(page.locator("#place-name")).to_have_text("百盛家园")
    assert page.errors == []
    context.close()


def test_place_page_shows_open_concerns_visits_and_people(browser: Any, office: Office) -> None:
    from playwright.sync_api import expect

    context, page = open_app(browser, office, (768, 1024))
    page.goto(f"{office.url}/field/#place={office.seeded['place']}")
    expect(page.locator("#place-name")).to_have_text("百盛家园")
    opened = page.locator("#open-concerns")
    expect(opened.locator("li")).to_have_count(2)  # the resolved one is not open
    expect(opened).to_contain_text("污水管道经常破裂")
    expect(opened).to_contain_text("晚上停车难")
    expect(opened).not_to_contain_text("路灯不亮")
    expect(opened).to_contain_text("待核实")  # status names from the one vocabulary
    expect(page.locator("#recent-visits")).to_contain_text("入户走访")
    expect(page.locator("#people")).to_contain_text("王阿姨")
    expect(page.locator("#people")).to_contain_text("赵老板")
    shot(page, "place-768x1024")
    page.click("#lang")
    expect(page.locator("#place .muted.small")).to_have_text("Before you walk in")
    expect(opened).to_contain_text("Accepted")
    page.click("#lang")
    # offline, the page still opens (service worker and IndexedDB)
    until(page, "navigator.serviceWorker.controller !== null")
    context.set_offline(True)
    page.reload()
    expect(page.locator("#place-name")).to_have_text("百盛家园")
    page.locator("#open-concerns a", has_text="污水管道经常破裂").click()
    expect(page.locator("#concern-title")).to_have_text("污水管道经常破裂")
    page.go_back()
    page.click("#visit-here")
    expect(page.locator("#place_name")).to_have_value("百盛家园")
    context.set_offline(False)
    assert page.errors == []
    context.close()


def test_place_page_fits_a_phone(browser: Any, office: Office) -> None:
    from playwright.sync_api import expect

    context, page = open_app(browser, office, (390, 844))
    page.goto(f"{office.url}/field/#place={office.seeded['place']}")
    expect(page.locator("#place-name")).to_have_text("百盛家园")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    for button in page.locator("main button").all():
        box = button.bounding_box()
        assert box is not None and box["height"] >= 44
    shot(page, "place-390x844")
    context.close()
