"""Export exactly the filtered concern list: CSV (UTF-8 with BOM, for Excel) and XLSX.

Rows are streamed from a server-side cursor in batches; an export larger than the cap
(``OFFICE_EXPORT_CAP``) is refused with a message asking for narrower filters.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator
from itertools import islice
from typing import Any

from flask import (
    Response,
    current_app,
    flash,
    redirect,
    send_file,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from server.office import bp, labels, queries
from server.office.views.common import parse_filter, today, workspace_id

BATCH = 500
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what spreadsheets may run as a formula
COLUMNS = (
    "id", "title", "status", "category", "priority", "place_id", "party_id", "raised_by_group",
    "raised_on", "responsible_unit", "resolved_on", "resolution", "satisfaction",
    "review_status", "created_by",
)  # fmt: skip


def header() -> list[str]:
    names = {"id": _("ID"), "created_by": _("Representative")}
    return [names.get(c) or labels.field_label(c) for c in COLUMNS]


def rows(ws: str, query: Any, cap: int) -> Iterator[list[Any]]:
    """The export's rows, labels resolved per batch (one lookup query per batch)."""
    users = queries.user_labels(ws)
    records = queries.iterate(query, cap)
    while batch := list(islice(records, BATCH)):
        ids = [r["fields"].get(name) for r in batch for name in ("place_id", "party_id")]
        refs = queries.labels(ws, ids)
        for record in batch:
            yield [_cell(record, name, refs, users) for name in COLUMNS]


def _cell(record: dict[str, Any], name: str, refs: dict[str, str], users: dict[str, str]) -> Any:
    if name == "id":
        return record["id"]
    if name == "created_by":
        return users.get(record["meta"]["created_by"] or "", "")
    value = record["fields"].get(name)
    if value is None:
        return ""
    if name.endswith("_id"):
        return refs.get(value, "")
    return labels.choice_label("concern", name, value) or str(value)


def _prepared() -> tuple[str, Any, str] | Response:
    ws = workspace_id()
    f = parse_filter("concern")
    query = queries.filtered(ws, "concern", f)
    cap = int(current_app.config["OFFICE_EXPORT_CAP"])
    total = query.count()
    if total > cap:
        flash(
            _("%(total)d concerns match: more than the export limit of %(cap)d. Narrow the "
              "filters (for example a shorter period) and export again.", total=total, cap=cap),
            "error",
        )  # fmt: skip
        return redirect(url_for("office.concern_list", **f.args()))
    return ws, query, f"concerns-{today().isoformat()}"


@bp.route("/concerns/export.csv")
def export_csv() -> Any:
    prepared = _prepared()
    if isinstance(prepared, Response):
        return prepared
    ws, query, name = prepared
    cap = int(current_app.config["OFFICE_EXPORT_CAP"])

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header())
        yield "\ufeff" + _drain(buffer)
        for row in rows(ws, query, cap):
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


def _text_cell(sheet: Any, value: Any) -> Any:
    """An XLSX cell that always holds text as text, never as a formula."""
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate(0)
    return text


@bp.route("/concerns/export.xlsx")
def export_xlsx() -> Any:
    prepared = _prepared()
    if isinstance(prepared, Response):
        return prepared
    ws, query, name = prepared
    cap = int(current_app.config["OFFICE_EXPORT_CAP"])
    book = Workbook(write_only=True)  # rows go to disk as they come, not into memory
    sheet = book.create_sheet(_("Concerns"))
    sheet.append(header())
    for row in rows(ws, query, cap):
        sheet.append([_text_cell(sheet, value) for value in row])
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    book.save(spool)
    spool.seek(0)
    return send_file(
        spool,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=f"{name}.xlsx",
    )
