"""POST /sync/push and GET /sync/pull over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import json

import pytest

from server.api import _gunzip_limited
from sync import ErrorCode, ProtocolError, Stamp, encode_cursor
from tests.api.conftest import (
    Api,
    assert_problem,
    enroll,
    new_id,
    push_body,
    sqlite_only,
    visit_change,
)
from tests.clock import START_MS


def pulled(device: Api, limit: int = 5000) -> dict[str, dict]:
    response = device.pull(limit=limit)
    assert response.status_code == 200, response.json
    return {r["id"]: r for r in response.json["records"]}


def test_push_then_pull_round_trip(device, colleague, clock):
    change = visit_change(device, clock.ms, summary="居民反映雨污管道破损", attendee_count=3)
    response = device.push(push_body(change))
    assert response.status_code == 200
    body = response.json
    assert (body["applied"], body["unchanged"], body["conflicts"], body["rejected"]) == (
        1,
        0,
        [],
        [],
    )
    assert Stamp.parse(body["server_time"]) >= Stamp.parse(change["set"]["kind"]["stamp"])
    assert change["id"] not in pulled(device)  # its own write: no echo
    record = pulled(colleague)[change["id"]]
    assert record["type"] == "visit" and record["deleted"] is False
    assert record["fields"]["summary"] == "居民反映雨污管道破损"
    assert record["stamps"]["kind"] == change["set"]["kind"]["stamp"]
    assert record["meta"]["workspace_id"] == device.get("/api/v1/device").json["workspace"]["id"]


def test_a_replayed_batch_changes_nothing(device, colleague, clock):
    body = push_body(visit_change(device, clock.ms))
    first = device.push(body).json
    page = colleague.pull().json  # another device: the pusher's own pull leaves its write out
    assert len(page["records"]) == 1
    again = device.push(body)
    assert again.status_code == 200
    assert again.json["replayed"] is True
    assert {k: v for k, v in again.json.items() if k != "replayed"} == first
    assert first["compact"] is True  # devices may send the compact form (protocol section 5)
    assert colleague.pull(cursor=page["cursor"]).json["records"] == []  # nothing new to pull


def test_a_bad_change_does_not_block_its_batch(device, colleague, clock):
    good = visit_change(device, clock.ms)
    bad = visit_change(device, clock.ms, kind="party")
    body = device.push(push_body(bad, good)).json
    assert body["applied"] == 1
    assert [(r["index"], r["id"], list(r["errors"])) for r in body["rejected"]] == [
        (0, bad["id"], ["kind"])
    ]
    records = pulled(colleague)
    assert good["id"] in records and bad["id"] not in records


def compact(change: dict) -> dict:
    """The change in the compact form (docs/protocol.md section 5): its writes share a stamp."""
    writes = change["set"]
    (stamp,) = {w["stamp"] for w in writes.values()}
    values = {name: w["value"] for name, w in writes.items()}
    body = {"type": change["type"], "id": change["id"], "stamp": stamp, "values": values}
    bases = {name: w["base"] for name, w in writes.items() if w["base"] is not None}
    return {**body, "bases": bases} if bases else body


def test_the_compact_form_creates_edits_and_conflicts_as_the_long_form(device, colleague, clock):
    created = visit_change(device, clock.ms, summary="居民反映雨污管道破损")
    assert device.push(push_body(compact(created))).json["applied"] == 1
    record = pulled(colleague)[created["id"]]
    assert record["fields"]["summary"] == "居民反映雨污管道破损"
    assert record["stamps"] == {name: w["stamp"] for name, w in created["set"].items()}
    seen = created["set"]["title"]["stamp"]
    clock.advance(1)
    mine = visit_change(device, clock.ms, created["id"], title="第二次走访")
    mine["set"]["title"]["base"] = seen
    del mine["set"]["kind"]
    clock.advance(1)
    theirs = visit_change(colleague, clock.ms, created["id"], title="第三次走访")
    theirs["set"]["title"]["base"] = seen  # the same base: a concurrent edit
    del theirs["set"]["kind"]
    assert device.push(push_body(compact(mine))).json["applied"] == 1
    body = colleague.push(push_body(compact(theirs))).json
    assert (body["applied"], body["rejected"]) == (1, [])
    [conflict] = body["conflicts"]
    assert conflict["field"] == "title" and conflict["kept"]["value"] == "第三次走访"
    assert conflict["other"] == {"value": "第二次走访", "stamp": mine["set"]["title"]["stamp"]}


def test_a_change_mixing_the_two_forms_is_rejected_alone(device, clock):
    good, mixed = visit_change(device, clock.ms), visit_change(device, clock.ms)
    mixed["stamp"] = mixed["set"]["kind"]["stamp"]
    response = device.push(push_body(mixed, compact(good)))
    assert response.status_code == 200
    [rejected] = response.json["rejected"]
    assert rejected["index"] == 0 and rejected["codes"] == {
        "change": [{"code": "mixed_forms", "params": {}}]
    }
    assert response.json["applied"] == 1


def add(name, value):
    """A mutation that adds a field write stamped like the change's kind."""
    return lambda c: c["set"].update({name: dict(c["set"]["kind"], value=value)})


