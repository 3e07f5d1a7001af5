"""台账导入: upload a ledger, map its columns, preview per-row errors and duplicates, import, undo.

The uploaded file waits in the instance folder (per workspace, under a random token) between the
mapping step and the import, and is removed once imported.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from server import imports, ledger
from server.office import bp, labels
from server.office.security import now_ms
from server.office.views.common import workspace_id
from server.services import ServiceError

_TOKEN = re.compile(r"^[0-9a-f]{32}\.(csv|xlsx|xlsm)$")


def folder() -> Path:
    path = Path(current_app.instance_path) / "imports" / workspace_id()
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_problem(error: ledger.LedgerError) -> str:
    return _(ledger.PROBLEMS.get(error.key, error.key), **error.params)


def row_problem(error: ledger.RowError) -> str:
    return _(ledger.PROBLEMS.get(error.key, error.key))


def mapping_problem(key: str, target: str) -> str:
    return _(ledger.PROBLEMS.get(key, key), target=target_label(target))


def target_label(target: str) -> str:
    if target in ("place", "parent"):
        return labels.field_label("parent_id" if target == "parent" else "place_id")
    return labels.field_label(target)


def record_type_or_404() -> str:
    record_type = ledger.KINDS.get(request.values.get("kind", ""))
    if record_type is None:
        abort(404)
    return record_type


@bp.route("/import")
def import_start() -> Any:
    return render_template(
        "office/import.html", batches=imports.recent_imports(workspace_id()), kinds=ledger.KINDS
    )


@bp.route("/import", methods=["POST"])
def import_upload() -> Any:
    """Keep the uploaded file and show the mapping step."""
    record_type = record_type_or_404()
    upload = request.files.get("file")
    name = (upload.filename or "") if upload else ""
    data = upload.read(ledger.MAX_BYTES + 1) if upload else b""
    try:
        table = ledger.read_table(data, name)
    except ledger.LedgerError as error:
        flash(file_problem(error), "error")
        return redirect(url_for("office.import_start"))
    token = f"{secrets.token_hex(16)}.{name.rsplit('.', 1)[-1].lower()}"
    (folder() / token).write_bytes(data)
    mapping = ledger.guess_mapping(record_type, table.headers)
    return _preview_page(record_type, token, name, table, mapping)


def _table_or_redirect(token: str) -> tuple[ledger.Table | None, Any]:
    if not _TOKEN.match(token) or not (folder() / token).is_file():
        flash(_("That upload is gone; upload the file again."), "error")
        return None, redirect(url_for("office.import_start"))
    try:
        return ledger.read_table((folder() / token).read_bytes(), token), None
    except ledger.LedgerError as error:
        flash(file_problem(error), "error")
        return None, redirect(url_for("office.import_start"))


def _mapping_from_form(table: ledger.Table) -> dict[str, str]:
    return {h: request.form.get(f"map_{i}", "").strip() for i, h in enumerate(table.headers)}


def _preview_page(
    record_type: str, token: str, name: str, table: ledger.Table, mapping: dict[str, str]
) -> Any:
    checked = imports.preview(workspace_id(), record_type, table, mapping,
                              ledger.choice_words(record_type))  # fmt: skip
    return render_template(
        "office/import_preview.html",
        kind=next(k for k, v in ledger.KINDS.items() if v == record_type),
        record_type=record_type,
        token=token,
        name=name,
        table=table,
        checked=checked,
        sample=table.rows[: imports.PREVIEW_ROWS],
        targets=ledger.TARGETS[record_type],
        target_label=target_label,
        row_problem=row_problem,
        mapping_problems=[mapping_problem(k, t) for k, t in checked.mapping_problems],
        rows_with_errors=len({e.row for e in checked.errors}),
    )


@bp.route("/import/<token>/preview", methods=["POST"])
def import_preview(token: str) -> Any:
    record_type = record_type_or_404()
    table, response = _table_or_redirect(token)
    if table is None:
        return response
    name = request.form.get("name", token)[:200]
    return _preview_page(record_type, token, name, table, _mapping_from_form(table))


@bp.route("/import/<token>/run", methods=["POST"])
def import_run(token: str) -> Any:
    """Import every row, all or nothing (only when the preview had no errors)."""
    record_type = record_type_or_404()
    table, response = _table_or_redirect(token)
    if table is None:
        return response
    name = request.form.get("name", token)[:200]
    mapping = _mapping_from_form(table)
    checked = imports.preview(workspace_id(), record_type, table, mapping,
                              ledger.choice_words(record_type))  # fmt: skip
    try:
        batch = imports.run_import(
            workspace_id(), current_user.id, checked, filename=name,
            keep_duplicates=request.form.get("keep_duplicates") == "1", now_ms=now_ms(),
        )  # fmt: skip
    except ServiceError as error:
        flash(_("Nothing was imported: %(problem)s", problem=_import_refusal(error)), "error")
        return _preview_page(record_type, token, name, table, mapping)
    (folder() / token).unlink(missing_ok=True)
    flash(_("Imported %(n)d records from %(name)s.", n=batch.rows, name=name), "success")
    return redirect(url_for("office.import_start"))


def _import_refusal(error: ServiceError) -> str:
    words = {
        "import_has_errors": _("fix the rows with errors (or the mapping) first"),
        "import_nothing": _("every row is a duplicate; nothing is new"),
        "import_refused": _("the server refused some rows"),
        "import_undone": _("this import is already undone"),
        "import_not_found": _("no such import"),
    }
    return words.get(error.key, error.detail)


@bp.route("/import/batches/<batch_id>/undo", methods=["POST"])
def import_undo(batch_id: str) -> Any:
    """Delete everything one import created, in one step."""
    try:
        batch = imports.undo_import(workspace_id(), current_user.id, batch_id, now_ms=now_ms())
    except ServiceError as error:
        flash(_("Not undone: %(problem)s", problem=_import_refusal(error)), "error")
    else:
        flash(_("Undone: %(n)d records deleted.", n=batch.rows), "success")
    return redirect(url_for("office.import_start"))
