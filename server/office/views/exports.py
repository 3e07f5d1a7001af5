"""Export exactly the filtered list of any record type: CSV (UTF-8 with BOM, for Excel) and XLSX.

Rows are streamed from a server-side cursor in batches; an export larger than the cap
(``OFFICE_EXPORT_CAP``) is refused with a message asking for narrower filters. The XLSX has a
frozen header row and column widths measured on the first rows (a Chinese character counts
twice). Phone numbers are masked unless an administrator asks for them in full (``reveal=1``);
such an export is written to every exported person's history.
"""

from __future__ import annotations

import csv
import io
import tempfile
import unicodedata
from collections.abc import Iterator
from itertools import chain, islice
from typing import Any

from flask import (
    Response,
    current_app,
    flash,
    redirect,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from server.office import bp, labels, queries
from server.office.security import now_ms
from server.office.templating import mask_phone
from server.office.views.common import parse_filter, today, workspace_id
from server.store.records import log_reveal

BATCH = 500
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what spreadsheets may run as a formula
COLUMNS = {
    "concern": (
        "id", "title", "status", "category", "priority", "place_id", "party_id",
        "raised_by_group", "raised_on", "responsible_unit", "owner_id", "due_on", "supervision",
        "voices", "resolved_on", "resolution", "satisfaction", "review_status", "created_by",
    ),
    "visit": (
        "id", "started_at", "kind", "title", "place_id", "attendee_count", "summary",
        "review_status", "created_by",
    ),
    "place": ("id", "name", "kind", "parent_id", "address", "notes"),
    "party": ("id", "name", "kind", "organisation", "phone", "place_id", "notes"),
    "project": (
        "id", "title", "status", "place_id", "started_on", "completed_on", "progress",
    ),
}  # fmt: skip
PATHS = {"concern": "concerns", "visit": "visits", "place": "places", "party": "people",
         "project": "projects"}  # fmt: skip
TYPE_OF = {path: record_type for record_type, path in PATHS.items()}
LIST_VIEW = {"concern": "office.concern_list"}
USER_COLUMNS = {"created_by", "owner_id"}
MIN_WIDTH, MAX_WIDTH = 6, 60


def header(record_type: str) -> list[str]:
    names = {"id": _("ID"), "created_by": _("Representative"), "voices": _("Voices")}
    return [names.get(c) or labels.field_label(c) for c in COLUMNS[record_type]]


def reveals_phones() -> bool:
    """Whether this export shows phones in full: asked for, and the exporter may (admin)."""
    return request.args.get("reveal") == "1" and bool(getattr(current_user, "is_admin", False))


def rows(
    ws: str, record_type: str, f: queries.RecordFilter, cap: int, reveal: bool
) -> Iterator[list[Any]]:
    """The export's rows, labels resolved per batch (a few lookup queries per batch)."""
    users = queries.user_labels(ws)
    columns = COLUMNS[record_type]
    refs_of = [c for c in columns if c.endswith("_id") and c not in USER_COLUMNS and c != "id"]
    records = queries.iterate(ws, record_type, f, cap)
    while batch := list(islice(records, BATCH)):
        refs = queries.labels(ws, [r["fields"].get(n) for r in batch for n in refs_of])
        voices = queries.voice_counts(ws, [r["id"] for r in batch]) if "voices" in columns else {}
        if reveal and record_type == "party":
            for record in batch:
                log_reveal(ws, current_user.id, record, "phone", now_ms())
        for record in batch:
            yield [_cell(record, c, refs, users, voices, reveal) for c in columns]


def _cell(
    record: dict[str, Any],
    name: str,
    refs: dict[str, str],
    users: dict[str, str],
    voices: dict[str, int],
    reveal: bool,
) -> Any:
    if name == "id":
        return record["id"]
    if name == "created_by":
        return users.get(record["meta"]["created_by"] or "", "")
    if name == "voices":
        return voices.get(record["id"], 0)
    value = record["fields"].get(name)
    if value is None:
        return ""
    if name == "owner_id":
        return users.get(value, "")
    if name == "phone":
        return value if reveal else mask_phone(value)
    if name.endswith("_id"):
        return refs.get(value, "")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return labels.choice_label(record["type"], name, value) or str(value)


def _prepared(path: str) -> tuple[str, str, queries.RecordFilter, str] | BaseResponse:
    record_type = TYPE_OF[path]
    ws = workspace_id()
    f = parse_filter(record_type)
    cap = int(current_app.config["OFFICE_EXPORT_CAP"])
    total = queries.count(ws, record_type, f)
    if total > cap:
        flash(
            _("%(total)d records match: more than the export limit of %(cap)d. Narrow the "
              "filters (for example a shorter period) and export again.", total=total, cap=cap),
            "error",
        )  # fmt: skip
        view = LIST_VIEW.get(record_type)
        args: dict[str, Any] = f.args()
        if view:
            return redirect(url_for(view, **args))
        return redirect(url_for("office.record_list", path=path, **args))
    return ws, record_type, f, f"{path}-{today().isoformat()}"


def _csv(path: str) -> Any:
    prepared = _prepared(path)
    if isinstance(prepared, BaseResponse):
        return prepared
    ws, record_type, f, name = prepared
    cap = int(current_app.config["OFFICE_EXPORT_CAP"])
    reveal = reveals_phones()

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header(record_type))
        yield "\ufeff" + _drain(buffer)
        for row in rows(ws, record_type, f, cap, reveal):
            writer.writerow([_inert(value) for value in row])
            if buffer.tell() > 64_000:
                yield _drain(buffer)
        yield _drain(buffer)

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}.csv"',
            "Content-Type": "text/csv; charset=utf-8",
        },
    )


