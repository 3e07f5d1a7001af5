"""The record rules end to end: the field UI records, the syncer pushes, the server judges."""

from __future__ import annotations

import datetime as dt
import uuid

from field_client.web import create_app as field_app
from server import store as server_store
from sync import Stamp
from tests.integration.test_inprocess_sync import replica

TZ = dt.timezone(dt.timedelta(hours=8))


def field_ui(device, clock):
    """The field UI over a device's store, reading the shared manual clock."""
    app = field_app(
        device.store.home, store=device.store, tz=TZ, check=lambda: False,
        now=lambda: dt.datetime.fromtimestamp(clock.ms / 1000, TZ),
    )  # fmt: skip
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    return app.test_client()


def local(clock, minutes: int = 0) -> str:
    return (
        dt.datetime.fromtimestamp(clock.ms / 1000, TZ) + dt.timedelta(minutes=minutes)
    ).strftime("%Y-%m-%dT%H:%M")


def test_a_visits_concern_reaches_the_office_naming_its_people(make_device, clock, app):
    device = make_device("pad-a")
    ui = field_ui(device, clock)
    form = {
        "kind": "home_visit", "place_name": "百盛家园", "new_place_kind": "compound",
        "started_at": local(clock, -20), "person_name": ["王阿姨", "李叔"],
        "person_kind": ["resident", "resident"], "person_phone": ["", ""],
        "concern_title": ["楼道灯坏了"], "concern_category": ["other"],
        "concern_priority": ["normal"], "concern_group": [""], "concern_support_of": [""],
    }  # fmt: skip
    assert ui.post("/visits/new", data=form).status_code == 302
    report = device.sync()
    assert (report.rejected, report.conflicts) == (0, 0)
    [concern] = device.store.list("concern")
    with app.app_context():
        ws = device.store.credentials()["workspace"]["id"]
        held = server_store.get_record(ws, concern["id"])["fields"]
        visit = server_store.get_record(ws, held["visit_id"])["fields"]
    assert held["party_ids"] == visit["party_ids"] and len(visit["party_ids"]) == 2
    assert held["party_id"] == visit["party_ids"][0]


def test_a_future_time_from_a_client_without_the_rule_is_rejected_by_the_server(
    make_device, clock, app
):
    device = make_device("pad-a")
    stamp = str(device.store.clock.tick())
    far = dt.datetime.fromtimestamp(clock.ms / 1000 + 3600, TZ).isoformat()
    rid = str(uuid.uuid4())
    body = {"batch_id": str(uuid.uuid4()), "device_time": stamp, "changes": [
        {"type": "visit", "id": rid, "set": {
            "kind": {"value": "forum", "stamp": stamp, "base": None},
            "started_at": {"value": far, "stamp": stamp, "base": None}}}]}  # fmt: skip
    answer = device.transport.push(body)
    assert answer["applied"] == 0
    assert answer["rejected"][0]["errors"] == {"started_at": ["must not be in the future"]}


def test_two_devices_give_the_same_persons_voice_once_and_converge(make_device, clock):
    a, b = make_device("pad-a"), make_device("pad-b", "zhao")
    place = a.store.create("place", {"kind": "compound", "name": "百盛家园"})
    wang = a.store.create("party", {"kind": "resident", "name": "王阿姨", "place_id": place})
    cid = a.store.create("concern", {"title": "停车难", "place_id": place})
    a.sync()
    b.sync()
    clock.advance(60)
    voice = {"subject_type": "concern", "subject_id": cid, "kind": "support", "party_id": wang}
    first = a.store.create("follow_up", voice)
    second = b.store.create("follow_up", voice)  # offline: B does not know of A's voice
    b.store.create("follow_up", {**voice, "party_id": None})  # anonymous: counts
    assert a.sync().rejected == 0 and b.sync().rejected == 0
    a.sync()
    live = [v["id"] for v in a.store.list("follow_up", subject=cid)]
    assert first in live and second not in live and len(live) == 2
    absorbed = b.store.get("follow_up", second)
    assert absorbed["deleted"] and Stamp.node_of(absorbed["stamps"]["_deleted"]) != b.id
    assert replica(a) == replica(b)
