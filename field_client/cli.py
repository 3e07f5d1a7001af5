"""``fieldsync``: the field device's command line, a thin shell over the store and the syncer.

Every command has help with an ``Example:``; lists, shows, ``sync`` and ``status`` take
``--json``. Errors are one line in Simplified Chinese (``--lang en`` for English) and a non-zero
exit; being offline during ``sync`` is not an error.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlparse

import click
from rich.console import Console
from rich.table import Table

from field_client import config as configmod
from field_client.errors import ClientError, ProtocolError
from field_client.messages import explain, field_name, label_of, say, type_name
from field_client.store import LocalStore, label
from field_client.syncer import Stage, SyncReport, sync_once
from field_client.transport import HttpTransport
from sync import ErrorCode
from sync.records import (
    CONCERN_STATUSES,
    GROUPS,
    PROJECT_STATUSES,
    RECORD_TYPES,
    VISIT_KINDS,
)

__all__ = ["main"]

# (record type, field) -> allowed values, for options; ENUM_FIELDS are shown with labels.
CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    (rtype.name, name): rule.values  # type: ignore[attr-defined]
    for rtype in RECORD_TYPES.values()
    for name, rule in rtype.rules.items()
    if hasattr(rule, "values")
}
ENUM_FIELDS = frozenset(name for _, name in CHOICES)


class App:
    """What every command needs: the settings, the store (opened on first use), messages."""

    def __init__(self, config: configmod.Config) -> None:
        self.config = config
        self._store: LocalStore | None = None

    @property
    def lang(self) -> str:
        return self.config.lang

    @property
    def store(self) -> LocalStore:
        if self._store is None:
            self._store = LocalStore(self.config.home)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def say(self, key: str, **params: Any) -> str:
        return say(key, self.lang, **params)

    def transport(self) -> HttpTransport:
        creds = self.store.credentials()
        return HttpTransport(
            creds["server_url"],
            creds["token"],
            timeout=self.config.timeout,
            retries=self.config.retries,
            backoff=self.config.backoff,
        )

    def context(self) -> dict[str, Any]:
        """Facts for error messages (the database path, the server address)."""
        server = ""
        if self._store is not None:
            try:
                server = self._store.status()["server"] or ""
            except ClientError:
                pass
        return {"path": str(self.config.home / "fieldsync.db"), "server": server}


class Failure(click.ClickException):
    """One clear line on stderr and exit code 1."""

    def show(self, file: Any = None) -> None:
        click.echo(self.message, err=True)


def _lang_from_args(args: Sequence[str]) -> str | None:
    for index, arg in enumerate(args):
        if arg == "--lang" and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return None


class FieldsyncGroup(click.Group):
    """The top group: library errors and usage errors become one line each."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ClientError as exc:
            app = ctx.obj if isinstance(ctx.obj, App) else App(configmod.load())
            raise Failure(explain(exc, app.lang, **app.context())) from None

    def main(self, args: Sequence[str] | None = None, *a: Any, **kw: Any) -> Any:  # type: ignore[override]
        argv = list(sys.argv[1:] if args is None else args)
        kw["standalone_mode"] = False
        try:
            code = super().main(argv, *a, **kw)
        except click.UsageError as exc:
            lang = configmod.load(lang=_lang_from_args(argv)).lang
            click.echo(say("bad_value", lang, detail=exc.format_message()), err=True)
            sys.exit(2)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


# -- shared helpers ----------------------------------------------------------------------------

pass_app = click.make_pass_decorator(App)


def json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--json`` (print machine-readable JSON instead of a table)."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False))


def console() -> Console:
    # Not a terminal (a pipe, a test): wide enough that Chinese tables never wrap.
    out = Console(highlight=False)
    return out if out.is_terminal else Console(highlight=False, width=200, no_color=True)


