"""The field app's protocol core in Chromium: the unit test page runs the shared vectors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.vectors import load

pytestmark = pytest.mark.browser


def test_unit_page_passes_every_vector(browser: Any, static_url: str) -> None:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{static_url}/tests/unit.html")
    page.wait_for_function("window.__done === true || window.__failed", timeout=60_000)
    results = page.evaluate("window.__results")
    page.close()
    assert errors == []
    failed = [r for r in results if not r["ok"]]
    assert failed == []
    names = [r["name"] for r in results]
    stamps, merge, device, rules = load("stamps"), load("merge"), load("device"), load("rules")
    vectors = len(stamps["format"]) + len(stamps["invalid"]) + 1
    vectors += len(stamps["tick"]) + len(stamps["observe"]) + len(merge["cases"])
    vectors += len(device["scenarios"])
    vectors += sum(len(rules[k]) for k in ("similar", "bigrams", "voices", "concern_people"))
    vectors += len(load("choices")["cases"])
    assert (
        sum(
            not n.startswith(("outbox:", "uuid7", "a failed", "a full photo", "revoked with wipe"))
            for n in names
        )
        == vectors
    )
