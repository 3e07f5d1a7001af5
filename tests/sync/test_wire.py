from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import given, settings
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
    jsonio,
    parse_push,
    parse_push_json,
    problem,
    records,
    wire,
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


# -- the usual push (every change compact and well formed) is parsed in one pass, checked in bulk;
# -- it must come out exactly as the change-by-change parse makes it, and anything else is left to
# -- that parse, whose reasons are the answer.

ID = st.uuids().map(str)
NEAR_IDS = st.one_of(
    ID,
    ID.map(str.upper),
    ID.map(lambda i: i + "\n"),
    ID.map(lambda i: i[:-1]),
    ID.map(lambda i: i.replace("-", "", 1)),
    st.just(f"{uuid.uuid4()}\n{uuid.uuid4()}"),
    st.integers(),
    st.none(),
)
NEAR_STAMPS = st.one_of(
    STAMPS,
    STAMPS.map(lambda s: s + "\n"),
    STAMPS.map(lambda s: "\n" + s),
    STAMPS.map(lambda s: s.replace("0", "٠", 1)),
    STAMPS.map(lambda s: s[1:]),
    st.just(f"{S1}\n{S2}"),
    st.just(S1 + "é"),
    st.integers(),
    st.none(),
)


@st.composite
def good_compact_changes(draw):
    """A well-formed compact change, with bases before its stamp for some of its fields."""
    values = draw(st.dictionaries(FIELD_NAMES, VALUES, min_size=1))
    stamp = draw(STAMPS)
    body = {"type": draw(st.sampled_from(["place", "visit"])), "id": draw(ID), "stamp": stamp}
    body["values"] = values
    if draw(st.booleans()):
        bases = draw(st.dictionaries(st.sampled_from(sorted(values)), STAMPS))
        body["bases"] = {name: base for name, base in bases.items() if base < stamp}
    return body


MUTATIONS = {
    "id": NEAR_IDS,
    "stamp": NEAR_STAMPS,
    "type": st.sampled_from(["spaceship", 1, None, "Place"]),
    "values": st.sampled_from([{}, [1], None, "x"]),
    "bases": st.one_of(
        st.sampled_from([None, [], "x"]),
        st.dictionaries(FIELD_NAMES | st.just("other"), NEAR_STAMPS, min_size=1),
    ),
    "set": st.just({}),
    "extra": st.just(1),
}
# Bases not in canonical form that still sort before every stamp drawn (so only the form check
# can tell them from good ones).
LOW_BAD_BASES = st.sampled_from(
    [
        "0000000000000-000000-\n",
        "0000000000000-000000-+",
        "000000000000-000000-dev",
        "0000000000000-00000-dev",
        "0000000000000-000000-.é",
        "0000000000000-000000-.\n0000000000000-000000-.",
        "٠000000000000-000000-.",
    ]
)


@settings(max_examples=300)
@given(st.lists(good_compact_changes(), min_size=1, max_size=5), st.data())
def test_a_push_parsed_in_one_pass_is_the_one_parsed_change_by_change(changes, data):
    """Well-formed changes take the one pass; one change off in any way leaves the push to the
    change-by-change parse (or, if the pass takes it, it comes out the same)."""
    mutation = data.draw(st.sampled_from([None, "twice", "missing", "low_base", *MUTATIONS]))
    victim = data.draw(st.sampled_from(changes))
    if data.draw(st.booleans()):
        victim.setdefault("bases", {})
    if mutation == "twice":
        changes.append({**victim, "stamp": S3, "bases": {}})
    elif mutation == "missing":
        del victim[data.draw(st.sampled_from(sorted(victim)))]
    elif mutation == "low_base":
        name = data.draw(st.sampled_from(sorted(victim["values"])))
        victim.setdefault("bases", {})[name] = data.draw(LOW_BAD_BASES)
    elif mutation is not None:
        victim[mutation] = data.draw(MUTATIONS[mutation])
    expected = wire._parse_each(changes)
    fast = wire._parse_well_formed(changes)
    if mutation is None:
        assert fast is not None
    if fast is None:
        assert expected[1] or mutation is not None
        return
    parsed, stamps = fast
    assert (parsed, []) == expected
    assert stamps == {s for change in parsed for s in change.stamps.values()}


LOW = "0000000000000-000000-."  # a canonical stamp before every stamp drawn above


@pytest.mark.parametrize(
    "bad",
    [
        {"stamp": None},
        {"stamp": 1},
        {"stamp": S2 + "\n"},
        {"stamp": f"{S1}\n{S2}"},
        {"id": None},
        {"id": str(uuid.uuid4()).upper()},
        {"id": f"{uuid.uuid4()}\n{uuid.uuid4()}"},
        {"type": "Place"},
        {"type": ["place"]},
        {"values": {}},
        {"values": ["name"]},
        {"bases": None},
        {"bases": {"name": S2}},  # not before the stamp
        {"bases": {"name": S3}},
        {"bases": {"other": LOW}},  # a field the change does not write
        {"bases": {"name": LOW + "\n"}},
        {"bases": {"name": f"{LOW}\n{LOW}"}},
        {"bases": {"name": "٠" + LOW[1:]}},
        {"bases": {"name": None}},
        {"bases": {}, "extra": 1},
        {"bases": {}, "set": {}},
        {"extra": 1},
    ],
)
def test_a_push_with_one_change_off_is_parsed_change_by_change(bad):
    changes = [compact(), {**compact(), **bad}, compact()]
    assert wire._parse_well_formed(changes) is None
    assert parse_push_json(json.dumps(push(*changes)).encode()) is None
    request = parse_push(push(*changes))
    assert (request.changes, request.rejected) == wire._parse_each(changes)
    assert [r.index for r in request.rejected] == [1] and request.write_stamps is None


