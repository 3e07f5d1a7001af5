"""Office sessions live on the server: logout, a new password and a removed user end them;
cookies and pages carry the security headers (issue 9, item 5)."""

from __future__ import annotations

import re
import shutil

from flask.testing import FlaskClient

from server import services
from tests.office import data
from tests.office.conftest import csrf_token, login, make_app


def copied_cookie(app, staff: FlaskClient) -> FlaskClient:
    """A second client holding the staff member's session cookie, as a thief would."""
    thief = app.test_client()
    cookie = staff.get_cookie("session")
    assert cookie is not None
    thief.set_cookie("session", cookie.value)
    assert thief.get("/concerns").status_code == 200
    return thief


def test_a_cookie_copied_before_logout_stops_working(app, staff):
    thief = copied_cookie(app, staff)
    staff.post("/logout", data={"csrf_token": csrf_token(staff, "/concerns")})
    response = thief.get("/concerns")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_new_password_ends_every_session(app, staff):
    thief = copied_cookie(app, staff)
    with app.app_context():
        services.set_password("wang", "a-new-pass-123")
    assert thief.get("/concerns").status_code == 302
    assert staff.get("/concerns").status_code == 302
    assert login(app.test_client(), "wang", "a-new-pass-123").status_code == 302


def test_a_removed_user_is_signed_out(app, staff):
    with app.app_context():
        services.deactivate_user("wang")
    assert staff.get("/concerns").status_code == 302
    assert login(app.test_client(), "wang").status_code == 401


def test_pages_carry_the_security_headers(staff):
    response = staff.get("/concerns")
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    assert "script-src 'self';" in policy  # no inline scripts or event handlers
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_session_cookie_is_secure_when_configured(template, tmp_path, clock):
    shutil.copyfile(template[0], tmp_path / "f.db")
    app = make_app(tmp_path / "f.db", tmp_path / "instance", clock, SESSION_SECURE=True)
    client = app.test_client()
    response = login(client, "admin", data.PASSWORDS["admin"])
    cookies = response.headers.getlist("Set-Cookie")
    assert any(c.startswith("session=") and "Secure" in c and "HttpOnly" in c for c in cookies)


def test_templates_hold_no_inline_scripts_or_handlers():
    """What the policy forbids never reaches a page: no <script> without src, no on...= ."""
    from pathlib import Path

    import server.office

    folder = Path(server.office.__file__).parent / "templates"
    for path in folder.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), path
        assert not re.search(r"\son[a-z]+\s*=", text), path
