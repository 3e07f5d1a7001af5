"""Steps of the field app tests: enroll a page, record a visit through the form, read the
app's IndexedDB, and wait for a condition in the page (polled from here: the app's CSP allows
no string evaluation in the page)."""

from __future__ import annotations

import time
from typing import Any

from tests.field_ui.live import Office

READ_DEVICE = """() => new Promise((ok) => { const r = indexedDB.open("fieldsync");
  r.onsuccess = () => { const g = r.result.transaction("state").objectStore("state")
  .get("device"); g.onsuccess = () => { r.result.close(); ok(g.result || {}); }; }; })"""

READ_RECORDS = """(type) => new Promise((ok) => { const r = indexedDB.open("fieldsync");
  r.onsuccess = () => { const g = r.result.transaction("records").objectStore("records")
  .index("type").getAll(type); g.onsuccess = () => { r.result.close(); ok(g.result); }; }; })"""


def wait_for(page: Any, script: str, arg: Any = None, timeout: float = 20.0) -> Any:
    """Poll `script` (a function) in the page until it returns something true; return it."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(script, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout}s: {script}")
        time.sleep(0.1)


def enroll(page: Any, office: Office, user: str = "liu") -> None:
    """Open the app with a fresh code in its address; wait until it runs offline-ready."""
    from playwright.sync_api import expect

    code = office.cli("enroll-code", user)["code"]
    page.goto(f"{office.url}/field/#enroll={code}")
    expect(page.locator("#pending")).to_have_text("0", timeout=20_000)
    wait_for(page, "() => navigator.serviceWorker.controller !== null")


def fill_visit(page: Any, place: str, people: list[str], concerns: list[str]) -> None:
    """Open the visit form from home and fill it in (not saved)."""
    page.click("#record-visit")
    page.fill("#place_name", place)
    for n, name in enumerate(people):
        if n:
            page.click("#add-person")
        page.locator("input[name=person_name]").nth(n).fill(name)
    for n, title in enumerate(concerns):
        if n:
            page.click("#add-concern")
        page.locator("input[name=concern_title]").nth(n).fill(title)


def record_visit(page: Any, place: str, people: list[str], concerns: list[str]) -> None:
    """Record a visit through the form and wait for home."""
    from playwright.sync_api import expect

    fill_visit(page, place, people, concerns)
    page.click("#save-visit")
    expect(page.locator("#sync-result")).to_contain_text("待同步")


def records(page: Any, record_type: str) -> list[dict[str, Any]]:
    """The app's records of a type, as kept in its IndexedDB."""
    return list(page.evaluate(READ_RECORDS, record_type))
