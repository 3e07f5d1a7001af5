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
from server.services import ServiceError

TEXT = {
    "zh": {
        "row": "第 {row} 行{column}：{problem}",
        "duplicate_row": "第 {row} 行：{label} 与第 {of} 行重复（跳过）",
        "duplicate_record": "第 {row} 行：{label} 已有记录（跳过）",
        "mapping": "列对应：{pairs}",
        "checked": "共 {rows} 行，{bad} 行有错误，{dup} 行重复。",
        "dry_run": "试运行：没有写入任何记录。",
        "refused": "有错误，没有导入任何记录；请改好文件后再导入。",
        "imported": "已导入 {n} 条记录（批次 {batch}）；"
        "撤销：fieldsync-server import undo {batch}",
        "undone": "已撤销导入 {batch}：删除 {n} 条记录。",
        "bad_map": "--map 要写成 表头=字段，例如 小区名称=name",
        "mapping_problem": "列对应有问题：{problem} {target}",
        "unreadable": "无法读取文件：{detail}",
        "import_nothing": "每一行都是重复的，没有新记录可导入。",
        "import_refused": "服务器拒绝了部分行，没有导入任何记录。",
        "import_undone": "这次导入已经撤销。",
        "import_not_found": "找不到这次导入：{batch}",
    },
    "en": {
        "row": "row {row}{column}: {problem}",
        "duplicate_row": "row {row}: {label} repeats row {of} (skipped)",
        "duplicate_record": "row {row}: {label} is already recorded (skipped)",
        "mapping": "Columns: {pairs}",
        "checked": "{rows} rows, {bad} with errors, {dup} duplicates.",
        "dry_run": "Dry run: nothing was written.",
        "refused": "There are errors; nothing was imported. Fix the file and import again.",
        "imported": "Imported {n} records (batch {batch}); undo: fieldsync-server import undo "
        "{batch}",
        "undone": "Undid import {batch}: {n} records deleted.",
        "bad_map": "--map takes HEADER=FIELD, e.g. 小区名称=name",
        "mapping_problem": "The column mapping has a problem: {problem} {target}",
        "unreadable": "The file cannot be read: {detail}",
        "import_nothing": "Every row is a duplicate: nothing new to import.",
        "import_refused": "The server refused some rows; nothing was imported.",
        "import_undone": "This import is already undone.",
        "import_not_found": "No import {batch}.",
    },
}
PROBLEMS = {
    "zh": {
        "formula": "含公式，请粘贴为数值",
        "required": "必填",
        "bad_date": "不是日期（写成 2024-05-31 或 2024/5/31）",
        "bad_choice": "不是可选的值",
        "bad_phone": "不是电话号码",
        "phone_as_number": "是数字格式，开头的 0 可能已丢失；请把该列设为文本后重新输入",
        "too_long": "太长",
        "unknown_place": "本工作区没有这个地点（请先导入地点）",
        "too_big": "文件超过 {limit} MB",
        "empty": "文件是空的",
        "unknown_format": "只能导入 .xlsx 或 .csv 文件",
        "not_xlsx": "不是 Excel .xlsx 文件",
        "too_many_rows": "超过 {limit} 行，请拆分成几个文件",
        "bad_csv": "CSV 格式有误：{detail}",
        "bad_encoding": "CSV 既不是 UTF-8 也不是 GB18030 编码",
        "blank_header": "第 {column} 列没有表头（合并单元格？），请取消合并并为每列写表头",
        "duplicate_header": "有两列都叫“{header}”",
        "no_rows": "只有表头，没有数据",
        "unknown_target": "无法导入的字段",
        "target_twice": "两列对应了同一个字段",
        "required_unmapped": "缺少必填字段的列",
    },
    "en": {
        "formula": "holds a formula: paste the values instead",
        "required": "is required",
        "bad_date": "is not a date (use 2024-05-31 or 2024/5/31)",
        "bad_choice": "is not one of the known values",
        "bad_phone": "is not a phone number",
        "phone_as_number": "is a number and may have lost its leading 0: format the column as "
        "text and type it again",
        "too_long": "is too long",
        "unknown_place": "names a place not in this workspace (import places first)",
        "too_big": "the file is larger than {limit} MB",
        "empty": "the file is empty",
        "unknown_format": "only .xlsx and .csv files can be imported",
        "not_xlsx": "not an Excel .xlsx workbook",
        "too_many_rows": "more than {limit} rows: split the file",
        "bad_csv": "the CSV is malformed: {detail}",
        "bad_encoding": "the CSV is neither UTF-8 nor GB18030",
        "blank_header": "column {column} has no header (merged cells?): unmerge and name it",
        "duplicate_header": "two columns are called '{header}'",
        "no_rows": "a header row but no data",
        "unknown_target": "cannot be imported:",
        "target_twice": "two columns map to",
        "required_unmapped": "no column for the required field",
    },
}


