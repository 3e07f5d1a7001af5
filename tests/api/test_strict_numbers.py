"""Every number and stamp a device sends is ASCII, canonical and bounded (issue 9, item 1, 4)."""

from __future__ import annotations

import base64
import json

import pytest

from tests.api.conftest import assert_problem, push_body, sqlite_only, visit_change

TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def raw_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_device_time_in_other_digits_cannot_hide_future_stamps(device, colleague, clock):
    future = visit_change(device, clock.ms + TEN_YEARS_MS)
    stamp = device.stamp(clock.ms)
    device_time = stamp[:20].translate(ARABIC_INDIC) + stamp[20:]  # the node id stays ASCII
    response = device.push(push_body(future, device_time=device_time))
    body = assert_problem(response, 422, "invalid_request")
    assert "device_time" in body["errors"]
    assert colleague.pull().json["records"] == []


@sqlite_only
@pytest.mark.parametrize(
    "spell", [lambda s: s + "\n", lambda s: " " + s, lambda s: s.replace("-", "-+", 1)]
)
def test_device_time_must_be_canonical(device, clock, spell):
    response = device.push(push_body(device_time=spell(device.stamp(clock.ms))))
    assert "device_time" in assert_problem(response, 422, "invalid_request")["errors"]


def test_the_skew_check_takes_the_largest_wall_clock(device, clock):
    future = visit_change(device, clock.ms + TEN_YEARS_MS)
    response = device.push(push_body(future, device_time=device.stamp(clock.ms)))
    assert_problem(response, 409, "clock_skew")


@pytest.mark.parametrize("seq", [str(2**63), str(2**64 + 5), "9" * 40])
def test_a_cursor_past_int64_is_invalid_not_a_500(device, clock, seq):
    device.push(push_body(visit_change(device, clock.ms)))
    epoch = base64.urlsafe_b64decode(device.pull().json["cursor"] + "==").decode().split(":")[1]
    response = device.pull(cursor=raw_cursor(f"1:{epoch}:{seq}"))
    assert_problem(response, 422, "invalid_request")


@sqlite_only
@pytest.mark.parametrize("seq", ["٣", "03", "+3", " 3", "3_0", "-1"])
def test_a_cursor_seq_must_be_canonical_ascii(device, clock, seq):
    device.push(push_body(visit_change(device, clock.ms)))
    epoch = base64.urlsafe_b64decode(device.pull().json["cursor"] + "==").decode().split(":")[1]
    response = device.pull(cursor=raw_cursor(f"1:{epoch}:{seq}"))
    assert_problem(response, 422, "invalid_request")


@sqlite_only
@pytest.mark.parametrize("limit", ["٥", "05", "+5", " 5", "5_0", "5.0", "1" * 30])
def test_a_pull_limit_must_be_canonical_ascii(device, limit):
    response = device.get("/api/v1/sync/pull", query_string={"limit": limit})
    assert "limit" in assert_problem(response, 422, "invalid_request")["errors"]


@sqlite_only
def test_a_plain_pull_limit_still_works(device):
    assert device.get("/api/v1/sync/pull", query_string={"limit": "7"}).status_code == 200


@pytest.mark.parametrize("number", ["1e400", "-1E+309", "7" * 5000])
def test_a_number_out_of_range_is_refused_whole_not_read_as_infinity(
    device, colleague, clock, number
):
    body = json.dumps(push_body(visit_change(device, clock.ms, attendee_count=7)))
    text = body.replace('"value": 7,', f'"value": {number},')
    response = device.post_raw("/api/v1/sync/push", text.encode())
    assert "out of range" in assert_problem(response, 422, "invalid_request")["detail"]
    assert colleague.pull().json["records"] == []


@sqlite_only
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("raised_on", "2024-W01-1"),
        ("raised_on", "20240531"),
        ("resolved_on", "٢٠٢٤-٠٥-٣١"),
    ],
)
def test_record_dates_must_be_canonical(device, clock, field, value):
    stamp = device.stamp(clock.ms)
    change = {
        "type": "concern",
        "id": "0b8e4c8e-6d3a-4f7e-9a51-2f0c7d1e2a3b",
        "set": {
            "title": {"value": "路灯不亮", "stamp": stamp, "base": None},
            field: {"value": value, "stamp": stamp, "base": None},
        },
    }
    body = device.push(push_body(change)).json
    assert body["applied"] == 0 and field in body["rejected"][0]["errors"]


@sqlite_only
def test_record_times_must_be_canonical(device, clock):
    change = visit_change(device, clock.ms, started_at="20240531T0930+0800")
    body = device.push(push_body(change)).json
    assert body["applied"] == 0 and "started_at" in body["rejected"][0]["errors"]
