"""``serve``: a free loopback port, the address printed, the pages answer, no names in logs."""

from __future__ import annotations

import subprocess
import sys

import requests

SERVE = "from field_client.web import serve; serve({home!r}, open_browser=False)"


def test_serve_prints_its_loopback_address_and_answers(store):
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE.format(home=str(store.home))],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = process.stdout.readline()
        assert "现场界面已启动" in line
        url = line[line.index("http://") :].split()[0]
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0/")
        page = requests.get(url, timeout=10)
        assert page.status_code == 200 and "立即同步" in page.text
        css = requests.get(url + "static/app.css", timeout=10)
        assert css.status_code == 200 and "http" not in css.text  # no remote assets
        assert requests.get(url + "search?q=王秀英", timeout=10).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
    log = process.stderr.read()
    assert '"GET /search" 200' in log and "王秀英" not in log and "%E7%8E%8B" not in log
