"""Issue 11's speed targets, met or not, with the figures this run measured.

The benches put what they measured into ``FIGURES`` (key, database) -> value; ``print_targets``
prints one row per target with a SQLite and a PostgreSQL column. A figure the run did not
measure says so (and how to get it) instead of a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FIGURES: dict[tuple[str, str], Any] = {}


def note(key: str, database: str, value: Any) -> None:
    """Keep one measured figure for the targets table."""
    FIGURES[(key, database)] = value


@dataclass
class Target:
    what: str
    key: str
    sqlite: float | None  # the limit; None: no target on that database
    postgres: float | None
    show: Callable[[Any], str]
    met: Callable[[Any, float], bool]
    missing: str = "not measured"


def _seconds(value: Any) -> str:
    return f"{value:.3f} s"


def _ms(value: Any) -> str:
    return f"{value['ms']:.1f} ms ({value['held']:,} held)"


def _mib(value: Any) -> str:
    return f"{value:.1f} MiB"


def _load(value: Any) -> str:
    errors = value["error_count"] + value["lost"] + value["diverged"]
    return (
        f"{errors} errors/lost/diverged, p99 push {value['push_ms']['p99']:.0f} ms,"
        f" {value['syncs_per_s']:.0f} syncs/s, lock {value['lock_share']:.0%}"
    )


def _load_ok(value: Any, p99: float) -> bool:
    clean = value["error_count"] == 0 and value["lost"] == 0 and value["diverged"] == 0
    return clean and value["push_ms"]["p99"] < p99


def _at_most(value: Any, limit: float) -> bool:
    return float(value) <= limit


TARGETS = [
    Target("push 10,000 through the real field client", "client_push", 0.3, 0.5,
           _seconds, _at_most),
    Target("pull 10,000 into a fresh device store", "client_pull", 0.15, 0.2,
           _seconds, _at_most),
    Target("first sync of a device that recorded 10,000", "first_sync", 0.4, 0.6,
           _seconds, _at_most),
    Target("incremental, 10 edits, server holding 1,000,000", "incremental", 5.0, 8.0,
           _ms, lambda v, limit: v["held"] >= 1_000_000 and v["ms"] <= limit,
           "run with --large"),
    Target("server peak memory (per worker)", "server_peak", 80.0, 80.0, _mib, _at_most),
    Target("50 devices, 1 workspace, gunicorn -w 4", "load_50", None, 100.0, _load, _load_ok,
           "run without --no-load"),
    Target("200 devices, 20 workspaces, gunicorn -w 4", "load_200", None, 150.0, _load,
           _load_ok, "run without --no-load"),
    Target("1,000 devices, 100 workspaces (the ceiling)", "load_1000", None, float("inf"),
           _load, _load_ok, "run with --city"),
]  # fmt: skip


def _limit(target: Target, limit: float | None) -> str:
    if limit is None:
        return "-"
    if target.key.startswith("load_"):
        return "0 errors" + (f", p99 push < {limit:.0f} ms" if limit != float("inf") else "")
    unit = {"incremental": "ms", "server_peak": "MiB"}.get(target.key, "s")
    return f"<= {limit:g} {unit}"


def _cell(target: Target, database: str, limit: float | None) -> str:
    if limit is None:
        return "-"
    value = FIGURES.get((target.key, database))
    if value is None:
        return f"{target.missing} (target {_limit(target, limit)})"
    verdict = "met" if target.met(value, limit) else "NOT MET"
    return f"{verdict}: {target.show(value)} (target {_limit(target, limit)})"


def rows() -> list[tuple[str, str, str]]:
    """One row per target: what, the SQLite cell, the PostgreSQL cell."""
    return [
        (t.what, _cell(t, "sqlite", t.sqlite), _cell(t, "postgres", t.postgres)) for t in TARGETS
    ]


def print_targets() -> None:
    """Print the issue's targets as a table, each cell met or NOT MET with its figure."""
    from bench.__main__ import _pad, _width

    print("\nIssue 11 targets (this machine, client and server together)\n")
    header = ("phase", "SQLite", "PostgreSQL")
    cells = [header, *rows()]
    widths = [max(_width(c[i]) for c in cells) for i in range(3)]
    for n, line in enumerate(cells):
        print("  ".join(_pad(cell, widths[i]) for i, cell in enumerate(line)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
