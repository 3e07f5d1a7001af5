from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync import DELETED, RECORD_TYPES, records, validate_fields
from sync.strict import is_canonical_datetime

PLACE = RECORD_TYPES["place"]
CONCERN = RECORD_TYPES["concern"]
VISIT = RECORD_TYPES["visit"]


def test_a_valid_new_place_passes():
    assert validate_fields(PLACE, {"kind": "compound", "name": "百盛家园"}, is_new=True) == {}


def test_a_new_record_needs_its_required_fields():
    assert validate_fields(PLACE, {"kind": "compound"}, is_new=True) == {
        "name": ["is required for a new record"]
    }
    assert validate_fields(PLACE, {"kind": "compound"}, is_new=True, present=["name"]) == {}
    assert validate_fields(PLACE, {"address": "x"}, is_new=False) == {}


def test_a_new_tombstone_needs_nothing_else():
    assert validate_fields(PLACE, {"_deleted": True}, is_new=True) == {}


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"name": "园" * 201}, "name", "must be at most 200 characters"),
        ({"name": "   "}, "name", "must not be empty"),
        ({"name": None}, "name", "is required"),
        ({"kind": "castle"}, "kind", "must be one of"),
        ({"lat": 91}, "lat", "must be between"),
        ({"lat": float("nan")}, "lat", "must be between"),
        ({"colour": "red"}, "colour", "unknown field"),
        ({"_deleted": "yes"}, "_deleted", "must be true or false"),
        ({"parent_id": "not-a-uuid"}, "parent_id", "must be a record id"),
        ({"parent_id": "0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B"}, "parent_id", "must be a record"),
    ],
)
def test_bad_place_values_are_named(values, field, message):
    errors = validate_fields(PLACE, values, is_new=False)
    assert list(errors) == [field]
    assert errors[field][0].startswith(message)


def test_lengths_count_characters_not_bytes():
    assert validate_fields(PLACE, {"name": "园" * 200}, is_new=False) == {}


def test_integers_are_strict():
    assert validate_fields(VISIT, {"attendee_count": 12}, is_new=False) == {}
    for bad in (True, "12", 1.5, -1):
        assert "attendee_count" in validate_fields(VISIT, {"attendee_count": bad}, is_new=False)


def test_dates_and_times():
    ok = {"raised_on": "2024-05-31", "resolved_on": None}
    assert validate_fields(CONCERN, ok, is_new=False) == {}
    assert "raised_on" in validate_fields(CONCERN, {"raised_on": "2024-02-30"}, is_new=False)
    good_time = {"started_at": "2024-05-31T09:30:00+08:00"}
    assert validate_fields(VISIT, good_time, is_new=False) == {}
    naive = {"started_at": "2024-05-31T09:30:00"}
    assert "started_at" in validate_fields(VISIT, naive, is_new=False)


def test_office_only_fields_are_refused_from_devices():
    values = {"review_status": "approved"}
    assert validate_fields(CONCERN, values, is_new=False) == {
        "review_status": ["is set by office staff only"]
    }
    assert validate_fields(CONCERN, values, is_new=False, from_office=True) == {}
    cleared = {"review_status": None, "owner_id": None}  # clearing one is writing it too
    assert validate_fields(CONCERN, cleared, is_new=False) == {
        "review_status": ["is set by office staff only"],
        "owner_id": ["is set by office staff only"],
    }
    assert validate_fields(CONCERN, {"review_status": "x"}, is_new=False, from_office=True)


def test_a_new_record_not_deleted_needs_its_required_fields():
    assert list(validate_fields(PLACE, {"_deleted": False}, is_new=True)) == ["kind", "name"]
    assert validate_fields(PLACE, {"_deleted": False, "kind": "shop"}, is_new=True) == {
        "name": ["is required for a new record"]
    }


def test_every_type_documents_its_references():
    assert PLACE.refs == {"parent_id"}
    assert VISIT.refs == {"place_id", "party_ids"}
    assert CONCERN.refs == {
        "place_id", "visit_id", "party_id", "party_ids", "project_id", "duplicate_of"
    }  # fmt: skip
    assert RECORD_TYPES["follow_up"].refs == {"subject_id", "party_id"}


def test_every_rule_describes_itself_for_openapi():
    for rtype in RECORD_TYPES.values():
        for rule in rtype.rules.values():
            assert rule.to_marshmallow() is not None


def test_a_number_too_large_for_a_float_is_out_of_range_not_an_error():
    # (an integer of 400 digits: ``math.isfinite`` raised OverflowError, a 500 in a push)
    for value in (10**400, -(10**400)):
        assert validate_fields(PLACE, {"lat": value}, is_new=False) == {
            "lat": ["must be between -90 and 90"]
        }


# -- checking a column of values at once (``checked_columns``, the push hot path) ----------

