"""Users and devices: administrators only."""

from __future__ import annotations

import io
import re

import segno

from server.models import Device, User
from tests.office import data
from tests.office.conftest import CSRF_RE, csrf_token


def test_admin_creates_a_user(admin, seeded):
    token = csrf_token(admin, "/admin/users")
    form = {"username": "zhao", "display_name": "赵强", "role": "representative"}
    response = admin.post("/admin/users", data={"csrf_token": token, **form})
    assert response.status_code == 302
    user = User.get(User.username == "zhao")
    assert user.role == "representative" and user.workspace_id == seeded.workspace_id
    assert "赵强" in admin.get("/admin/users").get_data(as_text=True)


def test_bad_user_input_is_explained(admin, seeded):
    token = csrf_token(admin, "/admin/users")
    response = admin.post("/admin/users", data={"csrf_token": token, "username": "wang",
                                                "role": "staff"})  # fmt: skip
    assert response.status_code == 422
    assert "该用户名已被使用" in response.get_data(as_text=True)
    response = admin.post("/admin/users", data={"csrf_token": token, "username": "x y",
                                                "role": "staff"})  # fmt: skip
    assert response.status_code == 422


def test_enrollment_code_as_text_and_qr(admin, seeded):
    token = csrf_token(admin, "/admin/users")
    response = admin.post(f"/admin/users/{seeded.users['li'].id}/code", data={"csrf_token": token})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    code = re.search(r'data-code="([A-Z0-9]+)"', page)[1]
    assert len(code) == 10 and "<svg" in page and "李明" in page
    # The QR code holds the field app's address with the code after '#': scanned with the
    # tablet's camera it opens the app, which enrolls itself; the address is shown beside it.
    address = re.search(r'id="field-app-url">([^<]+)<', page)[1]
    assert address == f"http://localhost/field/#enroll={code[:5]}-{code[5:]}"
    svg = re.search(r"<svg.*?</svg>", page, re.S)[0]
    buffer = io.BytesIO()
    segno.make(address, error="m").save(
        buffer, kind="svg", scale=6, border=2, xmldecl=False, svgns=True, dark="#111827"
    )
    assert svg == buffer.getvalue().decode().strip()
    from server import services

    enrolled = services.enroll(code, "新平板", now=data.NOW_MS + 120_000)
    assert enrolled["user"]["username"] == "li"


def test_devices_page_lists_last_sync_and_conflicts_and_revokes(admin, seeded, clock):
    data.make_conflict(seeded, clock)
    page = admin.get("/admin/devices").get_data(as_text=True)
    assert "李明的平板" in page
    row = re.search(r"李明的平板.*?</tr>", page, re.S)[0]
    assert '<td class="num">1</td>' in row  # the open conflict
    assert "2024-06-30 12:0" in row  # its last sync (push), in the office's time zone
    token = CSRF_RE.search(page)[1]
    response = admin.post(f"/admin/devices/{seeded.device.id}/revoke", data={"csrf_token": token})
    assert response.status_code == 302
    assert Device.get_by_id(seeded.device.id).revoked_at is not None
    assert "已吊销" in admin.get("/admin/devices").get_data(as_text=True)


def test_the_devices_page_revokes_with_wipe_and_audits_it(admin, seeded, clock):
    from server.models import AuditEvent

    data.make_conflict(seeded, clock)  # enrolls 李明的平板
    token = csrf_token(admin, "/admin/devices")
    form = {"csrf_token": token, "wipe": "1"}
    response = admin.post(f"/admin/devices/{seeded.device.id}/revoke", data=form)
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "已吊销并要求清除" in page and "下次联网时清除" in page
    device = Device.get_by_id(seeded.device.id)
    assert device.revoked_at is not None and device.wipe_requested_at is not None
    event = AuditEvent.get(AuditEvent.subject == device.id)
    assert (event.action, event.user_id) == ("device_revoke", device.revoked_by)
    assert event.user_id is not None
    row = re.search(r"<tr>\s*<td>李明的平板.*?</tr>", page, re.S)[0]
    assert "下次联网时清除" in row and ">吊销并清除</button>" not in row  # asked once


def test_revoking_an_unknown_device_changes_nothing(admin, seeded):
    token = csrf_token(admin, "/admin/devices")
    response = admin.post("/admin/devices/nope/revoke", data={"csrf_token": token})
    assert "找不到该设备" in admin.get(response.headers["Location"]).get_data(as_text=True)