def short_counter(change):
    stamp = change["set"]["kind"]["stamp"]
    change["set"]["kind"]["stamp"] = stamp[:14] + stamp[15:]


@sqlite_only
@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda c: c.update(type="meeting"), "type"),
        (lambda c: c.update(id="not-a-uuid"), "id"),
        (add("colour", "red"), "colour"),
        (lambda c: c["set"]["title"].update(value="长" * 201), "title"),
        (lambda c: c["set"]["title"].update(value=42), "title"),
        (add("attendee_count", "3"), "attendee_count"),
        (add("attendee_count", -1), "attendee_count"),
        (add("started_at", "2026-05-28 09:00"), "started_at"),
        (add("party_ids", ["x"]), "party_ids"),
        (lambda c: c["set"]["kind"].update(stamp="yesterday"), "kind"),
        (short_counter, "kind"),
        (lambda c: c["set"]["kind"].update(base="9" * 13 + "-000000-x"), "kind"),
        (lambda c: c["set"].update(kind={"value": "other"}), "kind"),
        (add("review_status", "approved"), "review_status"),
        (add("review_note", "ok"), "review_note"),
    ],
    ids=[
        "unknown-type", "bad-id", "unknown-field", "too-long", "wrong-type", "string-number",
        "negative", "no-offset", "bad-ref", "junk-stamp", "short-counter", "base-after-stamp",
        "no-stamp", "office-only", "office-only-note",
    ],
)  # fmt: skip
def test_bad_changes_are_rejected_with_their_field(device, colleague, clock, mutate, field):
    change = visit_change(device, clock.ms)
    mutate(change)
    response = device.push(push_body(change))
    assert response.status_code == 200
    body = response.json
    assert body["applied"] == 0
    assert len(body["rejected"]) == 1 and field in body["rejected"][0]["errors"]
    assert all(m for msgs in body["rejected"][0]["errors"].values() for m in msgs)
    assert pulled(colleague) == {}


def test_office_only_fields_are_refused_from_devices(device, clock):
    change = visit_change(device, clock.ms)
    change["set"]["review_status"] = dict(change["set"]["kind"], value="approved")
    rejected = device.push(push_body(change)).json["rejected"]
    assert rejected[0]["errors"]["review_status"] == ["is set by office staff only"]


@sqlite_only
@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"changes": []}, {"batch_id"}),
        ({"batch_id": "x", "changes": []}, {"batch_id"}),
        ({"batch_id": new_id(), "changes": {}}, {"changes"}),
        ({"batch_id": new_id(), "changes": [], "extra": 1}, {"extra"}),
        ({"batch_id": new_id(), "changes": [], "device_time": "now"}, {"device_time"}),
    ],
)
def test_malformed_push_envelopes_are_invalid_requests(device, body, fields):
    problem = assert_problem(device.push(body), 422, "invalid_request")
    assert set(problem["errors"]) == fields


@sqlite_only
@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b'{"batch_id": ', "application/json", 400),
        (b"\xff\xfe{}", "application/json", 400),
        (b'{"batch_id": NaN, "changes": []}', "application/json", 400),
        (b"[1, 2]", "application/json", 422),
        (b'"text"', "application/json", 422),
        (b"batch_id=1", "application/x-www-form-urlencoded", 415),
        (b"{}", "text/plain", 415),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400),
    ],
    ids=["truncated", "not-utf8", "nan", "array", "string", "form", "text", "deep"],
)
def test_bodies_that_are_not_json_objects(device, data, content_type, status):
    response = device.post_raw("/api/v1/sync/push", data, {"Content-Type": content_type})
    assert_problem(response, status, "invalid_request")


def test_more_than_1000_changes_is_too_large(device, colleague, clock):
    changes = [visit_change(device, clock.ms) for _ in range(1001)]
    assert_problem(device.push(push_body(*changes)), 413, "payload_too_large")
    assert pulled(colleague) == {}