def print_table(app: App, rtype: str, records: list[dict[str, Any]], columns: list[str]) -> None:
    """Print records as a table (rich measures Chinese characters as two columns)."""
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("id", no_wrap=True)
    for name in columns:
        table.add_column(field_name(name, app.lang))
    table.add_column("")
    for record in records:
        cells = [record["id"]]
        for name in columns:
            value = record["fields"].get(name)
            if name.endswith("_id") and value:
                ref = app.store.get(None, value)
                value = label(ref) if ref else value[:8]
            cells.append(label_of(value, app.lang) if name in ENUM_FIELDS else _text(value))
        cells.append("*" if record["pending"] else "")
        table.add_row(*cells)
    console().print(table)
    if not records:
        click.echo(app.say("none"))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(map(str, value))
    text = str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def show_record(app: App, record: dict[str, Any], as_json: bool, extra: dict[str, Any]) -> None:
    """Print one record (fields as rows) or its JSON."""
    if as_json:
        print_json({**record, **extra})
        return
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("id", record["id"])
    table.add_row("type", type_name(record["type"], app.lang))
    for name, value in record["fields"].items():
        shown = label_of(value, app.lang) if name in ENUM_FIELDS else _text(value)
        if name in record["pending"]:
            shown += " *"
        table.add_row(field_name(name, app.lang), shown)
    if record["deleted"]:
        table.add_row("", app.say("deleted"))
    console().print(table)
    for key, items in extra.items():
        if items:
            click.echo(f"\n{app.say('section.' + key)}:")
            for item in items:
                click.echo(f"  {item['id']}  {label(item)}")


def clean(values: dict[str, Any]) -> dict[str, Any]:
    """Drop options that were not given."""
    return {k: v for k, v in values.items() if v is not None and v != ()}


def now_iso() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def today() -> str:
    return dt.date.today().isoformat()


def ref(app: App, rtype: str, name_or_id: str | None) -> str | None:
    """Resolve an option naming a place/party/... by id or unique name."""
    if name_or_id is None:
        return None
    if name_or_id == "":
        return None
    return str(app.store.find(rtype, name_or_id)["id"])


def choice(rtype: str, name: str) -> click.Choice[str]:
    """Return a click choice of the values the protocol allows for a field."""
    return click.Choice(CHOICES[(rtype, name)])


# -- the group ---------------------------------------------------------------------------------


@click.group(cls=FieldsyncGroup)
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    default=None,
    help="Device home folder (default: FIELDSYNC_HOME or the user data folder).",
)
@click.option("--lang", type=click.Choice(["zh", "en"]), default=None, help="Message language.")
@click.version_option(package_name="fieldsync")
@click.pass_context
def main(ctx: click.Context, home: str | None, lang: str | None) -> None:
    """Fieldsync on a field device: record visits and concerns offline, sync when online.

    \b
    Example: fieldsync --home ~/pad1 concern list --status new
    """
    ctx.obj = App(configmod.load(home, lang))
    ctx.call_on_close(ctx.obj.close)


@main.command()
@click.option("--server", required=True, help="Office server address, e.g. http://10.0.0.5:8000")
@click.option("--code", required=True, help="One-time enrollment code from the office.")
@click.option("--name", default=None, help="A name for this device (default: host name).")
@pass_app
def init(app: App, server: str, code: str, name: str | None) -> None:
    """Enroll this device with the office server (once per device home).

    \b
    Example: fieldsync init --server http://192.168.1.10:8000 --code ABCD-EFGH --name 平板1
    """
    click.echo(enroll(app, server, code, name or socket.gethostname()))


def enroll(app: App, server: str, code: str, name: str) -> str:
    """Enroll the device; return the one-line confirmation."""
    parsed = urlparse(server)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise Failure(app.say("bad_server", server=server))
    store = app.store
    if store.enrolled:
        status = store.status()
        raise Failure(app.say("already_enrolled", **status))
    transport = HttpTransport(server, timeout=app.config.timeout, retries=0)
    try:
        answer = transport.enroll(code.strip(), name[:100])
    except ProtocolError as exc:
        if exc.code == ErrorCode.UNSUPPORTED_PROTOCOL:
            raise
        raise Failure(app.say("protocol.invalid_code", detail=exc.detail)) from None
    except ClientError as exc:
        raise Failure(explain(exc, app.lang, server=server)) from None
    store.save_enrollment(server, answer, name)
    user = answer.get("user") or {}
    workspace = answer.get("workspace") or {}
    return app.say(
        "enrolled",
        device_id=answer["device_id"],
        user=user.get("display_name") or user.get("username", ""),
        workspace=workspace.get("name", ""),
    )


