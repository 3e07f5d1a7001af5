"""The office's figures (``server.reports``) and list queries on SQLite and PostgreSQL, and the
``fieldsync-server report`` command."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from server import inbox, migrations
from server.cli import main
from server.db import open_database
from server.office import queries
from server.reports import office_report
from tests.office import data

SINCE, UNTIL = dt.date(2024, 1, 1), dt.date(2024, 6, 30)


@pytest.fixture
def known(database_url: str) -> Iterator[data.Seeded]:
    db = open_database(database_url)
    db.connect(reuse_if_open=True)
    migrations.upgrade(db)
    yield data.seed(data.ManualClock(data.NOW_MS))
    db.close()


def test_figures_for_periods(known):
    """One test per backend (a seeded PostgreSQL database takes seconds), four periods."""
    r = office_report(known.workspace_id, SINCE, UNTIL, today=data.TODAY)
    assert (r["concerns_collected"], r["concerns_resolved"]) == (5, 3)
    assert r["resolution_rate"] == 0.6
    assert r["median_days_to_resolve"] == 10  # 10, 30 and 4 days
    assert r["satisfaction"] == {"rated": 2, "satisfied": 1, "partly_satisfied": 1,
                                 "unsatisfied": 0}  # fmt: skip
    assert r["satisfaction_rate"] == 0.5
    assert (r["return_visits"], r["return_visit_rate"]) == (1, 0.3333)  # the pipe, of 3
    assert r["partly_satisfied_counts"] is False and r["voices"] == 0
    assert r["open_over_30_days"] == 1  # the riders' concern; the summer one is 10 days old
    assert (r["projects_total"], r["projects_completed"]) == (3, 1)
    assert r["sessions"] == 2 and r["sessions_by_kind"] == {"reception": 1, "forum": 1}
    assert r["visits_total"] == 3 and r["visits_by_kind"]["home_visit"] == 1
    assert r["concerns_by_category"]["infrastructure"] == 1
    assert sum(r["concerns_by_category"].values()) == 5
    assert r["concerns_by_status"]["confirmed"] == 2 and r["concerns_by_status"]["new"] == 1
    places = {p["name"]: p["count"] for p in r["concerns_by_place"]}
    assert places == {"百盛家园": 2, "城际商圈": 2, "常发大厦": 1}
    _all_time(known)
    _later_period(known)
    _empty_period(known)
    _partly_counts_and_casework(known)


def _partly_counts_and_casework(known):
    r = office_report(known.workspace_id, SINCE, UNTIL, today=data.TODAY,
                      partly_satisfied_counts=True)  # fmt: skip
    assert r["satisfaction_rate"] == 1.0 and r["partly_satisfied_counts"] is True
    clock, ids, li = data.ManualClock(), known.ids, known.users["li"].id
    data.edit(known, clock, "concern", {"owner_id": li, "due_on": "2024-06-20"}, ids["riders"])
    data.edit(known, clock, "concern", {"owner_id": li, "due_on": "2024-06-30"}, ids["summer"])
    data.edit(known, clock, "follow_up", {"subject_type": "concern", "subject_id": ids["summer"],
                                          "kind": "support",
                                          "happened_at": "2024-06-21T09:00:00+08:00"})  # fmt: skip
    r = office_report(known.workspace_id, SINCE, UNTIL, today=data.TODAY)
    assert (r["overdue"], r["due_this_week"], r["open_concerns"], r["voices"]) == (1, 1, 2, 1)
    assert r["by_owner"] == [{"owner_id": li, "open": 2, "overdue": 1, "due_this_week": 1}]
    box = inbox.inbox(known.workspace_id, li, data.TODAY)
    assert [c["id"] for c in box.overdue] == [ids["riders"]] and len(box.voices) == 1
    first = {d.username: d.new for d in inbox.remind(data.TODAY)}
    again = {d.username: d.new for d in inbox.remind(data.TODAY)}
    assert first["li"] == 3 and again["li"] == 0  # idempotent per day
    voiced = queries.page(known.workspace_id, "concern", queries.RecordFilter(sort="voices"), 1)
    assert voiced.items[0]["id"] == ids["summer"]


def _all_time(known):  # deleted records never count
    r = office_report(known.workspace_id, None, None, today=data.TODAY)
    assert (r["concerns_collected"], r["concerns_resolved"]) == (6, 4)
    assert r["sessions"] == 3 and (r["projects_total"], r["projects_completed"]) == (3, 1)
    assert r["since"] is None and r["until"] is None


def _later_period(known):  # a project completed before the period does not count
    r = office_report(known.workspace_id, dt.date(2024, 4, 1), UNTIL, today=data.TODAY)
    assert (r["projects_total"], r["projects_completed"]) == (2, 0)
    assert r["concerns_collected"] == 2  # lights (04-01) and summer (06-20)


def _empty_period(known):
    r = office_report(known.workspace_id, dt.date(2030, 1, 1), dt.date(2030, 12, 31))
    assert r["concerns_collected"] == 0 and r["resolution_rate"] is None
    assert r["median_days_to_resolve"] is None and r["satisfaction_rate"] is None


def test_list_queries_filter_and_search_in_sql(known):
    ws, ids = known.workspace_id, known.ids
    search = queries.RecordFilter(search="管道")
    assert [r["id"] for r in queries.iterate(ws, "concern", search, 10)] == [ids["pipe"]]
    place = queries.RecordFilter(place_id=ids["chengji"], since=SINCE)
    assert queries.count(ws, "concern", place) == 2
    page = queries.page(ws, "concern", queries.RecordFilter(page=2), 4)
    assert (page.total, len(page.items), page.pages, page.number) == (6, 2, 2, 2)
    past_the_end = queries.page(ws, "concern", queries.RecordFilter(page=9), 4)
    assert past_the_end.number == 2 and past_the_end.items == page.items
    review = queries.RecordFilter(review="pending")
    assert queries.count(ws, "visit", review) == 4
    assert queries.labels(ws, [ids["baisheng"], None]) == {ids["baisheng"]: "百盛家园"}


def test_report_command_prints_the_figures(known, database_url):
    runner = CliRunner()
    args = ["--database-url", database_url, "report", "--since", "2024-01-01",
            "--until", "2024-06-30"]  # fmt: skip
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "收集诉求: 5" in result.output and "办结诉求: 3" in result.output
    assert "民生项目（已完成/总数）: 1/3" in result.output and "接待日和座谈会: 2" in result.output
    as_json = runner.invoke(main, [*args, "--json"])
    figures = json.loads(as_json.output)
    assert figures["workspace"] == "庄泉社区" and figures["concerns_collected"] == 5
    english = runner.invoke(main, ["--lang", "en", *args])
    assert "Concerns collected: 5" in english.output
    # errors are one line, never a traceback
    result = runner.invoke(main, ["--database-url", database_url, "report", "--workspace", "无"])
    assert result.exit_code != 0 and "找不到工作区" in result.output
    assert "Traceback" not in result.output
    bad_date = runner.invoke(main, ["--database-url", database_url, "report", "--since", "x"])
    assert bad_date.exit_code == 2 and "Traceback" not in bad_date.output
