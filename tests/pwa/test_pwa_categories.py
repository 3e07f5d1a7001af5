"""Workspace categories in the field app, in Chromium against a real office server process: an
entry the office adds reaches the forms by sync; once retired it is no longer offered for new
records, and the records that hold it still show its name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.field_ui.live import Office
from tests.pwa.screens import new_office, open_app, seed, sign_in

pytestmark = pytest.mark.browser

LIST = "/admin/lists/concern.category"


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    root = tmp_path_factory.mktemp("field-app-lists")
    office = new_office(root)
    office.seeded = seed(office, root / "desk")[1]
    yield office
    office.stop()


def options(page: Any, selector: str) -> list[str]:
    return page.locator(f"{selector} option").all_inner_texts()


def test_an_office_category_is_offered_then_retired(
    browser: Any, office: Office, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    desk = sign_in(browser, office)
    desk.goto(office.url + LIST)
    add = desk.locator(f"form[action$='{LIST}/add']")
    add.locator("input[name=name_zh]").fill("加装电梯")
    add.locator("input[name=name_en]").fill("Elevator retrofit")
    add.locator("button").click()
    desk.wait_for_load_state()
    expect(desk.locator("input[name=name_zh][value='加装电梯']")).to_have_count(1)

    context, page = open_app(browser, office, (768, 1024))
    page.goto(f"{office.url}/field/#new-concern={office.seeded['place']}")
    expect(page.locator("#title")).to_be_visible()
    assert "加装电梯" in options(page, "#category")
    page.fill("#title", "老楼想装电梯")
    page.select_option("#category", label="加装电梯")
    page.click("#save-concern")
    expect(page.locator("#concern")).to_contain_text("加装电梯")
    concern_address = page.url
    page.click("#lang")
    expect(page.locator("#concern")).to_contain_text("Elevator retrofit")
    page.click("#lang")
    page.click("#nav-home")
    page.click("#record-visit")
    expect(page.locator("select[name=concern_category]")).to_be_visible()
    assert "加装电梯" in options(page, "select[name=concern_category]")
    page.click("#nav-home")
    page.click("#sync")
    expect(page.locator("#sync-result")).to_contain_text("同步完成：发送 1 条")
    checker = office.enroll(tmp_path / "checker", office.codes.pop())
    [saved] = [
        r["fields"] for r in office.records(checker).values()
        if r["type"] == "concern" and r["fields"]["title"] == "老楼想装电梯"
    ]  # fmt: skip
    assert saved["category"] not in ("other", "infrastructure")  # the workspace's own key

    row = desk.locator("tr", has=desk.locator("input[name=name_zh][value='加装电梯']"))
    row.locator("select[name=retired]").select_option("1")
    with desk.expect_navigation():
        row.locator("button").click()
    expect(row.locator("select[name=retired]")).to_have_value("1")
    desk.close()

    page.click("#sync")
    expect(page.locator("#sync-result")).to_contain_text("同步完成：发送 0 条，收到 1 条新记录")
    page.goto(f"{office.url}/field/#new-concern={office.seeded['place']}")
    expect(page.locator("#title")).to_be_visible()
    assert "加装电梯" not in options(page, "#category")
    assert "基础设施" in options(page, "#category")
    page.click("#nav-home")
    page.click("#record-visit")
    expect(page.locator("select[name=concern_category]")).to_be_visible()
    assert "加装电梯" not in options(page, "select[name=concern_category]")
    page.goto(concern_address)
    expect(page.locator("#concern")).to_contain_text("加装电梯")  # the old record keeps its name
    assert page.errors == []
    context.close()
