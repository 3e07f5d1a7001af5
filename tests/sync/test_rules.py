"""The record rules beyond single fields (sync/rules.py)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from sync import RECORD_TYPES
from sync.rules import (
    FIELD_ALLOWANCE_MS,
    FUTURE_MESSAGE,
    NOT_MET_MESSAGE,
    PRIMARY_MESSAGE,
    concern_people,
    future_errors,
    future_free,
    people_errors,
    phone_digits,
    repeat_voice,
    same_person,
    voice_key,
)

NOW = dt.datetime(2026, 5, 28, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
NOW_MS = int(NOW.timestamp() * 1000)
VISIT, CONCERN = RECORD_TYPES["visit"], RECORD_TYPES["concern"]
A, B, C = (f"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5{n}" for n in "abc")


def future(rtype, **values):
    return future_errors(rtype, values, now_ms=NOW_MS, allowance_ms=FIELD_ALLOWANCE_MS)


def test_a_time_a_few_minutes_ahead_is_allowed_beyond_it_is_refused():
    assert future(VISIT, started_at="2026-05-28T09:04:00+08:00") == {}
    assert future(VISIT, started_at="2026-05-28T09:06:00+08:00") == {
        "started_at": [FUTURE_MESSAGE]
    }
    assert future(VISIT, ended_at="2099-01-01T00:00:00+08:00") == {"ended_at": [FUTURE_MESSAGE]}
    # 21:00 today at 09:00, said in another offset: still twelve hours ahead
    assert future(VISIT, started_at="2026-05-28T13:00:00Z") == {"started_at": [FUTURE_MESSAGE]}
    assert future(VISIT, started_at="2020-01-01T00:00:00+08:00", title="x") == {}


def test_dates_are_refused_only_after_the_furthest_zones_today():
    assert future(CONCERN, raised_on="2026-05-28") == {}
    assert future(CONCERN, raised_on="2026-05-29") == {"raised_on": [FUTURE_MESSAGE]}
    late = NOW_MS + 14 * 3600 * 1000  # 23:00 at UTC+8 is already the 29th at UTC+14
    values = {"raised_on": "2026-05-29"}
    assert future_errors(CONCERN, values, now_ms=late, allowance_ms=0) == {}
    values = {"raised_on": "2026-05-30"}
    assert future_errors(CONCERN, values, now_ms=late, allowance_ms=0) == {
        "raised_on": [FUTURE_MESSAGE]
    }
    assert future(CONCERN, resolved_on="2099-01-01") == {"resolved_on": [FUTURE_MESSAGE]}


def _ahead(value: str, limit_ms: int) -> bool:
    """The rule said plainly: parse the value, compare instants (times, in whole milliseconds)
    or dates (the limit's date at UTC+14)."""
    limit = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=limit_ms)
    if "T" in value:
        return dt.datetime.fromisoformat(value) >= limit + dt.timedelta(milliseconds=1)
    return dt.date.fromisoformat(value) > (limit + dt.timedelta(hours=14)).date()


@given(
    moment=st.datetimes(dt.datetime(2, 1, 1), dt.datetime(9998, 12, 31), timezones=st.just(None)),
    offset_minutes=st.integers(-(24 * 60 - 1), 24 * 60 - 1),
    now_ms=st.integers(0, 200 * 365 * 86_400_000),
    near=st.booleans(),
)
def test_the_future_rule_agrees_with_parsing_every_value(moment, offset_minutes, now_ms, near):
    if near:  # most draws: a time within a few days of the limit, where the shortcut matters
        start = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=now_ms)
        moment = start + (moment - dt.datetime(5000, 1, 1)) % dt.timedelta(days=6)
        moment -= dt.timedelta(days=3)
    zone = dt.timezone(dt.timedelta(minutes=offset_minutes))
    time = moment.replace(tzinfo=zone).isoformat()
    date = moment.date().isoformat()
    values = {"started_at": time, "raised_on": date}
    for rtype, name, value in ((VISIT, "started_at", time), (CONCERN, "raised_on", date)):
        found = future_errors(rtype, values, now_ms=now_ms, allowance_ms=0)
        assert (name in found) == _ahead(value, now_ms), value


