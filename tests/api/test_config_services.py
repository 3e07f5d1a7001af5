"""Configuration sources in order, and the services behind the API and the CLI."""

from __future__ import annotations

import datetime as dt

import pytest

from server import config, create_app, services
from server.errors import ServerError
from server.models import EnrollmentCode, User
from sync import ProtocolError
from tests.api.conftest import sqlite_only


def test_config_sources_apply_in_order(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text("MAX_SKEW_MS = 1000\nBLOB_LIMIT = 5\nLANG = 'en'\n")
    monkeypatch.setenv("FIELDSYNC_BLOB_LIMIT", "7")
    monkeypatch.setenv("FIELDSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    app = create_app({"INSTANCE_PATH": str(instance), "LANG": "zh"})
    assert app.config["MAX_SKEW_MS"] == 1000  # instance file over defaults
    assert app.config["BLOB_LIMIT"] == 7  # environment over instance file
    assert app.config["LANG"] == "zh"  # test_config over everything
    assert app.config["DATABASE_URL"].endswith("env.db")
    assert app.config["ENROLL_CODE_TTL"] == 72 * 3600
    assert app.config["PUSH_MAX_CHANGES"] == 1000
    assert abs(app.config["NOW_MS"]() - dt.datetime.now(dt.UTC).timestamp() * 1000) < 60_000


def test_the_default_database_and_secret_live_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("FIELDSYNC_DATABASE_URL", raising=False)
    monkeypatch.delenv("FIELDSYNC_SECRET_KEY", raising=False)
    first = create_app({"INSTANCE_PATH": str(tmp_path / "inst")})
    assert first.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'inst' / 'fieldsync.db'}"
    key_file = tmp_path / "inst" / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    second = create_app({"INSTANCE_PATH": str(tmp_path / "inst")})
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) >= 32


def test_environment_numbers_must_be_numbers():
    with pytest.raises(ValueError, match="FIELDSYNC_MAX_SKEW_MS"):
        config.environment_config({"FIELDSYNC_MAX_SKEW_MS": "soon"})
    found = config.environment_config({"FIELDSYNC_AUTO_UPGRADE": "yes", "OTHER": "1"})
    assert found == {"AUTO_UPGRADE": True}


def test_passwords_are_hashed_and_checked(app, workspace):
    with app.app_context():
        services.set_password("li", "staff-pass-1")
        user = User.get(User.username == "li")
        assert user.password_hash.startswith("scrypt:")
        assert services.check_password("li", "staff-pass-1").id == user.id
        assert services.check_password("li", "wrong-pass") is None
        assert services.check_password("nobody", "staff-pass-1") is None
        assert services.check_password("wang", "") is None  # no password set: no office login
        services.set_password("wang", "new-password-1")
        assert services.check_password("wang", "new-password-1") is not None


@sqlite_only
@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"username": "x", "role": "boss"}, "bad_role"),
        ({"username": "two words", "role": "staff"}, "bad_username"),
        ({"username": "li", "role": "staff"}, "user_exists"),
        ({"username": "z", "role": "staff", "password": "short"}, "short_password"),
        ({"username": "z", "role": "staff", "workspace": "没有"}, "no_workspace"),
    ],
)
def test_bad_users_are_refused_with_a_reason(app, workspace, kwargs, key):
    with app.app_context(), pytest.raises(ServerError) as caught:
        services.create_user(workspace=kwargs.pop("workspace", "庄泉社区"), **kwargs)
    assert caught.value.key == key and isinstance(caught.value, ProtocolError)


def test_enrollment_codes_are_typeable_and_stored_hashed(app, workspace, clock):
    with app.app_context():
        codes = {services.create_enrollment_code("wang", now=clock.ms) for _ in range(20)}
        assert len(codes) == 20
        assert all(len(c) == 10 and set(c) <= set(services.CODE_ALPHABET) for c in codes)
        stored = {row.code_hash for row in EnrollmentCode.select()}
        assert stored == {services.sha256_hex(c) for c in codes}
        row = EnrollmentCode.select().first()
        assert row.expires_at - row.created_at == dt.timedelta(hours=72)


def test_devices_are_listed_per_workspace(app, device, clock):
    with app.app_context():
        services.create_workspace("金山社区")
        assert [d["device_id"] for d in services.list_devices("庄泉社区")] == [device.device_id]
        assert services.list_devices("金山社区") == []
        assert "token" not in str(services.list_devices())
        with pytest.raises(ServerError):
            services.revoke_device("nope")
        once = services.revoke_device(device.device_id)
        twice = services.revoke_device(device.device_id)
        assert once.revoked_at == twice.revoked_at  # revoking twice is harmless
