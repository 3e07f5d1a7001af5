"""Blob quotas (issue 9 item 6): per device and per workspace, with a 413 naming the limit;
on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib

import pytest

from server import services
from server.config import DEFAULTS
from tests.api.conftest import assert_problem, enroll, make_app
from tests.api.test_blobs import missing, put, put_chunked


def blob(n: int, tag: bytes) -> tuple[str, bytes]:
    data = (tag * n)[:n]
    return hashlib.sha256(data).hexdigest(), data


@pytest.fixture
def office(database_url, tmp_path, clock):
    app = make_app(database_url, tmp_path, clock, BLOB_QUOTA_DEVICE=100, BLOB_QUOTA_WORKSPACE=150)
    with app.app_context():
        for name in ("庄泉社区", "柳营社区"):
            space = services.create_workspace(name)
        services.create_user("wang", "庄泉社区", "representative")
        services.create_user("li", "庄泉社区", "representative")
        services.create_user("zhao", space, "representative")
    yield app
    app.extensions["fieldsync_db"].close()


def test_the_defaults_are_two_and_twenty_gib():
    assert DEFAULTS["BLOB_QUOTA_DEVICE"] == 2 * 1024**3
    assert DEFAULTS["BLOB_QUOTA_WORKSPACE"] == 20 * 1024**3


def test_a_device_and_a_workspace_stop_at_their_quotas(office, clock):
    wang, li = enroll(office, "wang", clock), enroll(office, "li", clock)
    first, data = blob(60, b"a")
    assert put(wang, first, data).status_code == 201
    assert put(wang, first, data).status_code == 200  # again: harmless, not counted twice
    second, data2 = blob(50, b"b")
    body = assert_problem(put(wang, second, data2), 413, "payload_too_large")
    assert (body["quota"], body["limit"], body["used"]) == ("device", 100, 60)
    assert "This device's" in body["detail"] and "100 bytes" in body["detail"]
    assert missing(wang, second).json["missing"] == [second]  # nothing was kept
    # streamed without a length: the count stops it all the same
    body = assert_problem(put_chunked(wang, second, data2), 413, "payload_too_large")
    assert body["quota"] == "device"

    third, data3 = blob(60, b"c")
    assert put(li, third, data3).status_code == 201  # the workspace holds 120 of 150
    fourth, data4 = blob(40, b"d")
    body = assert_problem(put(li, fourth, data4), 413, "payload_too_large")
    assert (body["quota"], body["limit"], body["used"]) == ("workspace", 150, 120)
    assert "This workspace's" in body["detail"]
    assert put(li, first, data).status_code == 200  # held by the workspace: no charge


def test_another_workspaces_bytes_still_count_here(office, clock):
    wang, zhao = enroll(office, "wang", clock), enroll(office, "zhao", clock)
    sha, data = blob(80, b"x")
    assert put(zhao, sha, data).status_code == 201
    assert put(wang, sha, data).status_code == 200  # the file is there; this workspace pays
    other, more = blob(30, b"y")
    body = assert_problem(put(wang, other, more), 413, "payload_too_large")
    assert (body["quota"], body["used"]) == ("device", 80)


def test_the_blob_limit_is_named_when_it_is_the_tightest(database_url, tmp_path, clock):
    app = make_app(database_url, tmp_path, clock, BLOB_LIMIT=10)
    with app.app_context():
        services.create_workspace("庄泉社区")
        services.create_user("wang", "庄泉社区", "representative")
    wang = enroll(app, "wang", clock)
    sha, data = blob(11, b"z")
    body = assert_problem(put(wang, sha, data), 413, "payload_too_large")
    assert body["limit"] == 10 and body.get("quota") in (None, "blob")
    app.extensions["fieldsync_db"].close()