def _inert(value: Any) -> Any:
    """Text that a spreadsheet would read as a formula gets a leading apostrophe (CSV)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _text_cell(cell_type: Any, sheet: Any, value: Any) -> Any:
    """An XLSX cell (of openpyxl's ``WriteOnlyCell``, loaded with the workbook, see ``_xlsx``)
    that always holds text as text, never as a formula."""
    cell = cell_type(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate(0)
    return text


def display_width(value: Any) -> int:
    """How many character cells a value needs (wide, e.g. Chinese, characters count twice)."""
    text = "" if value is None else str(value)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def column_widths(head: list[str], sample: list[list[Any]]) -> list[float]:
    """Column widths that fit the header and the sampled rows, within sensible bounds."""
    widths = []
    for i, title in enumerate(head):
        longest = max([display_width(title), *(display_width(r[i]) for r in sample)])
        widths.append(float(min(MAX_WIDTH, max(MIN_WIDTH, longest + 2))))
    return widths


def _xlsx(path: str) -> Any:
    prepared = _prepared(path)
    if isinstance(prepared, BaseResponse):
        return prepared
    ws, record_type, f, name = prepared
    # openpyxl costs about 5 MiB per worker; only an XLSX export needs it, so it loads here
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter

    cap = int(current_app.config["OFFICE_EXPORT_CAP"])
    book = Workbook(write_only=True)  # rows go to disk as they come, not into memory
    sheet = book.create_sheet(labels.type_label(record_type, many=True))
    head = header(record_type)
    stream = rows(ws, record_type, f, cap, reveals_phones())
    first = list(islice(stream, BATCH))
    for i, width in enumerate(column_widths(head, first), start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.freeze_panes = "A2"
    sheet.append(head)
    for row in chain(first, stream):  # streamed: the rows are never all in memory
        sheet.append([_text_cell(WriteOnlyCell, sheet, value) for value in row])
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    book.save(spool)
    spool.seek(0)
    return send_file(
        spool,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=f"{name}.xlsx",
    )


@bp.route("/concerns/export.csv")
def export_csv() -> Any:
    return _csv("concerns")


@bp.route("/concerns/export.xlsx")
def export_xlsx() -> Any:
    return _xlsx("concerns")


@bp.route("/<any(visits, places, people, projects):path>/export.csv")
def record_export_csv(path: str) -> Any:
    return _csv(path)


@bp.route("/<any(visits, places, people, projects):path>/export.xlsx")
def record_export_xlsx(path: str) -> Any:
    return _xlsx(path)
