"""Photos from a device to the server and on to another device (PROTOCOL.md section 7): in process
through the Flask test client, and once over real HTTP with the real transport (streaming)."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from werkzeug.serving import make_server

from field_client import blobs
from field_client.errors import Refused, ServerError
from field_client.store import LocalStore
from field_client.syncer import sync_once
from field_client.transport import API, HttpTransport
from server import services, store
from tests.integration.conftest import FlaskTransport

PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(range(256)) * 200
PHOTO_SHA = hashlib.sha256(PHOTO).hexdigest()


class BlobFlaskTransport(FlaskTransport):
    """The in-process transport, with the blob calls of ``HttpTransport``."""

    def missing_blobs(self, hashes: list[str]) -> dict[str, Any]:
        return self._post("/blobs/missing", {"sha256": hashes})

    def upload_blob(self, sha256: str, path: Path) -> bool:
        self.calls.append("PUT /blobs")
        headers = {**self.headers, "Content-Type": "application/octet-stream"}
        with open(path, "rb") as handle:
            response = self.client.put(f"{API}/blobs/{sha256}", data=handle, headers=headers)
        self._answer(response)
        return response.status_code == 201

    def download_blob(self, sha256: str, sink: BinaryIO) -> None:
        self.calls.append("GET /blobs")
        response = self.client.get(f"{API}/blobs/{sha256}", headers=self.headers)
        if response.status_code != 200:
            self._answer(response)
        sink.write(response.get_data())


def with_blobs(device: Any, app: Any) -> Any:
    transport = BlobFlaskTransport(app)
    transport.headers = device.transport.headers
    device.transport = transport
    return device


def server_blob(app: Any, sha: str) -> Path:
    return Path(app.instance_path) / "blobs" / sha[:2] / sha


def test_a_photo_goes_up_before_its_record_and_reaches_another_device(make_device, app):
    a = with_blobs(make_device("pad-a"), app)
    b = with_blobs(make_device("pad-b", "zhao"), app)
    concern = a.store.create("concern", {"title": "东门井盖破损", "category": "safety"})
    attachment = blobs.attach(a.store, "concern", concern, PHOTO, "井盖")
    report = a.sync()
    assert report.ok and report.sent == 2
    calls = a.transport.calls
    assert calls.index("/blobs/missing") < calls.index("PUT /blobs") < calls.index("/sync/push")
    assert server_blob(app, PHOTO_SHA).read_bytes() == PHOTO
    workspace_id = a.store.credentials()["workspace"]["id"]
    with app.app_context():
        record = store.get_record(workspace_id, attachment)
    assert record["fields"]["sha256"] == PHOTO_SHA and record["fields"]["size"] == len(PHOTO)

    assert b.sync().ok
    assert b.store.get("attachment", attachment)["fields"]["caption"] == "井盖"
    assert not blobs.has_blob(b.store, PHOTO_SHA)  # pulled records do not download blobs
    with pytest.raises(ServerError):
        blobs.fetch(b.store, b.transport, PHOTO_SHA, limit=len(PHOTO) - 1)
    assert not blobs.has_blob(b.store, PHOTO_SHA)
    assert blobs.fetch(b.store, b.transport, PHOTO_SHA).read_bytes() == PHOTO
    assert blobs.fetch(b.store, b.transport, PHOTO_SHA).read_bytes() == PHOTO
    assert b.transport.calls.count("GET /blobs") == 2  # the second fetch found it on the device
    assert [p for p in (b.store.home / "blobs").rglob(".part-*")] == []

    a.transport.calls.clear()
    blobs.attach(a.store, "concern", concern, PHOTO, "同一张照片")
    assert a.sync().ok
    assert "/blobs/missing" in a.transport.calls and "PUT /blobs" not in a.transport.calls


def test_a_device_of_another_workspace_cannot_fetch_the_photo(make_device, app, clock):
    a = with_blobs(make_device("pad-a"), app)
    concern = a.store.create("concern", {"title": "路灯不亮"})
    blobs.attach(a.store, "concern", concern, PHOTO)
    assert a.sync().ok
    with app.app_context():
        other = services.create_workspace("百盛社区")
        services.create_user("zhou", other, "representative")
    stranger = with_blobs(make_device("phone", "zhou"), app)
    assert stranger.sync().ok and stranger.store.list("attachment") == []
    with pytest.raises(Refused) as refused:
        blobs.fetch(stranger.store, stranger.transport, PHOTO_SHA)
    assert refused.value.code == "not_found"
    assert not blobs.has_blob(stranger.store, PHOTO_SHA)


@pytest.fixture
def live_url(app) -> Iterator[str]:
    """The in-process app behind a real HTTP server on a loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def http_device(app, url: str, home: Path, clock, username: str) -> tuple[LocalStore, Any]:
    with app.app_context():
        code = services.create_enrollment_code(username, now=clock.ms)
    device = LocalStore(home, now=clock)
    answer = HttpTransport(url).enroll(code, home.name)
    device.save_enrollment(url, answer, home.name)
    return device, HttpTransport(url, answer["token"], retries=1, backoff=0.01)


