"""Enrollment without a terminal: the office's enrollment-code page shows the field app's
address (and the same address in its QR code); opening it on a tablet enrolls the app, which
drops the code from its address bar and keeps the token in IndexedDB only. Neither the code
nor the token reaches the server's log."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
import segno

from tests.field_ui.live import Office

pytestmark = pytest.mark.browser

READ_DEVICE = """() => new Promise((ok) => { const r = indexedDB.open("fieldsync");
  r.onsuccess = () => { const g = r.result.transaction("state").objectStore("state")
  .get("device"); g.onsuccess = () => ok(g.result || {}); }; })"""


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    root = tmp_path_factory.mktemp("field-app-enroll")
    office = Office(root / "office")
    office.cli("init", "--workspace", "庄泉社区", "--admin", "admin", "--password", "admin-pass-1")
    office.cli("user", "add", "liu", "--workspace", "庄泉社区", "--role", "representative",
               "--display-name", "刘芳")  # fmt: skip
    office.log = root / "server.log"
    office.start()
    yield office
    office.stop()


def test_scanning_the_admin_pages_qr_code_enrolls_the_app(browser: Any, office: Office) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    admin = desk.new_page()
    admin.goto(office.url + "/login")
    admin.fill("#username", "admin")
    admin.fill("#password", "admin-pass-1")
    admin.locator("#password").press("Enter")
    admin.wait_for_load_state()
    admin.goto(office.url + "/admin/users")
    admin.locator("tr", has_text="liu").get_by_role("button", name="登记码").click()
    address = admin.locator("#field-app-url").inner_text().strip()
    code = admin.locator("[data-code]").get_attribute("data-code")
    assert code and address == f"{office.url}/field/#enroll={code[:5]}-{code[5:]}"
    # The QR code on the page encodes exactly that address (segno draws the same symbol).
    drawn = io.BytesIO()
    segno.make(address, error="m").save(
        drawn, kind="svg", scale=6, border=2, xmldecl=False, svgns=True, dark="#111827"
    )
    symbol = re.search(r' d="([^"]+)"', drawn.getvalue().decode())
    assert symbol and admin.locator(".qr svg path").get_attribute("d") == symbol[1]
    desk.close()

    tablet = browser.new_context(viewport={"width": 768, "height": 1024}, locale="zh-CN")
    page = tablet.new_page()
    page.goto(address)  # what the camera opens
    expect(page.locator("#pending")).to_have_text("0")
    assert page.url == f"{office.url}/field/"  # the code is gone from the address bar
    page.reload()
    expect(page.locator("#pending")).to_have_text("0")  # still enrolled: nothing in the URL
    device = page.evaluate(READ_DEVICE)
    token = device["token"]
    assert token and device["device_id"] and device["user"]["username"] == "liu"
    assert token not in page.url and code not in page.url
    assert page.evaluate("() => JSON.stringify(localStorage)").find(token) == -1
    page.click("#sync")
    expect(page.locator("#sync-result")).to_contain_text("同步完成")
    tablet.close()

    # The same code cannot enroll a second time.
    again = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = again.new_page()
    page.goto(address)
    expect(page.locator("#enroll-form .error")).to_contain_text("登记没有成功")
    again.close()

    assert office.log is not None
    log = office.log.read_text(encoding="utf-8", errors="replace")
    assert "/api/v1/enroll" in log and "/api/v1/sync/pull" in log  # the log is the real one
    for secret in (code, f"{code[:5]}-{code[5:]}", token):
        assert secret not in log


def test_typing_the_code_enrolls_too(browser: Any, office: Office) -> None:
    from playwright.sync_api import expect

    code = office.cli("enroll-code", "liu")["code"]
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{office.url}/field/")
    page.fill("#code", f" {code[:5].lower()}-{code[5:].lower()} ")
    page.fill("#device_name", "刘芳的手机")
    page.click("#enroll")
    expect(page.locator("#pending")).to_have_text("0", timeout=20_000)
    assert page.evaluate(READ_DEVICE)["device_name"] == "刘芳的手机"
    context.close()
