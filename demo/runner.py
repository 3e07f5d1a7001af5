"""Play a story end to end: an office server on a real socket and two enrolled field devices.

``Demo(story, workdir).run()`` goes through the story in acts, printing each as it happens:

1. the office sets up: schema, workspace, users, the records the office enters first, and the
   office server starts on a real socket;
2. each device gets a one-time code, enrolls over HTTP and takes its first sync;
3. the representatives record their field work on their devices, offline (local store, outbox);
4. the devices sync; 5. the office works the cases through ``server.store.office_edit``;
6. the devices sync again; 7. both devices edit the same field while offline, and
8. sync, so one conflict waits for the office; 9. the office's report. The caller prints the
   addresses (office, login, one device's field UI, which ``run`` starts last).

The runner knows the file's shape, not the story (see ``story.py``). Sync stamps use the real
clock (a device ahead of the server would be refused); the story's dates live in date fields.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from demo.devices import FieldDevice, Served, diverging_records, local_records
from demo.i18n import N_, texts
from demo.report import office_report_lines
from demo.story import OFFICE, Entry, Story, resolve_refs
from demo.text import (
    count_list,
    field_name,
    stage_name,
    type_name,
    value_text,
)
from field_client.syncer import SyncReport
from server import create_app, migrations, services
from server import store as office_store
from server.store.conflicts import ConflictRow, open_conflicts_on

__all__ = ["Demo", "DemoResult", "wall_ms"]

Echo = Callable[[str], None]


def wall_ms() -> int:
    """Return the wall clock in epoch milliseconds (the stamps' time base)."""
    return time.time_ns() // 1_000_000


@dataclass
class DemoResult:
    """What the demo built, for the command's last lines and for tests."""

    workdir: Path
    database_url: str
    workspace_id: str
    office_url: str
    login: tuple[str, str]
    admin_login: tuple[str, str] | None
    devices: dict[str, FieldDevice]
    report: dict[str, Any]
    open_conflicts: int
    field_url: str | None = None
    field_device: str | None = None
    syncs: list[SyncReport] = field(default_factory=list)


class Demo:
    """The story, played act by act; ``echo`` receives each line of output, ``live`` rewrites
    one status line (sync progress on a terminal; None shows none)."""

    def __init__(
        self,
        story: Story,
        workdir: Path,
        *,
        lang: str = "zh",
        port: int = 0,
        field_port: int = 0,
        echo: Echo = print,
        live: Echo | None = None,
        now_ms: Callable[[], int] = wall_ms,
        app_config: dict[str, Any] | None = None,
        database_url: str | None = None,
    ) -> None:
        self.story = story
        self.workdir = Path(workdir)
        self.lang = "en" if lang == "en" else "zh"
        self.port = port
        self.field_port = field_port
        self.echo = echo
        self.live = live
        self.now_ms = now_ms
        self.app_config = dict(app_config or {})
        self.database_url = database_url or f"sqlite:///{self.workdir / 'office' / 'fieldsync.db'}"
        self.ids: dict[str, str] = {}  # story key -> record id
        self.users: dict[str, Any] = {}
        self.devices = {
            d["key"]: FieldDevice(
                d["key"], d["name"], d["user"], self.workdir / f"device-{d['key']}"
            )
            for d in story.devices
        }
        self.syncs: list[SyncReport] = []
        self.workspace_id = ""
        self.servers: list[Served] = []
        self._acts = 0

    # -- output --------------------------------------------------------------------------------

    def gettext(self, message: str, /, **params: Any) -> str:
        """A sentence in the demo's language."""
        return texts(self.lang).gettext(message, **params)

    def act(self, heading: str, **params: Any) -> None:
        """Print the heading (an ``N_`` sentence) of the next act."""
        self._acts += 1
        number = f"【{self._acts}】" if self.lang == "zh" else f"[{self._acts}] "
        self.echo("")
        self.echo(number + self.gettext(heading, **params))

    def line(self, text: str) -> None:
        self.echo(f"    {text}")

    def _join(self, items: Any) -> str:
        return ("、" if self.lang == "zh" else ", ").join(items)

    # -- the acts ------------------------------------------------------------------------------

    def run(self) -> DemoResult:
        """Play every act; return what was built (servers run until ``close``)."""
        self.setup_office()
        self.enroll_devices()
        self.record_field_work()
        self.act(N_("Devices sync: field work reaches the office"))
        self.sync_all()
        self.office_work()
        self.act(N_("Devices sync again and receive the office's work"))
        self.sync_all()
        self.offline_edits()
        self.check_convergence()
        figures, conflicts = self.report()
        field_device, field_url = self.start_field_ui()
        return DemoResult(
            workdir=self.workdir,
            database_url=self.database_url,
            workspace_id=self.workspace_id,
            office_url=self.servers[0].url,
            login=(self.story.login, self.story.user(self.story.login).get("password", "")),
            admin_login=self.admin_login(),
            devices=self.devices,
            report=figures,
            open_conflicts=conflicts,
            field_url=field_url,
            field_device=field_device,
            syncs=self.syncs,
        )

    def setup_office(self) -> None:
        """Create the database, workspace and users, enter the office's first records, serve."""
        self.act(N_("The office sets up"))
        self.app = create_app(
            {
                "DATABASE_URL": self.database_url,
                "INSTANCE_PATH": str(self.workdir / "office"),
                "SECRET_KEY": "fieldsync-demo",
                "AUTO_UPGRADE": False,
                **self.app_config,
            }
        )
        migrations.upgrade(self.app.extensions["fieldsync_db"])
        self.line(
            self.gettext("Database created: %(url)s", url=_without_password(self.database_url))
        )
        self.workspace_id = services.create_workspace(self.story.workspace).id
        for user in self.story.users:
            self.users[user["username"]] = services.create_user(
                user["username"],
                self.workspace_id,
                user["role"],
                password=user.get("password"),
                display_name=user.get("display_name", ""),
            )
        names = self._join(u.display_name or u.username for u in self.users.values())
        self.line(
            self.gettext(
                'Workspace "%(name)s", %(count)s users: %(names)s',
                name=self.story.workspace,
                count=len(self.users),
                names=names,
            )
        )
        first = [e for e in self.story.entries if e.on == OFFICE and self._office_only_refs(e)]
        for entry in first:
            self.office_create(entry)
        self.line(
            self.gettext(
                "Entered at the office: %(counts)s", counts=count_list(self.lang, _by_type(first))
            )
        )
        self.servers.append(Served(self.app, self.port, "fieldsync-demo-office"))
        self.line(self.gettext("Office server running at %(url)s", url=self.servers[0].url))

    def _office_only_refs(self, entry: Entry) -> bool:
        """Whether an office entry references only records the office itself enters."""
        return all(self.story.entry(key).on == OFFICE for key in entry.refs())

    def enroll_devices(self) -> None:
        """Give each device a one-time code, enroll it over HTTP, and take its first sync."""
        self.act(N_("Two devices enroll over HTTP"))
        clerk = str(self.users[self.story.office_user].id)
        for device in self.devices.values():
            user = self.users[device.username]
            code = services.create_enrollment_code(device.username, created_by=clerk)
            shown = services.display_code(code)
            self.line(
                self.gettext(
                    "Enrollment code for %(user)s: %(code)s",
                    user=user.display_name or user.username,
                    code=shown,
                )
            )
            confirmation = device.enroll(self.servers[0].url, code, self.lang)
            self.line(
                self.gettext("%(device)s: %(message)s", device=device.name, message=confirmation)
            )
        self.sync_all()

    def record_field_work(self) -> None:
        """Each device records its entries through its local store (they wait in its outbox)."""
        self.act(N_("Representatives record in the field, offline"))
        recorded: dict[str, list[Entry]] = {key: [] for key in self.devices}
        for entry in self.story.entries:
            if entry.on in self.devices:
                store = self.devices[entry.on].local
                self.ids[entry.key] = store.create(entry.type, self._values(entry, entry.fields))
                recorded[entry.on].append(entry)
        for key, entries in recorded.items():
            device = self.devices[key]
            counts = count_list(self.lang, _by_type(entries))
            pending = device.local.status()["pending"]
            self.line(
                self.gettext(
                    "%(device)s: %(counts)s; %(pending)s records waiting to sync",
                    device=device.name,
                    counts=counts,
                    pending=pending,
                )
            )

    def office_work(self) -> None:
        """Apply every entry's office steps in story order, stamped and audited by the server."""
        self.act(N_("The office works the cases (every step stamped and audited)"))
        for entry in self.story.entries:
            if entry.on == OFFICE and entry.key not in self.ids:
                self.office_create(entry)
        steps: dict[str, list[int]] = {}  # type -> [steps, records]
        for entry in (e for e in self.story.entries if e.office):
            for step in entry.office:
                values = {k: v for k, v in step.items() if k != "by"}
                self.office_edit(entry, values, step.get("by", self.story.office_user))
            counts = steps.setdefault(entry.type, [0, 0])
            counts[0] += len(entry.office)
            counts[1] += 1
        for rtype, (count, records) in steps.items():
            name = type_name(self.lang, rtype)
            self.line(
                self.gettext(
                    "%(type)s: %(steps)s steps on %(records)s records",
                    type=name,
                    steps=count,
                    records=records,
                )
            )
        clerk = self.users[self.story.office_user]
        self.line(self.gettext("Done by: %(name)s", name=clerk.display_name or clerk.username))

    def offline_edits(self) -> None:
        """Devices change the same field while offline; syncing leaves a conflict."""
        if not self.story.offline_edits:
            return
        self.act(N_("Both devices edit the same concern while offline"))
        for edit in self.story.offline_edits:
            entry = self.story.entry(edit["record"])
            device = self.devices[edit["device"]]
            time.sleep(0.02)  # edits in story order: a later edit has a later stamp, so it wins
            device.local.update(entry.type, self.ids[entry.key], self._values(entry, edit["set"]))
            for name, value in edit["set"].items():
                self.line(
                    self.gettext(
                        '%(device)s: "%(title)s", %(field)s -> %(value)s',
                        device=device.name,
                        title=self._title(entry.key),
                        field=field_name(self.lang, name),
                        value=value_text(self.lang, value, entry.type, name),
                    )
                )
        self.act(N_("Sync: the server keeps one value, the office gets a conflict"))
        self.sync_all()
        self.sync_all(quiet_when_idle=True)  # the first to sync now receives the kept value
        edited = {self.ids[edit["record"]] for edit in self.story.offline_edits}
        for conflict in self.open_conflict_rows(edited):
            self.print_conflict(conflict)

    def check_convergence(self) -> None:
        """Print whether each device holds exactly the server's state of its records."""
        held = []
        for device in self.devices.values():
            differing = diverging_records(device.local, self.workspace_id)
            if differing:
                self.line(
                    self.gettext(
                        "✗ %(device)s: %(count)s records differ from the server",
                        device=device.name,
                        count=len(differing),
                    )
                )
            held.append(f"{device.name} {len(local_records(device.local))}")
        self.line(
            self.gettext(
                "✓ Both devices hold exactly what the server holds (%(counts)s)",
                counts=self._join(held),
            )
        )

    def report(self) -> tuple[dict[str, Any], int]:
        """Print the office's report for the story's period and the open conflicts."""
        until = dt.date.today()
        since = self.story.since
        conflicts = len(self.open_conflict_rows())
        self.act(
            N_("The office's report (%(since)s to %(until)s)"),
            since=since.isoformat() if since else "…",
            until=until,
        )
        figures, lines = office_report_lines(
            self.lang, self.workspace_id, since, until, conflicts, self.story.quote
        )
        for text in lines:
            self.line(text)
        return figures, conflicts

    def admin_login(self) -> tuple[str, str] | None:
        """Return the username and password of the story's first administrator, if any."""
        admin = next((u for u in self.story.users if u.get("role") == "admin"), None)
        return None if admin is None else (admin["username"], admin.get("password", ""))

    def start_field_ui(self) -> tuple[str | None, str | None]:
        """Serve the field UI of the story's ``field_ui`` device; return its name and address."""
        chosen = next((d for d in self.story.devices if d.get("field_ui")), None)
        if chosen is None:
            return None, None
        device = self.devices[chosen["key"]]
        try:
            from field_client.web import create_app as create_field_app

            served = Served(
                create_field_app(device.home), self.field_port, "fieldsync-demo-field-ui"
            )
        except Exception as exc:  # the field UI is a bonus: the demo stands without it
            self.line(
                self.gettext(
                    "(field UI not available: %(reason)s)", reason=str(exc).splitlines()[0][:120]
                )
            )
            return device.name, None
        self.servers.append(served)
        return device.name, served.url

    def close(self) -> None:
        """Stop the servers and close the devices."""
        for served in reversed(self.servers):
            served.stop()
        self.servers.clear()
        for device in self.devices.values():
            device.close()

    # -- the office ----------------------------------------------------------------------------

    def office_create(self, entry: Entry) -> None:
        """Create an office entry: an office edit of a new id."""
        self.ids[entry.key] = new_record_id()
        self.office_edit(entry, entry.fields, self.story.office_user)

    def office_edit(self, entry: Entry, values: dict[str, Any], username: str) -> None:
        """Apply one office edit, with the stamps the office saw as bases (no false conflict)."""
        record_id = self.ids[entry.key]
        current = office_store.get_record(self.workspace_id, record_id)
        stamps = current["stamps"] if current else {}
        result = office_store.office_edit(
            self.workspace_id,
            str(self.users[username].id),
            entry.type,
            record_id,
            self._values(entry, values),
            {name: stamps.get(name) for name in values},
            now_ms=self.now_ms(),
        )
        if result.rejected or result.conflicts:
            problem = result.rejected or result.conflicts
            raise RuntimeError(f"the office edit of {entry.key} failed: {problem}")

    def open_conflict_rows(self, record_ids: set[str] | None = None) -> list[ConflictRow]:
        """Return the workspace's open conflicts (on ``record_ids`` only, when given)."""
        return open_conflicts_on(self.workspace_id, record_ids)

    def print_conflict(self, conflict: ConflictRow) -> None:
        """Describe one open conflict: the record, the field, both values and their devices."""
        names = {d.device_id: d.name for d in self.devices.values() if d.store is not None}
        office = self.gettext("the office")
        where = (conflict.record_type, conflict.field)
        self.line(
            self.gettext(
                'Conflict on "%(title)s", %(field)s: the server keeps %(kept)s '
                "(%(kept_by)s); %(other)s (%(other_by)s) waits for the office",
                title=self._title(conflict.record_id, by_id=True),
                field=field_name(self.lang, conflict.field),
                kept=value_text(self.lang, json.loads(conflict.kept_value or "null"), *where),
                kept_by=names.get(conflict.kept_device, office),
                other=value_text(self.lang, json.loads(conflict.other_value or "null"), *where),
                other_by=names.get(conflict.other_device, office),
            )
        )

    def _title(self, key: str, *, by_id: bool = False) -> str:
        """Return a record's title or name as the server holds it."""
        record_id = key if by_id else self.ids[key]
        fields = (office_store.get_record(self.workspace_id, record_id) or {}).get("fields", {})
        return str(fields.get("title") or fields.get("name") or key)

    # -- the devices ---------------------------------------------------------------------------

    def _values(self, entry: Entry, values: dict[str, Any]) -> dict[str, Any]:
        resolved = resolve_refs(entry.type, values, self.ids)
        owner = resolved.get("owner_id")
        if isinstance(owner, str) and owner in self.users:  # owners are named by username
            resolved["owner_id"] = str(self.users[owner].id)
        return resolved

    def sync_all(self, *, quiet_when_idle: bool = False) -> None:
        """Sync every device once, printing what each sync did (``quiet_when_idle``: only
        when the sync received or failed)."""
        for device in self.devices.values():
            quiet = quiet_when_idle and not device.local.status()["pending"]
            report = self.sync(device, show=not quiet)
            if not quiet or report.received or not report.ok:
                self._print_sync(device, report)

    def sync(self, device: FieldDevice, *, show: bool = True) -> SyncReport:
        """Run one sync of a device over HTTP, with live progress on a terminal."""
        live = self.live if show else None

        def progress(stage: str, done: int, total: int | None) -> None:
            if live is not None and str(stage) != "done":
                shown = f"{done}/{total}" if total else str(done)
                live(f"    ⇅ {device.name}  {stage_name(self.lang, str(stage))} {shown}")

        report = device.sync(progress)
        self.syncs.append(report)
        if live is not None:
            live("")
        return report

    def _print_sync(self, device: FieldDevice, report: SyncReport) -> None:
        if not report.ok:
            self.line(
                self.gettext(
                    "⇅ %(device)s: sync failed: %(message)s",
                    device=device.name,
                    message=report.message,
                )
            )
            return
        self.line(
            self.gettext(
                "⇅ %(device)s: sent %(sent)s, received %(received)s, conflicts "
                "%(conflicts)s, rejected %(rejected)s",
                device=device.name,
                sent=report.sent,
                received=report.received,
                conflicts=report.conflicts,
                rejected=report.rejected,
            )
        )


def new_record_id() -> str:
    """Return a new record id (UUIDv7, time-ordered, as devices make them)."""
    from uuid6 import uuid7

    return str(uuid7())


def _without_password(url: str) -> str:
    """Return a database URL fit to print (no password)."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _by_type(entries: list[Entry]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.type] = counts.get(entry.type, 0) + 1
    return counts