@sqlite_only
def test_more_than_5_mib_is_too_large(device, colleague, clock):
    change = visit_change(device, clock.ms, summary="长" * 10_000)  # ~30 KB of UTF-8 each
    body = push_body(*[dict(change, id=new_id()) for _ in range(200)])
    data = json.dumps(body, ensure_ascii=False).encode()
    assert len(data) > 5 * 1024 * 1024
    assert_problem(device.post_raw("/api/v1/sync/push", data), 413, "payload_too_large")
    response = device.post_raw(
        "/api/v1/sync/push", gzip.compress(data), {"Content-Encoding": "gzip"}
    )
    assert_problem(response, 413, "payload_too_large")  # the limit is on the uncompressed size
    assert pulled(colleague) == {}


@sqlite_only
def test_a_gzip_bomb_stops_at_the_limit(device):
    bomb = gzip.compress(b"[" + b" " * (64 * 1024 * 1024) + b"]", compresslevel=9)
    assert len(bomb) < 128 * 1024  # 64 MiB of spaces in under 128 KiB
    response = device.post_raw("/api/v1/sync/push", bomb, {"Content-Encoding": "gzip"})
    assert_problem(response, 413, "payload_too_large")


@pytest.mark.parametrize("size", [1000, 1001, 5000])
def test_a_gzip_body_is_taken_up_to_the_limit_exactly(size):
    body = gzip.compress(b"x" * size)
    if size <= 1000:
        assert _gunzip_limited(body, 1000) == b"x" * size
    else:
        with pytest.raises(ProtocolError) as caught:
            _gunzip_limited(body, 1000)
        assert caught.value.code is ErrorCode.PAYLOAD_TOO_LARGE
    with pytest.raises(ProtocolError) as caught:  # the same body, cut short
        _gunzip_limited(body[:-12], 10_000)
    assert caught.value.code is ErrorCode.INVALID_REQUEST


@sqlite_only
def test_broken_gzip_and_unknown_encodings(device):
    response = device.post_raw("/api/v1/sync/push", b"not gzip", {"Content-Encoding": "gzip"})
    assert_problem(response, 400, "invalid_request")
    truncated = gzip.compress(b'{"batch_id": "x", "changes": []}')[:-12]
    response = device.post_raw("/api/v1/sync/push", truncated, {"Content-Encoding": "gzip"})
    assert_problem(response, 400, "invalid_request")
    corrupt = bytearray(gzip.compress(b'{"batch_id": "x", "changes": []}'))
    corrupt[-6] ^= 0xFF  # the CRC no longer matches the data
    response = device.post_raw("/api/v1/sync/push", bytes(corrupt), {"Content-Encoding": "gzip"})
    assert_problem(response, 400, "invalid_request")
    response = device.post_raw("/api/v1/sync/push", b"{}", {"Content-Encoding": "br"})
    assert_problem(response, 415, "invalid_request")


