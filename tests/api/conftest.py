"""Fixtures of the API tests: an app on a fresh database (SQLite and PostgreSQL), a manual clock,
a client that speaks the protocol, and enrolled devices."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server import create_app, services
from sync import Stamp
from tests.clock import ManualClock

# For tests of request parsing that never reach the database: one backend is enough.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def make_app(database_url: str, tmp_path, clock: ManualClock, **extra: Any) -> Flask:
    config = {
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "test-secret",
        "NOW_MS": clock,
        "AUTO_UPGRADE": True,
        "TESTING": True,
        **extra,
    }
    return create_app(config)


@pytest.fixture
def app(database_url: str, tmp_path, clock: ManualClock) -> Iterator[Flask]:
    app = make_app(database_url, tmp_path, clock)
    yield app
    db = app.extensions["fieldsync_db"]
    if not db.is_closed():
        db.close()


@dataclass
class Api:
    """A test client that sends the protocol header and, when it has one, the device token."""

    client: FlaskClient
    token: str | None = None
    device_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"Fieldsync-Protocol": "1", **self.headers}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        headers.update(extra or {})
        return {k: v for k, v in headers.items() if v is not None}

    def get(self, path: str, headers: dict[str, str] | None = None, **kwargs: Any):
        return self.client.get(path, headers=self._headers(headers), **kwargs)

    def post(self, path: str, headers: dict[str, str] | None = None, **kwargs: Any):
        return self.client.post(path, headers=self._headers(headers), **kwargs)

    def post_raw(self, path: str, data: bytes, headers: dict[str, str] | None = None):
        base = {"Content-Type": "application/json", **(headers or {})}
        return self.client.post(path, data=data, headers=self._headers(base))

    def push(self, body: dict[str, Any], **kwargs: Any):
        return self.post("/api/v1/sync/push", json=body, **kwargs)

    def push_gzip(self, body: dict[str, Any]):
        data = gzip.compress(json.dumps(body).encode())
        return self.post_raw("/api/v1/sync/push", data, {"Content-Encoding": "gzip"})

    def pull(self, cursor: str | None = None, limit: int | None = None):
        query = {k: v for k, v in (("cursor", cursor), ("limit", limit)) if v is not None}
        return self.get("/api/v1/sync/pull", query_string=query)

    def stamp(self, ms: int, counter: int = 0) -> str:
        return str(Stamp(ms, counter, self.device_id or "nobody"))


@pytest.fixture
def workspace(app: Flask) -> dict[str, Any]:
    with app.app_context():
        space = services.create_workspace("庄泉社区")
        services.create_user("wang", space, "representative", display_name="王芳")
        services.create_user("li", space, "staff")
        return services.workspace_json(space)


def enroll(app: Flask, username: str, clock: ManualClock, name: str = "平板") -> Api:
    """Enroll a device for a user through the API; return a client holding its token."""
    with app.app_context():
        code = services.create_enrollment_code(username, now=clock.ms)
    client = Api(app.test_client())
    response = client.post("/api/v1/enroll", json={"code": code, "device_name": name})
    assert response.status_code == 201, response.json
    return Api(app.test_client(), response.json["token"], response.json["device_id"])


@pytest.fixture
def device(app: Flask, workspace: dict[str, Any], clock: ManualClock) -> Api:
    return enroll(app, "wang", clock)


@pytest.fixture
def colleague(app: Flask, device: Api, clock: ManualClock) -> Api:
    """A second device of the same workspace: it pulls what ``device`` pushed (a device's own
    writes do not come back to it, docs/protocol.md section 6)."""
    return enroll(app, "wang", clock, name="另一台平板")


@pytest.fixture
def anonymous(app: Flask) -> Api:
    return Api(app.test_client())


def new_id() -> str:
    return str(uuid.uuid4())


def visit_change(device: Api, ms: int, record_id: str | None = None, **fields: Any) -> dict:
    """A change creating (or editing) a visit, every field stamped by the device at ``ms``."""
    values = {"kind": "home_visit", "title": "走访幸福小区", **fields}
    stamp = device.stamp(ms)
    return {
        "type": "visit",
        "id": record_id or new_id(),
        "set": {k: {"value": v, "stamp": stamp, "base": None} for k, v in values.items()},
    }


def push_body(*changes: dict, batch_id: str | None = None, device_time: str | None = None):
    body: dict[str, Any] = {"batch_id": batch_id or new_id(), "changes": list(changes)}
    if device_time is not None:
        body["device_time"] = device_time
    return body


def assert_problem(response, status: int, code: str) -> dict[str, Any]:
    """Assert an RFC 9457 problem response with the protocol's code; return its body."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["code"] == code
    assert body["status"] == status
    assert {"type", "title", "detail"} <= set(body)
    assert "Traceback" not in response.get_data(as_text=True)
    return body
