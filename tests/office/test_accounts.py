"""Users in the admin pages: deactivate and reactivate, reset a password, change my password."""

from __future__ import annotations

import re

from server import services
from tests.office import data
from tests.office.conftest import csrf_token, login


def post(client, path: str, form: dict | None = None):
    token = csrf_token(client, "/account/password")  # reachable even when a change is due
    return client.post(path, data={"csrf_token": token, **(form or {})})


def test_a_deactivated_users_session_and_device_stop_at_once(app, admin, staff, seeded, clock):
    code = services.create_enrollment_code("li", now=clock())
    token = services.enroll(code, "李明的平板", now=clock())["token"]
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}", "Fieldsync-Protocol": "1"}
    assert api.get("/api/v1/device", headers=headers).status_code == 200
    assert staff.get("/concerns").status_code == 200
    for user in ("li", "wang"):
        answer = post(admin, f"/admin/users/{seeded.users[user].id}/active", {"active": "0"})
        assert answer.status_code == 302
    assert "已停用" in admin.get("/admin/users").get_data(as_text=True)
    refused = api.get("/api/v1/device", headers=headers)
    assert refused.status_code == 403 and refused.json["code"] == "forbidden"
    assert staff.get("/concerns").status_code == 302  # the open session is signed out
    assert login(app.test_client(), "wang").status_code == 401
    post(admin, f"/admin/users/{seeded.users['li'].id}/active", {"active": "1"})
    assert api.get("/api/v1/device", headers=headers).status_code == 200


def test_an_admin_cannot_deactivate_themself(admin, seeded):
    post(admin, f"/admin/users/{seeded.users['admin'].id}/active", {"active": "0"})
    assert services.get_user("admin").active


def test_a_reset_password_must_be_replaced_at_the_next_login(app, admin, staff, seeded):
    page = post(admin, f"/admin/users/{seeded.users['wang'].id}/reset")
    temporary = re.search(r'id="temporary-password">([^<]+)<', page.get_data(as_text=True))[1]
    assert "/login" in staff.get("/concerns").headers["Location"]  # their open session ended
    assert login(app.test_client(), "wang").status_code == 401  # the old one is gone
    client = app.test_client()
    assert login(client, "wang", temporary).status_code == 302
    forced = client.get("/concerns", follow_redirects=True).get_data(as_text=True)
    assert "管理员重置了您的密码" in forced
    form = {"current": temporary, "new": "new-pass-77", "confirm": "new-pass-7"}
    assert "两次输入的新密码不一致" in post(client, "/account/password", form).get_data(True)
    form["confirm"] = "new-pass-77"
    assert post(client, "/account/password", form).status_code == 302
    assert client.get("/concerns").status_code == 200
    assert login(app.test_client(), "wang", "new-pass-77").status_code == 302


def test_everyone_can_change_their_own_password(app, staff):
    wrong = post(staff, "/account/password", {"current": "nope-nope", "new": "x" * 9,
                                              "confirm": "x" * 9})  # fmt: skip
    assert wrong.status_code == 422 and "当前密码不对" in wrong.get_data(as_text=True)
    short = {"current": data.PASSWORDS["wang"], "new": "short", "confirm": "short"}
    assert "至少 8 个字符" in post(staff, "/account/password", short).get_data(as_text=True)
    ok = {"current": data.PASSWORDS["wang"], "new": "brand-new-1", "confirm": "brand-new-1"}
    assert post(staff, "/account/password", ok).status_code == 302
    assert login(app.test_client(), "wang", "brand-new-1").status_code == 302
