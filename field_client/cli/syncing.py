"""Commands about syncing: ``sync`` (progress, summary), ``status``, ``conflicts``,
``rejected`` and ``serve`` (the local web UI)."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from field_client.cli.base import (
    App,
    Failure,
    console,
    json_option,
    main,
    pass_app,
    print_json,
)
from field_client.errors import Refused
from field_client.i18n import N_, texts
from field_client.messages import PHOTO_QUOTA, STAGES, explain, human_bytes, type_name
from field_client.syncer import Stage, SyncReport, sync_once
from sync import jsonio

# -- sync and status ---------------------------------------------------------------------------


@main.command()
@json_option
@pass_app
def sync(app: App, as_json: bool) -> None:
    """Send this device's changes to the office and receive everyone else's.

    \b
    Example: fieldsync sync --json
    """
    report = run_sync(app)
    if as_json:
        print_json(report.to_json())
    else:
        click.echo(summary(app, report))
    if report.error:
        sys.exit(1)


def run_sync(app: App, *, show_progress: bool = True) -> SyncReport:
    """Run one sync with a progress display on stderr; return the report."""
    store = app.store
    transport = app.transport()
    try:
        with Progress(app, enabled=show_progress) as progress:
            return sync_once(
                store, transport, store.clock, progress, pull_limit=app.config.pull_limit
            )
    finally:
        transport.close()


def summary(app: App, report: SyncReport) -> str:
    """Return the plain summary of a sync."""
    if report.offline:
        return app.gettext(
            "Offline: cannot reach the server; %(pending)s changes stay queued for the next sync.",
            pending=report.pending,
        )
    if report.error:
        body = {"server_time": _readable_stamp(report.server_time)}
        error = Refused(report.error, report.message or "", body=body)
        if report.error == "server_error":
            return app.gettext(
                "The server %(server)s failed or is not a Fieldsync server (%(detail)s). "
                "Your data is kept.",
                detail=report.message,
                **app.context(),
            )
        return explain(error, app.lang, **app.context())
    lines = [
        app.gettext(
            "Sync done: sent %(sent)s, received %(new)s new, conflicts "
            "%(conflicts)s, rejected %(rejected)s.",
            **report.to_json(),
        )
    ]
    if report.conflicts:
        lines.append(app.gettext("Conflicting edits were handed to the office to resolve."))
    if report.rejected:
        lines.append(
            app.gettext("Some edits were rejected; run fieldsync rejected to see and fix them.")
        )
    if report.photo_quota:
        lines.append(photo_quota_line(app.lang, report.to_json()))
    return "\n".join(lines)


def photo_quota_line(lang: str, report: dict[str, Any]) -> str:
    """One sentence: the office's photo quota is full, the photos wait here."""
    size = human_bytes(int(report.get("photo_quota_bytes") or 0))
    sentence = PHOTO_QUOTA[report["photo_quota"]]
    return texts(lang).gettext(sentence, size=size, n=report.get("photos_refused", 0))


def _readable_stamp(stamp: str | None) -> str:
    """Return the wall-clock time of a stamp in local time, for people."""
    if not stamp:
        return "?"
    moment = dt.datetime.fromtimestamp(int(stamp[:13]) / 1000).astimezone()
    return moment.isoformat(sep=" ", timespec="seconds")


class Progress:
    """Show sync progress: a rich bar on a terminal, plain lines otherwise."""

    def __init__(self, app: App, *, enabled: bool) -> None:
        self.app = app
        self.enabled = enabled
        self.console = Console(stderr=True, highlight=False)
        self.bar: Any = None
        self.tasks: dict[Stage, Any] = {}

    def __enter__(self) -> Progress:
        if self.enabled and self.console.is_terminal:
            from rich.progress import Progress as Bar

            self.bar = Bar(console=self.console, transient=True)
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def __call__(self, stage: Stage, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        name = self.app.gettext(STAGES[stage])
        if self.bar is None:
            if stage is not Stage.DONE:
                click.echo(f"{name} {done}" + (f"/{total}" if total else ""), err=True)
            return
        if stage not in self.tasks:
            self.tasks[stage] = self.bar.add_task(name, total=total)
        self.bar.update(self.tasks[stage], completed=done, total=total)


@main.command()
@json_option
@pass_app
def status(app: App, as_json: bool) -> None:
    """Show the server, last sync, pending changes, open conflicts and rejected changes.

    \b
    Example: fieldsync status --json
    """
    data = app.store.status()
    if as_json:
        print_json(data)
        return
    user = data["user"] or {}
    rows = [
        (N_("Server"), data["server"] or app.gettext("(none)")),
        (N_("Device"), data["device_id"] or app.gettext("(none)")),
        (N_("User"), user.get("display_name") or user.get("username") or ""),
        (N_("Last sync"), data["last_sync"] or app.gettext("never")),
        (N_("Pending"), data["pending"]),
        (N_("Conflicts"), data["conflicts"]),
        (N_("Rejected"), data["rejected"]),
    ]
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(app.gettext(key), str(value))
    console().print(table)


@main.command()
@json_option
@pass_app
def conflicts(app: App, as_json: bool) -> None:
    """List open conflicts the server reported on this device's edits.

    \b
    Example: fieldsync conflicts --json
    """
    items = app.store.conflicts()
    if as_json:
        print_json(items)
        return
    for item in items:
        click.echo(
            f"{item['record_id']}  {item['field']}: "
            f"{item['kept'].get('value')!r} <> {item['other'].get('value')!r}"
        )
    if not items:
        click.echo(app.gettext("(none)"))


@main.command()
@click.option("--fix", "fix_id", type=int, default=None, help="Re-send this rejected change.")
@click.option("--set", "assignments", multiple=True, help="field=value for the fix (JSON value).")
@json_option
@pass_app
def rejected(app: App, fix_id: int | None, assignments: tuple[str, ...], as_json: bool) -> None:
    """List changes the server refused, or fix one (a new edit for the next sync).

    \b
    Example: fieldsync rejected --fix 3 --set 'title="新标题"'
    """
    if fix_id is not None:
        app.store.fix_rejected(fix_id, parse_assignments(assignments))
        click.echo(app.gettext("Fixed; it will be sent at the next sync."))
        return
    items = app.store.rejected()
    if as_json:
        print_json(items)
        return
    for item in items:
        errors = "; ".join(f"{k}: {', '.join(v)}" for k, v in item["errors"].items())
        click.echo(
            f"{item['id']}  {type_name(item['type'], app.lang)} {item['record_id']}  {errors}"
        )
    if not items:
        click.echo(app.gettext("(none)"))


def parse_assignments(assignments: tuple[str, ...]) -> dict[str, Any]:
    values = {}
    for item in assignments:
        name, sep, raw = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: use field=value")
        try:
            values[name.strip()] = jsonio.loads(raw)
        except ValueError:
            values[name.strip()] = raw
    return values


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=0, help="Port (default: any free port).")
@click.option("--no-browser", is_flag=True, help="Do not open a browser.")
@pass_app
def serve(app: App, host: str, port: int, no_browser: bool) -> None:
    """Open the local touch-screen interface in a browser.

    \b
    Example: fieldsync serve --port 8765 --no-browser
    """
    try:
        from field_client.web import serve as web_serve
    except ImportError:
        raise Failure(app.gettext("The local web interface is not installed.")) from None
    app.store.close()
    web_serve(app.config.home, host=host, port=port, open_browser=not no_browser)
