"""sync.strict: one spelling per number, date and time, ASCII only, bounded."""

from __future__ import annotations

import pytest

from sync import Stamp, strict
from sync.errors import InvalidStamp


@pytest.mark.parametrize("text", ["٣", "¹", "03", "+3", " 3", "3 ", "3_0", "-0", "", "3.0", 3])
def test_parse_int_refuses_other_spellings(text):
    with pytest.raises(ValueError):
        strict.parse_int(text)


def test_parse_int_bounds():
    assert strict.parse_int("0") == 0 and strict.parse_int(str(strict.INT64_MAX)) == 2**63 - 1
    with pytest.raises(ValueError):
        strict.parse_int(str(2**63))
    with pytest.raises(ValueError):
        strict.parse_int("5", 6, 9)


@pytest.mark.parametrize(
    "text", ["2024-W01-1", "20240531", "٢٠٢٤-٠٥-٣١", "2024-02-30", " 2024-05-31"]
)
def test_parse_date_refuses_other_spellings(text):
    with pytest.raises(ValueError):
        strict.parse_date(text)
    assert not strict.is_canonical_date(text)


def test_canonical_datetimes():
    assert strict.is_canonical_datetime("2024-05-31T09:30:00+08:00")
    assert strict.is_canonical_datetime("2024-05-31T09:30Z")
    for text in ("2024-05-31T09:30:00", "20240531T0930+0800", "2024-05-31 09:30+08:00"):
        assert not strict.is_canonical_datetime(text)


@pytest.mark.parametrize("suffix", ["\n", " "])
def test_a_stamp_has_one_spelling(suffix):
    text = str(Stamp(1_780_000_000_000, 0, "dev"))
    with pytest.raises(InvalidStamp):
        Stamp.parse(text + suffix)
    with pytest.raises(InvalidStamp):
        Stamp.parse(text[:20].translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")) + text[20:])
