"""Fixtures of the field UI tests: an enrolled device store, the UI app, a test client.

The device is enrolled against an address where nothing listens, so a sync from these tests is
offline (a normal result). Time is injected: the UI's clock reads 2026-05-31 09:30 +08:00.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from field_client.store import LocalStore
from field_client.web import create_app
from tests.clock import ManualClock

TZ = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 5, 31, 9, 30, tzinfo=TZ)
START_MS = int(NOW.timestamp() * 1000)


def free_port() -> int:
    """Return a loopback port nobody listens on (right now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def chinese_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages speak the default language unless a test says otherwise."""
    monkeypatch.delenv("FIELDSYNC_LANG", raising=False)


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    """An enrolled device store whose server address has nothing listening."""
    store = LocalStore(tmp_path / "device", now=ManualClock(START_MS))
    answer = {"device_id": "pad-ui-1", "token": "not-a-real-token", "user": {"username": "liu"}}
    store.save_enrollment(f"http://127.0.0.1:{free_port()}", answer, "平板一")
    return store


@pytest.fixture
def app(store: LocalStore, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The field UI over ``store`` with the injected clock; CSRF off (one test turns it on)."""
    monkeypatch.setenv("FIELDSYNC_RETRIES", "0")
    app = create_app(store.home, store=store, now=lambda: NOW, tz=TZ, check=lambda: False)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def page_text(response: Any) -> str:
    """Return a page's visible text, tags dropped and whitespace squeezed."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def field_error(response: Any, name: str) -> str:
    """Return the error message shown next to field ``name`` ("" when none)."""
    html = response.get_data(as_text=True)
    match = re.search(rf'id="err-{re.escape(name)}"[^>]*>([^<]*)<', html)
    return match.group(1).strip() if match else ""
