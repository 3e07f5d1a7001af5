"""The field app's visit page, in Chromium against a real office server process: the office
sends a visit back with a note, the representative opens it from the attention screen, reads
the note, fixes the summary (the visit form's rules hold: no time in the future) and syncs;
the office then holds the fix, marked resubmitted. A returned concern is fixed the same way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.field_ui.live import Office
from tests.pwa.screens import new_office, open_app, seed, shot, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    root = tmp_path_factory.mktemp("field-app-visit")
    office = new_office(root)
    office.desk, office.seeded = seed(office, root / "desk")
    yield office
    office.stop()


def send_back(browser: Any, office: Office, kind: str, record_id: str, note: str) -> None:
    """The office marks a record needs_changes with a note, on its review page."""
    page = sign_in(browser, office)
    page.goto(f"{office.url}/review?type={kind}")
    form = page.locator(f"form[action$='/review/{kind}/{record_id}']")
    form.locator("input[name=review_note]").fill(note)
    form.locator("button[value=needs_changes]").click()
    page.wait_for_load_state()
    page.close()


def held(office: Office, tmp_path: Path, record_id: str) -> dict[str, Any]:
    checker = office.enroll(tmp_path / "checker", office.codes.pop())
    return office.records(checker)[record_id]["fields"]


def test_a_returned_visit_is_opened_fixed_and_resubmitted(
    browser: Any, office: Office, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    visit = office.seeded["visit"]
    # the service worker's precache list (made by the office from the app's files) holds it
    worker = requests.get(f"{office.url}/field/sw.js", timeout=10).text
    assert '"js/screens/visit.js"' in worker
    context, page = open_app(browser, office, (768, 1024))
    # recent visits on home open the visit page
    page.locator("#visits").get_by_role("link").first.click()
    expect(page.locator("#visit")).to_have_attribute("data-id", visit)
    expect(page.locator("#visit-people")).to_contain_text("王阿姨")
    expect(page.locator("#visit-concerns")).to_contain_text("污水管道经常破裂")
    expect(page.locator("#review-note")).to_have_count(0)

    send_back(browser, office, "visit", visit, "请写明下水道的具体位置")
    page.click("#nav-home")
    page.click("#sync")
    expect(page.locator("#sync-result")).to_contain_text("办公室退回 1 条需修改。")
    page.click("#nav-attention")
    reviews = page.locator("#reviews")
    expect(reviews).to_contain_text("请写明下水道的具体位置")
    reviews.locator(f"[data-review='{visit}'] a").click()
    expect(page.locator("#visit")).to_have_attribute("data-id", visit)
    expect(page.locator("#review-note")).to_contain_text("请写明下水道的具体位置")
    expect(page.locator("#review-note")).to_contain_text("需修改")
    expect(page.locator("#visit_summary")).to_have_value("谈了下水道和停车")
    # the visit form's rules: a time in the future is refused and nothing is queued
    started = page.input_value("#started_at")
    page.fill("#started_at", "2099-01-01T10:00")
    page.click("#save-visit-edit")
    expect(page.locator("#visit-error")).to_contain_text("不能晚于现在")
    page.fill("#started_at", started)
    page.fill("#attendee_count", "-2")
    page.click("#save-visit-edit")
    expect(page.locator("#visit-error")).to_contain_text("整数")
    page.fill("#attendee_count", "3")
    fixed = "谈了下水道和停车；下水道在 3 号楼北侧"
    page.fill("#visit_summary", fixed)
    page.click("#save-visit-edit")
    expect(page.locator("#flash")).to_contain_text("走访已修改。")
    expect(page.locator("#visit-summary")).to_have_text(fixed)
    shot(page, "visit-768x1024")
    page.click("#nav-home")
    page.click("#sync")
    expect(page.locator("#sync-result")).to_contain_text("同步完成：发送 1 条")
    fields = held(office, tmp_path, visit)
    assert fields["summary"] == fixed
    assert fields["attendee_count"] == 3
    assert fields["review_status"] == "resubmitted"
    # the time left as it was is not written again (the form's input drops its seconds)
    assert fields["started_at"] == "2026-11-20T10:00:00+08:00"
    page.click("#nav-attention")
    expect(page.locator(f"[data-review='{visit}']")).to_contain_text("已重新提交")
    assert page.errors == []
    context.close()


def test_a_returned_concern_is_fixed_on_its_page(
    browser: Any, office: Office, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    market = office.seeded["market"]
    send_back(browser, office, "concern", market, "请补充具体摊位号")
    context, page = open_app(browser, office, (1024, 768))
    page.click("#nav-attention")
    page.locator("#reviews").get_by_role("link", name="菜市场垃圾清运不及时").click()
    expect(page.locator("#review-note")).to_contain_text("请补充具体摊位号")
    expect(page.locator("#concern-edit-card")).to_have_attribute("open", "")
    page.fill("#edit_title", "")
    page.click("#save-concern-edit")
    expect(page.locator("#concern-edit-error")).to_contain_text("请填写")
    page.fill("#edit_title", "菜市场 12 号摊位旁垃圾清运不及时")
    page.click("#save-concern-edit")
    expect(page.locator("#flash")).to_contain_text("诉求已修改。")
    expect(page.locator("#concern-title")).to_have_text("菜市场 12 号摊位旁垃圾清运不及时")
    page.click("#nav-home")
    page.click("#sync")
    expect(page.locator("#sync-result")).to_contain_text("同步完成：发送 1 条")
    fields = held(office, tmp_path, market)
    assert fields["title"] == "菜市场 12 号摊位旁垃圾清运不及时"
    assert fields["review_status"] == "resubmitted"
    assert page.errors == []
    context.close()
