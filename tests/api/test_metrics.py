"""Operations: ``/metrics`` (off unless configured, never public) and ``/healthz``."""

from __future__ import annotations

import re

import pytest

from server import create_app
from tests.api.conftest import (
    Api,
    assert_problem,
    enroll,
    make_app,
    new_id,
    push_body,
    sqlite_only,
    visit_change,
)
from tests.integration.live import free_port

TOKEN = "scrape-me-7f3a"


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus' text format (0 when it is absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}(?:\{{{re.escape(wanted)}\}})? (\S+)$" if wanted else None
    pattern = pattern or rf"^{re.escape(name)} (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def scrape(app, token: str | None = TOKEN, address: str = "127.0.0.1"):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return app.test_client().get(
        "/metrics", headers=headers, environ_base={"REMOTE_ADDR": address}
    )


@sqlite_only
def test_metrics_are_off_unless_configured(app):
    assert_problem(app.test_client().get("/metrics"), 404, "not_found")


def test_metrics_need_the_token(sqlite_url, tmp_path, clock):
    app = make_app(sqlite_url, tmp_path, clock, METRICS_TOKEN=TOKEN)
    assert_problem(scrape(app, token=None), 401, "unauthorized")
    assert_problem(scrape(app, token="guess"), 401, "unauthorized")
    response = scrape(app)
    assert response.status_code == 200 and "fieldsync_push_seconds" in response.text


def test_metrics_only_to_allowed_addresses(sqlite_url, tmp_path, clock):
    app = make_app(sqlite_url, tmp_path, clock, METRICS_ALLOW="10.0.0.0/8, ::1")
    assert_problem(scrape(app, token=None, address="192.168.1.9"), 403, "forbidden")
    assert scrape(app, token=None, address="10.1.2.3").status_code == 200
    both = make_app(sqlite_url, tmp_path, clock, METRICS_ALLOW="10.0.0.0/8", METRICS_TOKEN=TOKEN)
    assert_problem(scrape(both, token=None, address="10.1.2.3"), 401, "unauthorized")
    assert_problem(scrape(both, address="127.0.0.1"), 403, "forbidden")
    assert scrape(both, address="10.1.2.3").status_code == 200


def test_a_bad_address_list_stops_the_start(sqlite_url, tmp_path, clock):
    with pytest.raises(ValueError, match="METRICS_ALLOW"):
        make_app(sqlite_url, tmp_path, clock, METRICS_ALLOW="10.0.0.0/8,not-an-address")


def test_metrics_count_pushes_pulls_lock_conflicts_and_rejections(sqlite_url, tmp_path, clock):
    app = make_app(sqlite_url, tmp_path, clock, METRICS_TOKEN=TOKEN)
    with app.app_context():
        from server import services

        space = services.create_workspace("庄泉社区")
        services.create_user("wang", space, "representative")
        services.create_user("li", space, "representative")
    wang, li = enroll(app, "wang", clock), enroll(app, "li", clock)
    before = scrape(app).text
    record = new_id()
    assert (
        wang.push(push_body(visit_change(wang, clock.ms, record, title="甲"))).status_code == 200
    )
    clock.advance(1000)
    changes = [
        visit_change(li, clock.ms, record, title="乙"),
        visit_change(li, clock.ms, kind="x"),
    ]
    answer = li.push(push_body(*changes)).json
    assert len(answer["conflicts"]) == 1 and len(answer["rejected"]) == 1
    assert wang.pull().status_code == 200
    Api(app.test_client(), token="wrong").pull()
    after = scrape(app).text

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("fieldsync_push_seconds_count") == 2
    assert grew("fieldsync_push_changes_sum") == 3
    assert grew("fieldsync_pull_seconds_count") == 1
    assert grew("fieldsync_write_lock_held_seconds_count") == 2
    assert grew("fieldsync_write_lock_wait_seconds_count") == 2
    assert grew("fieldsync_conflicts_total") == 1
    assert grew("fieldsync_rejections_total", code="not_a_choice") == 1
    assert grew("fieldsync_errors_total", code="unauthorized") == 1


def test_healthz_says_the_database_answers(app):
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok" and response.json["database"] == "ok"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres@127.0.0.1:{port}/fieldsync",  # a stopped PostgreSQL
        "sqlite:///{tmp}/no-such-folder/fieldsync.db",  # a file that cannot be opened
    ],
)
def test_healthz_is_503_when_the_database_does_not_answer(url, tmp_path, clock):
    url = url.format(port=free_port(), tmp=tmp_path)
    app = create_app(
        {"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path / "i"), "SECRET_KEY": "x"}
    )
    for path in ("/healthz", "/api/v1/healthz"):
        response = app.test_client().get(path)
        body = assert_problem(response, 503, "unavailable")
        assert response.headers["Retry-After"] and "postgres@" not in str(body)