UUID_A, UUID_B = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"
SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
# Values that pass or nearly pass some rule: each field draws mostly from its own good ones.
TRICKY = [
    None, True, False, 0, 7, -1, 10**20, 10**400, 1.5, float("nan"), float("inf"), "", " ",
    "x", "园" * 201, "home_visit", "compound", "new", "infrastructure", "AB", "a" * 65,
    UUID_A, UUID_A.upper(), UUID_A + "\n", f"{UUID_A}\n{UUID_B}", "2024-05-31", "2024-02-30",
    "2023-02-29", "0000-01-01", "2024-5-31", "2024-05-31\n", "2024-05-31T09:30:00+08:00",
    "2024-05-31T24:00:00+08:00", "2024-05-31T09:30Z", "2024-05-31T09:60+08:00",
    "2024-05-31T09:30:00.1234567+08:00", "2024-05-31T09:30:00+24:00", "2024-05-31T09:30+08:60",
    "2024-02-30T09:30+08:00", "2024-05-31T09:30:00", [UUID_A], [UUID_A, "x"], [], {"a": 1},
    SHA, SHA + "\n",
]  # fmt: skip
TIMES = st.from_regex(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,7})?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})",
    fullmatch=True,
)


def _good(rule: records.Rule) -> list[Any]:
    if isinstance(rule, records.ListChoice):
        return ["infrastructure", "ab-c_d"]
    if isinstance(rule, records.Choice):
        return list(rule.values)
    if isinstance(rule, records.Text):
        return ["x", "园区", "a" * rule.max] + ([] if rule.min else ["", "  "])
    return {
        records.Key: ["ab", "a-b_c"],
        records.Bool: [True, False],
        records.Int: [getattr(rule, "min", 0) or 0, getattr(rule, "max", 5) or 5],
        records.Float: [getattr(rule, "min", 0), getattr(rule, "max", 0), 0.5, 3],
        records.Date: ["2024-02-29", "2023-12-31"],
        records.DateTime: ["2024-02-29T23:59:59.5+14:00", "2024-01-01T00:00Z"],
        records.Ref: [UUID_A, UUID_B],
        records.UserRef: [UUID_A],
        records.RefList: [[UUID_A], []],
        records.Sha256: [SHA],
    }[type(rule)]


@st.composite
def batches(draw: st.DrawFn) -> tuple[records.RecordType, list[dict[str, Any]], bool, bool]:
    """A type, changes of it, whether from the office, and whether a time was drawn at large
    (``TIMES``: a time whose parts are out of bounds may be canonical yet not pass a column)."""
    rtype = draw(st.sampled_from(list(RECORD_TYPES.values())))
    names = [*rtype.rules, DELETED, "colour"]
    changes, wild = [], False
    for _ in range(draw(st.integers(1, 4))):
        values = {}
        for name in draw(st.lists(st.sampled_from(names), min_size=1, max_size=6, unique=True)):
            rule = rtype.rules.get(name)
            good = [True, False] if name == DELETED else _good(rule) if rule else ["red"]
            kind = draw(st.integers(0, 9))
            if kind < 7:
                values[name] = draw(st.sampled_from(good))
            elif kind < 9 or not isinstance(rule, records.DateTime):
                values[name] = draw(st.sampled_from(TRICKY))
            else:
                values[name], wild = draw(TIMES), True
        changes.append(values)
    return rtype, changes, draw(st.booleans()), wild


@settings(max_examples=500)
@given(batches())
def test_a_column_passes_exactly_when_each_of_its_values_passes(batch):
    rtype, changes, office, wild = batch
    columns = records.checked_columns(rtype, changes, from_office=office)
    each = [validate_fields(rtype, v, is_new=False, from_office=office) for v in changes]
    if columns is None:  # (a time at large may be canonical and still be left to ``check``)
        assert wild or each != [{}] * len(changes), changes
        return
    assert each == [{}] * len(changes), (changes, each)
    for values in changes:  # a new record: only its required fields are left to check
        new = validate_fields(rtype, values, is_new=True, from_office=office)
        assert set(new) <= rtype.required - values.keys()
        assert all(messages == ["is required for a new record"] for messages in new.values())
    for name, column in columns.items():
        assert column == [v[name] for v in changes if v.get(name) is not None]


@given(st.from_regex(records.BOUNDED_TIME_RE, fullmatch=True))
def test_every_time_of_the_bounded_pattern_with_a_real_date_is_canonical(text):
    # what ``DateTime.check_all`` leans on: the pattern and a real date make a canonical time
    try:
        dt.date.fromisoformat(text[:10])
    except ValueError:
        assert not records.DateTime().check_all([text])
        return
    assert is_canonical_datetime(text)
    assert records.DateTime().check_all([text])


@given(TIMES)
def test_a_time_passes_in_a_column_only_when_on_its_own(text):
    # (not "exactly": an offset of -00:60 is read as -01:00, yet the column leaves it to
    # ``check``, as it does any time whose parts are out of bounds)
    if records.DateTime().check_all([text, "2024-01-01T00:00Z"]):
        assert is_canonical_datetime(text)
