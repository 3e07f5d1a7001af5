"""Field app benchmark: the installable web app in Chromium against a real office server process.

Run with ``make bench`` (after the other benches) or ``python -m bench field-app [options]``:

    --records N         records the office holds for the app to pull (default 10,000)
    --repeat N          runs of each timed step; the median is shown (default 5)
    --screenshots DIR   also save the screenshots of the closing note (home, visit form, place
                        page, offline banner at 768x1024 and 390x844) as PNG files in DIR

What it measures, as a representative's tablet sees it (768x1024):

- first load at the studio: every byte the office sends (headers and gzipped bodies, counted
  by a loopback proxy between Chromium and the server) from opening the enrollment address
  until the service worker has precached the whole app;
- offline start: the network off, the page reloaded from the service worker, until the home
  screen shows its pending count (empty store and with the 10,000 records);
- pulling the records into the freshly enrolled app (the Sync button, until its sentence);
- with the 10,000 records kept: a search (submitted, until the results are on screen) and a
  place page (its address opened, until the page is on screen).

The server runs on SQLite in a temporary directory; the records reach it through the API as a
desk device pushes them (places, people, visits and concerns with Chinese names and texts).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

TARGETS = {"first_load_kb": 300.0, "offline_start_ms": 1000.0, "pull_s": 5.0, "screen_ms": 100.0}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]  # fmt: skip
TABLET = {"width": 768, "height": 1024}
PHONE = {"width": 390, "height": 844}

# When the home screen first shows its pending count (recorded from the document's start, so
# the figure is the browser's own clock from navigation to a usable home screen).
USABLE_MARK = """
new MutationObserver((_, observer) => {
  if (document.getElementById("pending")) {
    globalThis.usableAt = performance.now();
    observer.disconnect();
  }
}).observe(document, { childList: true, subtree: true });
"""

# Do what a representative does (submit a form, or open an address) and resolve with the
# milliseconds until `selector` is on screen with `text` in it, one frame after the DOM changed.
TIME_SCREEN = """async ([kind, target, selector, text]) => {
  const ready = () => {
    const node = document.querySelector(selector);
    return node && node.textContent.includes(text);
  };
  const started = performance.now();
  const done = new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      if (!ready()) return;
      observer.disconnect();
      requestAnimationFrame(() => resolve(performance.now() - started));
    });
    const all = { childList: true, subtree: true, characterData: true };
    observer.observe(document.getElementById("main"), all);
  });
  if (kind === "submit") document.getElementById(target).requestSubmit();
  else location.hash = target;
  return done;
}"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench field-app")
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--screenshots", type=Path, default=None)
    return parser.parse_args(argv)


# -- a proxy that counts what the office sends ---------------------------------------------------


class CountingProxy:
    """A loopback TCP proxy to ``port`` that counts the bytes sent back to the browser."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.received = 0
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self) -> None:
        with self.lock:
            self.received = 0

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pipe, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, True), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, count: bool) -> None:
        try:
            while data := source.recv(65536):
                if count:
                    with self.lock:
                        self.received += len(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()


# -- the office and its records -----------------------------------------------------------------


def prepare(url: str, codes: int) -> list[str]:
    """Schema, a workspace, a representative and ``codes`` enrollment codes for her."""
    from server import migrations, services
    from server.db import open_database

    db = open_database(url)
    migrations.upgrade(db)
    workspace = services.create_workspace("宝塔路街道")
    services.create_user("liu", workspace, "representative", display_name="刘芳")
    made = [services.create_enrollment_code("liu") for _ in range(codes)]
    db.close()
    return made


def records(total: int) -> list[tuple[str, str, dict[str, Any]]]:
    """``total`` records as a district holds them: places, their people, visits and concerns."""
    from bench.casework import GIVEN, SURNAMES
    from bench.data import PLACES, TOPICS, visit_values

    places = max(1, total // 20)
    parties = total // 4
    visits = total * 3 // 10
    concerns = total - places - parties - visits
    out: list[tuple[str, str, dict[str, Any]]] = []
    place_ids = [str(uuid.uuid4()) for _ in range(places)]
    for n, pid in enumerate(place_ids):
        name = f"{PLACES[n % len(PLACES)]}{n // len(PLACES) + 1}号楼"
        fields = {"kind": "compound", "name": name, "address": f"宝塔路{n + 1}号"}
        out.append(("place", pid, fields))
    party_ids = []
    for n in range(parties):
        name = SURNAMES[n % 20] + GIVEN[(n // 20) % 20] + GIVEN[(n // 400) % 20]
        party_ids.append(str(uuid.uuid4()))
        place = place_ids[n % places]
        out.append(("party", party_ids[-1], {"kind": "resident", "name": name, "place_id": place}))
    for n in range(visits):
        out.append(("visit", str(uuid.uuid4()), visit_values(n, place_ids[n % places])))
    categories = ("infrastructure", "environment", "property_management", "safety", "other")
    for n in range(concerns):
        topic = TOPICS[n % len(TOPICS)]
        out.append(("concern", str(uuid.uuid4()), {
            "title": f"{topic}问题反映第{n + 1}条", "category": categories[n % len(categories)],
            "status": "new", "priority": "normal", "place_id": place_ids[n % places],
            "party_id": party_ids[n % parties] if parties else None,
            "party_ids": [party_ids[n % parties]] if parties else [],
            "raised_on": f"2026-{n % 11 + 1:02d}-{n % 28 + 1:02d}",
            "description": f"居民反映{topic}情况，希望尽快处理。",
        }))  # fmt: skip
    return out


def push_records(base: str, code: str, items: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Push the records through the API as a desk device, 1,000 changes a batch."""
    from bench.__main__ import Device

    device = Device(base, code, gzip=False)
    for start in range(0, len(items), 1000):
        batch = items[start : start + 1000]
        changes = [device.change(t, rid, values, {}) for t, rid, values in batch]
        device.push(device.body(changes))


