"""Photos and files on the device (field_client.blobs), without a server.

The syncing side against a real server is in tests/integration/test_blobs.py; here the transport
is a real HttpTransport aimed at a closed port, which is what a device without network meets.
"""

from __future__ import annotations

import hashlib
import io

import pytest

from field_client import blobs
from field_client.errors import NotFound, Offline, ValidationError
from field_client.syncer import Stage, sync_once
from field_client.transport import HttpTransport

pytestmark = pytest.mark.usefixtures("file_system")  # also on the Windows code path

PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(range(256)) * 64
PHOTO_SHA = hashlib.sha256(PHOTO).hexdigest()


@pytest.fixture
def offline() -> HttpTransport:
    """A transport to a port nobody listens on, failing fast."""
    transport = HttpTransport("http://127.0.0.1:9", "token", timeout=2, retries=0)
    yield transport
    transport.close()


@pytest.fixture
def concern(store) -> str:
    return store.create("concern", {"title": "井盖破损"})


def test_attach_copies_the_file_and_queues_the_record(store, concern, tmp_path):
    source = tmp_path / "IMG_0001.jpg"
    source.write_bytes(PHOTO)
    attachment = blobs.attach(store, "concern", concern, source, "东门井盖")
    source.unlink()  # the device keeps its own copy
    kept = store.home / "blobs" / PHOTO_SHA[:2] / PHOTO_SHA
    assert kept.read_bytes() == PHOTO
    assert blobs.has_blob(store, PHOTO_SHA)
    record = store.get("attachment", attachment)
    assert record["fields"] == {
        "subject_type": "concern",
        "subject_id": concern,
        "sha256": PHOTO_SHA,
        "media_type": "image/jpeg",
        "size": len(PHOTO),
        "caption": "东门井盖",
    }
    assert "sha256" in record["pending"]
    assert blobs.pending_hashes(store) == [PHOTO_SHA]
    assert [p.name for p in kept.parent.parent.rglob("*")] == [PHOTO_SHA[:2], PHOTO_SHA]


def test_media_types_come_from_the_bytes_the_name_or_the_caller(store, concern, tmp_path):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    assert (
        store.get("attachment", blobs.attach(store, "concern", concern, png))["fields"][
            "media_type"
        ]
        == "image/png"
    )
    notes = tmp_path / "会议纪要.txt"
    notes.write_text("座谈会纪要", encoding="utf-8")
    by_name = blobs.attach(store, "concern", concern, notes, "纪要")
    assert store.get("attachment", by_name)["fields"]["media_type"] == "text/plain"
    given = blobs.attach(store, "concern", concern, io.BytesIO(b"?"), media_type="audio/mpeg")
    assert store.get("attachment", given)["fields"]["media_type"] == "audio/mpeg"
    unknown = blobs.attach(store, "concern", concern, b"\x00\x01")
    assert store.get("attachment", unknown)["fields"]["media_type"] == "application/octet-stream"


def test_the_same_photo_twice_is_one_blob(store, concern):
    first = blobs.attach(store, "concern", concern, PHOTO, "一")
    second = blobs.attach(store, "concern", concern, PHOTO, "二")
    assert first != second
    assert blobs.pending_hashes(store) == [PHOTO_SHA]
    assert len(list((store.home / "blobs").rglob("*"))) == 2  # one shard folder, one file


def test_bad_attachments_are_refused_and_leave_nothing(store, concern, tmp_path):
    with pytest.raises(NotFound):
        blobs.attach(store, "concern", "0192f000-0000-7000-8000-000000000000", PHOTO)
    with pytest.raises(ValidationError) as missing_file:
        blobs.attach(store, "concern", concern, tmp_path / "nowhere.jpg")
    assert "file" in missing_file.value.errors
    with pytest.raises(ValidationError) as too_big:
        blobs.store_blob(store, PHOTO, limit=len(PHOTO) - 1)
    assert "file" in too_big.value.errors
    with pytest.raises(ValidationError):
        blobs.attach(store, "bogus", concern, PHOTO)
    leftovers = [p for p in (store.home / "blobs").rglob("*") if p.is_file()]
    assert leftovers == []
    assert store.list("attachment") == []


def test_a_photo_deleted_before_it_was_sent_is_not_uploaded(store, concern):
    attachment = blobs.attach(store, "concern", concern, PHOTO)
    store.delete("attachment", attachment)
    assert blobs.pending_hashes(store) == []


def test_offline_the_photo_and_its_record_wait(store, concern, offline):
    blobs.attach(store, "concern", concern, PHOTO)
    pending = store.status()["pending"]
    stages = []
    report = sync_once(store, offline, progress=lambda stage, done, total: stages.append(stage))
    assert report.offline and report.stage is Stage.BLOBS  # stopped before any push
    assert store.status()["pending"] == pending
    assert blobs.pending_hashes(store) == [PHOTO_SHA]
    assert blobs.fetch(store, offline, PHOTO_SHA).read_bytes() == PHOTO  # local: no network
    absent = hashlib.sha256(b"elsewhere").hexdigest()
    with pytest.raises(Offline):
        blobs.fetch(store, offline, absent)
    assert not blobs.has_blob(store, absent)
    assert [p for p in (store.home / "blobs").rglob(".part-*")] == []
