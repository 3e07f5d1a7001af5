"""The ``fieldsync`` group and what every command shares: the App (settings, store,
messages), one-line errors, tables that line up Chinese text, JSON output, ``init``."""

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
from field_client.errors import ClientError, Refused, ValidationError
from field_client.i18n import texts
from field_client.messages import explain, field_name, label_of, section_name, type_name
from field_client.store import LocalStore, label
from field_client.transport import HttpTransport
from sync import ErrorCode
from sync.records import (
    RECORD_TYPES,
    ListChoice,
)

__all__ = ["App", "Failure", "enroll", "main"]

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
        self._lists: dict[str, Any] | None = None

    @property
    def lang(self) -> str:
        return self.config.lang

    @property
    def store(self) -> LocalStore:
        if self._store is None:
            self._store = LocalStore(self.config.home)
        return self._store

    def label(self, rtype: str, name: str, value: Any) -> str:
        """Name a choice value; lists (categories) as this device last pulled them."""
        if self._lists is None:
            self._lists = {r["id"]: r["fields"] for r in self.store.list("choice")}
        return label_of(rtype, name, value, self.lang, self._lists)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def gettext(self, message: str, /, **params: Any) -> str:
        """A sentence in the command's language."""
        return texts(self.lang).gettext(message, **params)

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
        except click.exceptions.NoArgsIsHelpError as exc:  # a bare group: its help
            click.echo(exc.format_message())
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            lang = configmod.load(lang=_lang_from_args(argv)).lang
            click.echo(
                texts(lang).gettext("Bad option value: %(detail)s", detail=exc.format_message()),
                err=True,
            )
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
            cells.append(app.label(rtype, name, value) if name in ENUM_FIELDS else _text(value))
        cells.append("*" if record["pending"] else "")
        table.add_row(*cells)
    console().print(table)
    if not records:
        click.echo(app.gettext("(none)"))


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
        enum = name in ENUM_FIELDS
        shown = app.label(record["type"], name, value) if enum else _text(value)
        if name in record["pending"]:
            shown += " *"
        table.add_row(field_name(name, app.lang), shown)
    if record["deleted"]:
        table.add_row("", app.gettext("deleted"))
    console().print(table)
    for key, items in extra.items():
        if items:
            click.echo(f"\n{section_name(key, app.lang)}:")
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


def choice(rtype: str, name: str) -> click.ParamType:
    """Return a click choice of the values the protocol allows for a field (a workspace list:
    any key; the device's store and the server check it)."""
    if isinstance(RECORD_TYPES[rtype].rules[name], ListChoice):
        return click.STRING
    return click.Choice(CHOICES[(rtype, name)])


def output(
    app: App, rtype: str, records: list[dict[str, Any]], columns: list[str], as_json: bool
) -> None:
    if as_json:
        print_json(records)
    else:
        print_table(app, rtype, records, columns)


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
    """Fieldsync 现场设备 / field device: record visits and concerns offline, sync when online.

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
        raise Failure(app.gettext("Invalid server address: %(server)s", server=server))
    store = app.store  # enrolled before (revoked, lost): pending edits go under the new identity
    transport = HttpTransport(server, timeout=app.config.timeout, retries=0)
    try:
        answer = transport.enroll(code.strip(), name[:100])
    except Refused as exc:
        if exc.code == ErrorCode.UNSUPPORTED_PROTOCOL:
            raise
        raise Failure(
            app.gettext(
                "The enrollment code is invalid, used or expired: %(detail)s", detail=exc.detail
            )
        ) from None
    except ClientError as exc:
        raise Failure(explain(exc, app.lang, server=server)) from None
    try:
        store.save_enrollment(server, answer, name)
    except ValidationError as exc:
        raise Failure(
            app.gettext(
                "This code is for another workspace; this device's records do not move "
                "there. Ask the original workspace for a code, or use another --home."
            )
        ) from exc
    user = answer.get("user") or {}
    workspace = answer.get("workspace") or {}
    return app.gettext(
        "Enrolled: device %(device_id)s, user %(user)s, workspace %(workspace)s.",
        device_id=answer["device_id"],
        user=user.get("display_name") or user.get("username", ""),
        workspace=workspace.get("name", ""),
    )