# -- the browser ----------------------------------------------------------------------------------


def enroll(page: Any, base: str, code: str) -> None:
    """Open the enrollment address; wait until enrolled and the service worker controls."""
    page.goto(f"{base}/field/#enroll={code}")
    page.wait_for_selector("#pending", timeout=30_000)
    until(page, "() => navigator.serviceWorker.controller !== null")


def until(page: Any, script: str, timeout: float = 30.0) -> Any:
    """Poll a function in the page until it returns something true (the app's CSP forbids
    Playwright's own string-evaluating wait)."""
    deadline = time.monotonic() + timeout
    while not (value := page.evaluate(script)):
        if time.monotonic() > deadline:
            raise SystemExit(f"the field app did not get there: {script}")
        time.sleep(0.05)
    return value


def offline_start(page: Any, repeat: int) -> list[float]:
    """Reload with the network off; ms from navigation to the home screen's pending count."""
    times = []
    page.context.set_offline(True)
    for _ in range(repeat):
        page.goto(page.url.split("#")[0])
        page.wait_for_selector("#pending")
        times.append(float(until(page, "() => globalThis.usableAt")))
    page.context.set_offline(False)
    return times


def timed_screen(page: Any, action: tuple[str, str], selector: str, text: str) -> float:
    return float(page.evaluate(TIME_SCREEN, [*action, selector, text]))


def measure(args: argparse.Namespace, base: str, codes: list[str], playwright: Any) -> dict:
    """Every figure of the app, in a dict."""
    figures: dict[str, Any] = {}
    port = int(base.rsplit(":", 1)[1])
    proxy = CountingProxy(port)
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        context = browser.new_context(viewport=TABLET, locale="zh-CN")
        context.add_init_script(USABLE_MARK)
        page = context.new_page()
        studio = f"http://127.0.0.1:{proxy.port}"
        proxy.reset()
        enroll(page, studio, codes.pop())
        until(
            page,
            """async () => { const names = await caches.keys(); if (names.length !== 1)
          return false; return (await (await caches.open(names[0])).keys()).length > 10; }""",
        )
        page.wait_for_timeout(500)  # anything still in flight lands in the count
        figures["first_load_kb"] = proxy.received / 1024
        figures["assets"] = page.evaluate("""async () => { const names = await caches.keys();
          return (await (await caches.open(names[0])).keys()).length; }""")

        figures["offline_empty_ms"] = offline_start(page, args.repeat)
        started = time.perf_counter()
        page.click("#sync")
        until(
            page,
            """() => (document.getElementById("sync-result")?.textContent || "")
          .startsWith("同步完成")""",
            timeout=120,
        )
        figures["pull_s"] = time.perf_counter() - started
        figures["pulled"] = page.evaluate("""() => new Promise((ok) => {
          const r = indexedDB.open("fieldsync"); r.onsuccess = () => {
          const c = r.result.transaction("records").objectStore("records").count();
          c.onsuccess = () => { r.result.close(); ok(c.result); }; }; })""")
        figures["offline_full_ms"] = offline_start(page, args.repeat)

        page.goto(f"{studio}/field/#search")
        page.wait_for_selector("#q")
        page.wait_for_timeout(1000)  # a representative does not search within a second
        searches = []
        for query in ["加装电梯", "王芳", "金山花园", "停车难", "宝塔路1"][: max(args.repeat, 1)]:
            page.fill("#q", query)
            searches.append(timed_screen(page, ("submit", "search-form"), "#search-results", ""))
        figures["search_ms"] = searches
        figures["search_store_ms"] = page.get_attribute("#search-results", "data-ms")
        places = page.evaluate("""() => new Promise((ok) => {
          const r = indexedDB.open("fieldsync"); r.onsuccess = () => {
          const g = r.result.transaction("records").objectStore("records").index("type")
          .getAll("place", 50); g.onsuccess = () => { r.result.close();
          ok(g.result.map((p) => [p.id, p.fields.name])); }; }; })""")
        page_times = []
        for place_id, name in places[: max(args.repeat, 1)]:
            page.goto(f"{studio}/field/")
            page.wait_for_selector("#pending")
            action = ("hash", f"#place={place_id}")
            page_times.append(timed_screen(page, action, "#place-name", name))
        figures["place_ms"] = page_times
        context.close()
    finally:
        browser.close()
        proxy.close()
    return figures


