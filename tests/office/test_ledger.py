"""Reading ledgers (server.ledger): XLSX and CSV in their encodings, and every bad input."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import Workbook

from server import ledger
from sync.records import RECORD_TYPES

WORDS = {"kind": {"小区": "compound", "楼栋": "building"}}


def xlsx(rows: list[list], merge: str | None = None) -> bytes:
    """An .xlsx workbook holding these rows on its first sheet."""
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    if merge:
        sheet.merge_cells(merge)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def problem(data: bytes, name: str = "台账.xlsx") -> str:
    with pytest.raises(ledger.LedgerError) as caught:
        ledger.read_table(data, name)
    return caught.value.key


def test_an_xlsx_ledger_is_read_with_its_row_numbers():
    data = xlsx([[], ["姓名", "电话", "提出日期"], ["张阿姨", "13812341234", dt.date(2024, 5, 31)],
                 [None, None, None], ["李师傅", 13912345678, 45443]])  # fmt: skip
    table = ledger.read_table(data, "居民.xlsx")
    assert table.headers == ["姓名", "电话", "提出日期"]
    assert [n for n, _ in table.rows] == [3, 5]  # blank lines skipped, numbers kept


def test_dates_as_cells_serials_and_text():
    assert ledger.date_text(dt.datetime(2024, 5, 31, 0, 0)) == ("2024-05-31", None)
    assert ledger.date_text(45443) == ("2024-05-31", None)  # an Excel serial
    for text in ("2024-05-31", "2024/5/31", "2024年5月31日", "2024.05.31"):
        assert ledger.date_text(text) == ("2024-05-31", None), text
    assert ledger.date_text("2024-02-30") == (None, "bad_date")
    assert ledger.date_text("下周一") == (None, "bad_date")
    assert ledger.date_text(12) == (None, "bad_date")


def test_phones_stored_as_numbers():
    assert ledger.phone_text(13812341234) == ("13812341234", None)  # a mobile loses nothing
    assert ledger.phone_text(13812341234.0) == ("13812341234", None)
    assert ledger.phone_text(51188886666) == (None, "phone_as_number")  # 0511-... lost its 0
    assert ledger.phone_text("0511-88886666") == ("0511-88886666", None)
    assert ledger.phone_text("call me") == (None, "bad_phone")


def test_csv_in_utf8_with_and_without_bom_and_in_gb18030():
    text = "小区名称,类型,地址\n百盛家园,小区,宝塔路1号\n"
    for data in (text.encode("utf-8"), b"\xef\xbb\xbf" + text.encode("utf-8"),
                 text.encode("gb18030")):  # fmt: skip
        table = ledger.read_table(data, "places.csv")
        assert table.headers == ["小区名称", "类型", "地址"]
        assert table.rows == [(2, ["百盛家园", "小区", "宝塔路1号"])]
    assert problem(b"\xff\xfe\x00\xd8\x00", "places.csv") == "bad_encoding"


def test_every_unreadable_file_has_its_reason(monkeypatch):
    assert problem(b"PK\x03\x04 not really a zip") == "not_xlsx"
    assert problem(b"plain text", "台账.xlsx") == "not_xlsx"
    assert problem(b"", "台账.xlsx") == "empty"
    assert problem(xlsx([])) == "empty"
    assert problem(xlsx([["名称", "地址"]])) == "no_rows"
    assert problem(xlsx([["基本信息", None, "地址"], ["百盛家园", "小区", "宝塔路"]],
                        merge="A1:B1")) == "blank_header"  # fmt: skip
    assert problem(xlsx([["名称", "名称"], ["a", "b"]])) == "duplicate_header"
    assert problem(b"a,b\n1,2\n", "places.txt") == "unknown_format"
    monkeypatch.setattr(ledger, "MAX_ROWS", 50)
    assert problem(xlsx([["名称"], *[[f"楼{i}"] for i in range(51)]])) == "too_many_rows"


def test_formulas_and_bad_cells_are_errors_of_their_rows():
    data = xlsx([["名称", "类型", "备注"], ["百盛家园", "小区", "=1+1"], ["", "楼栋", ""],
                 ["常发大厦", "写字楼", "x" * 10_001]])  # fmt: skip
    table = ledger.read_table(data, "places.xlsx")
    mapping = ledger.guess_mapping("place", table.headers)
    assert mapping == {"名称": "name", "类型": "kind", "备注": "notes"}
    rows, errors = ledger.convert_rows("place", table, mapping, WORDS)
    found = {(e.row, e.column, e.key) for e in errors}
    assert found == {(2, "备注", "formula"), (3, "名称", "required"), (4, "类型", "bad_choice"),
                     (4, "备注", "too_long")}  # fmt: skip
    assert rows[0].values["kind"] == "compound"


def test_mapping_problems():
    assert ledger.mapping_errors("place", {"a": "name", "b": "name"}) == [("target_twice", "name")]
    assert ledger.mapping_errors("party", {"a": "phone"}) == [("required_unmapped", "name")]
    assert ledger.mapping_errors("place", {"a": "name", "b": "phone"}) == [
        ("unknown_target", "phone")]  # fmt: skip
    for record_type, targets in ledger.TARGETS.items():  # every target is a field or a place
        rules = RECORD_TYPES[record_type].rules
        assert all(t in rules or t in ("place", "parent") for t in targets)