# -- places and parties ------------------------------------------------------------------------


@main.group()
def place() -> None:
    """Places: communities, compounds, business districts, buildings, shops.

    \b
    Example: fieldsync place add 百盛家园 --kind compound
    """


@place.command("add")
@click.argument("name")
@click.option("--kind", type=choice("place", "kind"), required=True, help="Place kind.")
@click.option("--parent", default=None, help="Parent place (name or id).")
@click.option("--address", default=None)
@click.option("--notes", default=None)
@click.option("--lat", type=float, default=None)
@click.option("--lon", type=float, default=None)
@pass_app
def place_add(app: App, name: str, kind: str, parent: str | None, **rest: Any) -> None:
    """Add a place and print its id.

    \b
    Example: fieldsync place add 百盛家园 --kind compound --parent 庄泉社区
    """
    fields = clean({"name": name, "kind": kind, "parent_id": ref(app, "place", parent), **rest})
    click.echo(app.store.create("place", fields))


@place.command("list")
@click.option("--kind", type=choice("place", "kind"), default=None)
@click.option("--parent", default=None, help="Only places inside this place (name or id).")
@json_option
@pass_app
def place_list(app: App, kind: str | None, parent: str | None, as_json: bool) -> None:
    """List places.

    \b
    Example: fieldsync place list --kind compound --json
    """
    records = app.store.list("place", kind=kind, place=ref(app, "place", parent))
    output(app, "place", records, ["name", "kind", "parent_id", "address"], as_json)


@place.command("show")
@click.argument("place_ref")
@json_option
@pass_app
def place_show(app: App, place_ref: str, as_json: bool) -> None:
    """Show a place and its open concerns.

    \b
    Example: fieldsync place show 百盛家园
    """
    record = app.store.find_place(place_ref)
    show_record(app, record, as_json, {"open_concerns": app.store.open_concerns(record["id"])})


@main.group()
def party() -> None:
    """Parties: residents, merchants, workers, organisations.

    \b
    Example: fieldsync party add 王阿姨 --kind resident --place 百盛家园
    """


@party.command("add")
@click.argument("name")
@click.option("--kind", type=choice("party", "kind"), required=True)
@click.option("--organisation", default=None)
@click.option("--phone", default=None)
@click.option("--place", "place_ref", default=None, help="Place (name or id).")
@click.option("--notes", default=None)
@pass_app
def party_add(app: App, name: str, kind: str, place_ref: str | None, **rest: Any) -> None:
    """Add a party and print its id.

    \b
    Example: fieldsync party add 李师傅 --kind worker --organisation 快递站
    """
    fields = clean({"name": name, "kind": kind, "place_id": ref(app, "place", place_ref), **rest})
    click.echo(app.store.create("party", fields))


@party.command("list")
@click.option("--place", "place_ref", default=None, help="Place (name or id).")
@click.option("--kind", type=choice("party", "kind"), default=None)
@json_option
@pass_app
def party_list(app: App, place_ref: str | None, kind: str | None, as_json: bool) -> None:
    """List parties.

    \b
    Example: fieldsync party list --place 百盛家园
    """
    records = app.store.list("party", place=ref(app, "place", place_ref), kind=kind)
    output(app, "party", records, ["name", "kind", "organisation", "place_id"], as_json)


def output(
    app: App, rtype: str, records: list[dict[str, Any]], columns: list[str], as_json: bool
) -> None:
    if as_json:
        print_json(records)
    else:
        print_table(app, rtype, records, columns)


# -- visits --------------------------------------------------------------------------------------


@main.group()
def visit() -> None:
    """Visits: home and shop visits, reception days, forums, calls.

    \b
    Example: fieldsync visit add --kind forum --title 快递小哥座谈会 --place 商务楼
    """


