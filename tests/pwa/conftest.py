"""Fixtures of the field app tests: Debian's Chromium through Playwright, and a loopback
static server for the unit test page (the app's modules, the tests, the shared vectors)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.field_ui.live import chromium_session

ROOT = Path(__file__).resolve().parents[2]
MOUNTS = {
    "/pwa/": ROOT / "field_client" / "pwa",
    "/tests/": ROOT / "tests" / "pwa",
    "/vectors/": ROOT / "tests" / "vectors",
    "/sync/": ROOT / "sync",  # the one vocabulary, for the modules that name values
}


class _Handler(SimpleHTTPRequestHandler):
    """Serve MOUNTS read-only, JavaScript modules with a JavaScript type."""

    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".json": "application/json",
    }

    def translate_path(self, path: str) -> str:
        path = path.split("?", 1)[0]
        for prefix, folder in MOUNTS.items():
            if path.startswith(prefix):
                target = (folder / path[len(prefix) :]).resolve()
                if target.is_relative_to(folder):
                    return str(target)
        return str(ROOT / "nothing-here")

    def log_message(self, *args: Any) -> None:
        """Stay quiet."""


@pytest.fixture(scope="session")
def static_url() -> Iterator[str]:
    """A loopback static server for the unit test page."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, or a skip (a failure with FIELDSYNC_REQUIRE_BROWSER=1)."""
    yield from chromium_session()
