"""The field app's "needs attention" screen, in Chromium against a real office server process:
a change the server refused, with its reason in the reader's language and fixed from the screen;
a conflict with a Python device under review; a note the office sent back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.field_ui.live import Office, sync
from tests.pwa.screens import in_app, new_office, open_app, seed, shot, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    root = tmp_path_factory.mktemp("field-app-attention")
    office = new_office(root)
    office.desk, office.seeded = seed(office, root / "desk")
    yield office
    office.stop()


def test_a_refused_change_is_explained_and_fixed(
    browser: Any, office: Office, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    context, page = open_app(browser, office, (768, 1024))
    page.click("#nav-attention")
    expect(page.locator("#attention-nothing")).to_have_text("一切正常，没有需要处理的事项。")
    # a tablet that kept a category the workspace does not have (say, from an old list)
    place = office.seeded["place"]
    in_app(
        page,
        f"""await store.create("concern", {{ title: "三号楼电梯坏了",
        category: "c0123456789ab", status: "new", place_id: "{place}" }});""",
    )
    page.click("#nav-home")
    page.click("#sync")
    expect(page.locator("#sync-result")).to_contain_text("有 1 条被服务器拒收")
    expect(page.locator("#attention-count")).to_have_text("1")
    page.click("#nav-attention")
    rejected = page.locator("#rejected")
    expect(rejected).to_contain_text("三号楼电梯坏了")
    expect(rejected).to_contain_text("类别：本工作区没有这个选项：c0123456789ab")
    shot(page, "attention-768x1024")
    page.click("#lang")
    expect(rejected).to_contain_text("is not on this workspace's list: c0123456789ab")
    page.click("#lang")
    rejected.get_by_role("link", name="修改").click()
    expect(page.locator("[data-field=category] .reason")).to_contain_text("本工作区没有这个选项")
    page.select_option("#f_category", "infrastructure")
    page.click("#save-fix")
    expect(page.locator("#flash")).to_have_text("已修改，将在下次同步时发送。")
    expect(page.locator("#rejected")).to_have_count(0)
    page.click("#nav-home")
    page.click("#sync")
    expect(page.locator("#sync-result")).to_contain_text("同步完成：发送 1 条")
    expect(page.locator("#attention-count")).to_be_hidden()
    checker = office.enroll(tmp_path / "checker", office.codes.pop())
    found = [r["fields"] for r in office.records(checker).values() if r["type"] == "concern"]
    [fixed] = [f for f in found if f["title"] == "三号楼电梯坏了"]
    assert fixed["category"] == "infrastructure"
    assert page.errors == []
    context.close()


def test_a_conflict_and_an_office_note_need_attention(browser: Any, office: Office) -> None:
    from playwright.sync_api import expect

    ids, desk = office.seeded, office.desk
    context, page = open_app(browser, office, (1024, 768))
    # the same title changed on the tablet and on the desk device; the desk syncs first
    in_app(
        page,
        f"""await store.update("concern", "{ids["parking"]}",
        {{ title: "晚上停车位不够" }});""",
    )
    desk.update("concern", ids["parking"], {"title": "夜间停车难"})
    sync(desk, office.url)
    # the office sends a concern back with a note
    office_page = sign_in(browser, office)
    office_page.goto(f"{office.url}/review?type=concern")
    form = office_page.locator(f"form[action$='/review/concern/{ids['market']}']")
    form.locator("input[name=review_note]").fill("请补充具体摊位号")
    form.locator("button[value=needs_changes]").click()
    office_page.wait_for_load_state()
    office_page.close()

    page.click("#sync")
    expect(page.locator("#sync-result")).to_contain_text("有 1 处与他人的修改冲突")
    expect(page.locator("#sync-result")).to_contain_text("办公室退回 1 条需修改。")
    page.click("#nav-attention")
    conflicts = page.locator("#conflicts")
    expect(conflicts).to_contain_text("标题")
    expect(conflicts).to_contain_text("晚上停车位不够")
    expect(conflicts).to_contain_text("夜间停车难")
    reviews = page.locator("#reviews")
    expect(reviews).to_contain_text("菜市场垃圾清运不及时")
    expect(reviews).to_contain_text("请补充具体摊位号")
    expect(reviews).to_contain_text("需修改")
    shot(page, "attention-1024x768")
    reviews.get_by_role("link", name="菜市场垃圾清运不及时").click()
    expect(page.locator("#review-note")).to_contain_text("请补充具体摊位号")
    assert page.errors == []
    context.close()
