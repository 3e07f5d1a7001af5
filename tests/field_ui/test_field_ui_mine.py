"""Concerns the office gave this device's user: listed with overdue and due soon, counted."""

from __future__ import annotations

import uuid

from field_client.store import LocalStore
from field_client.web import create_app
from tests.field_ui.conftest import NOW, START_MS, TZ, ManualClock, free_port, page_text

SERVER_TIME = f"{START_MS:013d}-000000-office"


def concern(title: str, **fields) -> dict:
    values = {"title": title, **fields}
    return {"type": "concern", "id": str(uuid.uuid4()), "fields": values,
            "stamps": dict.fromkeys(values, SERVER_TIME), "deleted": False}  # fmt: skip


def test_my_concerns_show_after_a_sync_with_overdue_and_due_soon(tmp_path):
    store = LocalStore(tmp_path / "device", now=ManualClock())
    user = {"id": "0b5d0c1e-1111-4222-8333-944445555666", "username": "liu"}
    answer = {"device_id": "pad-ui-2", "token": "not-a-real-token", "user": user}
    store.save_enrollment(f"http://127.0.0.1:{free_port()}", answer, "平板二")
    me = answer["user"]["id"]
    records = [
        concern("外卖骑手充电难", owner_id=me, due_on="2026-05-20", status="in_progress",
                supervision="key_supervised"),
        concern("暑期托管需求", owner_id=me, due_on="2026-06-02"),
        concern("楼道照明损坏", owner_id=me, due_on="2026-07-30"),
        concern("已办结的诉求", owner_id=me, due_on="2026-05-01", status="resolved"),
        concern("别人的诉求", owner_id=str(uuid.uuid4()), due_on="2026-05-01"),
    ]  # fmt: skip
    store.apply_pull_page({"records": records, "cursor": "c1", "more": False,
                           "server_time": SERVER_TIME})  # fmt: skip
    app = create_app(store.home, store=store, now=lambda: NOW, tz=TZ, check=lambda: False)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    client = app.test_client()
    shown = page_text(client.get("/attention"))
    assert "交办给我的诉求" in shown and "已超期 1 条，1 条将在三天内到期" in shown
    for title in ("外卖骑手充电难", "暑期托管需求", "楼道照明损坏"):
        assert title in shown
    assert "已办结的诉求" not in shown and "别人的诉求" not in shown and "重点督办" in shown
    assert "2 项需要您处理" in page_text(client.get("/"))  # one overdue, one due soon
