"""POST /api/v1/enroll and the protocol header, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from server import services
from server.models import Device, EnrollmentCode
from sync import Stamp
from tests.api.conftest import Api, assert_problem, sqlite_only


def code_for(app, username, clock):
    with app.app_context():
        return services.create_enrollment_code(username, now=clock.ms)


def test_enroll_returns_device_token_user_and_workspace(app, workspace, anonymous, clock):
    code = code_for(app, "wang", clock)
    response = anonymous.post("/api/v1/enroll", json={"code": code, "device_name": "王芳的平板"})
    assert response.status_code == 201
    body = response.json
    assert body["user"]["username"] == "wang" and body["user"]["display_name"] == "王芳"
    assert body["workspace"] == workspace
    assert Stamp.parse(f"0000000000000-000000-{body['device_id']}")  # a valid node id
    assert Stamp.parse(body["server_time"]).wall_ms >= clock.ms
    assert body["compact"] is True  # devices may send the compact form (protocol section 5)
    with app.app_context():
        stored = Device.get_by_id(body["device_id"])
        assert stored.token_hash == services.sha256_hex(body["token"])
        assert body["token"] not in (stored.token_hash, stored.name)
        assert EnrollmentCode.get().code_hash != code  # codes are stored hashed too
    device = Api(app.test_client(), body["token"], body["device_id"])
    assert device.get("/api/v1/device").json["name"] == "王芳的平板"


@sqlite_only
def test_enroll_accepts_a_code_typed_loosely(app, workspace, anonymous, clock):
    code = code_for(app, "wang", clock)
    typed = f" {code[:5].lower()}-{code[5:]} "
    response = anonymous.post("/api/v1/enroll", json={"code": typed, "device_name": "笔记本"})
    assert response.status_code == 201


def test_a_code_works_once(app, workspace, anonymous, clock):
    code = code_for(app, "wang", clock)
    assert (
        anonymous.post("/api/v1/enroll", json={"code": code, "device_name": "a"}).status_code
        == 201
    )
    again = anonymous.post("/api/v1/enroll", json={"code": code, "device_name": "b"})
    assert assert_problem(again, 401, "unauthorized")["reason"] == "used"


def test_a_code_expires_after_72_hours(app, workspace, anonymous, clock):
    code = code_for(app, "wang", clock)
    clock.advance(72 * 3600 + 1)
    response = anonymous.post("/api/v1/enroll", json={"code": code, "device_name": "a"})
    assert assert_problem(response, 401, "unauthorized")["reason"] == "expired"


@sqlite_only
def test_a_code_is_still_good_just_before_72_hours(app, workspace, anonymous, clock):
    code = code_for(app, "wang", clock)
    clock.advance(72 * 3600 - 1)
    response = anonymous.post("/api/v1/enroll", json={"code": code, "device_name": "a"})
    assert response.status_code == 201


def test_an_unknown_code_is_unauthorized(app, workspace, anonymous):
    response = anonymous.post("/api/v1/enroll", json={"code": "ABCDEFGHJK", "device_name": "a"})
    body = assert_problem(response, 401, "unauthorized")
    assert body["reason"] == "unknown" and "office" in body["detail"]


@sqlite_only
@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"code", "device_name"}),
        ({"code": 12345, "device_name": "a"}, {"code"}),
        ({"code": "ABCDEFGHJK", "device_name": ""}, {"device_name"}),
        ({"code": "ABCDEFGHJK", "device_name": "长" * 101}, {"device_name"}),
        ({"code": "ABCDEFGHJK", "device_name": "a", "role": "admin"}, {"role"}),
    ],
)
def test_bad_enroll_bodies_name_their_fields(app, workspace, anonymous, body, fields):
    response = anonymous.post("/api/v1/enroll", json=body)
    problem = assert_problem(response, 422, "invalid_request")
    assert set(problem["errors"]) == fields


@sqlite_only
def test_enroll_needs_a_json_object(app, anonymous):
    assert_problem(anonymous.post("/api/v1/enroll", json=["a"]), 422, "invalid_request")
    response = anonymous.post_raw("/api/v1/enroll", b"{not json")
    assert_problem(response, 400, "invalid_request")
    response = anonymous.post("/api/v1/enroll", data="code=1", content_type="text/plain")
    assert_problem(response, 415, "invalid_request")


def test_failed_enrollments_are_rate_limited_per_address(app, workspace, anonymous, clock):
    limit = app.config["ENROLL_RATE_LIMIT"]
    for _ in range(limit):
        bad = anonymous.post("/api/v1/enroll", json={"code": "ZZZZZZZZZZ", "device_name": "a"})
        assert bad.status_code == 401
    code = code_for(app, "wang", clock)
    blocked = anonymous.post("/api/v1/enroll", json={"code": code, "device_name": "a"})
    assert_problem(blocked, 429, "rate_limited")
    retry = int(blocked.headers["Retry-After"])
    assert 0 < retry <= app.config["ENROLL_RATE_WINDOW"]
    other = Api(app.test_client(), headers={})
    other_address = other.post(
        "/api/v1/enroll",
        json={"code": code, "device_name": "a"},
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert other_address.status_code == 201  # only the guessing address is held back
    clock.advance(retry)
    second = code_for(app, "wang", clock)
    after = anonymous.post("/api/v1/enroll", json={"code": second, "device_name": "b"})
    assert after.status_code == 201


@sqlite_only
@pytest.mark.parametrize("version", [None, "2", "0", "1.0", "abc"])
def test_every_api_call_needs_protocol_version_1(app, workspace, clock, version):
    client = app.test_client()
    headers = {} if version is None else {"Fieldsync-Protocol": version}
    code = code_for(app, "wang", clock)
    response = client.post(
        "/api/v1/enroll", json={"code": code, "device_name": "a"}, headers=headers
    )
    body = assert_problem(response, 426, "unsupported_protocol")
    assert body["supported"] == [1]
    assert_problem(client.get("/api/v1/device", headers=headers), 426, "unsupported_protocol")
    response = client.get("/api/v1/sync/pull", headers=headers)
    assert_problem(response, 426, "unsupported_protocol")


def test_a_code_is_single_use_under_concurrent_attempts(app, workspace, clock):
    code = code_for(app, "wang", clock)
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def attempt(n: int) -> None:
        client = Api(app.test_client())
        barrier.wait()
        response = client.post("/api/v1/enroll", json={"code": code, "device_name": f"d{n}"})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [201, 401, 401, 401]
    with app.app_context():
        assert Device.select().count() == 1


@sqlite_only
def test_behind_a_trusted_proxy_the_limit_is_per_client(database_url, tmp_path, clock):
    from tests.api.conftest import make_app

    app = make_app(database_url, tmp_path, clock, TRUSTED_PROXIES=1, ENROLL_RATE_LIMIT=2)
    client = Api(app.test_client())

    def attempt(address: str) -> int:
        headers = {"X-Forwarded-For": address}
        body = {"code": "ZZZZZZZZZZ", "device_name": "a"}
        return client.post("/api/v1/enroll", json=body, headers=headers).status_code

    assert [attempt("10.0.0.1") for _ in range(3)] == [401, 401, 429]
    assert attempt("10.0.0.2") == 401  # the proxy's other clients are not held back
