from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync import Clock, InvalidStamp, Stamp
from tests.clock import ManualClock


def test_string_form_round_trips():
    stamp = Stamp(1_700_000_000_123, 7, "dev-1")
    assert str(stamp) == "1700000000123-000007-dev-1"
    assert Stamp.parse(str(stamp)) == stamp
    assert Stamp.node_of(str(stamp)) == "dev-1"
    assert Stamp.wall_of(str(stamp)) == 1_700_000_000_123


@pytest.mark.parametrize(
    "text", ["", "abc", "1700000000123-7-dev", "1700000000123-000007-", "170000000012-000007-d", 5]
)
def test_parse_rejects_junk(text):
    with pytest.raises(InvalidStamp):
        Stamp.parse(text)


stamps = st.builds(
    Stamp,
    st.integers(0, 9_999_999_999_999),
    st.integers(0, 999_999),
    st.text("abcdef0123456789-", min_size=1, max_size=12),
)


@given(stamps, stamps)
def test_string_order_is_stamp_order(a, b):
    assert (str(a) < str(b)) == (a < b)


@given(st.lists(st.integers(-5_000, 5_000), min_size=1, max_size=60))
def test_ticks_strictly_increase_even_when_the_wall_clock_goes_back(steps):
    wall = ManualClock()
    clock = Clock(wall, "dev")
    previous = clock.tick()
    for step in steps:
        wall.ms += step
        current = clock.tick()
        assert current > previous
        assert str(current) > str(previous)
        previous = current


@given(stamps, st.integers(0, 9_999_999_999_999))
def test_observe_moves_past_the_remote_stamp(remote, now):
    clock = Clock(lambda: now, "dev")
    before = clock.tick()
    after = clock.observe(remote)
    assert (after.wall_ms, after.counter) > (remote.wall_ms, remote.counter)
    assert after > before
    assert clock.tick() > after


def test_counter_overflow_borrows_the_next_millisecond():
    clock = Clock(lambda: 1000, "dev", last=Stamp(1000, 999_999, "dev"))
    assert clock.tick() == Stamp(1001, 0, "dev")


def test_last_stamp_survives_a_restart():
    first = Clock(lambda: 5000, "dev")
    stamp = first.tick()
    again = Clock(lambda: 4000, "dev", last=str(stamp))
    assert again.tick() > stamp
