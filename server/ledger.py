"""Excel ledgers in (台账导入): read an XLSX or CSV, map its columns, check every row.

Reading uses openpyxl (XLSX) and the csv module (CSV as UTF-8 with or without BOM, else
GB18030, which Excel on Chinese Windows writes); nothing here parses either format by hand.
A file that cannot be read raises ``LedgerError`` with a ``key`` for people; problems of single
rows are values (``RowError``), each with its spreadsheet row number. No Flask, no database.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sync import vocabulary
from sync.records import RECORD_TYPES, Choice, Date, Text
from sync.translations import N_

MAX_ROWS = 20_000
MAX_BYTES = 20 * 1024 * 1024
KINDS = {"places": "place", "parties": "party", "concerns": "concern"}

# What each kind of ledger can fill: target -> the record field (``place`` is looked up by name).
TARGETS: dict[str, tuple[str, ...]] = {
    "place": ("name", "kind", "address", "notes", "parent"),
    "party": ("name", "kind", "phone", "organisation", "place", "notes"),
    "concern": (
        "title", "description", "category", "status", "priority", "raised_on", "resolved_on",
        "responsible_unit", "resolution", "satisfaction", "place",
    ),
}  # fmt: skip
REQUIRED = {"place": ("name",), "party": ("name",), "concern": ("title",)}
DEFAULT_KIND = {"place": "compound", "party": "resident"}
# Header words office ledgers use (English first), for the first guess of the mapping (people
# can change it). They name columns, not values: the vocabulary names values.
HEADER_WORDS: dict[str, tuple[str, ...]] = {
    "name": ("name", "名称", "姓名", "小区", "小区名称", "地点", "名字"),
    "kind": ("kind", "type", "类型", "类别", "身份"),
    "address": ("address", "地址", "住址"),
    "notes": ("notes", "note", "备注", "说明"),
    "parent": ("parent", "所属", "上级", "所在社区"),
    "phone": ("phone", "mobile", "电话", "手机", "联系电话", "手机号"),
    "organisation": ("organisation", "organization", "单位", "工作单位", "商户", "店名"),
    "place": ("place", "所在小区", "所在地点", "小区名称", "居住小区"),
    "title": ("title", "标题", "诉求", "问题", "诉求标题"),
    "description": ("description", "内容", "诉求内容", "描述", "详情"),
    "category": ("category", "分类", "诉求类别"),
    "status": ("status", "状态", "办理状态"),
    "priority": ("priority", "紧急程度", "优先级"),
    "raised_on": ("raised_on", "date", "提出日期", "反映日期", "日期", "收集日期"),
    "resolved_on": ("resolved_on", "办结日期", "解决日期"),
    "responsible_unit": ("responsible_unit", "承办单位", "责任单位"),
    "resolution": ("resolution", "办理结果", "处理结果"),
    "satisfaction": ("satisfaction", "满意度", "回访满意度"),
}
_DATE_TEXT = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_MOBILE = re.compile(r"^1\d{10}$")


# The sentence of each problem key, translated where it is shown (``server.i18n``).
PROBLEMS = {
    # the file
    "too_big": N_("The file is larger than %(limit)d MB."),
    "empty": N_("The file is empty: no header row and no data."),
    "unknown_format": N_("Upload an Excel workbook (.xlsx) or a CSV file."),
    "not_xlsx": N_("This is not an Excel .xlsx workbook (save it as .xlsx or CSV and try again)."),
    "too_many_rows": N_("More than %(limit)d rows: split the ledger into smaller files."),
    "bad_csv": N_("The CSV file cannot be read: %(detail)s"),
    "bad_encoding": N_("The CSV file is neither UTF-8 nor GB18030 text."),
    "blank_header": N_(
        "Column %(column)s has no header (merged header cells?): unmerge them "
        "and give every column a name in the first row."
    ),  # fmt: skip
    "duplicate_header": N_("Two columns are called “%(header)s”: rename one."),
    "no_rows": N_("The sheet has a header row but no data rows."),
    # a cell (after the column's name)
    "formula": N_("holds a formula: paste the values instead (Paste special → Values)"),
    "required": N_("is required"),
    "bad_date": N_("is not a date (use 2024-05-31, 2024/5/31 or a date cell)"),
    "bad_choice": N_("is not one of the known values"),
    "bad_phone": N_("is not a phone number"),
    "phone_as_number": N_(
        "is a number and may have lost its leading 0: format the column as text and type it again"
    ),  # fmt: skip
    "too_long": N_("is too long"),
    "unknown_place": N_("names a place that is not in this workspace (import places first)"),
    # the mapping of columns to fields
    "unknown_target": N_("“%(target)s” cannot be filled from a ledger of this kind."),
    "target_twice": N_("Two columns are mapped to “%(target)s”."),
    "required_unmapped": N_("Map a column to “%(target)s”: it is required."),
}


class LedgerError(Exception):
    """A file that cannot be imported at all; ``key`` names the message, ``params`` fill it."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass
