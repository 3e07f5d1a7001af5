"""Every route of the office blueprint, walked by the admin of another workspace with the ids
of this one: nothing of this workspace shows, and nothing of it changes (issue 9, item 2)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from server import services
from server.models import Conflict, Device, EnrollmentCode, Record, User
from tests.office import data
from tests.office.conftest import csrf_token, login
from tests.office.test_photos import attach, tiny_png

PUBLIC = {"office.static", "office.login", "office.logout", "office.set_language"}
TYPE_OF_PATH = {"visits": "visit", "places": "place", "people": "party", "projects": "project"}
RECORD_TYPES = ("concern", "visit", "place", "party", "project", "attachment")
MARKERS = ("庄泉社区", "百盛家园", "王芳", "李明", "13812341234")
FORM = {
    "choice": "kept", "custom": "x", "action": "restore", "to": "resolved", "title": "改名",
    "status": "resolved", "review_note": "x", "username": "mallory", "role": "staff",
    "password": "mallory-pass-1",
}  # fmt: skip


def state_of(workspace_id: str) -> Any:
    """Everything of a workspace a route could change."""
    records = sorted(Record.select(Record.id, Record.seq).where(Record.workspace == workspace_id)
                     .tuples())  # fmt: skip
    conflicts = sorted(Conflict.select(Conflict.id, Conflict.status).where(
        Conflict.workspace == workspace_id).tuples())  # fmt: skip
    devices = sorted(Device.select(Device.id, Device.revoked_at).where(
        Device.workspace == workspace_id).tuples())  # fmt: skip
    users = sorted(User.select(User.id, User.password_hash, User.active).where(
        User.workspace == workspace_id).tuples())  # fmt: skip
    return records, conflicts, devices, users, EnrollmentCode.select().count()


def ids_of(workspace_id: str) -> dict[str, str]:
    """One live record id of each type in the workspace."""
    found: dict[str, str] = {}
    for rtype in RECORD_TYPES:
        row = (
            Record.select(Record.id)
            .where((Record.workspace == workspace_id) & (Record.type == rtype))
            .first()
        )
        assert row is not None, rtype
        found[rtype] = row.id
    return found


def argument_sets(
    rule: Any, ids: dict[str, str], seeded: data.Seeded, borrowed: str
) -> list[dict[str, str]]:
    """The values for a rule's variables: this workspace's ids, for every type a path takes, and
    the outsider's own attachment that names this workspace's photo (``borrowed``)."""
    singles = {"conflict_id": seeded.conflict_id, "device_id": seeded.device.id,
               "user_id": seeded.users["li"].id, "attachment_id": ids["attachment"]}  # fmt: skip
    args = set(rule.arguments)
    if "attachment_id" in args:
        return [{"attachment_id": ids["attachment"]}, {"attachment_id": borrowed}]
    if "path" in args:
        combos = [{"path": p, "record_id": ids[t]} for p, t in TYPE_OF_PATH.items()]
    elif "record_type" in args:
        combos = [{"record_type": t, "record_id": ids[t]} for t in RECORD_TYPES]
    else:
        combos = [{"record_id": ids["concern"]}]
    result = []
    for combo in combos:
        values = {k: v for k, v in combo.items() if k in args}
        for name in args - set(values):
            values[name] = singles.get(name) or ids["concern"]  # an unknown kind of id
        result.append(values)
    return result


def shown_text(response: Any) -> str:
    """The text a response shows, spreadsheets unzipped."""
    body = response.get_data()
    if body.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(body)) as book:
            return "".join(book.read(n).decode("utf-8", "replace") for n in book.namelist())
    return body.decode("utf-8", "replace")


def outsider(app: Flask, clock: data.ManualClock, png: bytes) -> tuple[FlaskClient, str]:
    """Sign in the admin of another workspace whose own attachment names ``png``'s hash."""
    with app.app_context():
        space = services.create_workspace("金山社区")
        services.create_user("zhao", space, "admin", "other-pass-12", "赵强")
        outside = data.Seeded(space.id, {"zhao": services.get_user("zhao")})
        concern = data.edit(outside, clock, "concern", {"title": "另一处的诉求"}, user="zhao")
        fields = {"subject_type": "concern", "subject_id": concern, "media_type": "image/png",
                  "sha256": hashlib.sha256(png).hexdigest()}  # fmt: skip
        borrowed = data.edit(outside, clock, "attachment", fields, user="zhao")
    client = app.test_client()
    assert login(client, "zhao", "other-pass-12").status_code == 302
    return client, borrowed


def test_every_office_route_refuses_another_workspaces_ids(app, seeded, clock):
    png = tiny_png(11)
    attach(app, seeded, clock, "concern", seeded.ids["pipe"], png)
    data.make_conflict(seeded, clock)
    with app.app_context():
        ids = ids_of(seeded.workspace_id)
        before = state_of(seeded.workspace_id)
    client, borrowed = outsider(app, clock, png)
    token = csrf_token(client, "/concerns")
    markers = (*MARKERS, *ids.values(), seeded.conflict_id, seeded.device.id)
    walked = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("office.") or rule.endpoint in PUBLIC:
            continue
        for values in argument_sets(rule, ids, seeded, borrowed):
            path = rule.build(values, append_unknown=False)[1]
            for method in sorted(rule.methods & {"GET", "POST"}):
                form = {**FORM, "csrf_token": token} if method == "POST" else None
                response = client.open(path, method=method, data=form)
                where = f"{method} {path}"
                assert response.status_code < 500, where
                text = shown_text(response)
                assert not [m for m in markers if m in text], where
                assert png not in response.get_data(), where
                walked.add(rule.endpoint)
    assert len(walked) >= 20
    with app.app_context():
        assert state_of(seeded.workspace_id) == before
