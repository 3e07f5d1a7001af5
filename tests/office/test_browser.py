"""The office pages in a real browser (headless Chromium driven by Playwright) against a real
HTTP server holding the demo's data (the article's story, played by ``demo``).

A missing Chromium skips these tests with the reason, unless FIELDSYNC_REQUIRE_BROWSER=1 (CI),
which makes it a failure. Screenshots go to ``artifacts/screenshots/`` (not committed).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def _require_browser() -> None:
    problem = None
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        problem = f"Chromium is not installed ({CHROMIUM}); install Debian's chromium package"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "Playwright for Python is not installed (pip install -e '.[dev]')"
    if problem is None:
        return
    if os.environ.get("FIELDSYNC_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests required but {problem}")
    pytest.skip(problem)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The demo's story on its own SQLite database, served on a free loopback port."""
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

    executable = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, demo: Any) -> Iterator[Any]:
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 1366, "height": 900}, accept_downloads=True
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    base = demo.office_url.rstrip("/")
    page.goto(base + "/login")
    username, password = demo.login
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")
    yield page
    context.close()


def figure(page: Any, name: str) -> str:
    return str(page.inner_text(f'[data-figure="{name}"] .value')).strip()


def test_dashboard_shows_the_articles_figures(page, demo):
    page.goto(demo.office_url.rstrip("/") + "/?since=2022-01-01")
    assert figure(page, "concerns_collected") == "27"
    assert figure(page, "concerns_resolved") == "24"
    assert figure(page, "projects") == "2/3"
    assert figure(page, "sessions") == "5"
    assert page.locator("svg.chart").count() >= 4  # the charts, drawn on the server
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "office-dashboard.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: nothing runs off the side
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    page.screenshot(path=str(SCREENSHOTS / "office-dashboard-phone.png"), full_page=True)
    assert overflow <= 1


def test_resolve_a_conflict_and_see_it_gone(page, demo):
    base = demo.office_url.rstrip("/")
    page.goto(base + "/conflicts")
    cards = page.locator("[data-conflict]")
    assert cards.count() == demo.open_conflicts == 1
    card = cards.first
    assert card.locator(".version").count() == 2  # both values, side by side
    page.screenshot(path=str(SCREENSHOTS / "office-conflicts.png"), full_page=True)
    card.locator('input[value="other"]').check()
    card.locator("button[type=submit]").click()
    page.wait_for_url(base + "/conflicts")
    assert "冲突已解决" in page.inner_text(".flash")
    assert page.locator("[data-conflict]").count() == 0
    assert page.locator("[data-empty]").is_visible()
    page.goto(base + "/")
    assert page.locator(".nav .count").count() <= 1  # the conflicts badge is gone


def test_export_the_filtered_list_as_csv(page, demo, tmp_path):
    base = demo.office_url.rstrip("/")
    page.goto(base + "/concerns?since=2022-01-01")
    with page.expect_download() as download_info:
        page.click("text=导出 CSV")
    path = tmp_path / "concerns.csv"
    download_info.value.save_as(path)
    raw = path.read_bytes()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][1] == "标题" and len(rows) == 1 + 27
    page.fill('input[name="q"]', "骑手")
    page.click("form.filters button")
    shown = page.locator("table tbody tr").count()
    with page.expect_download() as download_info:
        page.click("text=导出 CSV")
    download_info.value.save_as(path)
    filtered = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))
    assert 0 < len(filtered) - 1 == shown < 27  # exactly the rows the filtered list shows


def test_switch_to_english(page, demo):
    page.click("text=English")
    assert page.inner_text("h1") == "Dashboard"
    page.click("text=中文")
    assert page.inner_text("h1") == "工作概览"


def test_the_dashboard_marks_its_range_and_primary_is_not_the_delete_red(page, demo):
    base = demo.office_url.rstrip("/")
    page.goto(base + "/")
    active = page.locator('a.btn.active[aria-current="true"]')
    assert active.count() == 1 and active.inner_text().strip() == "全部时间"
    style = "e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color]"
    plain = page.locator("a.btn.small:not(.active)").first.evaluate(style)
    assert active.evaluate(style) != plain  # the active range looks different
    page.goto(base + "/concerns")
    page.locator("table a[href^='/concerns/']").first.click()
    primary = page.locator(".pagehead .btn.primary").evaluate(style)
    danger = page.locator(".pagehead .btn.danger").evaluate(style)
    assert primary[0] != danger[0] and primary[1] != danger[1]
    assert "185, 28, 28" not in primary[0]  # not the red of 删除
    page.screenshot(path=str(SCREENSHOTS / "office-concern-buttons.png"), full_page=True)
