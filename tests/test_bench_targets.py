"""The targets table of ``make bench`` (issue 11): each target met or not, with its figure."""

from __future__ import annotations

import pytest

from bench import targets


@pytest.fixture(autouse=True)
def _empty_figures():
    saved = dict(targets.FIGURES)
    targets.FIGURES.clear()
    yield
    targets.FIGURES.clear()
    targets.FIGURES.update(saved)


def load(p99: float, lost: int = 0) -> dict:
    return {
        "error_count": 0, "lost": lost, "diverged": 0, "push_ms": {"p99": p99},
        "syncs_per_s": 20.0, "lock_share": 0.4,
    }  # fmt: skip


def test_each_target_is_met_or_not_with_its_figure_per_database():
    targets.note("client_push", "sqlite", 0.25)
    targets.note("client_push", "postgres", 0.61)
    targets.note("incremental", "sqlite", {"ms": 3.0, "held": 100_000})  # too few held
    targets.note("incremental", "postgres", {"ms": 6.0, "held": 1_000_000})
    targets.note("load_50", "postgres", load(99.0))
    targets.note("load_200", "postgres", load(120.0, lost=1))
    rows = {what: (lite, pg) for what, lite, pg in targets.rows()}
    push = rows["push 10,000 through the real field client"]
    assert push[0].startswith("met: 0.250 s") and "<= 0.3 s" in push[0]
    assert push[1].startswith("NOT MET: 0.610 s") and "<= 0.5 s" in push[1]
    incremental = rows["incremental, 10 edits, server holding 1,000,000"]
    assert incremental[0].startswith("NOT MET: 3.0 ms (100,000 held)")
    assert incremental[1].startswith("met: 6.0 ms (1,000,000 held)")
    assert rows["50 devices, 1 workspace, gunicorn -w 4"] == (
        "-",
        "met: 0 errors/lost/diverged, p99 push 99 ms, 20 syncs/s, lock 40%"
        " (target 0 errors, p99 push < 100 ms)",
    )
    assert rows["200 devices, 20 workspaces, gunicorn -w 4"][1].startswith("NOT MET: 1 errors")
    city = rows["1,000 devices, 100 workspaces (the ceiling)"][1]
    assert city.startswith("run with --city")
    assert rows["pull 10,000 into a fresh device store"][0].startswith("not measured")
