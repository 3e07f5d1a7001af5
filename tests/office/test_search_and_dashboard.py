"""The concern page's 重复于 search, search by the representative's name, and the dashboard's
default period, active quick range and one rounding of each rate."""

from __future__ import annotations

import datetime as dt
import re

from server import services, store
from server.office.views.dashboard import default_period
from tests.office import data
from tests.office.test_concerns import listed

OPTION_RE = re.compile(r'<option value="([0-9a-f-]{36})"')


def duplicate_options(client, record_id: str, query: str = "") -> list[str]:
    page = client.get(f"/concerns/{record_id}{query}").get_data(as_text=True)
    picker = page.split('name="duplicate_of"', 1)[1].split("</select>", 1)[0]
    return OPTION_RE.findall(picker)


def test_the_duplicate_picker_lists_only_what_the_search_finds(staff, seeded, clock):
    ids = seeded.ids
    assert duplicate_options(staff, ids["summer"]) == []  # not every concern of the workspace
    assert duplicate_options(staff, ids["summer"], "?dup_q=骑手") == [ids["riders"]]
    assert duplicate_options(staff, ids["summer"], "?dup_q=暑期") == []  # never itself
    page = staff.get(f"/concerns/{ids['summer']}?dup_q=不存在").get_data(as_text=True)
    assert "data-dup-none" in page and "没有找到记录。" in page
    other = services.create_workspace("别的社区")
    zhao = services.create_user("zhao", other, "staff", "zhao-pass-1", "赵强")
    result = store.office_edit(other.id, zhao.id, "concern", data.new_id(),
                               {"title": "外卖骑手充电难（别处）"}, {"title": None},
                               now_ms=clock())  # fmt: skip
    assert result.ok
    assert duplicate_options(staff, ids["summer"], "?dup_q=骑手") == [ids["riders"]]


def test_a_chosen_duplicate_stays_selected_without_a_search(staff, seeded, clock):
    ids = seeded.ids
    data.edit(seeded, clock, "concern", {"duplicate_of": ids["pipe"]}, ids["riders"])
    assert duplicate_options(staff, ids["riders"]) == [ids["pipe"]]
    page = staff.get(f"/concerns/{ids['riders']}").get_data(as_text=True)
    assert f'<option value="{ids["pipe"]}" selected>污水管道反复堵塞' in page


def test_search_finds_concerns_by_the_representatives_name(staff, seeded, clock):
    ids = seeded.ids
    everyone = [ids[k] for k in ("summer", "lights", "riders", "property", "pipe", "old")]
    assert listed(staff, "?q=李明") == everyone  # li recorded them all
    assert listed(staff, "?q=王芳") == []
    data.edit(seeded, clock, "concern", {"owner_id": seeded.users["wang"].id}, ids["pipe"])
    assert listed(staff, "?q=王芳") == [ids["pipe"]]  # the owner's name finds it too
    assert listed(staff, "?q=李明&status=confirmed") == [ids["lights"], ids["pipe"]]


def test_the_dashboard_opens_on_the_period_with_data_and_marks_the_quick_range(staff, app):
    page = staff.get("/").get_data(as_text=True)
    active = re.findall(r'<a class="btn small active" aria-current="true"[^>]*>([^<]+)</a>', page)
    assert active == ["全部时间"]
    assert re.search(r'data-figure="concerns_collected" [^>]*><div class="value">6<', page)
    day = dt.date(2024, 7, 1)
    with app.app_context():
        assert default_period("no-such-workspace", day) == (dt.date(2023, 7, 2), day)


def test_a_rate_reads_the_same_in_the_card_and_the_ring(staff):
    page = staff.get("/?since=2024-01-01&until=2024-06-30").get_data(as_text=True)
    card = re.search(r'data-figure="resolution_rate"><div class="value">([^<]+)<', page)
    assert card and re.fullmatch(r"\d+\.\d%", card.group(1))
    ring = re.search(r'aria-label="[^"]*办结率 ([^"]+)"', page)
    assert ring and ring.group(1) == card.group(1)
