"""Photos on the office pages: shown on the concern and visit pages, served to their workspace
only, with a 404 page for anyone else and for bytes the device has not uploaded yet."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

from server import blobs, services
from server.blob_api import blob_store
from tests.office import data
from tests.office.conftest import login


def tiny_png(red: int = 200) -> bytes:
    """A valid 1x1 PNG, made here (no binary files in the repository)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(bytes([0, red, 80, 40]))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )  # fmt: skip


def attach(app, seeded, clock, subject_type: str, subject_id: str, png: bytes | None,
           caption: str = "") -> str:  # fmt: skip
    """Create an attachment record naming ``png``; store its bytes as a device upload would
    (None: the device has not uploaded them yet)."""
    sha = hashlib.sha256(png or b"never uploaded").hexdigest()
    with app.app_context():
        if png is not None:
            blob_store().save(sha, io.BytesIO(png), limit=len(png))
            blobs.hold(seeded.workspace_id, sha)
        fields = {"subject_type": subject_type, "subject_id": subject_id, "sha256": sha,
                  "media_type": "image/png", "size": len(png or b""),
                  "caption": caption}  # fmt: skip
        return data.edit(seeded, clock, "attachment", fields, user="li")


def test_a_photo_shows_on_the_concern_page_and_its_route_serves_the_bytes(
    app, staff, seeded, clock
):
    png = tiny_png()
    concern_id = seeded.ids["pipe"]
    photo_id = attach(app, seeded, clock, "concern", concern_id, png, caption="破裂的管道")
    page = staff.get(f"/concerns/{concern_id}").get_data(as_text=True)
    assert f"/photos/{photo_id}" in page and "照片" in page and "破裂的管道" in page
    served = staff.get(f"/photos/{photo_id}")
    assert served.status_code == 200 and served.data == png
    assert served.mimetype == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served.headers["Content-Security-Policy"]
    other = staff.get(f"/concerns/{seeded.ids['riders']}").get_data(as_text=True)
    assert f"/photos/{photo_id}" not in other


def test_a_visit_page_shows_its_photos_and_a_note_for_those_not_uploaded(
    app, staff, seeded, clock
):
    visit_id = seeded.ids["forum"]
    here = attach(app, seeded, clock, "visit", visit_id, tiny_png(30))
    missing = attach(app, seeded, clock, "visit", visit_id, None)
    page = staff.get(f"/visits/{visit_id}").get_data(as_text=True)
    assert f"/photos/{here}" in page and f"/photos/{missing}" not in page
    assert "设备尚未上传这张照片" in page
    response = staff.get(f"/photos/{missing}")
    assert response.status_code == 404 and "未找到" in response.get_data(as_text=True)


def test_another_workspace_gets_a_404_page_and_strangers_the_login(app, staff, seeded, clock):
    photo_id = attach(app, seeded, clock, "concern", seeded.ids["pipe"], tiny_png())
    with app.app_context():
        space = services.create_workspace("另一个社区")
        services.create_user("zhao", space, "staff", "other-pass-12", "赵强")
    other = app.test_client()
    assert login(other, "zhao", "other-pass-12").status_code == 302
    response = other.get(f"/photos/{photo_id}")
    assert response.status_code == 404 and b"\x89PNG" not in response.data
    assert other.get(f"/concerns/{seeded.ids['pipe']}").status_code == 404
    assert staff.get("/photos/nope").status_code == 404
    anonymous = app.test_client().get(f"/photos/{photo_id}")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_a_deleted_photo_is_gone(app, staff, seeded, clock):
    photo_id = attach(app, seeded, clock, "concern", seeded.ids["pipe"], tiny_png())
    data.edit(seeded, clock, "attachment", {"_deleted": True}, photo_id)
    assert staff.get(f"/photos/{photo_id}").status_code == 404
    page = staff.get(f"/concerns/{seeded.ids['pipe']}").get_data(as_text=True)
    assert f"/photos/{photo_id}" not in page


def test_an_attachment_naming_another_workspaces_blob_shows_nothing(app, seeded, clock):
    png = tiny_png(90)
    attach(app, seeded, clock, "concern", seeded.ids["pipe"], png)  # workspace A holds the blob
    with app.app_context():
        space = services.create_workspace("另一个社区")
        services.create_user("zhao", space, "staff", "other-pass-12", "赵强")
        other = data.Seeded(space.id, {"zhao": services.get_user("zhao")})
        concern = data.edit(other, clock, "concern", {"title": "外墙渗水"}, user="zhao")
        sha = hashlib.sha256(png).hexdigest()
        fields = {"subject_type": "concern", "subject_id": concern, "sha256": sha,
                  "media_type": "image/png", "size": len(png)}  # fmt: skip
        photo_id = data.edit(other, clock, "attachment", fields, user="zhao")
    client = app.test_client()
    assert login(client, "zhao", "other-pass-12").status_code == 302
    response = client.get(f"/photos/{photo_id}")
    assert response.status_code == 404 and png not in response.data
    page = client.get(f"/concerns/{concern}").get_data(as_text=True)
    assert f"/photos/{photo_id}" not in page  # nor does the page tell that the bytes exist
