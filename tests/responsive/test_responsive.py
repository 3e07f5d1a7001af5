"""Every office and field page at phone, tablet and desktop sizes in Debian's Chromium.

One demo (office server and one device's field UI), one browser for the module. At each size
every page is checked for sideways scrolling and for text squeezed to one character per line
in the navigation, cards and tables (element widths measured), and a screenshot of it is saved
under ``artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.office.test_browser import CHROMIUM, CHROMIUM_ARGS, _require_browser

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).parents[2] / "artifacts" / "screenshots"
SIZES = {"phone-360": (360, 740), "phone-390": (390, 844), "tablet": (768, 1024),
         "desktop": (1440, 900)}  # fmt: skip
OFFICE_PAGES = ("/", "/concerns", "/visits", "/places", "/people", "/projects", "/review",
                "/conflicts", "/admin/users", "/admin/devices", "/account/password")  # fmt: skip
FIELD_PAGES = ("/", "/visits/new", "/concerns", "/concerns/new", "/places", "/search?q=百盛",
               "/attention")  # fmt: skip
SQUEEZED = """
(selector) => {
  const found = [];
  for (const el of document.querySelectorAll(selector)) {
    const text = (el.innerText || "").replace(/\\s+/g, "");
    if (text.length < 2 || el.offsetParent === null) continue;
    const style = getComputedStyle(el);
    const size = parseFloat(style.fontSize);
    const box = el.getBoundingClientRect();
    const inner = box.width - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    // one character per line: narrower than two characters and taller than two lines
    if (inner < 1.9 * size && box.height > 2.6 * size) {
      found.push(el.tagName + ": " + text.slice(0, 12));
    }
  }
  return found;
}
"""
OFF_SCREEN = """
() => [...document.querySelectorAll(".nav a, .side a")]
  .filter((a) => { const r = a.getBoundingClientRect();
                   return r.width > 0 && (r.right > window.innerWidth + 1 || r.left < -1); })
  .map((a) => a.innerText.trim())
"""
WATCHED = (
    ".side a, .nav a, .topbar a, .card, .stat, .panel, .item-title, .item-meta, th, td, .btn, "
    ".chip, .tag, .badge, h1, h2"
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    _require_browser()
    from demo.runner import Demo
    from demo.story import load_story

    runner = Demo(load_story(), tmp_path_factory.mktemp("demo"), echo=lambda _line: None)
    try:
        yield runner.run()
    finally:
        runner.close()


@pytest.fixture(scope="module")
def browser(demo: Any) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def check(page: Any, url: str, shot: Path) -> list[str]:
    """Open ``url``, save its screenshot; return what is wrong with the page's layout."""
    page.goto(url)
    page.wait_for_load_state("load")
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    problems = []
    width = page.evaluate("document.documentElement.scrollWidth")
    view = page.evaluate("window.innerWidth")
    if width > view + 1:
        problems.append(f"scrolls sideways ({width}px in {view}px)")
    problems += [f"one character per line: {x}" for x in page.evaluate(SQUEEZED, WATCHED)]
    problems += [f"navigation off screen: {x}" for x in page.evaluate(OFF_SCREEN)]
    return problems


def name_of(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.split("?")[0]).strip("-") or "home"


@pytest.mark.parametrize("size", SIZES)
def test_every_page_fits_without_sideways_scroll_or_squeezed_text(browser, demo, size):
    width, height = SIZES[size]
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height})
    context.set_default_timeout(15_000)
    page = context.new_page()
    office = demo.office_url.rstrip("/")
    page.goto(office + "/login")
    page.fill("#username", demo.admin_login[0])
    page.fill("#password", demo.admin_login[1])
    page.click("button[type=submit]")
    page.wait_for_url(office + "/")
    problems: dict[str, list[str]] = {}
    for path in OFFICE_PAGES:
        found = check(page, office + path, SHOTS / f"{size}-office-{name_of(path)}.png")
        if found:
            problems[f"office {path}"] = found
    field = (demo.field_url or "").rstrip("/")
    assert field, "the demo serves one device's field UI"
    for path in FIELD_PAGES:
        found = check(page, field + path, SHOTS / f"{size}-field-{name_of(path)}.png")
        if found:
            problems[f"field {path}"] = found
    context.close()
    report = [f"{where}: {'; '.join(found[:4])}" for where, found in problems.items()]
    assert not problems, f"at {width}x{height}:\n" + "\n".join(report)


def test_the_one_minute_visit_takes_few_taps_and_saves_everything(browser, tmp_path):
    from bench.visit_flow import record_visit, serve_field_ui

    base, stop = serve_field_ui(tmp_path / "device")
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    try:
        flow = record_visit(context.new_page(), base, delay_ms=0)
    finally:
        context.close()
        stop()
    assert (flow.taps, flow.typed_fields) == (7, 3)  # the goal: under 25 taps
    assert "污水管道经常破裂" in flow.saved and "小区没有物业公司" in flow.saved
    assert "王阿姨" in flow.saved and "百盛家园" in flow.saved