@visit.command("add")
@click.option("--kind", type=click.Choice(VISIT_KINDS), required=True)
@click.option("--title", default=None)
@click.option("--place", "place_ref", default=None, help="Place (name or id).")
@click.option("--started-at", default=None, help="ISO time with offset (default: now).")
@click.option("--ended-at", default=None)
@click.option("--attendees", "attendee_count", type=click.IntRange(0), default=None)
@click.option("--party", "parties", multiple=True, help="A party (name or id); repeatable.")
@click.option("--summary", default=None)
@pass_app
def visit_add(
    app: App, place_ref: str | None, started_at: str | None, parties: tuple[str, ...], **rest: Any
) -> None:
    """Record a visit and print its id.

    \b
    Example: fieldsync visit add --kind home_visit --place 百盛家园 --summary 了解污水管问题
    """
    fields = clean(
        {
            "place_id": ref(app, "place", place_ref),
            "started_at": started_at or now_iso(),
            "party_ids": [ref(app, "party", p) for p in parties] or None,
            **rest,
        }
    )
    click.echo(app.store.create("visit", fields))


@visit.command("list")
@click.option("--place", "place_ref", default=None, help="Place (name or id).")
@click.option("--kind", type=click.Choice(VISIT_KINDS), default=None)
@json_option
@pass_app
def visit_list(app: App, place_ref: str | None, kind: str | None, as_json: bool) -> None:
    """List visits, newest first.

    \b
    Example: fieldsync visit list --kind forum
    """
    records = app.store.list("visit", place=ref(app, "place", place_ref), kind=kind)
    output(app, "visit", records, ["kind", "title", "place_id", "started_at"], as_json)


@visit.command("show")
@click.argument("visit_ref")
@json_option
@pass_app
def visit_show(app: App, visit_ref: str, as_json: bool) -> None:
    """Show a visit and the concerns raised at it.

    \b
    Example: fieldsync visit show 0190f1c2-...
    """
    record = app.store.find("visit", visit_ref)
    concerns = [
        c for c in app.store.list("concern") if c["fields"].get("visit_id") == record["id"]
    ]
    show_record(app, record, as_json, {"concerns": concerns})


# -- concerns ------------------------------------------------------------------------------------

CONCERN_EDIT_OPTIONS = [
    click.option("--description", default=None),
    click.option("--category", type=choice("concern", "category"), default=None),
    click.option("--status", type=click.Choice(CONCERN_STATUSES), default=None),
    click.option("--priority", type=choice("concern", "priority"), default=None),
    click.option("--place", "place_ref", default=None, help="Place (name or id)."),
    click.option("--visit", "visit_ref", default=None, help="Visit id."),
    click.option("--party", "party_ref", default=None, help="Party (name or id)."),
    click.option("--group", "raised_by_group", type=click.Choice(GROUPS), default=None),
    click.option("--project", "project_ref", default=None, help="Project (title or id)."),
    click.option("--responsible-unit", default=None),
    click.option("--resolution", default=None),
    click.option("--satisfaction", type=choice("concern", "satisfaction"), default=None),
    click.option("--raised-on", default=None, help="Date, e.g. 2024-05-31."),
    click.option("--resolved-on", default=None, help="Date, e.g. 2024-06-30."),
]


def concern_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(CONCERN_EDIT_OPTIONS):
        func = option(func)
    return func


def concern_fields(app: App, values: dict[str, Any]) -> dict[str, Any]:
    refs = {"place_ref": "place", "visit_ref": "visit", "party_ref": "party"}
    fields = {}
    for key, value in values.items():
        if key in refs:
            fields[f"{refs[key]}_id"] = ref(app, refs[key], value)
        elif key == "project_ref":
            fields["project_id"] = ref(app, "project", value)
        else:
            fields[key] = value
    return clean(fields)


@main.group()
def concern() -> None:
    """Concerns raised by residents, merchants and workers, and their casework.

    \b
    Example: fieldsync concern add --title 污水管道破裂 --place 百盛家园 --category infrastructure
    """