class Table:
    """A sheet as read: header texts and rows of cell values, with spreadsheet row numbers."""

    headers: list[str]
    rows: list[tuple[int, list[Any]]]
    formulas: dict[int, list[str]] = field(default_factory=dict)  # row -> cells with a formula


@dataclass
class RowError:
    row: int  # the spreadsheet's row number (the header is row 1)
    column: str  # the header of the column, or "" for the whole row
    key: str  # the message's key
    value: str = ""


# -- reading files ------------------------------------------------------------------------------


def read_table(data: bytes, filename: str) -> Table:
    """Read the first sheet of an XLSX, or a CSV, into a Table (raises ``LedgerError``)."""
    if len(data) > MAX_BYTES:
        raise LedgerError("too_big", limit=MAX_BYTES // (1024 * 1024))
    if not data.strip():
        raise LedgerError("empty")
    name = filename.lower()
    if name.endswith(".csv"):
        table = _read_csv(data)
    elif name.endswith((".xlsx", ".xlsm")):
        table = _read_xlsx(data)
    else:
        raise LedgerError("unknown_format")
    _check_headers(table)
    return table


def _read_xlsx(data: bytes) -> Table:
    # openpyxl costs about 5 MiB per worker; only a ledger import needs it, so it loads here
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise LedgerError("not_xlsx") from exc
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            raise LedgerError("empty")
        return _sheet_table(sheet.iter_rows(values_only=True))
    finally:
        book.close()


def _sheet_table(cells: Iterator[tuple[Any, ...]]) -> Table:
    """Rows of cell values (read with formulas as written: a formula is text starting "=")."""
    headers: list[str] | None = None
    rows: list[tuple[int, list[Any]]] = []
    formulas: dict[int, list[str]] = {}
    for number, row in enumerate(cells, start=1):
        values = list(row)
        if headers is None:
            if all(_blank(v) for v in values):
                continue  # blank lines above the header
            headers = [_text(v) for v in values]
            continue
        if all(_blank(v) for v in values):
            continue
        if len(rows) >= MAX_ROWS:
            raise LedgerError("too_many_rows", limit=MAX_ROWS)
        found = [
            headers[i] if i < len(headers) else str(i + 1)
            for i, v in enumerate(values)
            if isinstance(v, str) and v.startswith("=")
        ]
        if found:
            formulas[number] = found
        rows.append((number, values))
    if headers is None:
        raise LedgerError("empty")
    return Table(headers, rows, formulas)


def _read_csv(data: bytes) -> Table:
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""))
    headers: list[str] | None = None
    rows: list[tuple[int, list[Any]]] = []
    try:
        for number, values in enumerate(reader, start=1):
            if headers is None:
                if all(_blank(v) for v in values):
                    continue
                headers = [_text(v) for v in values]
                continue
            if all(_blank(v) for v in values):
                continue
            if len(rows) >= MAX_ROWS:
                raise LedgerError("too_many_rows", limit=MAX_ROWS)
            rows.append((number, list(values)))
    except csv.Error as exc:
        raise LedgerError("bad_csv", detail=str(exc)[:100]) from exc
    if headers is None:
        raise LedgerError("empty")
    return Table(headers, rows)


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030; anything else is refused."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise LedgerError("bad_encoding")


def _check_headers(table: Table) -> None:
    last = max((i for i, h in enumerate(table.headers) if h), default=-1)
    if last < 0:
        raise LedgerError("empty")
    for i, header in enumerate(table.headers[: last + 1]):
        if not header:
            raise LedgerError("blank_header", column=_column_letter(i))
    seen: set[str] = set()
    for header in table.headers[: last + 1]:
        if header in seen:
            raise LedgerError("duplicate_header", header=header)
        seen.add(header)
    del table.headers[last + 1 :]
    if not table.rows:
        raise LedgerError("no_rows")


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


# -- mapping ------------------------------------------------------------------------------------


