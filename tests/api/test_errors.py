"""Every error is rendered once: problem+json on the API, a page for people elsewhere."""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from peewee import OperationalError

from tests.api.conftest import Api, assert_problem, make_app, sqlite_only


@sqlite_only
def test_unknown_api_paths_and_methods_are_problems(device):
    assert_problem(device.get("/api/v1/nothing-here"), 404, "not_found")
    assert_problem(device.get("/api/v2/sync/pull"), 404, "not_found")
    response = device.get("/api/v1/sync/push")
    assert_problem(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]
    assert_problem(device.client.delete("/api/v1/enroll"), 405, "method_not_allowed")


def test_healthz_needs_neither_token_nor_protocol_header(app):
    client = app.test_client()
    for path in ("/healthz", "/api/v1/healthz"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.json["status"] == "ok" and response.json["server_time"]


@pytest.fixture
def failing_app(sqlite_url, tmp_path, clock) -> Flask:
    app = make_app(sqlite_url, tmp_path, clock)

    def boom():
        raise RuntimeError("王芳 13912345678 broke it")

    def busy():
        raise OperationalError("database is locked while saving 13912345678")

    app.add_url_rule("/api/v1/boom", "boom", boom)
    app.add_url_rule("/api/v1/busy", "busy", busy)
    app.add_url_rule("/page-boom", "page_boom", boom)
    return app


def test_a_crash_is_a_problem_and_the_log_holds_no_personal_data(failing_app, caplog):
    client = Api(failing_app.test_client())
    with caplog.at_level(logging.ERROR, logger="fieldsync.server"):
        response = client.get("/api/v1/boom")
    body = assert_problem(response, 500, "internal_error")
    assert "13912345678" not in response.get_data(as_text=True)
    assert "RuntimeError" in caplog.text and "/api/v1/boom" in caplog.text
    assert "13912345678" not in caplog.text and "王芳" not in caplog.text
    assert body["detail"]


def test_a_busy_database_is_503_with_retry_after(failing_app, caplog):
    client = Api(failing_app.test_client())
    with caplog.at_level(logging.WARNING, logger="fieldsync.server"):
        response = client.get("/api/v1/busy")
    assert_problem(response, 503, "unavailable")
    assert response.headers["Retry-After"]
    assert "13912345678" not in caplog.text


def test_office_pages_get_a_readable_page_in_chinese(failing_app):
    client = failing_app.test_client()
    response = client.get("/page-boom")
    assert response.status_code == 500 and response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert "服务器出错" in text and "Traceback" not in text and "13912345678" not in text
    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and "页面不存在" in missing.get_data(as_text=True)


def test_an_uninitialised_database_is_a_clear_problem(sqlite_url, tmp_path, clock):
    app = make_app(sqlite_url, tmp_path, clock, AUTO_UPGRADE=False)
    response = app.test_client().get("/healthz")
    assert_problem(response, 503, "unavailable")


def test_the_server_error_tree_has_one_root():
    from server.errors import NotFound, Refused, ServerError, Unavailable
    from sync import ErrorCode, ProtocolError

    missing = NotFound("no_user", "No user 'x'.", username="x")
    refused = Refused(ErrorCode.UNAUTHORIZED, "code_used", "Used.", reason="used")
    down = Unavailable(OperationalError("database is locked\nat 13912345678"))
    for error in (missing, refused, down):
        assert isinstance(error, ServerError) and isinstance(error, ProtocolError)
    assert (missing.status, missing.key, missing.params) == (404, "no_user", {"username": "x"})
    assert refused.extra == {"reason": "used"}  # the reason reaches the problem body
    assert (down.status, down.code) == (503, ErrorCode.UNAVAILABLE)
    assert down.params == {"kind": "OperationalError", "detail": "database is locked"}
    assert "13912345678" not in down.detail and isinstance(down.original, OperationalError)


def test_the_store_wraps_database_errors_once(failing_app, caplog):
    from server.errors import Unavailable
    from server.store.sql import database_errors

    def store_busy():
        with database_errors():
            raise OperationalError("database is locked while saving 13912345678")

    with pytest.raises(Unavailable) as caught:
        store_busy()
    assert isinstance(caught.value.original, OperationalError)
    failing_app.add_url_rule("/api/v1/store-busy", "store_busy", store_busy)
    with caplog.at_level(logging.WARNING, logger="fieldsync.server"):
        response = Api(failing_app.test_client()).get("/api/v1/store-busy")
    assert_problem(response, 503, "unavailable")
    assert response.headers["Retry-After"] == "5"
    assert "OperationalError" in caplog.text and "13912345678" not in caplog.text
    assert "13912345678" not in response.get_data(as_text=True)
