"""Casework in a real browser: assign a concern and find it in the owner's inbox; import a
200-row ledger of places with two bad rows, fix the mapping, import, undo."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import Workbook

from tests.office.test_browser import browser, demo, page  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


def places_xlsx(path: Any) -> None:
    """200 places; rows 51 and 151 have a kind nobody knows."""
    book = Workbook()
    sheet = book.active
    sheet.append(["小区名称", "类型", "地址"])
    for n in range(200):
        kind = "不知道" if n in (49, 149) else "小区"
        sheet.append([f"测试小区{n:03d}", kind, f"宝塔路{n}号"])
    buffer = io.BytesIO()
    book.save(buffer)
    path.write_bytes(buffer.getvalue())


def test_assign_a_concern_and_see_it_in_the_owners_inbox(page, demo):  # noqa: F811
    base = demo.office_url.rstrip("/")
    page.goto(base + "/concerns?q=油烟")
    page.click("text=城际商圈夜间油烟扰民")
    form = page.locator("#assignment form")
    form.locator('select[name="owner_id"]').select_option(label="周晓燕（工作室联络员）")
    form.locator('input[name="due_on"]').fill("2026-06-30")
    form.locator('select[name="supervision"]').select_option("key_supervised")
    form.locator("button[type=submit]").click()
    assert "已保存" in page.inner_text(".flash")
    page.click(".nav >> text=待办")
    overdue = page.locator('[data-inbox="overdue"]')
    assert "城际商圈夜间油烟扰民" in overdue.inner_text()
    assert "重点督办" in overdue.inner_text()
    assert int(page.inner_text('[data-nav="inbox"]')) >= 1


def test_import_places_fix_the_mapping_import_and_undo(page, demo, tmp_path):  # noqa: F811
    base = demo.office_url.rstrip("/")
    ledger = tmp_path / "小区台账.xlsx"
    places_xlsx(ledger)
    page.goto(base + "/import")
    page.select_option('select[name="kind"]', "places")
    page.set_input_files('input[name="file"]', str(ledger))
    page.click("text=上传并对应列")
    errors = page.locator("#row-errors li")
    assert errors.count() == 2
    assert "第 51 行" in errors.nth(0).inner_text() and "第 151 行" in errors.nth(1).inner_text()
    assert page.locator("#run button[type=submit]").is_disabled()
    page.locator('select[data-header="类型"]').select_option("")  # leave the kind column out
    page.click("text=重新检查")
    assert page.locator("#row-errors").count() == 0
    page.click("#run button[type=submit]")
    assert "导入 200 条记录" in page.inner_text(".flash")
    page.goto(base + "/places?q=测试小区")
    assert "200" in page.inner_text(".pagehead")
    page.goto(base + "/import")
    page.locator("[data-import] >> text=撤销这次导入").first.click()
    assert "已撤销：删除了 200 条记录" in page.inner_text(".flash")
    page.goto(base + "/places?q=测试小区")
    assert "200" not in page.inner_text(".pagehead")
