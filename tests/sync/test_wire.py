from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync import (
    MAX_PUSH_CHANGES,
    Change,
    ErrorCode,
    Incoming,
    ProtocolError,
    Stamp,
    decode_cursor,
    encode_cursor,
    parse_push,
    problem,
)

S1 = str(Stamp(1_700_000_000_000, 0, "dev"))
S2 = str(Stamp(1_700_000_000_001, 0, "dev"))


def change(**overrides):
    body = {
        "type": "place",
        "id": str(uuid.uuid4()),
        "set": {"name": {"value": "百盛家园", "stamp": S2, "base": None}},
    }
    body.update(overrides)
    return body


def push(*changes):
    return {"batch_id": str(uuid.uuid4()), "device_time": S2, "changes": list(changes)}


def test_a_good_push_parses():
    request = parse_push(push(change(), change(type="concern")))
    assert len(request.changes) == 2 and not request.rejected
    assert request.newest_and_nodes() == (S2, {"dev"})


def test_a_change_holds_values_stamps_and_only_the_bases_given():
    writes = {
        "name": {"value": "百盛家园", "stamp": S2, "base": S1},
        "notes": {"value": None, "stamp": S1},
        "kind": {"value": "compound", "stamp": S1, "base": None},
    }
    (parsed,) = parse_push(push(change(set=writes))).changes
    assert parsed.values == {"name": "百盛家园", "notes": None, "kind": "compound"}
    assert parsed.stamps == {"name": S2, "notes": S1, "kind": S1}
    assert parsed.bases == {"name": S1}
    assert list(parsed.writes) == ["name", "notes", "kind"]
    assert parsed.writes["name"] == Incoming("百盛家园", S2, S1)
    assert Change.of(0, "place", parsed.id, parsed.writes) == parsed


@pytest.mark.parametrize(
    "body",
    [None, [], "x", {"changes": []}, {"batch_id": "nope", "changes": []}, {**push(), "extra": 1}],
)
def test_envelope_errors_are_invalid_requests(body):
    with pytest.raises(ProtocolError) as info:
        parse_push(body)
    assert info.value.code is ErrorCode.INVALID_REQUEST
    assert info.value.status == 422


def test_too_many_changes_is_payload_too_large():
    with pytest.raises(ProtocolError) as info:
        parse_push(push(*[change() for _ in range(MAX_PUSH_CHANGES + 1)]))
    assert info.value.code is ErrorCode.PAYLOAD_TOO_LARGE and info.value.status == 413


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"type": "spaceship"}, "type"),
        ({"id": "123"}, "id"),
        ({"set": {}}, "set"),
        ({"set": {"name": "plain value"}}, "name"),
        ({"set": {"name": {"value": 1, "stamp": "garbage", "base": None}}}, "name"),
        ({"set": {"name": {"value": 1, "stamp": S1, "base": S2}}}, "name"),
        ({"set": {"name": {"value": 1, "stamp": S2, "base": None, "x": 1}}}, "name"),
    ],
)
def test_a_bad_change_is_rejected_alone(bad, field):
    request = parse_push(push(change(), change(**bad), change()))
    assert [c.index for c in request.changes] == [0, 2]
    (rejection,) = request.rejected
    assert rejection.index == 1 and field in rejection.errors


def test_the_same_record_twice_in_a_batch_is_rejected():
    first = change()
    request = parse_push(push(first, dict(first)))
    assert len(request.changes) == 1 and request.rejected[0].index == 1


@given(st.from_regex(r"[A-Za-z0-9_.\-]{1,64}", fullmatch=True), st.integers(0, 2**63 - 1))
def test_cursors_round_trip(epoch, seq):
    assert decode_cursor(encode_cursor(epoch, seq)) == (epoch, seq)


@pytest.mark.parametrize("junk", ["", "!!!", "bm9wZQ", "MTplOg", "MjplOjE"])
def test_junk_cursors_are_invalid(junk):
    with pytest.raises(ProtocolError):
        decode_cursor(junk)


def test_problem_body_has_the_stable_code():
    body = problem(ErrorCode.CLOCK_SKEW, "ahead", status=409, server_time=S1)
    assert body["code"] == "clock_skew" and body["status"] == 409 and body["server_time"] == S1
    assert {"type", "title", "detail"} <= set(body)


