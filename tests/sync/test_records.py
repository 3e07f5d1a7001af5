from __future__ import annotations

import pytest

from sync import RECORD_TYPES, validate_fields

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
