"""``fieldsync-server import places|parties|concerns FILE`` and ``import undo BATCH``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from server.cli.base import (
    Settings,
    current_settings,
    json_option,
    one_line_errors,
    opened,
    print_json,
)
from server.cli.report import pick_workspace
from server.i18n import N_, texts
from server.services import ServiceError

# The sentence of each refusal of an import (``ServiceError.key``).
REFUSALS = {
    "import_has_errors": N_(
        "There are errors; nothing was imported. Fix the file and import again."
    ),
    "import_nothing": N_("Every row is a duplicate: nothing new to import."),
    "import_refused": N_("The server refused some rows; nothing was imported."),
    "import_undone": N_("This import is already undone."),
    "import_not_found": N_("No import %(batch)s."),
}


def _problem(key: str, lang: str, **params: Any) -> str:
    from server import ledger

    return texts(lang).gettext(ledger.PROBLEMS.get(key, key), **params)


def _refusal(error: ServiceError, lang: str, **params: Any) -> str:
    return texts(lang).gettext(REFUSALS.get(error.key, error.detail), **params)


def import_file(
    settings: Settings,
    kind: str,
    path: Path,
    workspace: str | None,
    *,
    mapping: dict[str, str] | None = None,
    dry_run: bool = False,
    keep_duplicates: bool = False,
) -> dict[str, Any]:
    """Check a ledger file and (unless dry_run, and only with no errors) import it."""
    from server import imports, ledger

    record_type = ledger.KINDS[kind]
    try:
        table = ledger.read_table(path.read_bytes(), path.name)
    except ledger.LedgerError as error:
        detail = _problem(error.key, settings.lang, **error.params)
        raise click.ClickException(
            texts(settings.lang).gettext("The file cannot be read: %(detail)s", detail=detail)
        ) from None
    except OSError as error:
        detail = error.strerror or str(error)
        raise click.ClickException(
            texts(settings.lang).gettext("The file cannot be read: %(detail)s", detail=detail)
        ) from None
    with opened(settings) as app, app.test_request_context():
        ws_id, ws_name = pick_workspace(workspace, settings.lang)
        used = ledger.guess_mapping(record_type, table.headers)
        used.update(mapping or {})
        checked = imports.preview(
            ws_id, record_type, table, used, ledger.choice_words(record_type)
        )
        result: dict[str, Any] = {
            "workspace": ws_name,
            "rows": len(table.rows),
            "mapping": {h: t for h, t in checked.mapping.items() if t},
            "mapping_problems": [list(p) for p in checked.mapping_problems],
            "errors": [vars(e) for e in checked.errors],
            "duplicates": [vars(d) for d in checked.duplicates],
            "imported": 0,
            "batch": None,
        }
        if dry_run or not checked.ok:
            return result
        now_ms = int(time.time() * 1000)
        try:
            batch = imports.run_import(ws_id, None, checked, filename=path.name,
                                       keep_duplicates=keep_duplicates, now_ms=now_ms)  # fmt: skip
        except ServiceError as error:
            _echo_result(result, settings.lang)
            raise click.ClickException(_refusal(error, settings.lang)) from None
        result.update(imported=batch.rows, batch=batch.id)
    return result


def _echo_result(result: dict[str, Any], lang: str) -> None:
    pairs = "，".join(f"{h}→{t}" for h, t in result["mapping"].items())
    click.echo(texts(lang).gettext("Columns: %(pairs)s", pairs=pairs))
    for key, target in result["mapping_problems"]:
        click.echo(_problem(key, lang, target=target))
    for e in result["errors"][:200]:
        column = f"（{e['column']}）" if lang == "zh" and e["column"] else (
            f" ({e['column']})" if e["column"] else "")  # fmt: skip
        problem = _problem(e["key"], lang) + (f" “{e['value']}”" if e["value"] else "")
        click.echo(
            texts(lang).gettext(
                "row %(row)s%(column)s: %(problem)s", row=e["row"], column=column, problem=problem
            )
        )
    for d in result["duplicates"][:200]:
        if d["of_row"]:
            click.echo(
                texts(lang).gettext(
                    "row %(row)s: %(label)s repeats row %(of)s (skipped)",
                    row=d["row"],
                    label=d["label"],
                    of=d["of_row"],
                )
            )
        else:
            click.echo(
                texts(lang).gettext(
                    "row %(row)s: %(label)s is already recorded (skipped)",
                    row=d["row"],
                    label=d["label"],
                )
            )
    bad = len({e["row"] for e in result["errors"]})
    click.echo(
        texts(lang).gettext(
            "%(rows)s rows, %(bad)s with errors, %(dup)s duplicates.",
            rows=result["rows"],
            bad=bad,
            dup=len(result["duplicates"]),
        )
    )


def _parse_map(values: tuple[str, ...], lang: str) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in values:
        header, sep, target = item.partition("=")
        if not sep or not header.strip():
            raise click.ClickException(
                texts(lang).gettext("--map takes HEADER=FIELD, e.g. 小区名称=name")
            )
        mapping[header.strip()] = target.strip()
    return mapping


@click.group("import")
def import_group() -> None:
    """Import ledgers (台账) from Excel or CSV: places, parties, past concerns; undo an import.

    Example:

        fieldsync-server import places 小区台账.xlsx --workspace 庄泉社区 --dry-run
    """


def _kind_command(kind: str, help_text: str) -> click.Command:
    @import_group.command(kind, help=help_text)
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--workspace", help="Workspace name or id (default: the only one).")
    @click.option("--dry-run", is_flag=True, help="Check and show problems; write nothing.")
    @click.option("--map", "maps", multiple=True, metavar="HEADER=FIELD",
                  help="Map a column by hand (repeatable), e.g. 小区名称=name.")  # fmt: skip
    @click.option("--keep-duplicates", is_flag=True, help="Import duplicate rows too.")
    @json_option
    @one_line_errors
    def command(
        file: Path, workspace: str | None, dry_run: bool, maps: tuple[str, ...],
        keep_duplicates: bool, as_json: bool,
    ) -> None:  # fmt: skip
        settings = current_settings()
        result = import_file(
            settings, kind, file, workspace, mapping=_parse_map(maps, settings.lang),
            dry_run=dry_run, keep_duplicates=keep_duplicates,
        )  # fmt: skip
        if as_json:
            print_json(result)
        else:
            _echo_result(result, settings.lang)
        failed = result["errors"] or result["mapping_problems"]
        if failed:
            raise click.ClickException(
                texts(settings.lang).gettext(
                    "There are errors; nothing was imported. Fix the file and import again."
                )
            )
        if dry_run:
            click.echo(
                texts(settings.lang).gettext("Dry run: nothing was written.")
            ) if not as_json else None
        elif not as_json:
            click.echo(
                texts(settings.lang).gettext(
                    "Imported %(n)s records (batch %(batch)s); undo: fieldsync-server import "
                    "undo %(batch)s",
                    n=result["imported"],
                    batch=result["batch"],
                )
            )

    return command


for _kind, _help in (
    ("places", "Import places (compounds, buildings, shops) from an .xlsx or .csv ledger.\n\n"
               "Example:\n\n    fieldsync-server import places 小区.xlsx --workspace 庄泉社区"),
    ("parties", "Import people (residents, merchants, workers) from an .xlsx or .csv ledger.\n\n"
                "Example:\n\n    fieldsync-server import parties 居民台账.csv --dry-run"),
    ("concerns", "Import past concerns from an .xlsx or .csv ledger.\n\n"
                 "Example:\n\n    fieldsync-server import concerns 诉求台账.xlsx --dry-run"),
):  # fmt: skip
    _kind_command(_kind, _help)


def undo(settings: Settings, batch_id: str) -> dict[str, Any]:
    """Delete everything one import created."""
    from server import imports
    from server.store.imports import import_batch

    with opened(settings):
        found = import_batch(None, batch_id[:36])
        workspace_id = found.workspace_id if found is not None else ""
        try:
            batch = imports.undo_import(workspace_id, None, batch_id[:36],
                                        now_ms=int(time.time() * 1000))  # fmt: skip
        except ServiceError as error:
            message = _refusal(error, settings.lang, batch=batch_id[:36])
            raise click.ClickException(message) from None
    return {"batch": batch.id, "deleted": batch.rows}


@import_group.command("undo")
@click.argument("batch_id")
@json_option
@one_line_errors
def undo_command(batch_id: str, as_json: bool) -> None:
    """Undo one import: delete every record it created, in one step.

    Example:

        fieldsync-server import undo 3f2b9c1e-0d4a-4e8b-9a51-2c7d6e5f4a3b
    """
    settings = current_settings()
    result = undo(settings, batch_id)
    if as_json:
        print_json(result)
    else:
        click.echo(
            texts(settings.lang).gettext(
                "Undid import %(batch)s: %(n)s records deleted.",
                batch=result["batch"],
                n=result["deleted"],
            )
        )