def test_photos_stream_over_real_http(app, live_url, tmp_path, clock):
    app.config["BLOB_LIMIT"] = 1_000_000
    big = os.urandom(1_200_000)
    photo = b"\xff\xd8\xff" + os.urandom(600_000)
    a, a_http = http_device(app, live_url, tmp_path / "pad-a", clock, "wang")
    b, b_http = http_device(app, live_url, tmp_path / "pad-b", clock, "zhao")
    concern = a.create("concern", {"title": "污水管道破裂"})
    blobs.attach(a, "concern", concern, photo, "现场")
    blobs.attach(a, "concern", concern, big, "太大的文件")
    uploads = blobs.upload_missing(a, a_http)
    assert uploads.uploaded == 1 and uploads.bytes == len(photo)
    assert uploads.refused == {_sha(big): "payload_too_large"}
    assert sync_once(a, a_http).ok  # the records still sync; the big file stays on the device
    assert sync_once(b, b_http).ok
    assert blobs.fetch(b, b_http, _sha(photo)).read_bytes() == photo
    with pytest.raises(Refused) as absent:
        blobs.fetch(b, b_http, _sha(big))
    assert absent.value.code == "not_found"
    with pytest.raises(Refused) as too_big:  # sent anyway: the server stops it
        a_http.upload_blob(_sha(big), blobs.blob_path(a.home, _sha(big)))
    assert too_big.value.code == "payload_too_large"
    for device, transport in ((a, a_http), (b, b_http)):
        transport.close()
        device.close()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_full_quota_keeps_the_photos_here_and_says_so_in_one_sentence(make_device, app):
    from field_client.cli.syncing import photo_quota_line

    app.config["BLOB_QUOTA_DEVICE"] = len(PHOTO) + 10
    a = with_blobs(make_device("pad-a"), app)
    concern = a.store.create("concern", {"title": "东门井盖破损", "category": "safety"})
    blobs.attach(a.store, "concern", concern, PHOTO, "井盖")
    assert a.sync().ok
    for n in range(3):
        blobs.attach(a.store, "concern", concern, PHOTO + bytes([n]), f"第{n}张")
    report = a.sync()
    assert report.ok and report.sent == 3  # the records go; the photos wait on the device
    assert (report.photo_quota, report.photos_refused) == ("device", 3)
    assert a.transport.calls.count("PUT /blobs") == 2  # the first refusal stops the others
    zh = photo_quota_line("zh", report.to_json())
    assert zh.startswith("办公室为本设备保存照片的空间已满（限额 50 KiB），3 张照片仍留在本机")
    assert zh.count("。") == 1
    en = photo_quota_line("en", report.to_json())
    assert "room for this device's photos is full" in en and "3 photos" in en
