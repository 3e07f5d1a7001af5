"""The office serves the field app at /field/: every file with its type, the manifest with its
icons, and a service worker that precaches every asset under a version that follows them."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from server import create_app

PWA = Path(__file__).resolve().parents[2] / "field_client" / "pwa"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".webmanifest": "application/manifest+json",
    ".png": "image/png",
}


def client_for(tmp_path: Path, **config: Any) -> FlaskClient:
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'office.db'}",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "AUTO_UPGRADE": True,
            "SECRET_KEY": "test",
            **config,
        }
    )
    return app.test_client()


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    return client_for(tmp_path)


def worker(client: FlaskClient) -> tuple[str, list[str]]:
    text = client.get("/field/sw.js").get_data(as_text=True)
    version = re.search(r'const VERSION = "([0-9a-f]{16})";', text)
    assets = re.search(r"const ASSETS = (\[.*?\]);", text)
    assert version and assets, text[:300]
    return version.group(1), json.loads(assets.group(1))


def test_every_file_is_served_with_its_type(client: FlaskClient) -> None:
    files = [p for p in PWA.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} <= set(TYPES)
    for path in files:
        answer = client.get(f"/field/{path.relative_to(PWA).as_posix()}")
        assert answer.status_code == 200, path
        assert answer.headers["Content-Type"] == TYPES[path.suffix], path
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/field").headers["Location"].endswith("/field/")
    home = client.get("/field/")
    assert home.headers["Content-Type"] == TYPES[".html"]
    assert 'rel="manifest"' in home.get_data(as_text=True)


def test_manifest_names_icons_that_exist(client: FlaskClient) -> None:
    manifest = client.get("/field/manifest.webmanifest").get_json(force=True)
    assert manifest["start_url"] == "./" and manifest["display"] == "standalone"
    sizes = set()
    for icon in manifest["icons"]:
        answer = client.get(f"/field/{icon['src']}")
        assert answer.status_code == 200 and answer.data[:8] == b"\x89PNG\r\n\x1a\n"
        width = int.from_bytes(answer.data[16:20], "big")
        assert icon["sizes"] == f"{width}x{width}"
        sizes.add(width)
    assert {192, 512} <= sizes


def test_worker_precaches_every_asset_and_the_words(client: FlaskClient) -> None:
    _version, assets = worker(client)
    on_disk = {p.relative_to(PWA).as_posix() for p in PWA.rglob("*") if p.is_file()}
    assert set(assets) == on_disk - {"sw.js"} | {"./", "vocabulary.json"}
    words = client.get("/field/vocabulary.json").get_json()
    assert words["types"]["visit"]["one"] == ["走访", "Visit"]


def test_a_changed_asset_makes_a_new_version(tmp_path: Path) -> None:
    folder = tmp_path / "pwa"
    shutil.copytree(PWA, folder)
    before, _ = worker(client_for(tmp_path / "a", FIELD_APP_DIR=str(folder)))
    (folder / "app.css").write_text("body { color: red; }\n", encoding="utf-8")
    after, _ = worker(client_for(tmp_path / "b", FIELD_APP_DIR=str(folder)))
    assert before != after


def test_nothing_outside_the_app_is_served(tmp_path: Path) -> None:
    folder = tmp_path / "pwa"
    shutil.copytree(PWA, folder)
    (folder / "notes.txt").write_text("not an asset", encoding="utf-8")
    (tmp_path / "secret.js").write_text("secret", encoding="utf-8")
    client = client_for(tmp_path / "c", FIELD_APP_DIR=str(folder))
    paths = ("/field/notes.txt", "/field/../secret.js", "/field/%2e%2e/secret.js", "/field/x.js")
    for path in paths:
        assert client.get(path).status_code == 404, path


def test_text_assets_are_gzipped_when_asked_and_answer_304_when_unchanged(
    client: FlaskClient,
) -> None:
    plain = client.get("/field/js/app.js")
    assert "Content-Encoding" not in plain.headers
    packed = client.get("/field/js/app.js", headers={"Accept-Encoding": "gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data == (PWA / "js" / "app.js").read_bytes()
    assert len(packed.data) < len(plain.data) / 2
    again = client.get(
        "/field/js/app.js",
        headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]},
    )
    assert again.status_code == 304 and not again.data
    assert plain.headers["ETag"] != packed.headers["ETag"]
    icon = client.get("/field/icons/icon-192.png", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in icon.headers  # a PNG does not compress
    worker = client.get("/field/sw.js", headers={"Accept-Encoding": "gzip"})
    assert b"__VERSION__" not in gzip.decompress(worker.data)
