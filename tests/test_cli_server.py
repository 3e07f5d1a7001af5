"""``fieldsync-server``: every command documented with an example; the commands work on a real
database; bad input is one line and a non-zero exit."""

from __future__ import annotations

import json
import re
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from server import cli, create_app
from server.cli import Settings, main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def instance(tmp_path, monkeypatch):
    """Keep every instance folder (secret key, default database) inside the test's tmp_path."""
    monkeypatch.setenv("FIELDSYNC_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("FIELDSYNC_LANG", raising=False)
    monkeypatch.delenv("FIELDSYNC_DATABASE_URL", raising=False)
    return tmp_path / "instance"


@pytest.fixture
def runner():
    return CliRunner()


def all_commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = [(prefix or group.name or "main", group)]
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}".strip()
        if isinstance(command, click.Group):
            found += all_commands(command, path)
        else:
            found.append((path, command))
    return found


@pytest.mark.parametrize(("path", "command"), all_commands(main), ids=lambda v: str(v))
def test_every_command_has_help_with_an_example(path, command, runner):
    args = [] if path == "main" else path.split()
    result = runner.invoke(main, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output, path
    assert command.help and command.help.strip()


def invoke(runner, database_url, *args, env=None):
    return runner.invoke(main, ["--database-url", database_url, *args], env=env)


def initialised(runner, database_url):
    result = invoke(
        runner, database_url, "init", "--workspace", "庄泉社区", "--admin", "admin",
        "--password", "admin-pass-1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return result


def test_init_user_code_enroll_list_revoke(runner, database_url, tmp_path):
    assert "庄泉社区" in initialised(runner, database_url).output
    result = invoke(
        runner, database_url, "user", "add", "wang", "--workspace", "庄泉社区",
        "--role", "representative", "--display-name", "王芳",
    )  # fmt: skip
    assert result.exit_code == 0 and "wang" in result.output
    result = invoke(runner, database_url, "enroll-code", "wang")
    assert result.exit_code == 0
    plain_code = result.output.strip().splitlines()[-1]  # the code is the last line
    assert re.fullmatch(r"[A-Z0-9]{5}-[A-Z0-9]{5}", plain_code)  # as the office page shows it
    result = invoke(runner, database_url, "enroll-code", "wang", "--json")
    code = json.loads(result.output)["code"]
    assert code != plain_code

    app = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path / "i2")})
    client = app.test_client()
    enrolled = client.post(
        "/api/v1/enroll",
        json={"code": code, "device_name": "平板"},
        headers={"Fieldsync-Protocol": "1"},
    )
    assert enrolled.status_code == 201
    device_id = enrolled.json["device_id"]

    listed = json.loads(invoke(runner, database_url, "device", "list", "--json").output)
    assert [(d["device_id"], d["revoked"]) for d in listed] == [(device_id, False)]
    table = invoke(runner, database_url, "device", "list").output
    assert device_id in table and "平板" in table
    result = invoke(runner, database_url, "device", "revoke", device_id)
    assert result.exit_code == 0 and device_id in result.output
    listed = json.loads(invoke(runner, database_url, "device", "list", "--json").output)
    assert listed[0]["revoked"] is True
    response = client.get(
        "/api/v1/device",
        headers={"Fieldsync-Protocol": "1", "Authorization": f"Bearer {enrolled.json['token']}"},
    )
    assert response.status_code == 401 and response.json["code"] == "device_revoked"
    assert "wipe" not in response.json
    result = invoke(runner, database_url, "device", "revoke", "--wipe", device_id)
    assert result.exit_code == 0 and "要求清除" in result.output
    listed = json.loads(invoke(runner, database_url, "device", "list", "--json").output)
    assert listed[0]["wipe"] == "pending"
    response = client.get(
        "/api/v1/device",
        headers={"Fieldsync-Protocol": "1", "Authorization": f"Bearer {enrolled.json['token']}"},
    )
    assert response.status_code == 401 and response.json["wipe"] is True
    app.extensions["fieldsync_db"].close()