@concern.command("add")
@click.option("--title", required=True)
@concern_options
@pass_app
def concern_add(app: App, title: str, **values: Any) -> None:
    """Add a concern and print its id.

    \b
    Example: fieldsync concern add --title 没有物业 --place 百盛家园 --category property_management
    """
    fields = concern_fields(app, values)
    fields.setdefault("status", "new")
    fields.setdefault("raised_on", today())
    click.echo(app.store.create("concern", {"title": title, **fields}))


@concern.command("update")
@click.argument("concern_ref")
@click.option("--title", default=None)
@concern_options
@pass_app
def concern_update(app: App, concern_ref: str, **values: Any) -> None:
    """Change a concern (status, category, responsible unit, resolution, satisfaction...).

    \b
    Example: fieldsync concern update 0190f1c2-... --status referred --responsible-unit 城管局
    """
    record = app.store.find("concern", concern_ref)
    changed = app.store.update("concern", record["id"], concern_fields(app, values))
    click.echo(app.say("updated", fields=", ".join(changed)) if changed else app.say("unchanged"))


@concern.command("list")
@click.option("--place", "place_ref", default=None, help="Place (name or id).")
@click.option("--status", type=click.Choice(CONCERN_STATUSES), default=None)
@click.option("--category", type=choice("concern", "category"), default=None)
@click.option("--open", "only_open", is_flag=True, help="Only concerns still open.")
@json_option
@pass_app
def concern_list(
    app: App, place_ref: str | None, only_open: bool, as_json: bool, **kw: Any
) -> None:
    """List concerns, newest first.

    \b
    Example: fieldsync concern list --place 百盛家园 --open
    """
    place_id = ref(app, "place", place_ref)
    if only_open and place_id:
        records = app.store.open_concerns(place_id)
    else:
        records = app.store.list("concern", place=place_id, **kw)
        if only_open:
            from field_client.store import CLOSED_STATUSES

            records = [r for r in records if r["fields"].get("status") not in CLOSED_STATUSES]
    columns = ["title", "status", "category", "priority", "place_id", "responsible_unit"]
    output(app, "concern", records, columns, as_json)


@concern.command("show")
@click.argument("concern_ref")
@json_option
@pass_app
def concern_show(app: App, concern_ref: str, as_json: bool) -> None:
    """Show a concern with its follow-ups.

    \b
    Example: fieldsync concern show 0190f1c2-... --json
    """
    record = app.store.find("concern", concern_ref)
    follow_ups = app.store.list("follow_up", subject=record["id"])
    show_record(app, record, as_json, {"follow_ups": follow_ups})


# -- projects and follow-ups ---------------------------------------------------------------------


def project_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option("--description", default=None),
            click.option("--status", type=click.Choice(PROJECT_STATUSES), default=None),
            click.option("--place", "place_ref", default=None, help="Place (name or id)."),
            click.option("--started-on", default=None, help="Date, e.g. 2024-05-31."),
            click.option("--completed-on", default=None),
            click.option("--progress", type=click.IntRange(0, 100), default=None),
        ]
    ):
        func = option(func)
    return func


@main.group()
def project() -> None:
    """Livelihood projects (民生项目).

    \b
    Example: fieldsync project add --title 雨污分流改造 --place 百盛家园 --status approved
    """


@project.command("add")
@click.option("--title", required=True)
@project_options
@pass_app
def project_add(app: App, title: str, place_ref: str | None, **values: Any) -> None:
    """Add a project and print its id.

    \b
    Example: fieldsync project add --title 暑期托管班 --status proposed
    """
    fields = clean({"title": title, "place_id": ref(app, "place", place_ref), **values})
    fields.setdefault("status", "proposed")
    click.echo(app.store.create("project", fields))