# -- the compact form (docs/protocol.md section 5): one stamp for every write of a change --

S3 = str(Stamp(1_700_000_000_002, 0, "dev"))


def compact(**overrides):
    body = {"type": "place", "id": str(uuid.uuid4()), "stamp": S2, "values": {"name": "百盛家园"}}
    body.update(overrides)
    return body


def test_a_compact_change_holds_its_one_stamp_for_every_field_and_the_bases_given():
    values = {"name": "百盛家园", "notes": None, "kind": "compound"}
    (parsed,) = parse_push(push(compact(stamp=S3, values=values, bases={"name": S1}))).changes
    assert parsed.values == values
    assert parsed.stamps == {"name": S3, "notes": S3, "kind": S3}
    assert parsed.bases == {"name": S1}
    assert parse_push(push(compact(), compact(stamp=S3))).newest_and_nodes() == (S3, {"dev"})


FIELD_NAMES = st.sampled_from(["name", "kind", "notes", "address", "lat", "_deleted"])
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.text())
STAMPS = st.builds(
    lambda wall, counter, node: str(Stamp(wall, counter, node)),
    st.integers(0, 10**13 - 1),
    st.integers(0, 999_999),
    st.sampled_from(["dev", "dev-2", "a.b:c_d"]),
)


@given(
    values=st.dictionaries(FIELD_NAMES, VALUES, min_size=1),
    stamp=STAMPS,
    bases=st.dictionaries(FIELD_NAMES, STAMPS),
)
def test_both_forms_of_a_change_parse_to_the_same_change(values, stamp, bases):
    """The server takes a change only as ``Change`` (values, stamps, bases): the same one from
    either form means every rule after parsing (merge, checks, replay) treats them alike, and
    a form refuses exactly what the other refuses (a base not before its stamp)."""
    bases = {name: base for name, base in bases.items() if name in values}
    rid = str(uuid.uuid4())
    writes = {
        name: {"value": v, "stamp": stamp, "base": bases.get(name)} for name, v in values.items()
    }
    long = parse_push(push({"type": "place", "id": rid, "set": writes}))
    short = parse_push(push(compact(id=rid, stamp=stamp, values=values, bases=bases)))
    assert short.changes == long.changes
    assert [r.errors for r in short.rejected] == [r.errors for r in long.rejected]
    assert short.newest_and_nodes() == long.newest_and_nodes()


@pytest.mark.parametrize(
    ("bad", "field", "code"),
    [
        ({"set": {"name": {"value": 1, "stamp": S2}}}, "change", "mixed_forms"),
        ({"stamp": None}, "stamp", "bad_stamp"),
        ({"stamp": "1700000000001-0-dev"}, "stamp", "bad_stamp"),
        ({"stamp": "١٧٠٠٠٠٠٠٠٠٠٠١-000000-dev"}, "stamp", "bad_stamp"),
        ({"values": {}}, "values", "no_writes"),
        ({"values": [1]}, "values", "no_writes"),
        ({"values": None}, "values", "no_writes"),
        ({"bases": None}, "bases", "not_bases"),
        ({"bases": {"name": None}}, "name", "bad_stamp"),
        ({"bases": {"name": S3}}, "name", "stamp_order"),
        ({"bases": {"name": S2}}, "name", "stamp_order"),
        ({"bases": {"kind": S1}}, "bases", "unknown_keys"),
        ({"extra": 1}, "change", "unknown_keys"),
    ],
)
def test_a_bad_compact_change_is_rejected_alone_with_a_clear_reason(bad, field, code):
    request = parse_push(push(compact(), compact(**bad), change()))
    assert [c.index for c in request.changes] == [0, 2]
    (rejection,) = request.rejected
    assert rejection.index == 1 and rejection.to_json()["codes"][field][0]["code"] == code


def test_a_change_without_stamp_but_with_values_is_the_compact_form_missing_its_stamp():
    body = compact()
    del body["stamp"]
    (rejection,) = parse_push(push(body)).rejected
    assert list(rejection.errors) == ["stamp"]


def test_the_same_record_twice_in_a_batch_is_rejected_whatever_the_forms():
    first = compact()
    long = change(id=first["id"])
    request = parse_push(push(first, long))
    assert len(request.changes) == 1 and request.rejected[0].index == 1
