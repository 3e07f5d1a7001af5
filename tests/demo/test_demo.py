"""``fieldsync-server demo``: the article's story, played through a real server and two devices."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from demo.devices import diverging_records
from demo.runner import Demo, wall_ms
from demo.story import StoryError, load_story
from field_client.store import LocalStore
from server import store as office_store
from server.cli import main
from server.db import open_database
from server.models import Conflict, Record, Workspace
from sync import RECORD_TYPES, RESOLVED_STATUSES

SERVER_CLI = Path(sys.executable).with_name("fieldsync-server")


def final_fields(entry):
    """The entry's fields after all its office steps."""
    fields = dict(entry.fields)
    for step in entry.office:
        fields.update(step)
    return fields


def test_the_story_file_holds_the_articles_figures():
    story = load_story()
    of = {t: [final_fields(e) for e in story.entries if e.type == t] for t in RECORD_TYPES}
    places = {p["name"]: p["kind"] for p in of["place"]}
    sessions = [v for v in of["visit"] if v["kind"] in ("reception", "forum")]
    assert story.workspace == "庄泉社区"
    assert places["庄泉社区"] == "community" and places["百盛家园"] == "compound"
    assert places["城际商圈"] == "business_district" and places["常发大厦"] == "building"
    assert len(of["concern"]) == 27
    assert sum(c["status"] in RESOLVED_STATUSES for c in of["concern"]) == 24
    assert all(c["raised_on"] >= "2022-01-01" for c in of["concern"])
    assert [p["status"] for p in of["project"]].count("completed") == 2 == len(of["project"]) - 1
    assert len(sessions) == 5 and any("听新声" in v["title"] for v in sessions)
    assert any(f["kind"] == "support" for f in of["follow_up"])
    edits = story.offline_edits
    assert {e["device"] for e in edits} == {"a", "b"} and len({e["record"] for e in edits}) == 1
    assert len({json.dumps(e["set"]) for e in edits}) == 2


def test_demo_prints_the_report_figures(played):
    output, _ = played
    assert "诉求：收集 27 条，已办结 24 条" in output
    assert "民生项目：3 个，已完成 2 个" in output
    assert "接待、座谈活动：5 场" in output
    assert "2023-02-22 “听新声 商圈说”专题座谈会 · 常发大厦 · 18 人" in output
    assert "✓ 百盛家园雨污分流改造工程（已完成" in output
    assert "待办公室处理的冲突：1 条" in output
    assert "三率：办结率 88.9%，回访率 4.2%，满意率 84.6%" in output
    assert "在办 3 条，其中超期 2 条" in output  # the two 2026-06 concerns due 2026-07-03
    # --no-serve: nothing answers afterwards, so the addresses are not printed, the logins are
    assert "办公室网页：" not in output and "现场界面：http" not in output
    assert "没有服务在运行" in output
    assert "演示登录：用户名 zhouxy  密码 zhuangquan2023" in output
    assert "管理员登录：用户名 admin" in output
    assert "被拒 1" not in output and "同步失败" not in output
    assert "Traceback" not in output


def test_demo_leaves_exactly_one_open_conflict_and_converged_devices(played):
    _, data = played
    open_database(f"sqlite:///{data / 'office' / 'fieldsync.db'}")
    workspace = Workspace.get(Workspace.name == "庄泉社区")
    conflicts = list(Conflict.select().where(Conflict.status == "open"))
    assert len(conflicts) == 1 and conflicts[0].field == "priority"
    assert {json.loads(conflicts[0].kept_value), json.loads(conflicts[0].other_value)} == {
        "high",
        "urgent",
    }
    server = {
        r.id: (json.loads(r.fields), json.loads(r.stamps), r.deleted)
        for r in Record.select().where(Record.workspace == workspace)
    }
    assert Record.select().where(Record.type == "concern").count() == 27
    for home in sorted(data.glob("device-*")):
        store = LocalStore(home)
        try:
            local = {
                r["id"]: (r["fields"], r["stamps"], r["deleted"])
                for rtype in RECORD_TYPES
                for r in store.list(rtype, include_deleted=True)
            }
            assert store.status()["pending"] == 0
        finally:
            store.close()
        assert local == server, f"{home.name} differs from the server"


