"""A push must not tell whether a record id exists in another workspace (issue 9 item 6): a
change to such an id gets exactly the answer of any new record whose id collides, on SQLite and
PostgreSQL."""

from __future__ import annotations

from server import services
from tests.api.conftest import enroll, new_id, push_body


def change(api, ms: int, rtype: str, record_id: str, **fields) -> dict:
    stamp = api.stamp(ms)
    return {
        "type": rtype,
        "id": record_id,
        "set": {k: {"value": v, "stamp": stamp, "base": None} for k, v in fields.items()},
    }


def answer_without_ids(body: dict) -> dict:
    rejected = [{k: v for k, v in r.items() if k not in ("index", "id")} for r in body["rejected"]]
    kept = {k: v for k, v in body.items() if k not in ("batch_id", "server_time", "rejected")}
    return {**kept, "rejected": rejected}


def test_an_id_of_another_workspace_answers_like_any_colliding_new_id(app, device, clock):
    with app.app_context():
        services.create_workspace("金山社区")
        services.create_user("zhao", "金山社区", "representative")
    stranger = enroll(app, "zhao", clock)
    elsewhere = new_id()
    made = stranger.push(push_body(change(stranger, clock.ms, "place", elsewhere,
                                          kind="shop", name="别人的店")))  # fmt: skip
    assert made.json["applied"] == 1
    here = new_id()
    own = device.push(push_body(change(device, clock.ms, "place", here, kind="shop", name="本店")))
    assert own.json["applied"] == 1

    # A new concern on an id that exists elsewhere, and one on an id this workspace's place has
    # (a plausible new id that collides): the same answer, word for word.
    for rtype, fields in (
        ("concern", {"title": "路灯坏了"}),
        ("place", {"kind": "shop", "name": "店"}),
    ):
        there = device.push(push_body(change(device, clock.ms + 5, rtype, elsewhere, **fields)))
        taken = here if rtype == "concern" else _own_concern(device, clock)
        collide = device.push(push_body(change(device, clock.ms + 5, rtype, taken, **fields)))
        assert there.status_code == collide.status_code == 200
        assert answer_without_ids(there.json) == answer_without_ids(collide.json)
        assert there.json["rejected"][0]["codes"] == {"id": [{"code": "id_taken", "params": {}}]}
        assert "workspace" not in str(there.json)
    with app.app_context():
        from server import store

        assert store.get_record(device_workspace(app, device), elsewhere) is None


def _own_concern(device, clock) -> str:
    record_id = new_id()
    body = device.push(push_body(change(device, clock.ms, "concern", record_id, title="井盖")))
    assert body.json["applied"] == 1
    return record_id


def device_workspace(app, device) -> str:
    return services.device_json(services.get_device(device.device_id))["workspace"]["id"]
