"""The shared conformance vectors of stamps and merge outcomes, run against ``sync``."""

from __future__ import annotations

from typing import Any

import pytest

from sync import Clock, Current, Incoming, InvalidStamp, Stamp, decide
from tests.vectors import load

STAMPS = load("stamps")
MERGE = load("merge")


@pytest.mark.parametrize("case", STAMPS["format"], ids=lambda c: c["text"])
def test_stamp_format(case: dict[str, Any]) -> None:
    stamp = Stamp(case["wall_ms"], case["counter"], case["node"])
    assert str(stamp) == case["text"]
    assert Stamp.parse(case["text"]) == stamp


@pytest.mark.parametrize("text", STAMPS["invalid"], ids=repr)
def test_not_a_stamp(text: Any) -> None:
    with pytest.raises(InvalidStamp):
        Stamp.parse(text)


def test_string_order_is_time_order() -> None:
    texts = STAMPS["ascending"]
    assert sorted(texts) == texts
    assert sorted(texts, key=Stamp.parse) == texts


@pytest.mark.parametrize("rule", ["tick", "observe"])
def test_clock_rules(rule: str) -> None:
    for case in STAMPS[rule]:
        clock = Clock(lambda case=case: case["now"], case["node"], case["last"])
        got = clock.tick() if rule == "tick" else clock.observe(case["remote"])
        assert str(got) == case["expect"], case["about"]


@pytest.mark.parametrize("case", MERGE["cases"], ids=lambda c: c["about"])
def test_merge_outcome(case: dict[str, Any]) -> None:
    current = Current(**case["current"]) if case["current"] else None
    decision = decide(current, Incoming(**case["incoming"]))
    assert str(decision.outcome) == case["outcome"]
    assert decision.takes_incoming is case["takes_incoming"]
    assert decision.outcome.is_conflict is case["conflict"]