def _t(key: str, lang: str, **params: Any) -> str:
    return TEXT.get(lang, TEXT["zh"])[key].format(**params)


def _problem(key: str, lang: str, **params: Any) -> str:
    template = PROBLEMS.get(lang, PROBLEMS["zh"]).get(key, key)
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template


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
        raise click.ClickException(_t("unreadable", settings.lang, detail=detail)) from None
    except OSError as error:
        detail = error.strerror or str(error)
        raise click.ClickException(_t("unreadable", settings.lang, detail=detail)) from None
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
            raise click.ClickException(_t(error.key, settings.lang)) from None
        result.update(imported=batch.rows, batch=batch.id)
    return result


def _echo_result(result: dict[str, Any], lang: str) -> None:
    pairs = "，".join(f"{h}→{t}" for h, t in result["mapping"].items())
    click.echo(_t("mapping", lang, pairs=pairs))
    for key, target in result["mapping_problems"]:
        click.echo(_t("mapping_problem", lang, problem=_problem(key, lang), target=target))
    for e in result["errors"][:200]:
        column = f"（{e['column']}）" if lang == "zh" and e["column"] else (
            f" ({e['column']})" if e["column"] else "")  # fmt: skip
        problem = _problem(e["key"], lang) + (f" “{e['value']}”" if e["value"] else "")
        click.echo(_t("row", lang, row=e["row"], column=column, problem=problem))
    for d in result["duplicates"][:200]:
        if d["of_row"]:
            click.echo(_t("duplicate_row", lang, row=d["row"], label=d["label"], of=d["of_row"]))
        else:
            click.echo(_t("duplicate_record", lang, row=d["row"], label=d["label"]))
    bad = len({e["row"] for e in result["errors"]})
    click.echo(_t("checked", lang, rows=result["rows"], bad=bad, dup=len(result["duplicates"])))


def _parse_map(values: tuple[str, ...], lang: str) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in values:
        header, sep, target = item.partition("=")
        if not sep or not header.strip():
            raise click.ClickException(_t("bad_map", lang))
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
            raise click.ClickException(_t("refused", settings.lang))
        if dry_run:
            click.echo(_t("dry_run", settings.lang)) if not as_json else None
        elif not as_json:
            click.echo(_t("imported", settings.lang, n=result["imported"], batch=result["batch"]))

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
    from server.models import ImportBatch

    with opened(settings):
        found = ImportBatch.get_or_none(ImportBatch.id == batch_id[:36])
        workspace_id = found.workspace_id if found is not None else ""
        try:
            batch = imports.undo_import(workspace_id, None, batch_id[:36],
                                        now_ms=int(time.time() * 1000))  # fmt: skip
        except ServiceError as error:
            message = _t(error.key, settings.lang, batch=batch_id[:36])
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
        click.echo(_t("undone", settings.lang, batch=result["batch"], n=result["deleted"]))