def test_bad_or_absent_values_are_left_to_the_field_rules():
    assert future(VISIT, started_at="tomorrow", ended_at=None, kind="forum") == {}


def test_a_concern_names_its_visit_and_the_people_met():
    assert concern_people("v", [A, B]) == {"visit_id": "v", "party_ids": [A, B], "party_id": A}
    assert concern_people("v", [A, B], [B]) == {"visit_id": "v", "party_ids": [B], "party_id": B}
    assert concern_people("v", [A], [C]) == {"visit_id": "v", "party_ids": [A], "party_id": A}
    assert concern_people("v", []) == {"visit_id": "v", "party_ids": None, "party_id": None}


def test_a_concerns_people_are_people_met_in_its_visit():
    visit = {"party_ids": [A, B]}
    assert people_errors({"party_ids": [A, B], "party_id": A}, visit) == {}
    assert people_errors({"party_ids": [C]}, visit) == {"party_ids": [NOT_MET_MESSAGE]}
    assert people_errors({"party_ids": [A], "party_id": B}, None) == {
        "party_id": [PRIMARY_MESSAGE]
    }
    assert people_errors({"party_ids": [C]}, None) == {}  # the visit may come later
    assert people_errors({"party_id": C}, visit) == {}  # one named person, no list


def test_one_voice_per_known_person_and_concern():
    voice = {"kind": "support", "subject_type": "concern", "subject_id": "c1", "party_id": A}
    assert voice_key(voice) == ("c1", A)
    assert repeat_voice(dict(voice), [voice])
    assert not repeat_voice(dict(voice, party_id=B), [voice])
    assert not repeat_voice(dict(voice, subject_id="c2"), [voice])
    anonymous = dict(voice, party_id=None)
    assert voice_key(anonymous) is None and not repeat_voice(anonymous, [anonymous])
    assert voice_key(dict(voice, kind="note")) is None


def test_the_same_person_by_phone_or_by_name_at_the_same_place():
    known = {"name": "王阿姨", "phone": "138 0013 8000", "place_id": "p1"}
    assert same_person({"name": "王 阿姨", "phone": "+86 138-0013-8000"}, known)
    assert same_person({"name": "王阿姨", "place_id": "p1"}, known)
    assert not same_person({"name": "王阿姨", "place_id": "p2"}, known)
    assert not same_person(
        {"name": "李叔", "phone": "8000", "place_id": "p2"}, dict(known, phone="8000")
    )
    assert not same_person({"name": "", "place_id": "p1"}, dict(known, name=""))
    assert phone_digits("１３８") == ""  # full-width digits are not ASCII digits


@given(
    moments=st.lists(
        st.datetimes(dt.datetime(2, 1, 1), dt.datetime(9998, 12, 31), timezones=st.just(None)),
        min_size=1,
        max_size=5,
    ),
    offset_minutes=st.integers(-(24 * 60 - 1), 24 * 60 - 1),
    now_ms=st.integers(0, 200 * 365 * 86_400_000),
    near=st.booleans(),
)
def test_a_column_is_free_of_the_future_exactly_when_each_value_is(
    moments, offset_minutes, now_ms, near
):
    if near:  # as above: times within a few days of the limit
        start = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=now_ms)
        moments = [start + (m - dt.datetime(5000, 1, 1)) % dt.timedelta(days=6) for m in moments]
        moments = [m - dt.timedelta(days=3) for m in moments]
    zone = dt.timezone(dt.timedelta(minutes=offset_minutes))
    changes = [
        {"raised_on": m.date().isoformat(), "due_on": "9999-01-01", "title": "x"} for m in moments
    ]
    visits = [{"started_at": m.replace(tzinfo=zone).isoformat()} for m in moments]
    for rtype, group in ((CONCERN, changes), (VISIT, visits)):
        columns = {n: [v[n] for v in group] for n in group[0] if n in rtype.timed}
        each = [future_errors(rtype, v, now_ms=now_ms, allowance_ms=0) for v in group]
        free = future_free(rtype, columns, now_ms=now_ms, allowance_ms=0)
        assert free == (each == [{}] * len(group))
