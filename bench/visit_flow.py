"""Re-time the one-minute visit in Debian's Chromium: taps, typed fields and seconds.

A representative on a 390x844 phone records a home visit at a place visited before, with one
new resident and two concerns, and saves. The field UI runs on a fresh device home (offline,
as in a stairwell); a person's typing is simulated at a steady pace, so the seconds printed
are the page's own time plus that typing. Run it with ``python -m bench.visit_flow``.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

from field_client.store import LocalStore
from field_client.web import create_app

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
PERSON_TYPING_MS = 150  # a careful thumb on a phone keyboard, per character


@dataclass
class Flow:
    """What the flow took: taps, typed fields, characters typed, and the time."""

    taps: int = 0
    typed_fields: int = 0
    characters: int = 0
    steps: list[str] = field(default_factory=list)
    seconds: float = 0.0
    saved: str = ""  # the text of the visit's page after saving

    def tap(self, page: Any, selector: str, what: str) -> None:
        page.click(selector)
        self.taps += 1
        self.steps.append(f"tap  {what}")

    def type(self, page: Any, selector: str, text: str, what: str, delay_ms: int) -> None:
        page.click(selector)  # focusing a field is a tap too
        self.taps += 1
        page.type(selector, text, delay=delay_ms)
        self.typed_fields += 1
        self.characters += len(text)
        self.steps.append(f"type {what}: {text}")


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log nothing: the flow's own lines are the output."""


def serve_field_ui(home: Path) -> tuple[str, Callable[[], None]]:
    """Serve the field UI of ``home`` on a free loopback port; return its URL and a stopper."""
    store = LocalStore(home)
    answer = {"device_id": "bench-phone", "token": "offline", "user": {"username": "rep"}}
    store.save_enrollment("http://127.0.0.1:9", answer, "phone")  # offline: nothing listens
    store.create("place", {"kind": "compound", "name": "百盛家园"})  # visited before
    app = create_app(home, store=store, check=lambda: False)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop() -> None:
        server.shutdown()
        store.close()

    return f"http://127.0.0.1:{server.server_port}", stop


def record_visit(page: Any, base: str, delay_ms: int) -> Flow:
    """Record the visit as a representative would; return what it took."""
    flow = Flow()
    started = time.monotonic()
    page.goto(base + "/")
    flow.tap(page, "a[href='/visits/new']", "记走访")
    page.wait_for_selector("#visit-form")
    flow.tap(page, "#recent-places label.chip", "最近的地点：百盛家园")
    flow.type(page, "#f-person_name-0", "王阿姨", "新的人", delay_ms)
    flow.type(page, "#f-concern_title-0", "污水管道经常破裂", "诉求一", delay_ms)
    flow.tap(page, "#add-concern", "再加一条诉求")
    flow.type(page, "#f-concern_title-1", "小区没有物业公司", "诉求二", delay_ms)
    flow.tap(page, "#save-visit", "保存走访")
    page.wait_for_url("**/visits/*")
    flow.seconds = time.monotonic() - started
    flow.saved = page.inner_text("main")
    return flow


def run(delay_ms: int = PERSON_TYPING_MS, width: int = 390, height: int = 844) -> Flow:
    """Start a field UI and Chromium, record the visit once, and return the flow."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="fieldsync-visit-flow-") as folder:
        base, stop = serve_field_ui(Path(folder) / "device")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                try:
                    context = browser.new_context(
                        locale="zh-CN", viewport={"width": width, "height": height},
                        has_touch=True,
                    )  # fmt: skip
                    return record_visit(context.new_page(), base, delay_ms)
                finally:
                    browser.close()
        finally:
            stop()


def main() -> None:
    """Print the steps, then taps, typed fields and seconds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--typing-ms", type=int, default=PERSON_TYPING_MS,
                        help="milliseconds per typed character (0: the page alone)")  # fmt: skip
    options = parser.parse_args()
    flow = run(options.typing_ms)
    for step in flow.steps:
        print(step)
    print(f"taps: {flow.taps}  typed fields: {flow.typed_fields}  characters: {flow.characters}"
          f"  seconds: {flow.seconds:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
