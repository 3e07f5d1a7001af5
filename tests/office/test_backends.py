"""Every office page and export on SQLite and on PostgreSQL (the JSON SQL differs by dialect)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.office import data
from tests.office.conftest import login, make_app
from tests.office.test_imports import PEOPLE, form_of, live, upload
from tests.office.test_ledger import xlsx


@pytest.fixture
def office(database_url, tmp_path) -> Iterator[tuple[data.Seeded, data.ManualClock, Any]]:
    """The known data on the backend under test, and an administrator signed in."""
    clock = data.ManualClock(data.NOW_MS)
    app = make_app(tmp_path / "unused.db", tmp_path / "instance", clock,
                   DATABASE_URL=database_url)  # fmt: skip
    db = app.extensions["fieldsync_db"]
    db.connect(reuse_if_open=True)
    try:
        seeded = data.seed(clock)
        client = app.test_client()
        assert login(client, "admin").status_code == 302
        yield seeded, clock, client
    finally:
        db.close()


def test_every_page_and_export_on_both_backends(office):
    s, clock, client = office
    data.make_conflict(s, clock)
    ids = s.ids
    paths = ["/?since=2024-01-01&until=2024-06-30", "/concerns?q=管道&status=confirmed",
             f"/concerns?place={ids['baisheng']}&since=2024-01-01&rep={s.users['li'].id}",
             f"/concerns/{ids['pipe']}", "/visits?kind=forum&since=2024-01-01", "/places",
             "/people?q=张", "/projects?status=completed", f"/visits/{ids['forum']}",
             "/review", "/review?type=visit", "/conflicts", "/admin/users", "/admin/devices",
             f"/records/concern/{ids['riders']}/history",
             f"/records/visit/{ids['forum']}/edit", "/inbox", "/concerns?sort=voices",
             f"/concerns?sort=due&due=overdue&owner={s.users['li'].id}",
             "/concerns?due=week&owner=none", "/street", "/admin/workspaces", "/import",
             "/admin/lists/concern.category", "/visits/export.csv", "/places/export.xlsx",
             "/people/export.csv", "/projects/export.xlsx"]  # fmt: skip
    for path in paths:
        assert client.get(path).status_code == 200, path
    page = client.get("/?since=2024-01-01&until=2024-06-30").get_data(as_text=True)
    assert re.search(r'data-figure="concerns_collected"[^>]*><div class="value">5<', page)
    rows = list(csv.reader(io.StringIO(
        client.get("/concerns/export.csv?q=管道").get_data().decode("utf-8-sig")
    )))  # fmt: skip
    assert [r[1] for r in rows[1:]] == ["污水管道反复堵塞"]
    by_name = client.get("/concerns?q=李明&status=confirmed").get_data(as_text=True)
    assert by_name.count('<a href="/concerns/') == 2  # the representative's name finds both
    picker = client.get(f"/concerns/{ids['summer']}?dup_q=骑手").get_data(as_text=True)
    assert f'<option value="{ids["riders"]}"' in picker
    assert 'aria-current="true"' in client.get("/").get_data(as_text=True)
    assert client.get("/concerns/export.xlsx").status_code == 200


def test_a_ledger_import_and_its_undo_on_both_backends(office):
    s, _clock, client = office
    before = live(s.workspace_id, "party")
    page = upload(client, "parties", xlsx(PEOPLE), "居民台账.xlsx").get_data(as_text=True)
    assert "共 4 行；0 行有错误；2 个重复" in page
    action = re.search(r'<form method="post" action="([^"]+)"[^>]*id="run"', page)[1]
    done = client.post(action, data=form_of(page, "run"), follow_redirects=True)
    assert "导入 2 条记录" in done.get_data(as_text=True)
    assert live(s.workspace_id, "party") == before + 2
    undo = re.search(r'action="(/import/batches/[^"]+/undo)"', done.get_data(as_text=True))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    client.post(undo[1], data={"csrf_token": token})
    assert live(s.workspace_id, "party") == before
