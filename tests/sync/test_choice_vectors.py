"""The shared vectors of a workspace's lists, run against sync.choices (the field app's
js/choices.js runs the same file on its unit page)."""

from __future__ import annotations

from typing import Any

import pytest

from sync.choices import entries
from tests.vectors import load


@pytest.mark.parametrize("case", load("choices")["cases"], ids=lambda c: c["about"])
def test_list_entries(case: dict[str, Any]) -> None:
    records = {r["id"]: r["fields"] for r in case["records"]}
    got = [
        {"key": e.key, "name_zh": e.name_zh, "name_en": e.name_en, "position": e.position,
         "retired": e.retired}
        for e in entries(case["list"], records)
    ]  # fmt: skip
    assert got == case["entries"]
