"""The field app end to end in Chromium against a real office server process: enroll with a
code, go offline, reload (the service worker serves the app), record a visit with two concerns,
come back online, sync, and find it all through the API pull of a second device."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.field_ui.live import BIN, Office
from tests.pwa.app import wait_for
from tests.pwa.screens import new_office, png, sign_in

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    """An office with one representative and three enrollment codes for her."""
    root = tmp_path_factory.mktemp("field-app-office")
    office = new_office(root, codes=3)
    yield office
    office.stop()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"field-app-{name}.png"), full_page=True)


def test_enroll_record_offline_and_sync(browser: Any, office: Office, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    context = browser.new_context(viewport={"width": 768, "height": 1024}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{office.url}/field/")
    page.fill("#code", office.codes[0])
    page.click("#enroll")
    expect(page.locator("#pending")).to_have_text("0")
    wait_for(page, "() => navigator.serviceWorker.controller !== null")
    token = page.evaluate(
        """() => new Promise((ok) => { const r = indexedDB.open("fieldsync");
        r.onsuccess = () => { const g = r.result.transaction("state").objectStore("state")
        .get("device"); g.onsuccess = () => ok(g.result.token); }; })"""
    )
    assert token and token not in page.url

    context.set_offline(True)
    page.reload()
    expect(page.locator("#notice")).to_have_text("现在没有网络，记录照常保存在本机。")
    page.click("#record-visit")
    page.select_option("#visit_kind", "home_visit")
    page.fill("#place_name", "百盛家园")
    page.locator("input[name=person_name]").first.fill("王阿姨")
    titles = page.locator("input[name=concern_title]")
    titles.nth(0).fill("污水管道经常破裂")
    page.locator("select[name=concern_category]").nth(0).select_option("infrastructure")
    page.click("#add-concern")
    titles.nth(1).fill("小区没有物业公司")
    page.locator("select[name=concern_category]").nth(1).select_option("property_management")
    photo = {"name": "pipe.png", "mimeType": "image/png", "buffer": png(1200, 900)}
    page.set_input_files("#visit-photos", files=[photo])  # what the camera gives
    shot(page, "visit-form-768x1024")
    page.click("#save-visit")
    expect(page.locator("#sync-result")).to_contain_text("待同步")
    assert int(page.locator("#pending").inner_text()) == 6  # with the photo's attachment
    shot(page, "home-offline-768x1024")

    context.set_offline(False)  # back online: the app syncs by itself
    # its own six records come back from the office: nothing new to the device
    expect(page.locator("#sync-result")).to_contain_text("同步完成：发送 6 条，收到 0 条新记录。")
    expect(page.locator("#pending")).to_have_text("0")
    page.click("#sync")
    expect(page.locator("#sync-result")).to_have_text("同步完成：发送 0 条，收到 0 条新记录。")
    shot(page, "home-768x1024")
    context.close()

    second = office.enroll(tmp_path / "second", office.codes[1])
    held = office.records(second)
    visits = [r for r in held.values() if r["type"] == "visit"]
    assert len(visits) == 1
    visit = visits[0]["fields"]
    [attachment] = [r["fields"] for r in held.values() if r["type"] == "attachment"]
    assert attachment["subject_type"] == "visit" and attachment["subject_id"] == visits[0]["id"]
    token = second.credentials()["token"]
    headers = {"Authorization": f"Bearer {token}", "Fieldsync-Protocol": "1"}
    blob = requests.get(f"{office.url}/api/v1/blobs/{attachment['sha256']}", headers=headers,
                        timeout=10)  # fmt: skip
    assert blob.status_code == 200 and len(blob.content) == attachment["size"]
    concerns = {r["fields"]["title"]: r["fields"] for r in held.values() if r["type"] == "concern"}
    assert set(concerns) == {"污水管道经常破裂", "小区没有物业公司"}
    people = {r["id"]: r["fields"]["name"] for r in held.values() if r["type"] == "party"}
    assert [people[p] for p in visit["party_ids"]] == ["王阿姨"]
    places = {r["id"]: r["fields"]["name"] for r in held.values() if r["type"] == "place"}
    assert places[visit["place_id"]] == "百盛家园"
    for concern in concerns.values():
        assert concern["visit_id"] == visits[0]["id"]
        assert concern["party_ids"] == visit["party_ids"]

    # And on the office's pages: both concerns in the list, the visit's place on each.
    page = sign_in(browser, office)
    page.goto(office.url + "/concerns")
    for title in concerns:
        row = page.locator("tr", has_text=title)
        expect(row).to_have_count(1)
        expect(row).to_contain_text("百盛家园")
    page.close()


def test_enroll_from_the_address_keeps_no_code_in_it(browser: Any, office: Office) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{office.url}/field/#enroll={office.codes[2]}")
    expect(page.locator("#pending")).to_have_text("0", timeout=20_000)
    assert page.url == f"{office.url}/field/"
    page.click("#lang")
    expect(page.locator("#sync")).to_have_text("Sync")
    # A tablet whose clock ran an hour ahead: the office refuses its push, the app says so,
    # and the next sync sends the edit again with fresh stamps.
    page.evaluate(
        """async () => {
        const { openStore } = await import("./js/store.js");
        const store = await openStore();
        const { device_id: node } = await store.state();
        const ahead = String(Date.now() + 3600000).padStart(13, "0");
        await store.setState({ last_stamp: `${ahead}-000000-${node}` });
        await store.create("place", { kind: "compound", name: "时钟快的小区" });
        store.close(); }"""
    )
    page.click("#sync")
    expect(page.locator("#sync-result")).to_have_text(
        "This device's clock is ahead of the server's; fix the time and sync again."
    )
    page.click("#sync")
    expect(page.locator("#sync-result")).to_contain_text("Sync done: sent 1, received")
    device_id = page.evaluate(
        """() => new Promise((ok) => { const r = indexedDB.open("fieldsync");
        r.onsuccess = () => { const g = r.result.transaction("state").objectStore("state")
        .get("device"); g.onsuccess = () => ok(g.result.device_id); }; })"""
    )
    revoke = [str(BIN / "fieldsync-server"), "device", "revoke", device_id]
    subprocess.run(revoke, env=office.env, check=True, capture_output=True, timeout=60)
    page.click("#sync")
    expect(page.locator("#sync-result")).to_have_text(
        "The office has switched this device off. Its records stay here; please call the office."
    )
    shot(page, "home-revoked-390x844")
    context.close()
