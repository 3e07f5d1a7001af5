"""The lesser holes of issue 9, item 6: attachment sizes, the database file's mode."""

from __future__ import annotations

import stat

from tests.api.conftest import make_app, new_id, push_body, sqlite_only


@sqlite_only
def test_an_attachment_size_is_bounded(device, clock):
    stamp = device.stamp(clock.ms)
    fields = {"subject_type": "place", "subject_id": new_id(), "sha256": "a" * 64,
              "media_type": "image/jpeg", "size": 2**53}  # fmt: skip
    change = {
        "type": "attachment",
        "id": new_id(),
        "set": {k: {"value": v, "stamp": stamp, "base": None} for k, v in fields.items()},
    }
    body = device.push(push_body(change)).json
    assert body["applied"] == 0 and "size" in body["rejected"][0]["errors"]


def test_the_sqlite_file_is_readable_by_its_owner_only(tmp_path, clock):
    path = tmp_path / "private" / "fieldsync.db"
    app = make_app(f"sqlite:///{path}", tmp_path, clock)
    app.extensions["fieldsync_db"].close()
    for name in (path, path.with_name(path.name + "-wal")):
        if name.exists():
            assert stat.S_IMODE(name.stat().st_mode) & 0o077 == 0, name
    assert path.exists()
