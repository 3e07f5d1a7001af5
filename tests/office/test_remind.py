"""``fieldsync-server remind``: the daily digest into inboxes and by e-mail, idempotent per day.

E-mail goes to a real SMTP server (aiosmtpd) that the test starts on 127.0.0.1.
"""

from __future__ import annotations

import json
import socket
from email import message_from_bytes, policy
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from server.cli import main
from server.models import Reminder
from tests.office import data


class Inbox:
    """An SMTP handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd API)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, f"smtp://127.0.0.1:{controller.port}"
    controller.stop()


@pytest.fixture
def due_work(app, seeded, clock):
    ids, wang = seeded.ids, seeded.users["wang"].id
    data.edit(seeded, clock, "concern", {"owner_id": wang, "due_on": "2024-06-20"}, ids["riders"])
    data.edit(seeded, clock, "concern", {"owner_id": wang, "due_on": "2024-07-01"}, ids["summer"])
    return seeded


def remind(app, *args, env=None):
    url = app.config["DATABASE_URL"]
    args = ["--database-url", url, "remind", "--date", "2024-06-30", *args]
    return CliRunner().invoke(main, args, env={"FIELDSYNC_SMTP_URL": "", **(env or {})})


def test_a_dry_run_writes_nothing(app, due_work):
    result = remind(app, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "wang：超期 1，即将到期 1" in result.output and "试运行" in result.output
    assert Reminder.select().count() == 0


def test_remind_twice_on_a_day_writes_and_mails_once(app, due_work, smtp):
    handler, url = smtp
    set_email = CliRunner().invoke(main, ["--database-url", app.config["DATABASE_URL"], "user",
                                          "email", "wang", "wang@example.org"])  # fmt: skip
    assert set_email.exit_code == 0, set_email.output
    first = remind(app, "--json", env={"FIELDSYNC_SMTP_URL": url})
    assert first.exit_code == 0, first.output
    wang = next(d for d in json.loads(first.output) if d["username"] == "wang")
    assert (wang["overdue"], wang["due_soon"], wang["new"], wang["mailed"]) == (1, 1, 2, True)
    [mail] = handler.messages
    assert mail["To"] == "wang@example.org" and "2024-06-30" in mail["Subject"]
    body = mail.get_content()
    assert "外卖骑手充电难" in body and "暑期托管需求" in body and data.PHONE not in body
    again = remind(app, "--json", env={"FIELDSYNC_SMTP_URL": url})
    wang = next(d for d in json.loads(again.output) if d["username"] == "wang")
    assert (wang["new"], wang["mailed"]) == (0, False)
    assert len(handler.messages) == 1 and Reminder.select().count() == 2
    page = app.test_client()
    from tests.office.conftest import login

    login(page, "wang")
    assert "最近一次提醒：2024-06-30" in page.get("/inbox").get_data(as_text=True)


def test_an_unreachable_mail_server_is_one_line_and_mails_on_the_next_run(app, due_work, smtp):
    handler, url = smtp
    CliRunner().invoke(main, ["--database-url", app.config["DATABASE_URL"], "user", "email",
                              "wang", "wang@example.org"])  # fmt: skip
    dead = f"smtp://127.0.0.1:{free_port()}"
    failed = remind(app, env={"FIELDSYNC_SMTP_URL": dead})
    assert failed.exit_code == 1 and "邮件发送失败" in failed.output
    assert "Traceback" not in failed.output and Reminder.select().count() == 2
    retried = remind(app, "--json", env={"FIELDSYNC_SMTP_URL": url})
    assert retried.exit_code == 0 and len(handler.messages) == 1


def test_bad_email_addresses_are_refused(app, seeded):
    url = app.config["DATABASE_URL"]
    bad = CliRunner().invoke(main, ["--database-url", url, "user", "email", "wang", "not-mail"])
    assert bad.exit_code == 1 and "不是邮件地址" in bad.output
    nobody = CliRunner().invoke(main, ["--database-url", url, "user", "email", "ghost", "a@b.cn"])
    assert nobody.exit_code == 1 and "找不到用户" in nobody.output
