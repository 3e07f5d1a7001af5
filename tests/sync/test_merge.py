from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sync import Current, Incoming, Outcome, Stamp, decide


def s(wall: int, node: str, counter: int = 0) -> str:
    return str(Stamp(wall, counter, node))


def test_new_field_fast_forwards():
    assert decide(None, Incoming("a", s(1, "d1"), None)).outcome is Outcome.FAST_FORWARD


def test_stamp_not_after_base_is_malformed():
    assert decide(None, Incoming("a", s(1, "d1"), s(2, "d2"))).outcome is Outcome.MALFORMED
    assert decide(None, Incoming("a", s(1, "d1"), s(1, "d1"))).outcome is Outcome.MALFORMED


def test_same_node_replay_is_unchanged():
    current = Current("b", s(5, "d1"))
    assert decide(current, Incoming("a", s(5, "d1"), None)).outcome is Outcome.REPLAY
    assert decide(current, Incoming("a", s(4, "d1"), None)).outcome is Outcome.REPLAY


def test_edit_on_top_of_what_was_seen_fast_forwards():
    current = Current("b", s(5, "office"))
    decision = decide(current, Incoming("c", s(6, "d1"), s(5, "office")))
    assert decision.outcome is Outcome.FAST_FORWARD and decision.takes_incoming


def test_own_later_write_never_conflicts():
    current = Current("b", s(5, "d1"))
    assert decide(current, Incoming("c", s(9, "d1"), s(1, "x"))).outcome is Outcome.FAST_FORWARD


def test_concurrent_greater_stamp_wins_with_a_conflict():
    current = Current("b", s(5, "d2"))
    newer = decide(current, Incoming("c", s(6, "d1"), s(1, "x")))
    older = decide(current, Incoming("c", s(4, "d1"), s(1, "x")))
    assert newer.outcome is Outcome.CONCURRENT_REPLACED and newer.takes_incoming
    assert older.outcome is Outcome.CONCURRENT_KEPT and not older.takes_incoming
    assert newer.outcome.is_conflict and older.outcome.is_conflict


def test_concurrent_equal_values_keep_the_greater_stamp_without_conflict():
    current = Current("same", s(5, "d2"))
    newer = decide(current, Incoming("same", s(6, "d1"), None))
    older = decide(current, Incoming("same", s(4, "d1"), None))
    assert newer.outcome is older.outcome is Outcome.CONCURRENT_EQUAL
    assert newer.takes_incoming and not older.takes_incoming
    assert not newer.outcome.is_conflict


nodes = st.sampled_from(["d1", "d2", "d3", "office"])
stamps = st.builds(
    lambda w, c, n: str(Stamp(w, c, n)), st.integers(1, 50), st.integers(0, 3), nodes
)
values = st.one_of(st.none(), st.integers(0, 3), st.sampled_from(["a", "b", "水管"]))


@given(
    st.one_of(st.none(), st.builds(Current, values, stamps)), values, stamps, st.none() | stamps
)
def test_decision_table(current, value, stamp, base):
    decision = decide(current, Incoming(value, stamp, base))
    outcome = decision.outcome
    if base is not None and stamp <= base:
        assert outcome is Outcome.MALFORMED
    elif current is None:
        assert outcome is Outcome.FAST_FORWARD
    elif Stamp.node_of(current.stamp) == Stamp.node_of(stamp):
        expected = Outcome.REPLAY if current.stamp >= stamp else Outcome.FAST_FORWARD
        assert outcome is expected
    elif current.stamp == base:
        assert outcome is Outcome.FAST_FORWARD
    else:
        assert outcome in (
            Outcome.CONCURRENT_EQUAL, Outcome.CONCURRENT_KEPT, Outcome.CONCURRENT_REPLACED
        )  # fmt: skip
        assert decision.takes_incoming == (stamp > current.stamp)
        assert outcome.is_conflict == (current.value != value)


@given(st.lists(st.tuples(values, stamps), min_size=1, max_size=8), st.randoms())
def test_concurrent_writes_converge_in_any_order(writes, rnd):
    """Blind concurrent writes (no base) end at the greatest stamp whatever the arrival order."""
    latest: dict[str, tuple[object, str]] = {}
    for value, stamp in writes:  # one write per stamp; a node's writes carry distinct stamps
        latest.setdefault(stamp, (value, stamp))
    distinct = list(latest.values())

    def apply(order):
        current = None
        for value, stamp in order:
            decision = decide(current, Incoming(value, stamp, None))
            if decision.takes_incoming:
                current = Current(value, stamp)
        return current

    shuffled = distinct[:]
    rnd.shuffle(shuffled)
    first, second = apply(distinct), apply(shuffled)
    # Same-node writes fast-forward in arrival order, so compare only when nodes are distinct.
    if len({Stamp.node_of(stamp) for _, stamp in distinct}) == len(distinct):
        top = max(distinct, key=lambda item: item[1])
        assert first is not None and second is not None
        assert first.stamp == second.stamp == top[1]
