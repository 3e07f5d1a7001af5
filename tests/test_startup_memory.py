"""A server worker's memory (issue 11): what a fresh process loads, and where large blocks go.

Each check runs in a fresh interpreter, so modules other tests loaded do not count.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from server import malloc

START = """
import json, sys, tempfile
import server.cli
from server import create_app
home = tempfile.mkdtemp()
create_app({"DATABASE_URL": "sqlite:///" + home + "/x.db", "INSTANCE_PATH": home,
            "AUTO_UPGRADE": True})
print(json.dumps(sorted(m for m in sys.modules if "." not in m)))
"""

# Allocate and free a large block twice: with glibc's sliding threshold the second one comes
# from the heap and stays resident after it is freed.
FREED = """
import sys, tempfile
if sys.argv[1] == "app":  # the server's app sets it
    from server import create_app
    home = tempfile.mkdtemp()
    create_app({"DATABASE_URL": "sqlite:///" + home + "/x.db", "INSTANCE_PATH": home})
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
for _ in range(2):
    before = rss()
    block = bytearray(8 * 1024 * 1024)
    block[::4096] = b"x" * len(block[::4096])
    del block
print(rss() - before)
"""


def run(code: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=60,
    )
    return done.stdout


def test_a_fresh_server_loads_no_spreadsheet_or_qr_library() -> None:
    # openpyxl (~5 MiB) serves XLSX exports and ledger imports, segno one admin page: both load
    # where they are used, not in every sync worker.
    loaded = set(json.loads(run(START)))
    assert "flask" in loaded  # the probe did start an app
    assert not loaded & {"openpyxl", "segno"}


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not malloc.keep_large_blocks_out_of_the_heap(),
    reason="glibc's mallopt only",
)
def test_in_a_server_a_freed_large_block_goes_back_to_the_kernel() -> None:
    assert int(run(FREED, "default")) >= 4  # what the server would keep without the setting
    assert int(run(FREED, "app")) < 4
