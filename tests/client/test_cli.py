"""The ``fieldsync`` CLI without a server: help, tables, JSON, names, languages, bad input."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from rich.cells import cell_len

from field_client.cli import main
from tests.client.conftest import enrolled_store


@pytest.fixture
def home(tmp_path, clock):
    store = enrolled_store(tmp_path / "pad", clock)
    store.close()
    return tmp_path / "pad"


@pytest.fixture
def cli(home):
    runner = CliRunner()

    def run(*args: str, code: int = 0, lang: str = "zh"):
        result = runner.invoke(main, ["--home", str(home), *args], env={"FIELDSYNC_LANG": lang})
        assert result.exit_code == code, (args, result.output)
        return result

    return run


def all_commands(group: click.Group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from all_commands(command, (*prefix, name))


@pytest.mark.parametrize("path", [p for p, _ in all_commands(main)], ids=" ".join)
def test_every_command_has_help_with_an_example(path):
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output


def test_add_prints_the_id_and_names_resolve(cli):
    place = cli("place", "add", "百盛家园", "--kind", "compound").stdout.strip()
    cid = cli(
        "concern",
        "add",
        "--title",
        "污水管道破裂",
        "--place",
        "百盛家园",
        "--category",
        "infrastructure",
    ).stdout.strip()
    shown = json.loads(cli("concern", "show", cid, "--json").stdout)
    assert shown["fields"]["place_id"] == place
    assert shown["fields"]["status"] == "new"
    cli("concern", "update", cid, "--status", "referred", "--responsible-unit", "城建局")
    cli(
        "follow-up", "add", "--subject", "污水管道破裂", "--kind", "support", "--group", "resident"
    )
    shown = json.loads(cli("concern", "show", cid, "--json").stdout)
    assert shown["fields"]["responsible_unit"] == "城建局"
    assert len(shown["follow_ups"]) == 1
    status = json.loads(cli("status", "--json").stdout)
    assert {"server", "last_sync", "pending", "conflicts", "rejected"} <= set(status)
    assert status["pending"] == 3


def test_chinese_tables_line_up(cli):
    cli("place", "add", "百盛家园", "--kind", "compound")
    cli("place", "add", "宝塔路东区", "--kind", "business_district")
    cli("place", "add", "Shop 7", "--kind", "shop")
    lines = [line for line in cli("place", "list").stdout.splitlines() if line.strip()]
    kind_col = {
        cell_len(line[: line.index(word)])
        for line, word in zip(lines[1:], ["商铺", "商圈", "小区"], strict=True)
    }
    assert len(kind_col) == 1, lines  # the kind column starts at one display column


def test_english_messages(cli):
    result = cli("concern", "show", "nope", code=1, lang="en")
    assert result.output.strip() == "No concern found: nope"
    result = cli("concern", "show", "nope", code=1)
    assert result.output.strip() == "找不到诉求：nope"


def test_bad_input_is_one_line(cli):
    for args, code in (
        (["place", "add", "X", "--kind", "castle"], 2),
        (["concern", "add", "--title", "t", "--raised-on", "yesterday"], 1),
        (["visit", "add", "--kind", "forum", "--attendees", "-3"], 2),
        (["concern", "add", "--title", "t", "--place", "nowhere"], 1),
        (["project", "update", "nothing", "--progress", "5"], 1),
    ):
        result = cli(*args, code=code)
        assert len(result.output.strip().splitlines()) == 1, result.output
        assert "Traceback" not in result.output
    assert json.loads(cli("status", "--json").stdout)["pending"] == 0


def test_ambiguous_place_name_lists_the_candidates(cli):
    a = cli("place", "add", "幸福家园", "--kind", "compound").stdout.strip()
    b = cli("place", "add", "百盛家园", "--kind", "compound").stdout.strip()
    result = cli("visit", "add", "--kind", "home_visit", "--place", "家园", code=1)
    assert a in result.output and b in result.output


def test_corrupt_and_locked_database_are_one_line(cli, home):
    cli("place", "add", "早餐店", "--kind", "shop")
    lock = sqlite3.connect(home / "fieldsync.db", timeout=0)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        result = cli("place", "add", "理发店", "--kind", "shop", code=1)
        assert "锁定" in result.output and len(result.output.strip().splitlines()) == 1
    finally:
        lock.rollback()
        lock.close()
    assert len(json.loads(cli("place", "list", "--json").stdout)) == 1  # nothing lost


def test_corrupt_database(tmp_path):
    home = tmp_path / "broken"
    home.mkdir()
    (home / "fieldsync.db").write_bytes(b"garbage" * 1000)
    result = CliRunner().invoke(main, ["--home", str(home), "status"])
    assert result.exit_code == 1
    assert "损坏" in result.output and len(result.output.strip().splitlines()) == 1


def test_sync_needs_enrollment(tmp_path):
    result = CliRunner().invoke(main, ["--home", str(tmp_path / "new"), "--lang", "en", "sync"])
    assert result.exit_code == 1
    assert "not enrolled" in result.output


def test_rejected_changes_are_listed_and_fixed(cli, home, clock):
    from field_client.store import LocalStore

    pid = cli("place", "add", "早餐店", "--kind", "shop").stdout.strip()
    store = LocalStore(home, now=clock)
    batch_id, _ = store.next_batch()
    store.apply_push_response(
        batch_id,
        {
            "rejected": [
                {"index": 0, "type": "place", "id": pid, "errors": {"name": ["该名称已被使用"]}}
            ]
        },
    )
    store.close()
    [item] = json.loads(cli("rejected", "--json").stdout)
    assert item["record_id"] == pid and item["errors"] == {"name": ["该名称已被使用"]}
    assert "该名称已被使用" in cli("rejected").stdout
    assert json.loads(cli("status", "--json").stdout)["rejected"] == 1
    cli("rejected", "--fix", str(item["id"]), "--set", 'name="早餐店（东）"')
    status = json.loads(cli("status", "--json").stdout)
    assert status["rejected"] == 0 and status["pending"] == 1
    assert json.loads(cli("place", "list", "--json").stdout)[0]["fields"]["name"] == "早餐店（东）"


def test_clock_skew_summary_names_the_server_time():
    from field_client.cli import App, summary
    from field_client.config import Config
    from field_client.syncer import SyncReport

    report = SyncReport(error="clock_skew", message="ahead", server_time="1780000000000-000000-s")
    text = summary(App(Config(home=Path("/nonexistent"), lang="en")), report)
    assert "clock" in text and "2026-05-2" in text
