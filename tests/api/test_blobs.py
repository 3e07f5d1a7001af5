"""Blobs over the API (PROTOCOL.md section 7), on SQLite and PostgreSQL: missing, upload, read."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from typing import Any

import pytest

from server import services
from server.blobs import BlobStore, Saved
from tests.api.conftest import Api, assert_problem, enroll, make_app, new_id, push_body

PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40  # a small "JPEG"
PHOTO_SHA = hashlib.sha256(PHOTO).hexdigest()


@pytest.fixture
def lite(sqlite_url, tmp_path, clock):
    """A device on a SQLite-only app, for checks that do not depend on the database."""
    app = make_app(sqlite_url, tmp_path, clock, BLOB_LIMIT=1000)
    with app.app_context():
        space = services.create_workspace("庄泉社区")
        services.create_user("wang", space, "representative")
    device = enroll(app, "wang", clock)
    device.app = app
    yield device
    app.extensions["fieldsync_db"].close()


def missing(api: Api, *hashes: str):
    return api.post("/api/v1/blobs/missing", json={"sha256": list(hashes)})


def put(api: Api, sha: str, data: bytes, **headers: str):
    headers = {"Content-Type": "application/octet-stream", **headers}
    return api.client.put(f"/api/v1/blobs/{sha}", data=data, headers=api._headers(headers))


def put_chunked(api: Api, sha: str, data: bytes):
    """Upload without a Content-Length (chunked), so only the streaming count can stop it."""
    headers = {"Content-Type": "application/octet-stream", "Transfer-Encoding": "chunked"}
    return api.client.put(
        f"/api/v1/blobs/{sha}",
        input_stream=io.BytesIO(data),
        headers=api._headers(headers),
        environ_overrides={"wsgi.input_terminated": True},
    )


def attach(api: Api, ms: int, sha: str, **fields: Any) -> str:
    """Push an attachment record naming the blob; return its id."""
    record_id = new_id()
    values = {
        "subject_type": "concern",
        "subject_id": new_id(),
        "sha256": sha,
        "media_type": "image/jpeg",
        "size": len(PHOTO),
        "caption": "井盖破损",
        **fields,
    }
    stamp = api.stamp(ms)
    change = {
        "type": "attachment",
        "id": record_id,
        "set": {k: {"value": v, "stamp": stamp, "base": None} for k, v in values.items()},
    }
    response = api.push(push_body(change))
    assert response.status_code == 200 and response.json["applied"] == 1, response.json
    return record_id


def test_missing_upload_and_read_back(device, clock, app):
    assert missing(device, PHOTO_SHA).json["missing"] == [PHOTO_SHA]
    created = put(device, PHOTO_SHA, PHOTO)
    assert created.status_code == 201
    assert created.json["size"] == len(PHOTO) and created.json["created"] is True
    answer = missing(device, PHOTO_SHA, PHOTO_SHA)
    assert answer.status_code == 200 and answer.json["missing"] == []
    assert "server_time" in answer.json and answer.json["limit"] == 20 * 1024 * 1024
    assert device.get(f"/api/v1/blobs/{PHOTO_SHA}").status_code == 404  # no attachment yet
    attach(device, clock.ms, PHOTO_SHA)
    got = device.get(f"/api/v1/blobs/{PHOTO_SHA}", headers={"Accept-Encoding": "gzip"})
    assert got.status_code == 200
    assert got.data == PHOTO and got.mimetype == "image/jpeg"
    assert "Content-Encoding" not in got.headers
    assert got.headers["ETag"] == f'"{PHOTO_SHA}"'
    assert "immutable" in got.headers["Cache-Control"]
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    again = device.get(f"/api/v1/blobs/{PHOTO_SHA}", headers={"If-None-Match": f'"{PHOTO_SHA}"'})
    assert again.status_code == 304 and again.data == b""
    stored = app.instance_path + f"/blobs/{PHOTO_SHA[:2]}/{PHOTO_SHA}"
    with open(stored, "rb") as handle:
        assert handle.read() == PHOTO


def test_uploading_twice_is_harmless(device, app):
    assert put(device, PHOTO_SHA, PHOTO).status_code == 201
    second = put(device, PHOTO_SHA, PHOTO)
    assert second.status_code == 200 and second.json["created"] is False
    wrong = put(device, PHOTO_SHA, PHOTO + b"x")  # a wrong body for a stored blob: still refused
    assert_problem(wrong, 422, "invalid_request")
    stored = app.instance_path + f"/blobs/{PHOTO_SHA[:2]}/{PHOTO_SHA}"
    with open(stored, "rb") as handle:
        assert handle.read() == PHOTO


def test_a_body_that_does_not_match_its_hash_is_refused_and_not_kept(lite):
    data, other = b"z" * 900, hashlib.sha256(b"something else").hexdigest()
    body = assert_problem(put(lite, other, data), 422, "invalid_request")
    assert "sha256" in body["errors"]
    assert missing(lite, other).json["missing"] == [other]
    folder = lite.app.instance_path + f"/blobs/{other[:2]}"
    assert os.listdir(folder) == []  # the temporary file is gone too


def test_blobs_over_the_limit_are_refused(lite):
    big = b"x" * 1001
    sha = hashlib.sha256(big).hexdigest()
    body = assert_problem(put(lite, sha, big), 413, "payload_too_large")
    assert body["limit"] == 1000
    # Without a Content-Length the server counts while it streams, and stops at the limit.
    assert_problem(put_chunked(lite, sha, big), 413, "payload_too_large")
    assert missing(lite, sha).json["missing"] == [sha]
    exact = b"y" * 1000
    assert put_chunked(lite, hashlib.sha256(exact).hexdigest(), exact).status_code == 201


def test_another_workspace_cannot_read_a_blob(app, device, clock):
    with app.app_context():
        other = services.create_workspace("百盛社区")
        services.create_user("zhou", other, "representative")
    stranger = enroll(app, "zhou", clock, "手机")
    put(device, PHOTO_SHA, PHOTO)
    attach(device, clock.ms, PHOTO_SHA)
    assert device.get(f"/api/v1/blobs/{PHOTO_SHA}").status_code == 200
    assert_problem(stranger.get(f"/api/v1/blobs/{PHOTO_SHA}"), 404, "not_found")


def test_knowing_a_hash_does_not_open_another_workspaces_blob(app, device, clock):
    with app.app_context():
        other = services.create_workspace("百盛社区")
        services.create_user("zhou", other, "representative")
    stranger = enroll(app, "zhou", clock, "手机")
    put(device, PHOTO_SHA, PHOTO)
    attach(device, clock.ms, PHOTO_SHA)
    # The stranger learnt the hash somehow and names it in an attachment of its own.
    attach(stranger, clock.ms, PHOTO_SHA)
    assert missing(stranger, PHOTO_SHA).json["missing"] == [PHOTO_SHA]  # no existence oracle
    assert_problem(stranger.get(f"/api/v1/blobs/{PHOTO_SHA}"), 404, "not_found")
    # Uploading the bytes proves it holds them; then it may read them back.
    assert put(stranger, PHOTO_SHA, PHOTO).status_code == 200
    assert missing(stranger, PHOTO_SHA).json["missing"] == []
    assert stranger.get(f"/api/v1/blobs/{PHOTO_SHA}").status_code == 200


def test_a_deleted_attachment_no_longer_opens_its_blob(device, clock):
    put(device, PHOTO_SHA, PHOTO)
    record_id = attach(device, clock.ms, PHOTO_SHA, media_type="<script>")
    got = device.get(f"/api/v1/blobs/{PHOTO_SHA}")
    assert got.mimetype == "application/octet-stream"  # not a media type: served as bytes
    clock.advance(1)
    deleted = {"value": True, "stamp": device.stamp(clock.ms), "base": None}
    delete = {"type": "attachment", "id": record_id, "set": {"_deleted": deleted}}
    assert device.push(push_body(delete)).json["applied"] == 1
    assert_problem(device.get(f"/api/v1/blobs/{PHOTO_SHA}"), 404, "not_found")


BAD_QUESTIONS = [
    {"sha256": ["abc"]},
    {"sha256": [PHOTO_SHA.upper()]},
    {"sha256": "not a list"},
    {"hashes": []},
    {"sha256": [PHOTO_SHA] * 1001},
]


def test_bad_missing_questions_are_invalid_requests(lite):
    for body in BAD_QUESTIONS:
        answer = lite.post("/api/v1/blobs/missing", json=body)
        assert assert_problem(answer, 422, "invalid_request")["errors"], body
    not_json = lite.post_raw("/api/v1/blobs/missing", b"{nope")
    assert_problem(not_json, 400, "invalid_request")


def test_bad_hashes_in_the_address(lite):
    assert_problem(put(lite, "not-a-hash", PHOTO), 400, "invalid_request")
    assert_problem(lite.get("/api/v1/blobs/not-a-hash"), 404, "not_found")
    gzipped = put(lite, PHOTO_SHA, PHOTO, **{"Content-Encoding": "gzip"})
    assert_problem(gzipped, 415, "unsupported_media_type")


def test_blobs_need_a_device_token_and_the_protocol_header(device, anonymous):
    assert_problem(missing(anonymous, PHOTO_SHA), 401, "unauthorized")
    assert_problem(put(anonymous, PHOTO_SHA, PHOTO), 401, "unauthorized")
    assert_problem(anonymous.get(f"/api/v1/blobs/{PHOTO_SHA}"), 401, "unauthorized")
    no_header = device.client.get(
        f"/api/v1/blobs/{PHOTO_SHA}", headers={"Authorization": f"Bearer {device.token}"}
    )
    assert_problem(no_header, 426, "unsupported_protocol")
    assert missing(device, PHOTO_SHA).json["missing"] == [PHOTO_SHA]  # nothing was stored


def test_concurrent_uploads_of_one_blob_leave_one_whole_file(tmp_path):
    blob_store = BlobStore(tmp_path / "blobs")
    results: list[Saved] = []

    def upload() -> None:
        saved = blob_store.save(PHOTO_SHA, io.BytesIO(PHOTO), limit=10**6, length=len(PHOTO))
        results.append(saved)

    threads = [threading.Thread(target=upload) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and any(saved.created for saved in results)
    assert {saved.size for saved in results} == {len(PHOTO)}
    assert [p.name for p in (tmp_path / "blobs").rglob("*")] == [PHOTO_SHA[:2], PHOTO_SHA]
    with blob_store.open_blob(PHOTO_SHA) as handle:
        assert handle.read() == PHOTO


def test_sweep_removes_only_stale_temporary_files(tmp_path):
    blob_store = BlobStore(tmp_path)
    blob_store.save(PHOTO_SHA, io.BytesIO(PHOTO), limit=10**6)
    shard = tmp_path / PHOTO_SHA[:2]
    stale, fresh = shard / ".upload-died", shard / ".upload-running"
    stale.write_bytes(b"half a photo")
    fresh.write_bytes(b"half a photo")
    now = fresh.stat().st_mtime
    os.utime(stale, (now - 2 * 86400, now - 2 * 86400))
    assert blob_store.sweep(older_than_s=86400, now_s=now) == 1
    assert not stale.exists() and fresh.exists() and blob_store.exists(PHOTO_SHA)