@pytest.mark.parametrize(
    ("args", "zh", "en"),
    [
        (["workspace", "add", "庄泉社区"], "已存在", "already exists"),
        (["enroll-code", "nobody"], "找不到用户", "No user"),
        (["device", "revoke", "no-such-device"], "找不到设备", "No device"),
        (
            ["user", "add", "x", "--workspace", "没有", "--role", "staff"],
            "找不到工作区",
            "No work",
        ),
        (
            ["user", "add", "bad name", "--workspace", "庄泉社区", "--role", "staff"],
            "用户名",
            "user",
        ),
        (
            [
                "user",
                "add",
                "zhao",
                "--workspace",
                "庄泉社区",
                "--role",
                "staff",
                "--password",
                "1",
            ],
            "密码",
            "password",
        ),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(runner, sqlite_url, args, zh, en):
    initialised(runner, sqlite_url)
    result = invoke(runner, sqlite_url, *args)
    assert result.exit_code == 1
    assert zh in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    english = invoke(runner, sqlite_url, "--lang", "en", *args)
    assert en in english.output and english.exit_code == 1
    by_env = invoke(runner, sqlite_url, *args, env={"FIELDSYNC_LANG": "en"})
    assert en in by_env.output


def test_a_bad_database_url_is_one_line(runner):
    result = runner.invoke(main, ["--database-url", "mysql://x/y", "db", "upgrade"])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "mysql" in result.output


def test_an_uninitialised_database_says_what_to_do(runner, sqlite_url):
    result = invoke(runner, sqlite_url, "enroll-code", "wang")
    assert result.exit_code == 1 and "db upgrade" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_db_upgrade_twice_is_harmless_and_keeps_data(runner, database_url):
    initialised(runner, database_url)
    for _ in range(2):
        result = invoke(runner, database_url, "db", "upgrade")
        assert result.exit_code == 0
    assert invoke(runner, database_url, "enroll-code", "admin").exit_code == 0


def test_the_default_database_lives_in_the_instance_folder(runner, instance):
    result = runner.invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (instance / "fieldsync.db").exists()
    assert (instance / "secret_key").stat().st_mode & 0o777 == 0o600


def test_commands_are_functions_too(sqlite_url):
    settings = Settings(database_url=sqlite_url, lang="en")
    result = cli.init_server(settings, "庄泉社区", "admin", "admin-pass-1")
    assert result["admin"]["role"] == "admin" and result["workspace"]["name"] == "庄泉社区"
    assert cli.add_user(settings, "wang", "庄泉社区", "representative")["username"] == "wang"
    assert len(cli.make_enrollment_code(settings, "wang")["code"]) == 11  # XXXXX-XXXXX
    assert cli.devices(settings) == []


def test_database_passwords_are_not_printed():
    assert cli.safe_url("postgresql://u:secret@h/db") == "postgresql://u:***@h/db"
    assert cli.safe_url("sqlite:///x.db") == "sqlite:///x.db"


def test_run_serves_http_until_stopped(sqlite_url, tmp_path):
    code = (
        "import sys; from server.cli import main; "
        "main(['--database-url', sys.argv[1], 'run', '--port', '0'])"
    )
    env = {"FIELDSYNC_INSTANCE_PATH": str(tmp_path / "instance"), "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen(
        [sys.executable, "-c", code, sqlite_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        line = process.stdout.readline()
        url = line.split("http://", 1)[1].split()[0]
        with urllib.request.urlopen(f"http://{url}healthz", timeout=10) as response:
            assert json.loads(response.read())["status"] == "ok"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_run_serves_https_with_cert_and_key(sqlite_url, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    code = (
        "import sys; from server.cli import main; "
        "main(['--database-url', sys.argv[1], 'run', '--port', '0', "
        "'--cert', sys.argv[2], '--key', sys.argv[3]])"
    )
    env = {"FIELDSYNC_INSTANCE_PATH": str(tmp_path / "instance"), "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen(
        [sys.executable, "-c", code, sqlite_url, str(cert), str(key)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        line = process.stdout.readline()
        url = line.split("https://", 1)[1].split()[0]
        trust = ssl.create_default_context(cafile=str(cert))
        with urllib.request.urlopen(f"https://{url}field/", timeout=10, context=trust) as answer:
            assert 'rel="manifest"' in answer.read().decode()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_run_refuses_a_half_or_bad_tls_pair(sqlite_url, tmp_path):
    (tmp_path / "bad.pem").write_text("not a certificate", encoding="utf-8")
    runner = CliRunner()
    half = runner.invoke(
        cli.main, ["--database-url", sqlite_url, "--lang", "en", "run", "--cert", "x.pem"]
    )
    assert half.exit_code != 0 and "Give --cert and --key together." in half.output
    bad = str(tmp_path / "bad.pem")
    args = ["--database-url", sqlite_url, "--lang", "en", "run", "--cert", bad, "--key", bad]
    wrong = runner.invoke(cli.main, args)
    assert wrong.exit_code != 0 and "Cannot use the certificate or key:" in wrong.output
    assert "Traceback" not in wrong.output


def test_a_database_without_tables_is_one_line_naming_the_fix(runner, tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = invoke(runner, url, "--lang", "en", "device", "list")
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert lines == [
        "Error: Database error (OperationalError): no such table: device. For a new database "
        "run 'fieldsync-server db upgrade' first."
    ]
