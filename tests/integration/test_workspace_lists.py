"""Workspace lists end to end: an admin adds the category 加装电梯 in the office, a device syncs
and offers it offline; retired, unknown and duplicate entries are refused in the reader's words; a
rename racing a device's edit merges like any field."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from field_client.web import create_app as field_app
from server import create_app, services
from tests.integration.conftest import Device, ManualClock

LIST = "/admin/lists/concern.category"


def text(response: Any) -> str:
    html = response.get_data(as_text=True)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def office(tmp_path: Path, clock: ManualClock) -> Iterator[Flask]:
    app = create_app({
        "DATABASE_URL": f"sqlite:///{tmp_path / 'server.db'}", "SECRET_KEY": "test",
        "INSTANCE_PATH": str(tmp_path / "instance"), "NOW_MS": clock, "AUTO_UPGRADE": True,
        "TESTING": True, "WTF_CSRF_ENABLED": False,
    })  # fmt: skip
    with app.app_context():
        space = services.create_workspace("庄泉社区")
        services.create_user("admin", space, "admin", "admin-password")
        services.create_user("wang", space, "representative", display_name="王芳")
    yield app
    app.extensions["fieldsync_db"].close()


@pytest.fixture
def admin(office: Flask) -> Any:
    client = office.test_client()
    answer = client.post("/login", data={"username": "admin", "password": "admin-password"})
    assert answer.status_code == 302
    return client


@pytest.fixture
def pad(office: Flask, tmp_path: Path, clock: ManualClock) -> Iterator[Device]:
    device = Device(office, tmp_path / "pad", clock, "wang")
    yield device
    device.store.close()


def ui(device: Device, clock: ManualClock) -> Any:
    """The device's field UI (it works offline: it never calls the server itself)."""
    tz = dt.timezone(dt.timedelta(hours=8))
    now = dt.datetime.fromtimestamp(clock.ms / 1000, tz)
    app = field_app(device.store.home, store=device.store, now=lambda: now, tz=tz,
                    check=lambda: False)  # fmt: skip
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    return app.test_client()


def add(admin: Any, name_zh: str, name_en: str = "", days: str = "") -> Any:
    return admin.post(f"{LIST}/add", data={"name_zh": name_zh, "name_en": name_en, "days": days})


def key_of(admin: Any, name: str) -> str:
    page = admin.get(LIST).get_data(as_text=True)
    found = re.search(rf'value="{name}".*?action="[^"]*{LIST}/([a-z0-9_-]+)"', page, re.S)
    assert found, name
    return found.group(1)


def test_an_admin_adds_a_category_and_a_device_offers_it_offline(admin, pad, clock):
    assert add(admin, "加装电梯", "Elevator retrofit", "30").status_code == 302
    assert 'value="加装电梯"' in admin.get(LIST).get_data(as_text=True)
    key = key_of(admin, "加装电梯")
    report = pad.sync()
    assert report.rejected == 0
    field = ui(pad, clock)
    form = field.get("/concerns/new").get_data(as_text=True)
    assert f'value="{key}"' in form and "加装电梯" in form
    saved = field.post("/concerns/new", data={"title": "3号楼想装电梯", "category": key,
                                              "priority": "normal"})  # fmt: skip
    assert saved.status_code == 302
    assert pad.sync().rejected == 0
    [concern] = [c for c in pad.store.list("concern") if c["fields"]["title"] == "3号楼想装电梯"]
    assert concern["fields"]["category"] == key
    assert "加装电梯" in text(admin.get(f"/concerns/{concern['id']}"))
    field.set_cookie("fieldsync_lang", "en")
    assert "Elevator retrofit" in field.get("/concerns/new").get_data(as_text=True)


def test_two_entries_with_one_name_are_refused(admin):
    assert add(admin, "加装电梯").status_code == 302
    again = add(admin, " 加装电梯 ")
    assert again.status_code == 422 and "已有同名的选项" in text(again)
    clash = add(admin, "物业管理")  # a default entry's name
    assert clash.status_code == 422 and "已有同名的选项" in text(clash)
    bad = add(admin, "网格", days="-3")
    assert bad.status_code == 422 and "之间的整数" in text(bad)


def test_a_retired_category_stays_on_old_records_and_new_ones_are_refused(admin, pad, clock):
    add(admin, "加装电梯")
    key = key_of(admin, "加装电梯")
    pad.sync()
    old = pad.store.create("concern", {"title": "装电梯", "category": key})
    pad.sync()
    form = {"name_zh": "加装电梯", "name_en": "", "position": "100", "days": "", "retired": "1"}
    assert admin.post(f"{LIST}/{key}", data=form).status_code == 302
    # the device has not synced since: it still offers the entry and records with it offline
    pad.store.create("concern", {"title": "又要装电梯", "category": key})
    pad.store.update("concern", old, {"title": "装电梯（2号楼）"})
    report = pad.sync()
    assert report.rejected == 1  # the new one; the old record's edit is taken
    [rejection] = pad.store.rejected()
    assert rejection["values"]["title"] == "又要装电梯"
    attention = text(ui(pad, clock).get("/attention"))
    assert "这个选项已停用" in attention and "加装电梯" in attention
    assert pad.store.get("concern", old)["fields"]["title"] == "装电梯（2号楼）"
    new_form = ui(pad, clock).get("/concerns/new").get_data(as_text=True)
    assert f'value="{key}"' not in new_form  # after the sync the device no longer offers it
    edit_form = ui(pad, clock).get(f"/concerns/{old}/edit").get_data(as_text=True)
    assert f'value="{key}"' in edit_form  # but the old record keeps it


def test_a_category_the_workspace_lacks_is_refused_per_change(pad, clock):
    pad.store.create("concern", {"title": "好的", "category": "infrastructure"})
    pad.store.create("concern", {"title": "坏的", "category": "c0123456789ab"})
    report = pad.sync()
    assert report.rejected == 1
    [rejection] = pad.store.rejected()
    assert rejection["values"]["title"] == "坏的"
    assert "本工作区没有这个选项" in text(ui(pad, clock).get("/attention"))


def test_a_rename_racing_a_device_edit_merges_like_any_field(admin, pad, clock):
    add(admin, "加装电梯")
    key = key_of(admin, "加装电梯")
    pad.sync()
    concern = pad.store.create("concern", {"title": "装电梯", "category": key})
    pad.sync()
    pad.store.update("concern", concern, {"priority": "high"})  # offline
    form = {"name_zh": "电梯加装", "name_en": "Lift", "position": "100", "retired": "0"}
    assert admin.post(f"{LIST}/{key}", data=form).status_code == 302
    report = pad.sync()
    assert report.rejected == 0 and report.conflicts == 0
    fields = pad.store.get("concern", concern)["fields"]
    assert (fields["category"], fields["priority"]) == (key, "high")
    assert "电梯加装" in text(ui(pad, clock).get(f"/concerns/{concern}"))


def test_a_device_cannot_write_the_list(pad):
    stamp = pad.store.tick()
    write = {"value": "concern.category", "stamp": stamp, "base": None}
    change = {"type": "choice", "id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
              "set": {"list": write, "key": {**write, "value": "c0123456789ab"}}}  # fmt: skip
    body = {"batch_id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c", "changes": [change]}
    [rejection] = pad.transport.push(body)["rejected"]
    assert rejection["codes"]["list"] == [{"code": "office_only", "params": {}}]