@project.command("update")
@click.argument("project_ref")
@click.option("--title", default=None)
@project_options
@pass_app
def project_update(app: App, project_ref: str, place_ref: str | None, **values: Any) -> None:
    """Change a project.

    \b
    Example: fieldsync project update 雨污分流改造 --status completed --progress 100
    """
    record = app.store.find("project", project_ref)
    fields = clean({"place_id": ref(app, "place", place_ref), **values})
    changed = app.store.update("project", record["id"], fields)
    click.echo(app.say("updated", fields=", ".join(changed)) if changed else app.say("unchanged"))


@project.command("list")
@click.option("--status", type=click.Choice(PROJECT_STATUSES), default=None)
@click.option("--place", "place_ref", default=None, help="Place (name or id).")
@json_option
@pass_app
def project_list(app: App, status: str | None, place_ref: str | None, as_json: bool) -> None:
    """List projects.

    \b
    Example: fieldsync project list --status in_progress
    """
    records = app.store.list("project", status=status, place=ref(app, "place", place_ref))
    output(app, "project", records, ["title", "status", "progress", "place_id"], as_json)


@main.group("follow-up")
def follow_up() -> None:
    """Follow-ups of a concern, project or visit (notes, calls, return visits, 附议).

    \b
    Example: fieldsync follow-up add --subject 0190f1c2-... --kind return_visit --note 已回访
    """


@follow_up.command("add")
@click.option("--subject", required=True, help="Id (or title) of the concern/project/visit.")
@click.option("--kind", type=choice("follow_up", "kind"), required=True)
@click.option("--group", type=click.Choice(GROUPS), default=None)
@click.option("--note", default=None)
@click.option("--at", "happened_at", default=None, help="ISO time with offset (default: now).")
@pass_app
def follow_up_add(app: App, subject: str, kind: str, **values: Any) -> None:
    """Add a follow-up and print its id.

    \b
    Example: fieldsync follow-up add --subject 没有物业 --kind support --group resident
    """
    record = find_subject(app, subject)
    fields = clean(
        {
            "subject_type": record["type"],
            "subject_id": record["id"],
            "kind": kind,
            **values,
        }
    )
    fields.setdefault("happened_at", now_iso())
    click.echo(app.store.create("follow_up", fields))


def find_subject(app: App, subject: str) -> dict[str, Any]:
    """Find the concern, project or visit a follow-up is about (by id, then by title)."""
    record = app.store.get(None, subject)
    if record is not None and record["type"] in ("concern", "project", "visit"):
        return record
    last: ClientError | None = None
    for rtype in ("concern", "project", "visit"):
        try:
            return app.store.find(rtype, subject)
        except ClientError as exc:
            last = exc
    assert last is not None
    raise last


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
        return app.say("sync.offline", pending=report.pending)
    if report.error:
        error = ProtocolError(report.error, report.message or "")
        if report.error == "server_error":
            return app.say("server_error", detail=report.message, **app.context())
        return explain(error, app.lang, **app.context())
    lines = [app.say("sync.summary", **report.to_json())]
    if report.conflicts:
        lines.append(app.say("sync.conflicts_hint"))
    if report.rejected:
        lines.append(app.say("sync.rejected_hint"))
    return "\n".join(lines)


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
        name = self.app.say(f"stage.{stage}")
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
        ("status.server", data["server"] or app.say("none")),
        ("status.device", data["device_id"] or app.say("none")),
        ("status.user", user.get("display_name") or user.get("username") or ""),
        ("status.last_sync", data["last_sync"] or app.say("status.never")),
        ("status.pending", data["pending"]),
        ("status.conflicts", data["conflicts"]),
        ("status.rejected", data["rejected"]),
    ]
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(app.say(key), str(value))
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
        click.echo(app.say("none"))


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
        click.echo(app.say("fixed"))
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
        click.echo(app.say("none"))


def parse_assignments(assignments: tuple[str, ...]) -> dict[str, Any]:
    values = {}
    for item in assignments:
        name, sep, raw = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: use field=value")
        try:
            values[name.strip()] = json.loads(raw)
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
        raise Failure(app.say("serve.missing")) from None
    app.store.close()
    web_serve(app.config.home, host=host, port=port, open_browser=not no_browser)
