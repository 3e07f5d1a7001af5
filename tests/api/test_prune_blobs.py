"""``prune`` removes blobs no attachment names once nobody touched them for 30 days (issue 9
item 6), with real files, on SQLite and PostgreSQL; and never one a concurrent push names."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
from pathlib import Path

from server import maintenance, services
from server.models import BlobHolder
from tests.api.conftest import enroll, push_body
from tests.api.test_blobs import attach, missing, put

DAY = 24 * 3600


def photo(tag: str) -> tuple[str, bytes]:
    data = f"photo {tag} ".encode() * 50
    return hashlib.sha256(data).hexdigest(), data


def blob_file(app, sha: str) -> Path:
    return Path(app.instance_path) / "blobs" / sha[:2] / sha


def prune(app, clock, **kwargs):
    now = dt.datetime.fromtimestamp(clock.ms / 1000, dt.UTC)
    return maintenance.prune(
        app.extensions["fieldsync_db"], Path(app.instance_path) / "blobs", now=now, **kwargs
    )


def test_prune_removes_old_unnamed_blobs_only(app, device, clock):
    old, old_bytes = photo("old, never named")
    named, named_bytes = photo("old, named")
    deleted, deleted_bytes = photo("old, named by a deleted attachment")
    late, late_bytes = photo("uploaded now, named in 20 days")
    for sha, data in ((old, old_bytes), (named, named_bytes), (deleted, deleted_bytes)):
        assert put(device, sha, data).status_code == 201
    attach(device, clock.ms, named)
    gone = attach(device, clock.ms, deleted)
    tomb = device.stamp(clock.ms + 1)
    change = {"type": "attachment", "id": gone,
              "set": {"_deleted": {"value": True, "stamp": tomb, "base": None}}}  # fmt: skip
    assert device.push(push_body(change)).json["applied"] == 1
    clock.advance(20 * DAY)
    assert put(device, late, late_bytes).status_code == 201
    orphan, orphan_bytes = photo("a file no workspace holds (before holders were kept)")
    blob_file(app, orphan).parent.mkdir(parents=True, exist_ok=True)
    blob_file(app, orphan).write_bytes(orphan_bytes)
    os.utime(blob_file(app, orphan), (clock.ms / 1000 - 40 * DAY,) * 2)

    clock.advance(15 * DAY)  # 35 days after the first uploads, 15 after the late one
    result = prune(app, clock, batch=1)
    assert result.blobs_removed == 2
    assert result.blob_bytes_removed == len(old_bytes) + len(orphan_bytes)
    assert not blob_file(app, old).exists() and not blob_file(app, orphan).exists()
    for sha in (named, deleted, late):
        assert blob_file(app, sha).exists(), sha
    with app.app_context():
        assert not BlobHolder.select().where(BlobHolder.sha256 == old).exists()
    assert missing(device, old).json["missing"] == [old]  # a device would upload it again

    clock.advance(10 * DAY)  # the late one is named now, 30 days after its upload
    attach(device, clock.ms, late)
    assert prune(app, clock).blobs_removed == 0 and blob_file(app, late).exists()


def test_the_grace_period_is_a_setting(app, device, clock):
    sha, data = photo("young")
    assert put(device, sha, data).status_code == 201
    clock.advance(3 * DAY)
    assert prune(app, clock).blobs_removed == 0
    assert prune(app, clock, blob_days=2).blobs_removed == 1
    assert not blob_file(app, sha).exists()


def test_prune_between_missing_and_push_keeps_the_blob(app, device, clock):
    """The race in one order: an old unnamed blob; a device asks ``missing`` (the server has
    it, so the device will not upload it), prune runs, then the device pushes the attachment
    naming it. The question touched the blob, so prune kept it."""
    sha, data = photo("uploaded long ago, attached only now")
    assert put(device, sha, data).status_code == 201
    clock.advance(40 * DAY)
    assert missing(device, sha).json["missing"] == []
    assert prune(app, clock).blobs_removed == 0
    attach(device, clock.ms, sha)
    assert device.get(f"/api/v1/blobs/{sha}").data == data


def test_a_push_racing_prune_never_names_a_pruned_blob(app, workspace, clock):
    """The device's way: ask which blobs are missing, upload those, push the attachment. Old
    unnamed blobs are pruned while devices do that; every attachment must still find its
    bytes and its holder."""
    devices = [enroll(app, "wang", clock, f"pad-{n}") for n in range(2)]
    hashes = []
    for n in range(12):
        sha, data = photo(f"race {n}")
        assert put(devices[n % 2], sha, data).status_code == 201
        hashes.append((sha, data))
    clock.advance(40 * DAY)  # every blob is old and unnamed now
    errors: list[BaseException] = []

    def device_run(api, mine) -> None:
        try:
            for sha, data in mine:
                if missing(api, sha).json["missing"]:
                    assert put(api, sha, data).status_code in (200, 201)
                attach(api, clock.ms, sha)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    def prune_run() -> None:
        try:
            for _ in range(6):
                prune(app, clock, batch=2)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [
        threading.Thread(target=device_run, args=(devices[n], hashes[n::2])) for n in (0, 1)
    ]
    threads.append(threading.Thread(target=prune_run))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    prune(app, clock)
    with app.app_context():
        workspace_id = services.get_workspace(workspace["id"]).id
        holders = {
            h.sha256 for h in BlobHolder.select().where(BlobHolder.workspace == workspace_id)
        }
    for sha, data in hashes:
        assert blob_file(app, sha).read_bytes() == data, sha
        assert sha in holders
        assert devices[0].get(f"/api/v1/blobs/{sha}").status_code == 200
