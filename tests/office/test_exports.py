"""CSV and XLSX exports of exactly the filtered concern list."""

from __future__ import annotations

import csv
import io

import openpyxl

from tests.office import data


def read_csv(response) -> list[list[str]]:
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode()), "Excel needs the BOM to read UTF-8"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def test_csv_has_a_bom_and_exactly_the_filtered_rows(staff, seeded):
    response = staff.get(
        f"/concerns/export.csv?category=infrastructure&place={seeded.ids['baisheng']}"
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = read_csv(response)
    assert rows[0][:3] == ["编号", "标题", "状态"]
    assert [r[1] for r in rows[1:]] == ["污水管道反复堵塞", "雨水井盖松动"]
    assert rows[1][2] == "已回访" and rows[1][5] == "百盛家园" and rows[1][6] == "张阿姨"
    assert data.PHONE not in response.get_data(as_text=True)


def test_csv_of_the_whole_list_and_of_a_search(staff, seeded):
    assert len(read_csv(staff.get("/concerns/export.csv"))) == 1 + 6
    rows = read_csv(staff.get("/concerns/export.csv?q=骑手"))
    assert [r[1] for r in rows[1:]] == ["外卖骑手充电难"]


def test_xlsx_opens_with_the_same_rows(staff, seeded, tmp_path):
    response = staff.get("/concerns/export.xlsx?since=2024-01-01&until=2024-06-30")
    assert response.status_code == 200
    path = tmp_path / "export.xlsx"
    path.write_bytes(response.get_data())
    sheet = openpyxl.load_workbook(path, read_only=True).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][1] == "标题"
    assert sorted(r[1] for r in rows[1:]) == sorted(
        ["暑期托管需求", "楼道照明损坏", "外卖骑手充电难", "小区无物业管理", "污水管道反复堵塞"]
    )


def test_an_export_over_the_cap_is_refused_with_a_message(app, staff, seeded):
    app.config["OFFICE_EXPORT_CAP"] = 3
    for kind in ("csv", "xlsx"):
        response = staff.get(f"/concerns/export.{kind}?since=2024-01-01")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/concerns?since=2024-01-01")
        page = staff.get(response.headers["Location"]).get_data(as_text=True)
        assert "超过导出上限 3 条" in page
    assert len(read_csv(staff.get("/concerns/export.csv?category=infrastructure"))) == 3


def test_an_export_with_malformed_filters_still_works(staff, seeded):
    rows = read_csv(staff.get("/concerns/export.csv?since=nonsense&status=zzz"))
    assert len(rows) == 1 + 6


def test_the_csv_is_streamed(staff, seeded):
    response = staff.get("/concerns/export.csv", buffered=False)
    assert response.is_streamed
    response.close()


def test_text_that_looks_like_a_formula_stays_text(staff, seeded, clock, tmp_path):
    data.edit(
        seeded, clock, "concern", {"title": '=HYPERLINK("http://x")', "raised_on": "2024-06-01"}
    )
    rows = read_csv(staff.get("/concerns/export.csv?since=2024-06-01&until=2024-06-01"))
    assert rows[1][1] == '\'=HYPERLINK("http://x")'
    path = tmp_path / "export.xlsx"
    path.write_bytes(
        staff.get("/concerns/export.xlsx?since=2024-06-01&until=2024-06-01").get_data()
    )
    cell = openpyxl.load_workbook(path).active["B2"]
    assert cell.value == '=HYPERLINK("http://x")' and cell.data_type == "s"


def test_every_list_exports_csv_and_xlsx_with_a_frozen_header_and_wide_chinese_columns(
    staff, seeded, tmp_path
):
    expected = {"visits": "听新声 商圈说", "places": "百盛家园", "people": "张阿姨",
                "projects": "雨污分流改造"}  # fmt: skip
    for path, text in expected.items():
        rows = read_csv(staff.get(f"/{path}/export.csv"))
        assert any(text in row for row in rows[1:]), path
        response = staff.get(f"/{path}/export.xlsx")
        assert response.status_code == 200, path
        (tmp_path / f"{path}.xlsx").write_bytes(response.get_data())
        sheet = openpyxl.load_workbook(tmp_path / f"{path}.xlsx").active
        assert sheet.freeze_panes == "A2", path
        values = [list(r) for r in sheet.iter_rows(values_only=True)]
        assert any(text in row for row in values[1:]), path
        assert sheet.column_dimensions["B"].width >= 2 * len(values[0][1]), path
    rows = read_csv(staff.get("/people/export.csv"))
    assert "138****1234" in rows[1] and data.PHONE not in str(rows)


def test_phones_in_full_only_for_admins_and_logged(staff, admin, seeded):
    from server.models import Change

    assert data.PHONE not in staff.get("/people/export.csv?reveal=1").get_data(as_text=True)
    assert Change.select().where(Change.source == "reveal").count() == 0
    assert data.PHONE in admin.get("/people/export.csv?reveal=1").get_data(as_text=True)
    logged = Change.select().where(
        Change.source == "reveal", Change.record_id == seeded.ids["zhang"]
    )
    assert logged.count() == 1 and data.PHONE not in logged.get().diff


def test_concern_export_has_owner_due_and_voices(staff, seeded, clock):
    ids = seeded.ids
    data.edit(seeded, clock, "concern", {"owner_id": seeded.users["wang"].id,
                                         "due_on": "2024-07-05"}, ids["riders"])  # fmt: skip
    data.edit(seeded, clock, "follow_up", {"subject_type": "concern", "kind": "support",
                                           "subject_id": ids["riders"]})  # fmt: skip
    rows = read_csv(staff.get("/concerns/export.csv?q=骑手"))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert (row["承办人"], row["办理期限"], row["附议"]) == ("王芳", "2024-07-05", "1")
