"""Photos in the field UI: taken with a visit or added on a concern, checked, shown, served."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from typing import Any

from field_client import blobs
from field_client.store import LocalStore
from tests.field_ui.conftest import field_error, page_text
from tests.field_ui.test_field_ui_visits import visit_form


def tiny_png(red: int = 200) -> bytes:
    """A valid 1x1 PNG, made here (no binary files in the repository)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(bytes([0, red, 80, 40]))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )


def upload(data: bytes, name: str = "photo.png") -> tuple[io.BytesIO, str]:
    return io.BytesIO(data), name


def post_visit(client: Any, files: list[tuple[io.BytesIO, str]], **overrides: Any) -> Any:
    form = visit_form(**overrides)
    form["photos"] = files
    return client.post("/visits/new", data=form, content_type="multipart/form-data")


def test_a_photo_taken_with_a_visit_becomes_a_pending_attachment_and_a_local_blob(client, store):
    png = tiny_png()
    response = post_visit(client, [upload(png, "门口.png")])
    assert response.status_code == 302
    [visit] = store.list("visit")
    [attachment] = store.list("attachment")
    fields = attachment["fields"]
    sha = hashlib.sha256(png).hexdigest()
    assert fields["subject_type"] == "visit" and fields["subject_id"] == visit["id"]
    assert (fields["sha256"], fields["media_type"], fields["size"]) == (sha, "image/png", len(png))
    assert blobs.blob_path(store.home, sha).read_bytes() == png
    assert blobs.pending_hashes(store) == [sha]  # in the outbox: uploaded before the next push

    page = client.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    assert f"/attachments/{attachment['id']}" in html and 'capture="environment"' in html
    served = client.get(f"/attachments/{attachment['id']}")
    assert served.status_code == 200 and served.data == png
    assert served.mimetype == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"


def test_a_visit_without_photos_is_saved_as_before(client, store):
    assert post_visit(client, []).status_code == 302
    assert store.list("visit") and not store.list("attachment")


def test_an_over_limit_photo_is_refused_next_to_the_field_and_the_form_kept(app, client, store):
    app.config["FIELDSYNC_PHOTO_LIMIT"] = 1024 * 1024
    big = tiny_png() + b"\0" * (1024 * 1024)
    response = post_visit(client, [upload(tiny_png()), upload(big, "big.png")])
    assert response.status_code == 422
    assert "超过 1 MiB" in field_error(response, "photos") and "big.png" in field_error(
        response, "photos"
    )
    assert "居民反映污水管道老化" in page_text(response)  # the summary is still there
    assert not store.list("visit") and not store.list("attachment")
    assert not list((store.home / blobs.BLOB_FOLDER).glob("??/*"))


def test_a_file_that_is_not_an_image_is_refused_kindly(client, store):
    response = post_visit(client, [upload(b"%PDF-1.4 minutes of the meeting", "minutes.pdf")])
    assert response.status_code == 422
    assert "不是照片" in field_error(response, "photos")
    assert "百盛家园入户走访" in response.get_data(as_text=True)
    assert not store.list("visit")
    response = post_visit(client, [upload(b"", "empty.jpg")])
    assert response.status_code == 422 and "不是照片" in field_error(response, "photos")


def test_another_error_asks_to_choose_the_photos_again(client, store):
    response = post_visit(client, [upload(tiny_png())], started_at="")
    assert response.status_code == 422
    assert "重新选择照片" in field_error(response, "photos")
    assert not store.list("attachment")


def test_photos_added_on_a_concern_page_show_there(client, store: LocalStore):
    concern_id = store.create("concern", {"title": "污水管道经常破裂", "status": "new"})
    url = f"/concerns/{concern_id}/photos"
    one, two = tiny_png(10), tiny_png(250)
    response = client.post(
        url, data={"photos": [upload(one), upload(two)]}, content_type="multipart/form-data"
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("#photos")
    page = client.get(f"/concerns/{concern_id}")
    assert "已添加 2 张照片" in page_text(page)
    shown = {a["id"] for a in store.list("attachment", subject=concern_id)}
    assert len(shown) == 2
    html = page.get_data(as_text=True)
    assert all(f"/attachments/{a}" in html for a in shown)

    refused = client.post(
        url, data={"photos": [upload(b"hello", "note.txt")]}, content_type="multipart/form-data"
    )
    assert refused.status_code == 302
    assert "不是照片" in page_text(client.get(f"/concerns/{concern_id}"))
    assert len(store.list("attachment", subject=concern_id)) == 2
    assert client.post("/concerns/nope/photos", data={}).status_code == 404


def test_a_photo_not_on_this_device_shows_a_placeholder_while_offline(client, store):
    visit_id = store.create(
        "visit", {"kind": "home_visit", "started_at": "2026-05-31T09:30:00+08:00"}
    )
    attachment_id = blobs.attach(store, "visit", visit_id, tiny_png())
    sha = store.get("attachment", attachment_id)["fields"]["sha256"]
    blobs.blob_path(store.home, sha).unlink()  # as if taken on another device
    page = client.get(f"/visits/{visit_id}")
    assert "同步后会显示" in page_text(page)
    served = client.get(f"/attachments/{attachment_id}")  # the server does not answer
    assert served.status_code == 200 and served.mimetype == "image/svg+xml"
    assert "同步后显示" in served.get_data(as_text=True)
    assert client.get("/attachments/nope").status_code == 404


def test_a_photo_bigger_than_an_ordinary_form_is_taken_and_too_many_bytes_are_a_page(
    app, client, store
):
    concern_id = store.create("concern", {"title": "楼道照明损坏", "status": "new"})
    url = f"/concerns/{concern_id}/photos"
    three_mib = tiny_png() + b"\0" * (3 * 1024 * 1024)  # over the 2 MiB of other forms
    response = client.post(
        url, data={"photos": [upload(three_mib)]}, content_type="multipart/form-data"
    )
    assert response.status_code == 302
    [attachment] = store.list("attachment", subject=concern_id)
    assert attachment["fields"]["size"] == len(three_mib)

    app.config["FIELDSYNC_PHOTO_LIMIT"] = 1024  # the whole request may then hold ~2 MiB
    response = client.post(
        url, data={"photos": [upload(three_mib)]}, content_type="multipart/form-data"
    )
    assert response.status_code == 413 and "照片太大了" in page_text(response)
