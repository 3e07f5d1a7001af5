"""Fixtures of the integration tests: the only tests that import both the server and the client.

In-process: a server app on a fresh SQLite file and a transport that calls its Flask test client
(the same answer checks as the HTTP transport). Real processes: see ``live.py``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from field_client.pulled import read_page
from field_client.store import LocalStore
from field_client.transport import API, NEXT, check_answer
from server import create_app, services
from sync import NEXT_HEADER, jsonio
from tests.clock import ManualClock


class FlaskTransport:
    """The client's transport over the Flask test client: same requests, same error mapping."""

    def __init__(self, app: Flask, token: str | None = None) -> None:
        self.client = app.test_client()
        self.headers = {"Fieldsync-Protocol": "1", "Accept-Encoding": "gzip"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.calls: list[str] = []

    def _answer(self, response: Any, read: Any = jsonio.loads) -> dict[str, Any]:
        data = response.get_data()
        if response.headers.get("Content-Encoding") == "gzip":
            data = gzip.decompress(data)
        return check_answer(response.status_code, response.content_type or "", data, read)

    def _post(self, path: str, body: dict[str, Any] | str | bytes) -> dict[str, Any]:
        self.calls.append(path)
        if isinstance(body, bytes):  # already gzipped, as the store keeps push batches
            raw = body
        else:
            text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
            raw = gzip.compress(text.encode())
        headers = {**self.headers, "Content-Type": "application/json", "Content-Encoding": "gzip"}
        return self._answer(self.client.post(API + path, data=raw, headers=headers))

    def enroll(self, code: str, device_name: str) -> dict[str, Any]:
        return self._post("/enroll", {"code": code, "device_name": device_name})

    def push(self, body: dict[str, Any] | str | bytes) -> dict[str, Any]:
        return self._post("/sync/push", body)

    def pull(
        self,
        cursor: str | None,
        limit: int,
        read: Callable[[bytes], Any] = read_page,
        sent: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        self.calls.append("/sync/pull")
        if sent is not None:
            sent()
        query = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = self.client.get(API + "/sync/pull", query_string=query, headers=self.headers)
        page = self._answer(response, read)
        if NEXT_HEADER in response.headers:
            page[NEXT] = response.headers[NEXT_HEADER]
        return page

    def device(self) -> dict[str, Any]:
        self.calls.append("/device")
        return self._answer(self.client.get(API + "/device", headers=self.headers))

    def device_wiped(self) -> dict[str, Any]:
        return self._post("/device/wiped", {})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def app(tmp_path: Path, clock: ManualClock) -> Iterator[Flask]:
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'server.db'}",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret",
            "NOW_MS": clock,
            "AUTO_UPGRADE": True,
            "TESTING": True,
            "OFFICE_PAGES": False,
        }
    )
    with app.app_context():
        space = services.create_workspace("庄泉社区")
        services.create_user("wang", space, "representative", display_name="王芳")
        services.create_user("zhao", space, "representative", display_name="赵强")
    yield app
    db = app.extensions["fieldsync_db"]
    if not db.is_closed():
        db.close()


class Device:
    """One enrolled field device: its store and its transport to the in-process server."""

    def __init__(self, app: Flask, home: Path, clock: ManualClock, username: str) -> None:
        self.app, self.clock, self.username = app, clock, username
        self.store = LocalStore(home, now=clock)
        self.enroll()

    def enroll(self) -> None:
        """Enroll with a new code (again, for a home that was enrolled before)."""
        with self.app.app_context():
            code = services.create_enrollment_code(self.username, now=self.clock.ms)
        answer = FlaskTransport(self.app).enroll(code, self.store.home.name)
        self.store.save_enrollment("http://in-process", answer, self.store.home.name)
        self.transport = FlaskTransport(self.app, answer["token"])
        self.id = answer["device_id"]

    def sync(self, **kwargs: Any) -> Any:
        from field_client.syncer import sync_once

        return sync_once(self.store, self.transport, self.store.clock, **kwargs)


@pytest.fixture
def make_device(app: Flask, tmp_path: Path, clock: ManualClock):
    made: list[Device] = []

    def make(name: str = "pad", username: str = "wang") -> Device:
        device = Device(app, tmp_path / name, clock, username)
        made.append(device)
        return device

    yield make
    for device in made:
        device.store.close()
