"""sync.casework: the one set of casework rules the office and the field UI both follow."""

from __future__ import annotations

import datetime as dt

import pytest

from sync.casework import NEXT_STEPS, REPRESENTATIVE_STEPS, status_change, steps_for
from sync.records import CONCERN_STATUSES

TODAY = dt.date(2026, 5, 28)


@pytest.mark.parametrize("target", ["resolved", "confirmed"])
def test_resolving_or_confirming_dates_the_resolution_once(target):
    assert status_change({}, target, TODAY) == {"status": target, "resolved_on": "2026-05-28"}
    dated = {"resolved_on": "2026-01-02"}
    assert status_change(dated, target, TODAY) == {"status": target}


@pytest.mark.parametrize("target", sorted(set(CONCERN_STATUSES) - {"resolved", "confirmed"}))
def test_other_statuses_set_only_the_status(target):
    assert status_change({}, target, TODAY) == {"status": target}


def test_an_unknown_status_is_refused():
    with pytest.raises(ValueError, match="closed"):
        status_change({}, "closed", TODAY)


@pytest.mark.parametrize("steps", [NEXT_STEPS, REPRESENTATIVE_STEPS])
def test_steps_lead_from_statuses_to_statuses(steps):
    assert set(steps) <= set(CONCERN_STATUSES)
    assert {s for targets in steps.values() for s in targets} <= set(CONCERN_STATUSES)


def test_the_office_offers_a_step_from_every_status_but_the_last():
    assert {s for s in CONCERN_STATUSES if not NEXT_STEPS[s]} == {"confirmed"}


def test_side_exits_are_offered_only_while_a_concern_is_open():
    assert steps_for(None) == (["accepted"], ["duplicate", "rejected", "deferred"])
    assert steps_for("referred") == (["in_progress"], ["duplicate", "rejected", "deferred"])
    assert steps_for("resolved") == (["confirmed"], [])
    assert steps_for("rejected") == (["accepted"], [])
