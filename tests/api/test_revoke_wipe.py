"""Revoke with wipe (issue 9 item 7): a device revoked with wipe may still send what it holds,
is told to wipe everywhere else, says when it has wiped, and is refused from then on."""

from __future__ import annotations

import hashlib
import json

from server import services
from server.models import AuditEvent, Record
from tests.api.conftest import assert_problem, push_body, visit_change


def test_a_device_revoked_with_wipe_sends_first_then_is_refused(app, device, workspace, clock):
    with app.app_context():
        admin = services.create_user("zhou", workspace["id"], "admin")
        services.revoke_device(device.device_id, admin, wipe=True, now=clock.ms)
    for response in (device.pull(), device.get("/api/v1/device")):
        body = assert_problem(response, 401, "device_revoked")
        assert body["wipe"] is True
    photo = b"photo bytes"
    sha = hashlib.sha256(photo).hexdigest()
    answer = device.post("/api/v1/blobs/missing", json={"sha256": [sha]})
    assert answer.status_code == 200 and answer.json["missing"] == [sha]
    put = device.client.put(f"/api/v1/blobs/{sha}", data=photo, headers=device._headers(None))
    assert put.status_code == 201
    change = visit_change(device, clock.ms)
    pushed = device.push(push_body(change))
    assert pushed.status_code == 200 and pushed.json["applied"] == 1
    assert_problem(device.get(f"/api/v1/blobs/{sha}"), 401, "device_revoked")

    done = device.post("/api/v1/device/wiped")
    assert done.status_code == 200 and done.json["wiped"] is True
    for response in (
        device.pull(),
        device.push(push_body(visit_change(device, clock.ms))),
        device.post("/api/v1/device/wiped"),
    ):
        body = assert_problem(response, 401, "device_revoked")
        assert "wipe" not in body
    with app.app_context():
        assert Record.get_by_id(change["id"]).workspace_id == workspace["id"]
        events = [(e.action, e.user_id, json.loads(e.detail)) for e in AuditEvent.select()]
        assert events == [("device_revoke", admin.id, {"wipe": True}), ("device_wiped", None, {})]
        assert [d["wipe"] for d in services.list_devices()] == ["done"]


def test_a_plain_revoke_is_audited_and_can_add_a_wipe_later(app, device, clock):
    with app.app_context():
        services.revoke_device(device.device_id, now=clock.ms)
    body = assert_problem(device.push(push_body(visit_change(device, clock.ms))), 401,
                          "device_revoked")  # fmt: skip
    assert "wipe" not in body
    assert_problem(device.post("/api/v1/device/wiped"), 401, "device_revoked")
    with app.app_context():
        services.revoke_device(device.device_id, wipe=True, now=clock.ms)
        services.revoke_device(device.device_id, wipe=True, now=clock.ms)  # harmless
        actions = [(e.action, json.loads(e.detail)) for e in AuditEvent.select()]
        assert actions == [("device_revoke", {"wipe": False}), ("device_revoke", {"wipe": True})]
    assert device.push(push_body(visit_change(device, clock.ms))).status_code == 200


def test_an_active_device_cannot_say_it_wiped(device):
    assert_problem(device.post("/api/v1/device/wiped"), 409, "conflict")