def guess_mapping(record_type: str, headers: list[str]) -> dict[str, str]:
    """A first mapping header -> target from the usual header words ("" leaves a column out)."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        word = header.strip().lower()
        target = next(
            (
                t
                for t in TARGETS[record_type]
                if t not in taken and word in HEADER_WORDS.get(t, ())
            ),
            "",
        )
        mapping[header] = target
        if target:
            taken.add(target)
    return mapping


def mapping_errors(record_type: str, mapping: Mapping[str, str]) -> list[tuple[str, str]]:
    """Problems of a mapping as (key, target): unknown targets, twice used, required missing."""
    problems: list[tuple[str, str]] = []
    used = [t for t in mapping.values() if t]
    for target in used:
        if target not in TARGETS[record_type]:
            problems.append(("unknown_target", target))
    for target in sorted({t for t in used if used.count(t) > 1}):
        problems.append(("target_twice", target))
    for target in REQUIRED[record_type]:
        if target not in used:
            problems.append(("required_unmapped", target))
    return problems


def choice_words(record_type: str) -> dict[str, dict[str, str]]:
    """Name (Chinese and English, any case) -> value of each choice field, from the vocabulary."""
    words: dict[str, dict[str, str]] = {}
    for name, rule in RECORD_TYPES[record_type].rules.items():
        if not isinstance(rule, Choice):
            continue
        table: dict[str, str] = {}
        for lang in vocabulary.LANGS:
            for value in rule.values:
                label = vocabulary.choice_label(lang, record_type, name, value)
                table.setdefault(label, value)
                table.setdefault(label.lower(), value)
        words[name] = table
    return words


# -- rows into field values ---------------------------------------------------------------------


@dataclass
class Row:
    number: int
    values: dict[str, Any]  # record field -> value (place names not looked up yet)
    place_name: str = ""


def convert_rows(
    record_type: str,
    table: Table,
    mapping: Mapping[str, str],
    choice_words: Mapping[str, Mapping[str, str]],
) -> tuple[list[Row], list[RowError]]:
    """Turn mapped rows into record fields, with every row's problems (row numbers kept)."""
    index = {target: table.headers.index(h) for h, target in mapping.items()
             if target and h in table.headers}  # fmt: skip
    rows: list[Row] = []
    errors: list[RowError] = []
    by_target = {t: h for h, t in mapping.items() if t}
    for number, cells in table.rows:
        for header in table.formulas.get(number, ()):
            errors.append(RowError(number, header, "formula"))
        row = Row(number, {})
        for target, i in index.items():
            raw = cells[i] if i < len(cells) else None
            if _blank(raw):
                continue
            problem = _convert(record_type, target, raw, row, choice_words)
            if problem is not None:
                errors.append(RowError(number, by_target[target], problem, _text(raw)[:60]))
        for target in REQUIRED[record_type]:
            if target not in row.values:
                errors.append(RowError(number, by_target.get(target, target), "required"))
        if record_type in DEFAULT_KIND:
            row.values.setdefault("kind", DEFAULT_KIND[record_type])
        rows.append(row)
    return rows, errors


def _convert(
    record_type: str,
    target: str,
    raw: Any,
    row: Row,
    choice_words: Mapping[str, Mapping[str, str]],
) -> str | None:
    """Store one cell's value on the row; return an error key, or None."""
    if target in ("place", "parent"):
        row.place_name = _text(raw)[:200]
        return None
    rule = RECORD_TYPES[record_type].rules[target]
    if target == "phone":
        value, problem = phone_text(raw)
    elif isinstance(rule, Date):
        value, problem = date_text(raw)
    elif isinstance(rule, Choice):
        value, problem = choice_value(raw, rule, choice_words.get(target, {}))
    else:
        value, problem = _text(raw), None
        if isinstance(rule, Text) and len(value) > rule.max:
            problem = "too_long"
    if problem is None:
        row.values[target] = value
    return problem


def phone_text(raw: Any) -> tuple[str | None, str | None]:
    """A phone cell as text; a number that may have lost its leading 0 is an error."""
    if isinstance(raw, bool):
        return None, "bad_phone"
    if isinstance(raw, int | float):
        if isinstance(raw, float) and not raw.is_integer():
            return None, "bad_phone"
        digits = str(int(raw))
        if _MOBILE.match(digits):
            return digits, None  # a mobile number has no leading 0 to lose
        return None, "phone_as_number"
    text = _text(raw)
    if not re.fullmatch(r"[0-9+\-() 转]{3,40}", text):
        return None, "bad_phone"
    return text, None


def date_text(raw: Any) -> tuple[str | None, str | None]:
    """A date cell (a date, an Excel serial number, or text like 2024/5/31) as 2024-05-31."""
    if isinstance(raw, dt.datetime):
        return raw.date().isoformat(), None
    if isinstance(raw, dt.date):
        return raw.isoformat(), None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        if 20_000 <= raw <= 80_000:  # Excel serials of 1954..2119
            from openpyxl.utils.datetime import from_excel  # loaded on use, see _read_xlsx

            moment = from_excel(raw)
            if isinstance(moment, dt.datetime):
                return moment.date().isoformat(), None
        return None, "bad_date"
    match = _DATE_TEXT.match(_text(raw))
    if not match:
        return None, "bad_date"
    try:
        day = dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None, "bad_date"
    return day.isoformat(), None


def choice_value(
    raw: Any, rule: Choice, words: Mapping[str, str]
) -> tuple[str | None, str | None]:
    """A choice cell given by its code or its label in either language."""
    text = _text(raw)
    if text in rule.values:
        return text, None
    value = words.get(text) or words.get(text.lower())
    if value in rule.values:
        return value, None
    return None, "bad_choice"