def test_gzip_both_ways(device, colleague, clock):
    changes = [visit_change(device, clock.ms, summary="居民议事" * 30) for _ in range(50)]
    response = device.push_gzip(push_body(*changes))
    assert response.status_code == 200 and response.json["applied"] == 50
    page = colleague.get("/api/v1/sync/pull", headers={"Accept-Encoding": "gzip"})
    assert page.headers["Content-Encoding"] == "gzip"
    assert page.data[:3] == b"\x1f\x8b\x08"  # a gzip member, deflated (what any client reads)
    assert "Accept-Encoding" in page.headers["Vary"]
    body = json.loads(gzip.decompress(page.data))
    assert len(body["records"]) == 50
    plain = colleague.pull()
    assert "Content-Encoding" not in plain.headers and plain.json == body
    small = device.get("/api/v1/device", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers  # not worth it under GZIP_MIN_BYTES


def test_clock_skew_applies_nothing_and_says_the_server_time(device, colleague, clock):
    ahead = clock.ms + 15 * 60 * 1000 + 1
    change = visit_change(device, clock.ms)
    late = visit_change(device, ahead)
    problem = assert_problem(device.push(push_body(change, late)), 409, "clock_skew")
    assert Stamp.parse(problem["server_time"]).wall_ms == clock.ms
    assert pulled(colleague) == {}
    body = push_body(change, device_time=device.stamp(ahead))
    assert_problem(device.push(body), 409, "clock_skew")
    within = visit_change(device, clock.ms + 14 * 60 * 1000)
    assert device.push(push_body(within)).json["applied"] == 1


def test_stamps_of_another_node_are_forbidden(app, device, colleague, clock):
    other = enroll(app, "wang", clock, name="第二台")
    change = visit_change(other, clock.ms)  # stamped by the other device ...
    problem = assert_problem(device.push(push_body(change)), 403, "forbidden")  # ... sent by this
    assert "another node" in problem["detail"]
    assert pulled(colleague) == {}


def test_concurrent_edits_are_conflicts_shown_on_the_device(app, device, clock):
    editors = [enroll(app, "wang", clock, name=f"编辑{n}") for n in (1, 2)]
    bystander = enroll(app, "wang", clock, name="旁观")
    created = visit_change(device, clock.ms)
    device.push(push_body(created))
    base = created["set"]["title"]["stamp"]
    results = []
    for n, who in enumerate(editors, start=1):
        stamp = who.stamp(clock.ms + n)
        edit = {"type": "visit", "id": created["id"], "set": {
            "title": {"value": f"标题{n}", "stamp": stamp, "base": base}}}  # fmt: skip
        results.append(who.push(push_body(edit)).json)
    assert results[0]["conflicts"] == [] and len(results[1]["conflicts"]) == 1
    conflict = results[1]["conflicts"][0]
    assert conflict["record_id"] == created["id"] and conflict["field"] == "title"
    for who in (*editors, device):  # the two editors, and the device that created the record
        info = who.get("/api/v1/device").json
        assert [c["id"] for c in info["open_conflicts"]] == [conflict["id"]]
        assert info["last_sync"] is not None
    assert bystander.get("/api/v1/device").json["open_conflicts"] == []


def test_pull_pages_through_everything_in_order(device, colleague, clock):
    ids = []
    for batch in range(3):
        changes = [visit_change(device, clock.ms + batch) for _ in range(400)]
        ids += [c["id"] for c in changes]
        assert device.push(push_body(*changes)).json["applied"] == 400
    seen, cursor, pages = [], None, 0
    while True:
        response = colleague.pull(cursor=cursor, limit=500)
        page = response.json
        # a page with more after it says its cursor in a header too (protocol section 6)
        assert response.headers.get("Fieldsync-Next") == (page["cursor"] if page["more"] else None)
        seen += [r["id"] for r in page["records"]]
        seqs = [r["meta"]["seq"] for r in page["records"]]
        assert seqs == sorted(seqs)
        cursor, pages = page["cursor"], pages + 1
        if not page["more"]:
            break
    assert pages == 3 and sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    assert colleague.pull(cursor=cursor).json["records"] == []


@sqlite_only
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "5001"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"since": "yesterday"}, "since"),
    ],
)
def test_bad_pull_parameters(device, query, field):
    response = device.get("/api/v1/sync/pull", query_string=query)
    assert field in assert_problem(response, 422, "invalid_request")["errors"]


@sqlite_only
def test_a_junk_cursor_is_invalid(device):
    response = device.pull(cursor="not-a-cursor")
    assert_problem(response, 422, "invalid_request")


def test_a_cursor_from_another_epoch_needs_a_resync(device, clock):
    device.push(push_body(visit_change(device, clock.ms)))
    response = device.pull(cursor=encode_cursor("an-older-epoch", 1))
    assert_problem(response, 409, "resync_required")


def test_workspaces_are_isolated(app, device, colleague, clock):
    from server import services

    with app.app_context():
        services.create_workspace("金山社区")
        services.create_user("zhao", "金山社区", "representative")
    stranger = enroll(app, "zhao", clock)
    mine = visit_change(device, clock.ms, title="本社区")
    device.push(push_body(mine))
    assert pulled(stranger) == {}  # reads: never another workspace's records
    overwrite = visit_change(stranger, clock.ms + 5, record_id=mine["id"], title="篡改")
    body = stranger.push(push_body(overwrite)).json
    assert body["applied"] == 0 and "id" in body["rejected"][0]["errors"]
    ref = visit_change(stranger, clock.ms + 6, place_id=mine["id"])
    body = stranger.push(push_body(ref)).json
    assert "place_id" in body["rejected"][0]["errors"]  # references never cross workspaces
    assert pulled(colleague)[mine["id"]]["fields"]["title"] == "本社区"
    assert pulled(stranger) == {}


def test_start_ms_is_a_plausible_time():
    assert Stamp.parse(str(Stamp(START_MS, 0, "x"))).wall_ms == START_MS
