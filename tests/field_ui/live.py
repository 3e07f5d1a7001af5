"""Real parts for the browser tests: an office server process, enrolled device homes, the field
UI on a loopback port, and Chromium (Debian's, never a downloaded one).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import requests

from field_client.store import LocalStore
from field_client.syncer import sync_once
from field_client.transport import HttpTransport

BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def free_port() -> int:
    """Return a loopback port that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch_chromium(playwright: Any) -> Any:
    """Start Debian's Chromium, or skip (fail with FIELDSYNC_REQUIRE_BROWSER=1) without it."""
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is not installed: the browser tests need Debian's chromium"
        if os.environ.get("FIELDSYNC_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def chromium_session() -> Iterator[Any]:
    """Yield Debian's Chromium through Playwright for a fixture, closing it afterwards."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("FIELDSYNC_REQUIRE_BROWSER") == "1":
            pytest.fail("playwright is not installed")
        pytest.skip("playwright is not installed")
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


class Office:
    """``fieldsync-server`` on a temp SQLite file, on one fixed port so it can be restarted."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "FIELDSYNC_DATABASE_URL": f"sqlite:///{root / 'office.db'}",
            "FIELDSYNC_INSTANCE_PATH": str(root / "instance"),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.foreign_place = ""  # a place of another workspace (tests set it up)
        self.codes: list[str] = []  # unused enrollment codes
        self.log: Path | None = None  # where the server's output goes (None: nowhere)

    def cli(self, *args: str) -> Any:
        """Run ``fieldsync-server ARGS --json``; return its JSON answer."""
        done = subprocess.run(
            [str(BIN / "fieldsync-server"), *args, "--json"],
            env=self.env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr + done.stdout
        return json.loads(done.stdout)

    def start(self) -> Office:
        """Start serving and wait until the API answers."""
        out: Any = subprocess.DEVNULL
        if self.log is not None:
            out = self.log.open("ab")  # the child keeps its own copy of the descriptor
        try:
            self.process = subprocess.Popen(
                [str(BIN / "fieldsync-server"), "run", "--port", str(self.port)],
                env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        finally:
            if out is not subprocess.DEVNULL:
                out.close()
        # A start takes about a second; a machine busy with other tests may take far longer,
        # and a slow answer is asked again, not taken for a failure.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the office server exited ({self.process.returncode})")
            try:
                if requests.get(self.url + "/api/v1/healthz", timeout=5).ok:
                    return self
            except requests.RequestException:  # not listening yet, or too slow to answer
                pass
            time.sleep(0.05)
        raise AssertionError("the office server did not start")

    def stop(self) -> None:
        """Stop the server (the device then finds nobody at its address)."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def enroll(self, home: Path, code: str) -> LocalStore:
        """Enroll a device home with an enrollment code (through the client's own API)."""
        store = LocalStore(home)
        transport = HttpTransport(self.url, retries=0)
        try:
            store.save_enrollment(self.url, transport.enroll(code, home.name), home.name)
        finally:
            transport.close()
        return store

    def records(self, store: LocalStore) -> dict[str, dict[str, Any]]:
        """Return what the server holds for the device's workspace, by id (read from the
        office's database: the device's own pull leaves out its own writes)."""
        token = store.credentials()["token"]
        headers = {"Authorization": f"Bearer {token}", "Fieldsync-Protocol": "1"}
        answer = requests.get(self.url + "/api/v1/device", headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text
        workspace_id = answer.json()["workspace"]["id"]
        path = self.env["FIELDSYNC_DATABASE_URL"].removeprefix("sqlite:///")
        with closing(sqlite3.connect(path)) as db:
            rows = db.execute(
                'SELECT id, type, fields, stamps, deleted FROM "record" WHERE workspace_id = ?',
                (workspace_id,),
            ).fetchall()
        return {
            r[0]: {"id": r[0], "type": r[1], "fields": json.loads(r[2]),
                   "stamps": json.loads(r[3]), "deleted": bool(r[4])}
            for r in rows
        }  # fmt: skip


def sync(store: LocalStore, url: str) -> Any:
    """Sync a device home with the server (not through the UI)."""
    transport = HttpTransport(url, store.credentials()["token"], retries=0)
    try:
        return sync_once(store, transport)
    finally:
        transport.close()


class FieldUI:
    """The field UI app on a free loopback port, in a thread of this process."""

    def __init__(self, app: Any) -> None:
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
