"""One coercion of form text into field values, shared by the office and the field UI."""

from __future__ import annotations

import datetime as dt

import pytest

from sync.coerce import coerce, parse_time
from sync.records import RECORD_TYPES

VISIT, CONCERN = RECORD_TYPES["visit"].rules, RECORD_TYPES["concern"].rules
CHOICE = RECORD_TYPES["choice"].rules
TZ = dt.timezone(dt.timedelta(hours=8))


@pytest.mark.parametrize(
    ("rule", "text", "value"),
    [
        (VISIT["attendee_count"], " 12 ", 12),
        (VISIT["lat"], "31.25", 31.25),
        (VISIT["started_at"], "2024-03-15 09:00", "2024-03-15T09:00:00+08:00"),
        (VISIT["started_at"], "2024-03-15T09:00:30", "2024-03-15T09:00:30+08:00"),
        (VISIT["started_at"], "2024-03-15T09:00:00+09:00", "2024-03-15T09:00:00+09:00"),
        (CONCERN["raised_on"], "2024-03-15", "2024-03-15"),
        (CONCERN["priority"], "urgent", "urgent"),
        (CONCERN["category"], "c0123456789ab", "c0123456789ab"),  # the list is checked elsewhere
        (CHOICE["retired"], "1", True),
        (CHOICE["retired"], "false", False),
        (CONCERN["title"], "  污水管道  ", "污水管道"),
        (CONCERN["title"], "   ", None),
    ],
)
def test_form_text_becomes_the_field_value(rule, text, value):
    assert coerce(rule, text, tz=TZ) == (value, None)


@pytest.mark.parametrize(
    ("rule", "text", "code"),
    [
        (VISIT["attendee_count"], "٣", "not_whole"),
        (VISIT["attendee_count"], "+3", "not_whole"),
        (VISIT["attendee_count"], "-1", "too_small"),
        (VISIT["lat"], "nan", "not_number"),
        (VISIT["lat"], "91", "out_of_range"),
        (VISIT["started_at"], "2024-03-15 9:00", "not_datetime"),
        (VISIT["started_at"], "٢٠٢٤-٠٣-١٥T09:00", "not_datetime"),
        (CONCERN["raised_on"], "2024-02-30", "not_date"),
        (CONCERN["priority"], "very", "not_a_choice"),
        (CONCERN["category"], "天气", "bad_key"),
        (CONCERN["title"], "长" * 201, "too_long"),
        (CHOICE["retired"], "maybe", "not_bool"),
    ],
)
def test_bad_form_text_gets_a_fault_code(rule, text, code):
    value, fault = coerce(rule, text, tz=TZ)
    assert value is None and fault is not None and fault.code == code


def test_a_list_of_references_drops_empty_inputs():
    ids = ["0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", ""]
    assert coerce(VISIT["party_ids"], ids) == ([ids[0]], None)
    assert coerce(VISIT["party_ids"], [""]) == (None, None)
    assert coerce(VISIT["party_ids"], ["not-an-id"])[1].code == "not_refs"


def test_a_time_without_offset_is_local_to_the_zone_given():
    assert parse_time("2024-03-15 09:00", TZ).utcoffset() == dt.timedelta(hours=8)
    assert parse_time("2024-03-15T09:00:61", TZ) is None
    assert parse_time("", TZ) is None
