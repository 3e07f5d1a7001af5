"""The load test of issue 11 (``python -m bench load``), bounded: 50 devices for 30 seconds
against ``gunicorn -w 4`` (on PostgreSQL when FIELDSYNC_TEST_POSTGRES_URL is set), with doubled
pushes and dropped answers; nothing may fail, be lost or diverge."""

from __future__ import annotations

import os

import pytest

from bench import load


@pytest.mark.slow
def test_fifty_devices_for_thirty_seconds_lose_nothing_and_converge():
    database = "postgres" if os.environ.get("FIELDSYNC_TEST_POSTGRES_URL") else "sqlite"
    args = load.parse_args(["--devices", "50", "--seconds", "30", "--database", database])
    result = load.run(args)
    print(load.report(result))
    assert result.errors == {}
    assert result.lost == 0 and result.diverged == 0
    assert result.writes > 200 and result.conflicts > 0  # shared records really raced
    assert result.replays > 0 and result.dropped > 0  # the faults really happened
    # Every batch was applied once, and the metrics of all four workers add up to that.
    assert result.metrics_pushes == result.batches and result.notes == []
    assert 0 < result.lock_share and result.worker_peak_mib > 0


def test_the_check_finds_a_lost_write_and_accepts_the_accounted_ones():
    def write(record, value, stamp, base=None):
        return load.Write(record, "status", value, stamp, base)

    node_a, node_b = "0000000000001-000000-a", "0000000000002-000000-b"
    later_a = "0000000000003-000000-a"
    server = {"r1": {"status": ("resolved", later_a)}, "r2": {"status": ("new", node_b)}}
    writes = [
        write("r1", "new", node_a),  # replaced by a later write of the same device
        write("r1", "resolved", later_a, node_a),  # current
        write("r2", "accepted", node_a),  # lost: neither current, replaced nor a conflict
        write("r2", "new", node_b),  # current
    ]
    assert load.count_lost(writes, server, set()) == [writes[2]]
    assert load.count_lost(writes, server, {("r2", "status", node_a)}) == []
    merged = write("r2", "new", "0000000000001-000000-c")  # equal value, smaller stamp
    assert load.count_lost([*writes, merged], server, {("r2", "status", node_a)}) == []
