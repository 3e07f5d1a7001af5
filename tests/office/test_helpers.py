"""Small pure helpers of the office pages: masking, charts, form values."""

from __future__ import annotations

from server.office import charts, forms
from server.office.templating import mask_phone
from sync.records import RECORD_TYPES


def test_mask_phone():
    assert mask_phone("13812341234") == "138****1234"
    assert mask_phone("0511-8888") == "051**8888"
    assert mask_phone("110") == "*10"
    assert mask_phone(None) == "—"


def test_charts_escape_labels_and_scale_bars():
    svg = charts.bars([("<script>", 4), ("百盛家园", 2), ("空", 0)], "标题 & more")
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "&amp; more" in svg
    assert svg.count("<rect") == 3
    assert charts.bars([], "空").startswith("<svg")
    assert "—" in charts.ring(None, "x") and "60.0%" in charts.ring(0.6, "x")


def test_chart_labels_are_shortened_by_width():
    assert charts._fit("Infrastructure", 22) == "Infrastructure"
    assert charts._fit("百盛家园5栋外墙渗水室内", 22).endswith("…")


def test_coerce_form_values(app):
    rules = RECORD_TYPES["visit"].rules
    with app.test_request_context():
        assert forms.coerce(rules["attendee_count"], " 12 ") == (12, None)
        assert forms.coerce(rules["attendee_count"], "1.5")[1] is not None
        assert forms.coerce(rules["attendee_count"], "") == (None, None)
        assert forms.coerce(rules["started_at"], "2024-03-15T09:00") == (
            "2024-03-15T09:00:00+08:00",
            None,
        )
        assert forms.coerce(rules["kind"], "nonsense")[1] is not None
        assert forms.coerce(RECORD_TYPES["concern"].rules["raised_on"], "2024-02-30")[1]


def test_form_numbers_and_times_are_ascii_and_canonical(app):
    visit = RECORD_TYPES["visit"].rules
    with app.test_request_context():
        for text in ("٣", "¹", "1_000", "+3", "03", "1e3"):
            assert forms.coerce(visit["attendee_count"], text)[1] is not None, text
        for text in ("٣٠", "1_0", "nan", "inf", "3.", ".5"):
            assert forms.coerce(visit["lat"], text)[1] is not None, text
        assert forms.coerce(visit["lat"], "31.25") == (31.25, None)
        assert forms.coerce(visit["started_at"], "٢٠٢٤-٠٣-١٥T09:00")[1] is not None
        # one coercion for every front end: a typed space is read as the picker's "T"
        assert forms.coerce(visit["started_at"], "2024-03-15 09:00") == (
            "2024-03-15T09:00:00+08:00",
            None,
        )
        assert forms.coerce(visit["started_at"], "2024-03-15 9:00")[1] is not None
