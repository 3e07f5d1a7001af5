"""The field app's concern page and new concern form, in Chromium against a real office server
process: the representative's steps (from sync.casework, exported with the vocabulary), a
follow-up, 附议 once per person, and similar open concerns offered before a new one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.field_ui.live import Office
from tests.pwa.screens import new_office, open_app, seed, shot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    root = tmp_path_factory.mktemp("field-app-concern")
    office = new_office(root)
    office.seeded = seed(office, root / "desk")[1]
    yield office
    office.stop()


def test_steps_follow_up_and_one_voice_per_person(
    browser: Any, office: Office, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    ids = office.seeded
    context, page = open_app(browser, office, (390, 844))
    page.goto(f"{office.url}/field/#concern={ids['sewage']}")
    expect(page.locator("#concern-title")).to_have_text("污水管道经常破裂")
    expect(page.locator("#concern")).to_contain_text("待核实")
    expect(page.locator("main dl")).to_contain_text("王阿姨、赵老板")
    # the steps a representative may take on a new concern: only 已办结 (the office accepts)
    steps = page.locator("#steps button")
    expect(steps).to_have_count(1)
    expect(steps).to_have_text("改为“已办结”")
    shot(page, "concern-390x844")

    page.select_option("#follow_kind", "support")
    page.select_option("#follow_party", label="王阿姨")
    page.click("#save-follow-up")
    expect(page.locator("#flash")).to_have_text("已附议。")
    expect(page.locator("#concern")).to_contain_text("1 人附议")
    page.select_option("#follow_kind", "support")
    page.select_option("#follow_party", label="王阿姨")
    page.click("#save-follow-up")
    expect(page.locator("#flash")).to_have_text("此人已附议过，不重复计算。")
    expect(page.locator("#concern")).to_contain_text("1 人附议")
    page.click("#support")  # an anonymous voice always counts
    expect(page.locator("#concern")).to_contain_text("2 人附议")

    page.click("#save-follow-up")  # a note needs its words
    expect(page.locator("#follow-up-error")).to_have_text("请填写：内容")
    page.select_option("#follow_kind", "call")
    page.fill("#follow_note", "电话联系了物业，下周来修")
    page.click("#save-follow-up")
    expect(page.locator("#flash")).to_have_text("跟进记录已保存。")
    expect(page.locator("#follow-ups")).to_contain_text("电话联系了物业，下周来修")

    steps.click()
    expect(page.locator("#flash")).to_have_text("状态已改为：已办结")
    expect(page.locator("#concern")).to_contain_text("已办结")
    expect(page.locator("#steps button")).to_have_text(["改为“已回访”", "改为“办理中”"])
    page.click("#lang")
    expect(page.locator("#steps button").first).to_have_text("Mark as “Confirmed by return visit”")
    page.click("#lang")

    page.click("#nav-home")
    page.click("#sync")
    expect(page.locator("#sync-result")).to_contain_text("同步完成：发送 4 条")
    desk = office.enroll(tmp_path / "check", office.codes.pop())
    held = office.records(desk)
    concern = held[ids["sewage"]]["fields"]
    assert concern["status"] == "resolved"
    assert concern["resolved_on"] == dt.date.today().isoformat()
    notes = [r["fields"] for r in held.values() if r["type"] == "follow_up"]
    voices = [n for n in notes if n["kind"] == "support"]
    assert sorted(str(v.get("party_id")) for v in voices) == sorted([ids["wang"], "None"])
    assert [n["note"] for n in notes if n["kind"] == "call"] == ["电话联系了物业，下周来修"]
    assert page.errors == []
    context.close()


def test_a_similar_open_concern_is_offered_before_a_new_one(browser: Any, office: Office) -> None:
    from playwright.sync_api import expect

    ids = office.seeded
    context, page = open_app(browser, office, (1024, 768))
    page.goto(f"{office.url}/field/#place={ids['place']}")
    page.click("#concern-here")
    expect(page.locator("#place_id")).to_have_value(ids["place"])
    page.fill("#title", "停车难")
    page.click("#save-concern")
    similar = page.locator("#similar")
    expect(similar).to_contain_text("这个地点已有类似的未办结诉求")
    expect(similar.locator("[data-similar]")).to_have_count(1)
    expect(similar).to_contain_text("晚上停车难")
    shot(page, "concern-similar-1024x768")
    similar.locator(".support-this").click()
    expect(page.locator("#concern-title")).to_have_text("晚上停车难")
    expect(page.locator("#flash")).to_have_text("已附议。")
    expect(page.locator("#follow-ups")).to_contain_text("停车难")

    # something new at the place: no suggestion, a new concern
    page.goto(f"{office.url}/field/#new-concern={ids['place']}")
    page.fill("#title", "电梯经常停运")
    page.select_option("#category", "infrastructure")
    page.click("#save-concern")
    expect(page.locator("#concern-title")).to_have_text("电梯经常停运")
    expect(page.locator("#flash")).to_contain_text("诉求已保存。")
    # similar, but created anyway
    page.goto(f"{office.url}/field/#new-concern={ids['place']}")
    page.fill("#title", "晚上停车很难")
    page.click("#save-concern")
    expect(page.locator("#similar")).to_contain_text("晚上停车难")
    page.click("#create-anyway")
    expect(page.locator("#concern-title")).to_have_text("晚上停车很难")
    page.goto(f"{office.url}/field/#place={ids['place']}")
    expect(page.locator("#open-concerns")).to_contain_text("电梯经常停运")
    expect(page.locator("#open-concerns")).to_contain_text("晚上停车很难")
    assert page.errors == []
    context.close()


def test_the_visit_form_offers_a_voice_for_a_similar_open_concern(
    browser: Any, office: Office
) -> None:
    from playwright.sync_api import expect

    ids = office.seeded
    context, page = open_app(browser, office, (768, 1024))
    page.goto(f"{office.url}/field/#place={ids['place']}")
    page.click("#visit-here")
    page.locator("input[name=person_name]").first.fill("孙师傅")
    title = page.locator("input[name=concern_title]").first
    title.fill("停车难问题")
    title.press("Tab")  # the title is typed: similar open concerns at the place are offered
    offer = page.locator("select[name=support_of]")
    expect(offer).to_be_visible()
    expect(offer.locator("option").first).to_have_text("仍然新建")
    assert offer.input_value() != ""  # a voice for the most similar one is proposed
    supported = offer.input_value()
    shot(page, "visit-similar-768x1024")
    # a second row for the same concern: the person's voice counts once (sync/rules.py)
    page.click("#add-concern")
    again = page.locator("input[name=concern_title]").nth(1)
    again.fill("晚上停车太难")
    again.press("Tab")
    expect(page.locator("select[name=support_of]")).to_have_count(2)
    page.locator("select[name=support_of]").nth(1).select_option(supported)
    page.click("#save-visit")
    expect(page.locator("#sync-result")).to_contain_text("待同步")
    page.goto(f"{office.url}/field/#concern={supported}")
    voices = page.locator("#follow-ups [data-kind=support]")
    expect(voices.filter(has_text="停车难问题")).to_have_count(1)
    expect(voices.filter(has_text="晚上停车太难")).to_have_count(0)
    page.goto(f"{office.url}/field/#place={ids['place']}")
    expect(page.locator("#open-concerns")).not_to_contain_text("停车难问题")  # no duplicate
    assert page.errors == []
    context.close()