def screenshots(folder: Path, base: str, codes: list[str], playwright: Any) -> list[Path]:
    """Home, visit form, place page and offline banner at 768x1024 and 390x844."""
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        for size, viewport in (("768x1024", TABLET), ("390x844", PHONE)):
            context = browser.new_context(viewport=viewport, locale="zh-CN")
            page = context.new_page()
            enroll(page, base, codes.pop())
            page.click("#sync")
            until(
                page,
                """() => (document.getElementById("sync-result")?.textContent || "")
              .startsWith("同步完成")""",
            )

            def shot(name: str, page: Any = page, size: str = size) -> None:
                path = folder / f"field-app-{name}-{size}.png"
                page.screenshot(path=str(path))
                saved.append(path)

            shot("home")
            page.click("#record-visit")
            page.fill("#place_name", "金山花园1号楼")
            page.locator("input[name=person_name]").first.fill("王阿姨")
            page.locator("input[name=concern_title]").first.fill("楼道灯坏了一个月")
            page.click("#add-concern")
            page.locator("input[name=concern_title]").nth(1).fill("小区没有物业公司")
            page.locator("select[name=concern_category]").nth(1).select_option(
                "property_management"
            )
            page.evaluate("() => window.scrollTo(0, 0)")
            shot("visit-form")
            place = page.evaluate("""() => new Promise((ok) => {
              const r = indexedDB.open("fieldsync"); r.onsuccess = () => {
              const g = r.result.transaction("records").objectStore("records").index("type")
              .getAll("place"); g.onsuccess = () => { r.result.close();
              ok(g.result.find((p) => p.fields.name === "金山花园1号楼").id); }; }; })""")
            page.goto(f"{base}/field/#place={place}")
            page.wait_for_selector("#place-name")
            shot("place")
            context.set_offline(True)
            page.goto(f"{base}/field/")
            page.wait_for_selector("#pending")
            page.wait_for_selector("#notice:not([hidden])")
            shot("offline")
            context.close()
    finally:
        browser.close()
    return saved


# -- report ---------------------------------------------------------------------------------------


def report(figures: dict[str, Any], records: int) -> list[tuple[str, str, str, bool]]:
    med = statistics.median
    rows = [
        ("first load at the studio (all bytes, gzip)", f"{figures['first_load_kb']:.1f} KB"
         f" ({figures['assets']} files precached)", "<= 300 KB",
         figures["first_load_kb"] <= TARGETS["first_load_kb"]),
        ("offline start to usable home, empty store", f"{med(figures['offline_empty_ms']):.0f} ms",
         "< 1000 ms", med(figures["offline_empty_ms"]) < TARGETS["offline_start_ms"]),
        (f"offline start to usable home, {records:,} records",
         f"{med(figures['offline_full_ms']):.0f} ms", "< 1000 ms",
         med(figures["offline_full_ms"]) < TARGETS["offline_start_ms"]),
        (f"pull {records:,} records into a fresh app", f"{figures['pull_s']:.2f} s"
         f" ({figures['pulled']:,} kept)", "< 5 s", figures["pull_s"] < TARGETS["pull_s"]),
        (f"search among {records:,} (to results on screen)",
         f"{med(figures['search_ms']):.0f} ms (max {max(figures['search_ms']):.0f})", "< 100 ms",
         med(figures["search_ms"]) < TARGETS["screen_ms"]),
        (f"place page among {records:,} (to the page on screen)",
         f"{med(figures['place_ms']):.0f} ms (max {max(figures['place_ms']):.0f})", "< 100 ms",
         med(figures["place_ms"]) < TARGETS["screen_ms"]),
    ]  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("field app bench skipped: playwright is not installed")
        return 0
    if not Path(CHROMIUM).exists():
        print(f"field app bench skipped: {CHROMIUM} is not installed")
        return 0
    from bench.__main__ import _pad, _width, server_process

    home = Path(tempfile.mkdtemp(prefix="fieldsync-bench-app-"))
    try:
        url = f"sqlite:///{home / 'office.db'}"
        codes = prepare(url, 8)
        with server_process("cli", url, home) as (base, _pid), sync_playwright() as playwright:
            push_records(base, codes.pop(), records(args.records))
            figures = measure(args, base, codes, playwright)
            saved = []
            if args.screenshots:
                saved = screenshots(args.screenshots, base, codes, playwright)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    rows = report(figures, args.records)
    print(f"\nFieldsync field app bench: Chromium at 768x1024, {os.cpu_count()} CPUs,"
          f" medians of {args.repeat}\n")  # fmt: skip
    cells = [("measure", "value", "target", ""),
             *((w, v, t, "met" if ok else "NOT MET") for w, v, t, ok in rows)]  # fmt: skip
    widths = [max(_width(c[i]) for c in cells) for i in range(4)]
    for n, line in enumerate(cells):
        print("  ".join(_pad(cell, widths[i]) for i, cell in enumerate(line)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
    for path in saved:
        print(f"saved {path} ({path.stat().st_size // 1024} KB)")
    return 0
