"""Property: random offline edits on three devices, random sync orders and lost push answers
always converge to the server's state, with empty outboxes."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server import services

STATUSES = ["new", "accepted", "referred", "in_progress", "resolved"]

step = st.one_of(
    st.tuples(st.just("create"), st.integers(0, 2), st.just(0), st.sampled_from(STATUSES)),
    st.tuples(st.just("update"), st.integers(0, 2), st.integers(0, 30), st.sampled_from(STATUSES)),
    st.tuples(st.just("delete"), st.integers(0, 2), st.integers(0, 30), st.just(None)),
    st.tuples(st.just("sync"), st.integers(0, 2), st.just(None), st.just(None)),
    st.tuples(st.just("lost_answer"), st.integers(0, 2), st.just(None), st.just(None)),
)


def snapshot(store) -> dict:
    return {
        r["id"]: (r["fields"], r["deleted"], r["stamps"])
        for r in store.list("concern", include_deleted=True)
    }


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=1, max_size=25))
def test_random_edits_and_syncs_converge(make_device, clock, app, steps):
    tag = uuid.uuid4().hex[:6]
    devices = [make_device(f"{tag}-{n}", user) for n, user in enumerate(["wang", "zhao", "wang"])]
    for device in devices:
        device.sync()
    for action, who, arg, value in steps:
        device = devices[who]
        known = sorted(snapshot(device.store))
        clock.advance(0.5)
        if action == "create":
            device.store.create("concern", {"title": f"诉求 {tag}", "status": value})
        elif action in ("update", "delete") and known:
            rid = known[arg % len(known)]
            if device.store.get("concern", rid)["deleted"]:
                continue
            if action == "update":
                device.store.update("concern", rid, {"status": value})
            else:
                device.store.delete("concern", rid)
        elif action == "sync":
            assert device.sync().ok
        elif action == "lost_answer":
            batch = device.store.next_batch()
            if batch:
                device.transport.push(batch[1])  # applied by the server, answer never arrives
    for _ in range(2):
        for device in devices:
            assert device.sync().ok
    first = snapshot(devices[0].store)
    for device in devices:
        assert snapshot(device.store) == first
        assert device.store.status()["pending"] == 0
    with app.app_context():
        from server import store as server_store

        workspace = services.get_device(devices[0].id).workspace_id
        for rid, (fields, deleted, _stamps) in first.items():
            held = server_store.get_record(workspace, rid)
            assert held["fields"] == fields and held["deleted"] == deleted
