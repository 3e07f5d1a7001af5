"""Revoke with wipe in the field app (issue 9 item 7), in Chromium against a real office server
process: the app records offline, the office revokes it with wipe, the app syncs: the office has
the record and the photo, the app's IndexedDB holds no personal data, and it is refused after."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.field_ui.live import BIN, Office, sync

pytestmark = pytest.mark.browser

PHOTO = "a photo of the broken street lamp " * 40

DUMP = """async () => {
  const { openStore } = await import("./js/store.js");
  const store = await openStore();
  const names = ["records", "outbox", "batches", "held", "rejections", "conflicts", "search",
                 "blobs"];
  const out = { state: await store.state(), rows: {} };
  const tx = store.db.transaction(names, "readonly");
  for (const name of names) {
    out.rows[name] = await new Promise((ok) => {
      const r = tx.objectStore(name).getAll(); r.onsuccess = () => ok(r.result); });
  }
  store.close();
  return JSON.stringify(out);
}"""


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    root = tmp_path_factory.mktemp("wipe-office")
    office = Office(root / "office")
    office.cli("init", "--workspace", "庄泉社区", "--admin", "admin", "--password", "admin-pass-1")
    for name in ("liu", "zhao"):
        office.cli("user", "add", name, "--workspace", "庄泉社区", "--role", "representative")
    office.codes = [office.cli("enroll-code", name)["code"] for name in ("liu", "zhao")]
    office.start()
    yield office
    office.stop()


def test_the_app_sends_then_wipes_then_is_refused(
    browser: Any, office: Office, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    colleague = office.enroll(tmp_path / "colleague", office.codes[1])
    colleague.create("party", {"kind": "resident", "name": "赵大妈", "phone": "13911112222"})
    assert sync(colleague, office.url).ok

    context = browser.new_context(viewport={"width": 768, "height": 1024}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{office.url}/field/")
    page.fill("#code", office.codes[0])
    page.click("#enroll")
    expect(page.locator("#pending")).to_have_text("0")
    page.click("#sync")
    expect(page.locator("#sync-result")).to_contain_text("同步完成")
    state = page.evaluate("async () => JSON.parse(await (" + DUMP + ")())")
    assert any(r["fields"].get("name") == "赵大妈" for r in state["rows"]["records"])
    token, device_id = state["state"]["token"], state["state"]["device_id"]

    context.set_offline(True)
    person = page.evaluate(
        """async (text) => {
        const { openStore } = await import("./js/store.js");
        const store = await openStore();
        const id = await store.create("party", { kind: "resident", name: "张三",
                                                 phone: "13800001111" });
        const bytes = new TextEncoder().encode(text);
        const digest = await crypto.subtle.digest("SHA-256", bytes);
        const sha256 = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0"))
          .join("");
        const blob = new Blob([bytes], { type: "image/jpeg" });
        await store.addPhoto("party", id, { sha256, blob, media_type: "image/jpeg",
                                            size: bytes.length });
        store.close();
        return id; }""",
        PHOTO,
    )
    revoke = [str(BIN / "fieldsync-server"), "device", "revoke", "--wipe", device_id]
    subprocess.run(revoke, env=office.env, check=True, capture_output=True, timeout=60)
    context.set_offline(False)
    page.click("#sync")
    expect(page.locator("#sync-result")).to_have_text(
        "办公室已停用这台设备并要求清除：未发送的记录和照片已先发送到办公室，"
        "随后已删除本机上的全部记录、人员和照片。"
    )

    held = office.records(colleague)
    assert held[person]["fields"]["name"] == "张三"
    sha = hashlib.sha256(PHOTO.encode()).hexdigest()
    blob = Path(office.env["FIELDSYNC_INSTANCE_PATH"]) / "blobs" / sha[:2] / sha
    assert blob.read_bytes() == PHOTO.encode()
    assert any(r["type"] == "attachment" and r["fields"]["sha256"] == sha for r in held.values())

    dump = page.evaluate("async () => await (" + DUMP + ")()")
    assert all(not rows for rows in json.loads(dump)["rows"].values())
    for secret in ("张三", "赵大妈", "13800001111", "13911112222", "lamp"):
        assert secret not in dump, secret
    answer = requests.get(
        office.url + "/api/v1/sync/pull",
        headers={"Fieldsync-Protocol": "1", "Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 401 and answer.json()["code"] == "device_revoked"
    page.click("#sync")  # it stays wiped and says so again, without asking the office
    expect(page.locator("#sync-result")).to_contain_text("已删除本机上的全部记录")
    context.close()
