"""Helpers of the field app's screen tests: an office with a representative's desk device that
seeded a place, and a browser page enrolled into it."""

from __future__ import annotations

import struct
import time
import zlib
from pathlib import Path
from typing import Any

from tests.field_ui.live import Office, sync

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def new_office(root: Path, codes: int = 6) -> Office:
    """An office with admin, the representative liu, and `codes` enrollment codes for her."""
    office = Office(root / "office")
    office.cli("init", "--workspace", "庄泉社区", "--admin", "admin", "--password", "admin-pass-1")
    office.cli("user", "add", "liu", "--workspace", "庄泉社区", "--role", "representative")
    office.codes = [office.cli("enroll-code", "liu")["code"] for _ in range(codes)]
    office.start()
    return office


def seed(office: Office, home: Path) -> tuple[Any, dict[str, str]]:
    """A desk device records 百盛家园 with two people, a visit and three concerns (one closed),
    and syncs; return the device and the ids by name."""
    desk = office.enroll(home, office.codes.pop())
    ids: dict[str, str] = {}
    place = {"kind": "compound", "name": "百盛家园", "address": "庄泉路 8 号"}
    ids["place"] = desk.create("place", place)
    ids["other_place"] = desk.create("place", {"kind": "shop", "name": "东门菜市场"})
    for key, kind, name in (("wang", "resident", "王阿姨"), ("zhao", "merchant", "赵老板")):
        ids[key] = desk.create("party", {"kind": kind, "name": name, "place_id": ids["place"]})
    ids["visit"] = desk.create("visit", {
        "kind": "home_visit", "place_id": ids["place"], "started_at": "2026-11-20T10:00:00+08:00",
        "party_ids": [ids["wang"], ids["zhao"]], "summary": "谈了下水道和停车",
    })  # fmt: skip
    met = [ids["wang"], ids["zhao"]]
    people = {"visit_id": ids["visit"], "party_ids": met, "party_id": ids["wang"]}
    ids["sewage"] = desk.create("concern", {
        "title": "污水管道经常破裂", "category": "infrastructure", "status": "new",
        "place_id": ids["place"], "raised_on": "2026-11-20", **people,
    })  # fmt: skip
    ids["parking"] = desk.create("concern", {
        "title": "晚上停车难", "category": "other", "status": "accepted",
        "place_id": ids["place"], "raised_on": "2026-11-20", **people,
    })  # fmt: skip
    ids["closed"] = desk.create("concern", {
        "title": "路灯不亮", "category": "infrastructure", "status": "resolved",
        "place_id": ids["place"], "raised_on": "2026-10-01", "resolved_on": "2026-10-05",
    })  # fmt: skip
    ids["market"] = desk.create("concern", {
        "title": "菜市场垃圾清运不及时", "category": "environment", "status": "new",
        "place_id": ids["other_place"], "raised_on": "2026-11-21",
    })  # fmt: skip
    report = sync(desk, office.url)
    assert report.rejected == 0
    return desk, ids


def open_app(
    browser: Any, office: Office, size: tuple[int, int], **options: Any
) -> tuple[Any, Any]:
    """A fresh browser context enrolled with one of the office's codes, synced once."""
    from playwright.sync_api import expect

    viewport = {"width": size[0], "height": size[1]}
    context = browser.new_context(viewport=viewport, locale="zh-CN", **options)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.goto(f"{office.url}/field/#enroll={office.codes.pop()}")
    expect(page.locator("#pending")).to_have_text("0", timeout=20_000)
    page.click("#sync")
    expect(page.locator("#sync-result")).to_contain_text("同步完成", timeout=20_000)
    return context, page


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"field-app-{name}.png"), full_page=True)


def png(width: int, height: int) -> bytes:
    """A PNG photo-sized picture (a colour gradient), made with zlib alone."""
    line = [bytes((x * 255 // width, 0, 128)) for x in range(width)]
    rows = b"".join(b"\x00" + b"".join(line) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 1)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def until(page: Any, expression: str, timeout: float = 20.0) -> None:
    """Wait until `expression` is true in the page (polled through evaluate: the office's
    Content-Security-Policy forbids the eval that wait_for_function's polling uses)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false: {expression}"
        time.sleep(0.1)


def sign_in(browser: Any, office: Office) -> Any:
    """An office page signed in as the administrator."""
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page.goto(office.url + "/login")
    page.fill("#username", "admin")
    page.fill("#password", "admin-pass-1")
    page.locator("#password").press("Enter")
    page.wait_for_load_state()
    return page


def in_app(page: Any, script: str) -> Any:
    """Run `script` (an async function body given `store`) against the app's store."""
    return page.evaluate(
        f"""async () => {{
        const {{ openStore }} = await import("./js/store.js");
        const store = await openStore();
        try {{ {script} }} finally {{ store.close(); }} }}"""
    )
