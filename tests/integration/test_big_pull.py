"""A big initial pull with a real server and client processes: progress, flat memory, and a
``kill -9`` in the middle that the next sync resumes from the saved cursor."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.integration.live import DeviceHome, LiveServer, wait_for

# VmHWM is this process's own peak RSS (ru_maxrss would include the forking parent's).
PEAK_RSS = """
import sys
from field_client.cli import main
try:
    main(sys.argv[2:])
except SystemExit:
    pass
finally:
    with open("/proc/self/status") as status, open(sys.argv[1], "w") as out:
        line = next(x for x in status if x.startswith("VmHWM:"))
        out.write(line.split()[1])
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("big")).setup("wang", "zhao")
    live.start()
    yield live
    live.stop()


def seed(server, total: int) -> None:
    """Fill the server's database up to ``total`` visits with bulk SQL (as the bench does),
    while it runs: the pushes that normally put them there are tested elsewhere."""
    from bench.data import seed_records

    url = server.env["FIELDSYNC_DATABASE_URL"]
    db = sqlite3.connect(server.root / "server.db")
    try:
        [(workspace_id,)] = db.execute("SELECT id FROM workspace").fetchall()
    finally:
        db.close()
    seed_records(url, workspace_id, total)


def client_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "FIELDSYNC_LANG": "en", **extra}


def pull_with_peak_rss(server, home, tmp_path) -> tuple[int, dict, str]:
    """Enroll a fresh device home and run its first sync in a subprocess; return (peak RSS
    in KiB, the sync report, the progress lines)."""
    DeviceHome(home).run("init", "--server", server.url, "--code", server.code("zhao"))
    out = tmp_path / f"{home.name}.rss"
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, str(out), "--home", str(home), "sync", "--json"],
        env=client_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(done.stdout)
    return int(out.read_text()), report, done.stderr


def test_big_initial_pull_shows_progress_and_keeps_memory_flat(server, tmp_path):
    seed(server, 5_000)
    small_rss, small, _ = pull_with_peak_rss(server, tmp_path / "pad-5k", tmp_path)
    assert small["received"] == 5_000
    seed(server, 20_000)
    big_rss, big, progress = pull_with_peak_rss(server, tmp_path / "pad-20k", tmp_path)
    assert big["received"] == 20_000 and big["ok"]
    lines = [line for line in progress.splitlines() if line.startswith("Receiving")]
    assert len(lines) >= 20 and lines[-1] == "Receiving 20000"
    # four times the records, (almost) the same peak: pages are streamed, not accumulated
    assert big_rss - small_rss < 4 * 1024, (small_rss, big_rss)
    print(
        f"peak RSS: 5,000 records {small_rss / 1024:.1f} MiB, "
        f"20,000 records {big_rss / 1024:.1f} MiB"
    )

    # kill -9 in the middle of a pull; the next sync resumes from the saved cursor
    home = tmp_path / "pad-killed"
    DeviceHome(home).run("init", "--server", server.url, "--code", server.code("zhao"))
    db_path = home / "fieldsync.db"
    child = subprocess.Popen(
        [sys.executable, "-m", "field_client", "--home", str(home), "sync"],
        env=client_env(FIELDSYNC_PULL_LIMIT="200"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def pulled() -> int:
        db = sqlite3.connect(db_path, timeout=5)
        try:
            return db.execute("SELECT COUNT(*) FROM record").fetchone()[0]
        finally:
            db.close()

    wait_for(lambda: pulled() >= 2_000, timeout=60)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    kept = pulled()
    assert 2_000 <= kept < 20_000 and (kept - 100) % 200 == 0  # whole pages (the first: 100)
    cursor = sqlite3.connect(db_path).execute("SELECT cursor FROM device_state").fetchone()[0]
    assert cursor
    started = time.monotonic()
    report = DeviceHome(home).json("sync")
    assert report["received"] == 20_000 - kept  # nothing pulled twice
    assert pulled() == 20_000
    assert time.monotonic() - started < 30
