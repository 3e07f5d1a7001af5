"""The shared vectors of the screens' rules (similar titles, one 附议 per person, a concern's
people), run against the Python that the field app's js/rules.js mirrors."""

from __future__ import annotations

from typing import Any

import pytest

from field_client.web.similar import bigrams, is_similar, similarity
from sync.rules import concern_people, repeat_voice
from tests.vectors import load

RULES = load("rules")


@pytest.mark.parametrize("case", RULES["similar"], ids=lambda c: f"{c['a']}|{c['b']}")
def test_similar_titles(case: dict[str, Any]) -> None:
    assert is_similar(case["a"], case["b"]) is case["similar"]
    assert round(similarity(case["a"], case["b"]), 4) == case["score"]


@pytest.mark.parametrize("case", RULES["bigrams"], ids=lambda c: c["text"] or "empty")
def test_bigrams(case: dict[str, Any]) -> None:
    assert sorted(bigrams(case["text"])) == case["bigrams"]


@pytest.mark.parametrize("case", RULES["voices"], ids=lambda c: c["about"])
def test_one_voice_per_person(case: dict[str, Any]) -> None:
    assert repeat_voice(case["follow_up"], case["voices"]) is case["repeat"]


@pytest.mark.parametrize("case", RULES["concern_people"], ids=lambda c: c["about"])
def test_concern_people(case: dict[str, Any]) -> None:
    assert concern_people(case["visit_id"], case["met"], case["chosen"]) == case["result"]
