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


def test_the_enrollment_code_reads_the_same_in_the_command_and_both_forms_enroll(admin, seeded):
    import re

    from server import services
    from tests.office.conftest import csrf_token

    token = csrf_token(admin, "/admin/users")
    page = admin.post(f"/admin/users/{seeded.users['li'].id}/code", data={"csrf_token": token})
    html = page.get_data(as_text=True)
    shown = re.search(r'<p class="code"[^>]*>([A-Z0-9-]+)</p>', html)[1]
    assert re.fullmatch(r"[A-Z0-9]{5}-[A-Z0-9]{5}", shown)
    assert f"--code {shown}</p>" in html
    assert services.normalize_code(shown) == services.normalize_code(shown.replace("-", ""))
    assert services.enroll(shown.lower(), "平板", now=data.NOW_MS + 60_000)["device_id"]


def test_the_office_has_a_favicon(app):
    client = app.test_client()
    answer = client.get("/favicon.ico")
    assert answer.status_code == 301
    icon = client.get(answer.headers["Location"])
    assert icon.status_code == 200 and b"<svg" in icon.data
    assert 'rel="icon"' in client.get("/login").get_data(as_text=True)


def test_a_step_says_what_changed_and_an_untitled_visit_is_named(staff, seeded, clock):
    from tests.office.test_concerns import step

    summer = seeded.ids["summer"]
    step(staff, summer, "accepted")
    assert "已改为“已受理”" in staff.get(f"/concerns/{summer}").get_data(as_text=True)
    step(staff, summer, "referred", responsible_unit="城管科")
    assert "已转办 城管科" in staff.get(f"/concerns/{summer}").get_data(as_text=True)
    visit = data.edit(
        seeded, clock, "visit", {"kind": "home_visit", "started_at": "2024-06-01T09:00:00+08:00"}
    )
    concern = data.edit(seeded, clock, "concern", {"title": "噪音扰民", "visit_id": visit})
    page = staff.get(f"/concerns/{concern}").get_data(as_text=True)
    assert "入户走访 2024-06-01" in page and visit[:8] not in page.replace(visit, "")