def test_demo_speaks_english_on_request(tmp_path):
    result = CliRunner().invoke(main, ["demo", "--no-serve", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "Concerns: 27 collected, 24 resolved" in result.output
    assert "Livelihood projects: 3, 2 completed" in result.output
    assert "Reception and forum sessions: 5" in result.output
    assert "Conflicts waiting for the office: 1" in result.output


def test_demo_refuses_a_data_dir_in_use(tmp_path):
    (tmp_path / "something.txt").write_text("keep me")
    result = CliRunner().invoke(main, ["demo", "--no-serve", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "empty" in result.output and "Traceback" not in result.output
    assert (tmp_path / "something.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[workspace\nname = 1", "not valid TOML"),
        (
            '[workspace]\nname = "x"\n[office]\nuser = "u"\nlogin = "u"\n'
            '[[user]]\nusername = "u"\nrole = "staff"\n'
            '[[concern]]\nkey = "c"\non = "office"\ntitle = "t"\nplace_id = "nowhere"\n',
            "unknown key(s) nowhere",
        ),
        (
            '[workspace]\nname = "x"\n[office]\nuser = "u"\nlogin = "u"\n'
            '[[user]]\nusername = "u"\nrole = "staff"\n'
            '[[concern]]\nkey = "c"\non = "office"\ntitle = "t"\nstatus = "done"\n',
            "status: must be one of",
        ),
        (
            '[workspace]\nname = "x"\n[office]\nuser = "u"\nlogin = "u"\n'
            '[[user]]\nusername = "u"\nrole = "staff"\n'
            '[[place]]\nkey = "a"\non = "office"\nkind = "other"\nname = "A"\nparent_id = "b"\n'
            '[[place]]\nkey = "b"\non = "office"\nkind = "other"\nname = "B"\nparent_id = "a"\n',
            "in a circle",
        ),
    ],
)
def test_a_broken_story_file_is_one_clear_error(tmp_path, text, message):
    path = tmp_path / "story.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(StoryError, match=re.escape(message)):
        load_story(path)
    result = CliRunner().invoke(main, ["demo", "--no-serve", "--story", str(path)])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def _read_until(process: subprocess.Popen[str], marker: str, timeout: float) -> str:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if marker in line:
            return "".join(lines)
    raise AssertionError("the demo never said " + repr(marker) + ":\n" + "".join(lines))


def test_demo_serves_the_office_and_a_field_ui_until_ctrl_c():
    process = subprocess.Popen(
        [str(SERVER_CLI), "demo", "--lang", "en"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = _read_until(process, "Press Ctrl-C", timeout=60)
        office = re.search(r"Office pages: (http://127\.0\.0\.1:\d+/)", output).group(1)
        field = re.search(r"Field UI of .*: (http://127\.0\.0\.1:\d+/)", output).group(1)
        app = re.search(r"Field app .*: (http://127\.0\.0\.1:\d+/field/)", output).group(1)
        assert app == office + "field/"
        assert 'rel="manifest"' in requests.get(app, timeout=5).text
        folder = re.search(r"Data folder: (\S+)", output).group(1)
        assert requests.get(office + "healthz", timeout=5).json()["status"] == "ok"
        login = requests.get(office + "login", timeout=5)
        assert login.status_code == 200 and "<form" in login.text
        assert requests.get(field, timeout=5).status_code == 200
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert "The demo has ended." in rest
    assert not Path(folder).exists()


def test_the_story_gives_the_same_figures_on_every_database(database_url, tmp_path):
    lines: list[str] = []
    demo = Demo(load_story(), tmp_path, database_url=database_url, echo=lines.append)
    try:
        result = demo.run()
        figures = result.report
        assert (figures["concerns_collected"], figures["concerns_resolved"]) == (27, 24)
        assert (figures["projects_total"], figures["projects_completed"]) == (3, 2)
        assert figures["sessions"] == 5
        assert result.open_conflicts == 1
        for device in result.devices.values():
            assert diverging_records(device.local, result.workspace_id) == []
            assert device.local.status()["conflicts"] <= 1
    finally:
        demo.close()
    assert all(not report.rejected and report.ok for report in result.syncs)


def test_a_port_in_use_is_one_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["demo", "--no-serve", "--port", str(port)])
    assert result.exit_code == 1
    assert f"端口 {port} 已被其他程序占用" in result.output
    assert "Traceback" not in result.output


def test_settling_the_demos_conflict_reaches_both_devices(tmp_path):
    demo = Demo(load_story(), tmp_path, echo=lambda line: None)
    try:
        result = demo.run()
        (conflict,) = demo.open_conflict_rows()
        clerk = demo.users[demo.story.office_user].id
        settled = office_store.resolve_conflict(
            result.workspace_id, conflict.id, clerk, "high", now_ms=wall_ms()
        )
        assert settled.ok and demo.open_conflict_rows() == []
        for device in result.devices.values():
            assert demo.sync(device, show=False).ok
        for device in result.devices.values():
            record = device.local.get("concern", conflict.record_id)
            assert record is not None and record["fields"]["priority"] == "high"
            assert diverging_records(device.local, result.workspace_id) == []
            assert device.local.status()["conflicts"] == 0
    finally:
        demo.close()


def test_no_serve_prints_both_logins_and_no_address_and_the_field_port_is_chosen(tmp_path):
    from demo.cli import run_demo

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        field_port = probe.getsockname()[1]
    lines: list[str] = []
    result = run_demo(
        serve=False, field_port=field_port, data_dir=tmp_path / "demo", echo=lines.append
    )
    assert result.field_url == f"http://127.0.0.1:{field_port}/"
    text = "\n".join(lines[next(i for i, x in enumerate(lines) if x.startswith("✔")) :])
    assert "管理员登录：用户名 admin  密码 zhuangquan-admin" in text
    assert "演示登录：用户名 zhouxy" in text
    assert "http://" not in text and "--no-serve" in text
