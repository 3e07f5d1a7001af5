"""Street level: workspaces created and renamed from the admin pages, switching between them,
one dashboard across them; nobody reaches a workspace they do not hold."""

from __future__ import annotations

import re

from server import services, street
from server.models import Workspace
from tests.office import data
from tests.office.conftest import csrf_token


def post(client, path: str, form: dict, page: str = "/admin/workspaces"):
    return client.post(path, data={"csrf_token": csrf_token(client, page), **form},
                       follow_redirects=True)  # fmt: skip


def test_create_rename_switch_and_see_the_street(admin, staff, seeded, clock):
    created = post(admin, "/admin/workspaces", {"name": "金山社区"}).get_data(as_text=True)
    assert "已创建工作区 金山社区" in created
    jinshan = Workspace.get(Workspace.name == "金山社区")
    page = post(admin, "/admin/workspaces", {"workspace_id": jinshan.id, "name": "金山社区居委会"})
    assert "工作区已改名" in page.get_data(as_text=True)
    taken = post(admin, "/admin/workspaces", {"workspace_id": jinshan.id, "name": "庄泉社区"})
    assert taken.status_code == 422 and "已有同名的工作区" in taken.get_data(as_text=True)
    assert Workspace.get_by_id(jinshan.id).name == "金山社区居委会"
    # Switch without signing out: the concern list is now the other workspace's (empty).
    switched = post(admin, "/workspace/switch", {"workspace_id": jinshan.id}, page="/")
    assert 'id="switch-workspace"' in switched.get_data(as_text=True)
    assert "没有符合筛选条件的诉求" in admin.get("/concerns").get_data(as_text=True)
    post(admin, "/workspace/switch", {"workspace_id": seeded.workspace_id}, page="/")
    assert "污水管道反复堵塞" in admin.get("/concerns").get_data(as_text=True)
    # One row per community and a total.
    page = admin.get("/street?since=2024-01-01&until=2024-06-30").get_data(as_text=True)
    rows = dict(re.findall(r'<tr data-workspace="([^"]+)"><(?:td|th)>([^<]+)<', page))
    assert rows == {seeded.workspace_id: "庄泉社区", jinshan.id: "金山社区居委会", "total": "合计"}
    total = re.search(r'data-workspace="total">.*?</tr>', page, re.S)[0]
    cells = re.findall(r'<th class="num">([^<]*)</th>', total)
    assert cells[:6] == ["5", "3", "60.0%", "33.3%", "50.0%", "2"]
    assert staff.get("/street").status_code == 403  # administrators only
    assert staff.get("/admin/workspaces").status_code == 403


def test_nobody_switches_into_a_workspace_they_do_not_hold(admin, staff, seeded):
    other = services.create_workspace("金山社区")
    refused = post(admin, "/workspace/switch", {"workspace_id": other.id}, page="/")
    assert "您没有这个工作区的权限" in refused.get_data(as_text=True)
    assert "污水管道反复堵塞" in admin.get("/concerns").get_data(as_text=True)
    # Staff hold only their own workspace, even if they name another one.
    mine = street.create_held_workspace(seeded.users["admin"].id, "宝塔社区")
    refused = post(staff, "/workspace/switch", {"workspace_id": mine.id}, page="/")
    assert "您没有这个工作区的权限" in refused.get_data(as_text=True)
    with staff.session_transaction() as session:  # a forged session value is ignored too
        session["workspace_id"] = mine.id
    assert "污水管道反复堵塞" in staff.get("/concerns").get_data(as_text=True)
    assert street.held_workspaces(seeded.users["wang"].id)[0].id == seeded.workspace_id
    assert data.PHONE not in refused.get_data(as_text=True)
