"""Rate limits count across workers through the shared storage (issue 9, item 6): two apps on
one Redis, as two gunicorn workers, allow the limit once, not once each. Runs when
FIELDSYNC_TEST_REDIS_URL is set (CI sets it); keys carry a unique prefix and are removed."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.api.conftest import Api, make_app, sqlite_only

REDIS_ENV = "FIELDSYNC_TEST_REDIS_URL"


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"{REDIS_ENV} is not set: shared rate limits need a Redis server")
    return url


@sqlite_only
def test_two_workers_share_one_enrollment_limit(database_url, tmp_path, clock, redis_url):
    prefix = f"fieldsync-test-{uuid.uuid4().hex}:"
    config = {"RATE_LIMIT_STORAGE": redis_url, "RATE_LIMIT_PREFIX": prefix, "ENROLL_RATE_LIMIT": 4}
    workers = [make_app(database_url, tmp_path / str(n), clock, **config) for n in range(2)]
    clients = [Api(w.test_client()) for w in workers]
    body = {"code": "ZZZZZZZZZZ", "device_name": "a"}
    statuses = [clients[n % 2].post("/api/v1/enroll", json=body).status_code for n in range(8)]
    try:
        assert statuses == [401] * 4 + [429] * 4
    finally:
        storage = workers[0].extensions["fieldsync_limits"]
        for key in storage.storage.scan_iter(match=f"*{prefix}*"):
            storage.storage.delete(key)