def test_a_push_of_well_formed_compact_changes_takes_the_one_pass():
    request = parse_push(push(compact(), compact(stamp=S3, bases={"name": S1})))
    assert request.write_stamps == {S2, S3} and not request.rejected
    assert [c.bases for c in request.changes] == [{}, {"name": S1}]
    assert request.newest_and_nodes() == (S3, {"dev"})


@pytest.mark.parametrize(
    "texts",
    [[S1, "nope"], [f"{S1}\n{S2}"], [S1 + "\n"], ["", S1], [S1, S2 + "\n", S3], [S1, ""]],
)
def test_the_bulk_check_refuses_what_the_one_by_one_check_refuses(texts):
    assert not records.all_lines(wire._STAMP_LINES_RE, texts)
    assert records.all_lines(wire._STAMP_LINES_RE, [S1, S2, S3])


# -- the usual push decoded and parsed in one step (parse_push_json): what it takes, it makes
# -- exactly as decoding (jsonio.loads) then parse_push do; anything else it leaves to them.

JSON_VALUES = st.one_of(
    VALUES,
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(10**30), 10**30),
    st.lists(st.one_of(st.none(), st.integers(), st.text()), max_size=3),
)


def the_two_steps(data: bytes):
    try:
        return parse_push(jsonio.loads(data))
    except (ValueError, RecursionError, ProtocolError) as exc:
        return type(exc)


@settings(max_examples=300)
@given(st.lists(good_compact_changes(), min_size=1, max_size=4), st.data())
def test_a_push_decoded_in_one_step_is_the_one_decoded_then_parsed(changes, data):
    for change in changes:  # JSON numbers of every kind, and text of every kind
        change["values"].update(data.draw(st.dictionaries(FIELD_NAMES, JSON_VALUES)))
    mutation = data.draw(st.sampled_from([None, "envelope", "change"]))
    body = push(*changes)
    if mutation == "envelope":
        key, value = data.draw(
            st.sampled_from(
                [
                    ("batch_id", str(uuid.uuid4()).upper()),
                    ("batch_id", None),
                    ("device_time", None),
                    ("device_time", "1700000000001-0-dev"),
                    ("device_time", S2 + "\n"),
                    ("changes", {}),
                    ("extra", 1),
                ]
            )
        )
        body[key] = value
    elif mutation == "change":
        victim = data.draw(st.sampled_from(changes))
        key = data.draw(st.sampled_from(sorted(MUTATIONS)))
        victim[key] = data.draw(MUTATIONS[key])
    data_bytes = json.dumps(body, ensure_ascii=data.draw(st.booleans())).encode()
    fast = parse_push_json(data_bytes)
    if mutation is None or body.get("device_time") is None and mutation == "envelope":
        assert fast is not None
    if fast is not None:
        slow = the_two_steps(data_bytes)
        assert fast == slow and not fast.rejected
        assert fast.write_stamps == slow.write_stamps


PUSH_TEXT = (
    '{"batch_id": "%s", "device_time": "%s", "changes": [{"type": "place", "id": "%s",'
    ' "stamp": "%s", "values": {"name": "x", "notes": %s}}]}'
)


@pytest.mark.parametrize(
    ("notes", "taken"),
    [
        ('"百盛"', True),
        ("123456789012345678901234567890", True),  # beyond 64 bits, read exactly
        ("-9223372036854775809", True),
        ("1.7976931348623157e308", True),
        ("5e-324", True),
        ("-0.0", True),
        ('"\\u00e9\\ud83d\\ude00"', True),
        ("1e400", False),  # (a 422 from the two steps)
        ("-1e400", False),
        ("9" * 5000, False),  # longer than the interpreter converts: a 422 too
        ("NaN", False),
        ("Infinity", False),
        ('"\\ud800"', False),  # a lone surrogate: json reads it, msgspec does not
        ("[" * 2000 + "]" * 2000, False),
        ("01", False),
        ("1.", False),
        ("tru", False),
    ],
)
def test_json_the_one_step_does_not_take_is_left_to_the_two_steps(notes, taken):
    text = PUSH_TEXT % (uuid.uuid4(), S2, uuid.uuid4(), S2, notes)
    data = text.encode()
    fast = parse_push_json(data)
    assert (fast is not None) == taken
    if taken:
        assert fast == the_two_steps(data)


def test_json_duplicate_keys_and_junk_around_the_body():
    rid = str(uuid.uuid4())
    text = PUSH_TEXT % (uuid.uuid4(), S2, rid, S1, "1")
    doubled = text.replace('"type": "place"', '"type": "visit", "type": "place"')
    assert parse_push_json(doubled.encode()) == the_two_steps(doubled.encode())
    assert parse_push_json(doubled.encode()).changes[0].type == "place"
    assert parse_push_json(f" \n{text}\n ".encode()) == the_two_steps(text.encode())
    for junk in (f"{text}x", f"\ufeff{text}", text[:-1], text.replace("x", "\udcff", 1)):
        assert parse_push_json(junk.encode("utf-8", "surrogatepass")) is None


def test_a_push_of_too_many_changes_is_left_to_the_two_steps():
    body = push(*[compact(stamp=S3) for _ in range(MAX_PUSH_CHANGES + 1)])
    assert parse_push_json(json.dumps(body).encode()) is None
    body["changes"].pop()
    assert len(parse_push_json(json.dumps(body).encode()).changes) == MAX_PUSH_CHANGES
