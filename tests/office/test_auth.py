"""Sign-in, roles, CSRF, the login throttle and the language switch."""

from __future__ import annotations

from server.models import Record
from tests.office import data
from tests.office.conftest import csrf_token, login


def test_pages_need_a_signed_in_user(app, seeded):
    client = app.test_client()
    response = client.get("/concerns")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/concerns")


def test_staff_signs_in_and_lands_on_the_page_asked_for(app, seeded):
    client = app.test_client()
    token = csrf_token(client, "/login?next=/conflicts")
    response = client.post("/login", data={"username": "wang", "password": data.PASSWORDS["wang"],
                                           "csrf_token": token, "next": "/conflicts"})  # fmt: skip
    assert response.status_code == 302 and response.headers["Location"] == "/conflicts"
    assert "王芳" in client.get("/conflicts").get_data(as_text=True)


def test_sign_in_never_redirects_off_site(app, seeded):
    client = app.test_client()
    token = csrf_token(client)
    form = {"username": "wang", "password": data.PASSWORDS["wang"], "csrf_token": token}
    response = client.post("/login", data={**form, "next": "//evil.example/x"})
    assert response.headers["Location"] == "/"


def test_wrong_password_is_refused_with_a_message(app, seeded):
    client = app.test_client()
    response = login(client, "wang", "not-the-password")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_representatives_get_a_clear_refusal(app, seeded):
    client = app.test_client()
    response = login(client, "li")
    page = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "办公室页面仅供工作人员使用" in page
    assert client.get("/").status_code == 302  # not signed in


def test_wrong_passwords_are_rate_limited_per_user_and_address(app, seeded, clock):
    client = app.test_client()
    for _ in range(5):
        assert login(client, "wang", "wrong-password").status_code == 401
    locked = login(client, "wang")  # even the right password waits now
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert "密码错误次数过多" in locked.get_data(as_text=True)
    assert login(client, "admin").status_code == 302  # another username is not locked
    clock.advance(301)
    assert login(client, "wang").status_code == 302


def test_a_form_without_csrf_token_is_refused_and_changes_nothing(staff, seeded):
    before = Record.get_by_id(seeded.ids["riders"]).fields
    response = staff.post(f"/concerns/{seeded.ids['riders']}/step", data={"to": "resolved"})
    assert response.status_code == 400
    assert "无法接受此表单" in response.get_data(as_text=True)
    forged = staff.post(f"/concerns/{seeded.ids['riders']}/step",
                        data={"to": "resolved", "csrf_token": "forged"})  # fmt: skip
    assert forged.status_code == 400
    assert Record.get_by_id(seeded.ids["riders"]).fields == before


def test_the_device_api_is_exempt_from_csrf(app, seeded):
    response = app.test_client().post("/api/v1/enroll", json={"code": "NOPE", "device_name": "x"},
                                      headers={"Fieldsync-Protocol": "1"})  # fmt: skip
    assert response.status_code == 401  # the API's own answer, not a CSRF refusal
    assert response.mimetype == "application/problem+json"


def test_staff_opening_an_admin_page_gets_403(staff):
    for path in ("/admin/users", "/admin/devices"):
        response = staff.get(path)
        assert response.status_code == 403
        assert "仅供管理员使用" in response.get_data(as_text=True)
    token = csrf_token(staff, "/")
    response = staff.post("/admin/users", data={"username": "x1", "role": "admin",
                                                "csrf_token": token})  # fmt: skip
    assert response.status_code == 403


def test_language_switch_is_remembered(staff):
    assert "工作概览" in staff.get("/").get_data(as_text=True)
    response = staff.get("/lang/en?next=/concerns")
    assert response.headers["Location"] == "/concerns"
    page = staff.get("/").get_data(as_text=True)
    assert "Dashboard" in page and "工作概览" not in page
    assert 'lang="en"' in page
    staff.get("/lang/zh")
    assert "工作概览" in staff.get("/").get_data(as_text=True)


def test_language_cookie_survives_a_new_session(app, seeded):
    client = app.test_client()
    client.get("/lang/en")
    client.delete_cookie("session")
    assert "Sign in" in client.get("/login").get_data(as_text=True)


def test_sign_out(staff):
    token = csrf_token(staff, "/")
    assert staff.post("/logout", data={"csrf_token": token}).status_code == 302
    assert staff.get("/").status_code == 302
