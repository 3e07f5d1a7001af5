"""The record rules in the office: a concern raised in a visit and its people."""

from __future__ import annotations

from tests.office import data


def test_a_concern_raised_in_a_visit_is_listed_on_each_of_its_peoples_pages(staff, seeded, clock):
    wang = data.edit(seeded, clock, "party", {"kind": "resident", "name": "王阿姨"})
    li = data.edit(seeded, clock, "party", {"kind": "resident", "name": "李叔"})
    visit = data.edit(seeded, clock, "visit", {"kind": "home_visit", "party_ids": [wang, li]})
    concern = data.edit(seeded, clock, "concern", {
        "title": "楼道灯坏了很久", "visit_id": visit, "party_ids": [wang, li], "party_id": wang,
    })  # fmt: skip
    for person in (wang, li):
        assert "楼道灯坏了很久" in staff.get(f"/people/{person}").get_data(as_text=True)
    detail = staff.get(f"/concerns/{concern}").get_data(as_text=True)
    assert "王阿姨" in detail and "李叔" in detail
