"""GET /api/v1/device, bearer tokens and revocation, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from server import services
from server.models import User
from sync import Stamp
from sync.wire import DeviceSchema
from tests.api.conftest import Api, assert_problem, push_body, sqlite_only, visit_change


def test_device_describes_itself(device, workspace, clock):
    body = device.get("/api/v1/device").json
    assert body["device_id"] == device.device_id and body["name"] == "平板"
    assert body["user"]["username"] == "wang" and body["user"]["role"] == "representative"
    assert body["workspace"] == workspace
    assert body["last_sync"] is None and body["open_conflicts"] == []
    assert set(body) == set(DeviceSchema().fields) and Stamp.parse(body["server_time"])
    device.push(push_body(visit_change(device, clock.ms)))
    assert device.get("/api/v1/device").json["last_sync"] is not None


def test_a_pull_counts_as_a_sync(device):
    device.pull()
    assert device.get("/api/v1/device").json["last_sync"] is not None


@sqlite_only
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer ", "Bearer not-a-token", "Basic d2FuZzpwdw==", "token"],
)
def test_missing_or_unknown_tokens_are_unauthorized(app, device, authorization):
    client = Api(app.test_client())
    headers = {"Authorization": authorization} if authorization else {}
    for path in ("/api/v1/device", "/api/v1/sync/pull"):
        assert_problem(client.get(path, headers=headers), 401, "unauthorized")
    response = client.post("/api/v1/sync/push", json=push_body(), headers=headers)
    assert_problem(response, 401, "unauthorized")


def test_a_revoked_device_is_told_so_everywhere(app, device, clock):
    device.push(push_body(visit_change(device, clock.ms)))
    with app.app_context():
        revoked = services.revoke_device(device.device_id)
    assert revoked.revoked_at is not None
    for response in (
        device.get("/api/v1/device"),
        device.pull(),
        device.push(push_body(visit_change(device, clock.ms))),
    ):
        body = assert_problem(response, 401, "device_revoked")
        assert "local data" in body["detail"]
    with app.app_context():
        assert [d["revoked"] for d in services.list_devices()] == [True]


def test_a_deactivated_user_is_forbidden(app, device):
    with app.app_context():
        User.update(active=False).where(User.username == "wang").execute()
    assert_problem(device.get("/api/v1/device"), 403, "forbidden")


def test_tokens_are_per_device(app, device, clock):
    from tests.api.conftest import enroll

    second = enroll(app, "wang", clock, name="手机")
    assert second.token != device.token and second.device_id != device.device_id
    with app.app_context():
        services.revoke_device(device.device_id)
    assert second.get("/api/v1/device").status_code == 200
