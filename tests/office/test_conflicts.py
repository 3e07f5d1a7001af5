"""The conflict queue and the review of incoming records."""

from __future__ import annotations

import re

from server import store
from server.models import Conflict
from tests.office import data
from tests.office.conftest import CSRF_RE


def resolve(client, conflict_id: str, **form: str):
    token = CSRF_RE.search(client.get("/conflicts").get_data(as_text=True))[1]
    return client.post(f"/conflicts/{conflict_id}/resolve", data={"csrf_token": token, **form})


def test_the_queue_shows_both_values_side_by_side(staff, seeded, clock):
    data.make_conflict(seeded, clock)
    page = staff.get("/conflicts").get_data(as_text=True)
    assert f'data-conflict="{seeded.conflict_id}"' in page
    assert "外卖骑手充电难" in page and "状态" in page
    assert "已办结" in page and "已转办" in page  # kept (office) and other (device)
    assert "李明的平板" in page  # which device
    assert "王芳" in page and "李明" in page  # who


def test_keeping_the_other_value_resolves_it_and_the_edit_syncs(staff, seeded, clock):
    conflict_id = data.make_conflict(seeded, clock)
    response = resolve(staff, conflict_id, choice="other")
    assert response.status_code == 302
    page = staff.get(response.headers["Location"]).get_data(as_text=True)
    assert "冲突已解决" in page and "data-empty" in page
    record = store.get_record(seeded.workspace_id, seeded.ids["riders"])
    assert record["fields"]["status"] == "referred"
    assert Conflict.get_by_id(conflict_id).status == "resolved"
    pulled = store.pull(seeded.workspace_id, None, 500, now_ms=clock())
    assert any(r["id"] == seeded.ids["riders"] and r["fields"]["status"] == "referred"
               for r in pulled["records"])  # fmt: skip


def test_typing_a_new_value(staff, seeded, clock):
    conflict_id = data.make_conflict(seeded, clock)
    resolve(staff, conflict_id, choice="custom", custom="in_progress")
    assert store.get_record(seeded.workspace_id, seeded.ids["riders"])["fields"]["status"] == (
        "in_progress"
    )


def test_an_invalid_new_value_leaves_the_conflict_open(staff, seeded, clock):
    conflict_id = data.make_conflict(seeded, clock)
    response = resolve(staff, conflict_id, choice="custom", custom="not-a-status")
    assert "值无效" in staff.get(response.headers["Location"]).get_data(as_text=True)
    assert Conflict.get_by_id(conflict_id).status == "open"


def test_resolving_twice_says_so(staff, seeded, clock):
    conflict_id = data.make_conflict(seeded, clock)
    resolve(staff, conflict_id, choice="kept")
    response = resolve(staff, conflict_id, choice="other")
    assert "已由他人解决" in staff.get(response.headers["Location"]).get_data(as_text=True)
    assert store.get_record(seeded.workspace_id, seeded.ids["riders"])["fields"]["status"] == (
        "resolved"
    )


def test_review_approve_and_send_back_with_a_note(staff, seeded):
    page = staff.get("/review").get_data(as_text=True)
    assert f'data-review="{seeded.ids["pipe"]}"' in page
    block = re.search(rf'data-review="{seeded.ids["riders"]}".*?</form>', page, re.S)[0]
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', block))
    form = {k: v.replace("&#34;", '"') for k, v in form.items()}
    url = f"/review/concern/{seeded.ids['riders']}"
    refused = staff.post(url, data={**form, "action": "needs_changes"})
    assert "请写明需要修改什么" in staff.get(refused.headers["Location"]).get_data(as_text=True)
    staff.post(url, data={**form, "action": "needs_changes", "review_note": "请补充骑手人数"})
    fields = store.get_record(seeded.workspace_id, seeded.ids["riders"])["fields"]
    assert fields["review_status"] == "needs_changes" and fields["review_note"] == "请补充骑手人数"
    assert f'data-review="{seeded.ids["riders"]}"' not in staff.get("/review").get_data(
        as_text=True
    )
    pipe_block = re.search(rf'data-review="{seeded.ids["pipe"]}".*?</form>', page, re.S)[0]
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', pipe_block))
    form = {k: v.replace("&#34;", '"') for k, v in form.items()}
    staff.post(f"/review/concern/{seeded.ids['pipe']}", data={**form, "action": "approved"})
    assert (
        store.get_record(seeded.workspace_id, seeded.ids["pipe"])["fields"]["review_status"]
        == "approved"
    )
