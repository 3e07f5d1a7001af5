"""Importing ledgers: the pages (upload, map, preview, import, undo), the CLI, all or nothing."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner

from server import imports, ledger, store
from server.cli import main
from server.models import ImportBatch, Record
from tests.office import data
from tests.office.conftest import csrf_token
from tests.office.test_ledger import xlsx

PEOPLE = [
    ["姓名", "联系电话", "所在小区", "身份"],
    ["张阿姨", "13812341234", "百盛家园", "居民"],  # already recorded (name and phone)
    ["杨师傅", 13900001111, "百盛家园", "居民"],
    ["赵老板", "0511-88886666", "城际商圈", "商户"],
    ["杨师傅", "13900001111", "百盛家园", "居民"],  # the same as row 3
]


def live(workspace_id: str, record_type: str) -> int:
    return (
        Record.select()
        .where(Record.workspace == workspace_id, Record.type == record_type, ~Record.deleted)
        .count()
    )


def upload(client, kind: str, body: bytes, name: str):
    token = csrf_token(client, "/import")
    return client.post("/import", data={"csrf_token": token, "kind": kind,
                                         "file": (__import__("io").BytesIO(body), name)},
                       content_type="multipart/form-data")  # fmt: skip


def form_of(page: str, form_id: str) -> dict[str, str]:
    block = re.search(rf'<form[^>]*id="{form_id}".*?</form>', page, re.S)[0]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', block))
    for name, value in re.findall(
        r'<select name="([^"]+)"[^>]*>.*?<option value="([^"]*)" selected', block, re.S
    ):
        fields[name] = value
    return fields


def test_people_from_xlsx_with_duplicates_shown_and_skipped(staff, seeded):
    ws = seeded.workspace_id
    before = live(ws, "party")
    page = upload(staff, "parties", xlsx(PEOPLE), "居民台账.xlsx").get_data(as_text=True)
    assert "共 4 行；0 行有错误；2 个重复" in page
    assert "138****1234" in page and data.PHONE not in page.split('id="duplicates"')[1]
    assert re.search(r'data-duplicate="5"[^<]*杨师傅[^<]*与第 3 行相同', page)
    action = re.search(r'<form method="post" action="([^"]+)"[^>]*id="run"', page)[1]
    response = staff.post(action, data=form_of(page, "run"), follow_redirects=True)
    assert "已从 居民台账.xlsx 导入 2 条记录" in response.get_data(as_text=True)
    assert live(ws, "party") == before + 2
    [batch] = imports.recent_imports(ws)
    ids = batch.record_ids
    yang = store.get_record(ws, ids[0])
    assert yang["fields"]["phone"] == "13900001111" and yang["fields"]["place_id"] == (
        seeded.ids["baisheng"])  # fmt: skip
    assert store.pull(ws, None, 500, now_ms=data.NOW_MS)["records"]  # they sync like any edit
    token = csrf_token(staff, "/import")
    staff.post(f"/import/batches/{batch.id}/undo", data={"csrf_token": token})
    assert live(ws, "party") == before and ImportBatch.get_by_id(batch.id).undone_at
    again = staff.post(f"/import/batches/{batch.id}/undo", data={"csrf_token": token},
                       follow_redirects=True)  # fmt: skip
    assert "已经撤销" in again.get_data(as_text=True)


def test_bad_rows_block_the_import_until_the_mapping_is_fixed(staff, seeded):
    rows = [["小区", "类别", "地址"], ["幸福里", "小区", "宝塔路9号"], ["新华苑", "不知道", ""]]
    page = upload(staff, "places", xlsx(rows), "小区.xlsx").get_data(as_text=True)
    assert 'data-row="3"' in page and "不是可选的值" in page
    assert re.search(r'<button class="btn primary" type="submit" disabled', page)
    before = live(seeded.workspace_id, "place")
    action = re.search(r'<form method="post" action="([^"]+)"[^>]*id="run"', page)[1]
    refused = staff.post(action, data=form_of(page, "run")).get_data(as_text=True)
    assert "没有导入任何记录" in refused and live(seeded.workspace_id, "place") == before
    # Leave the kind column out: every row is a compound, and the import goes through.
    fixed = form_of(page, "mapping") | {"map_1": ""}
    preview = staff.post(action.replace("/run", "/preview"), data=fixed).get_data(as_text=True)
    assert 'data-row="' not in preview
    done = staff.post(action, data=form_of(preview, "run"), follow_redirects=True)
    assert "导入 2 条记录" in done.get_data(as_text=True)
    assert live(seeded.workspace_id, "place") == before + 2


def test_unreadable_files_get_a_message(staff, seeded):
    for body, name, words in ((b"not a workbook", "x.xlsx", "不是 Excel"),
                              (b"", "x.csv", "文件是空的"),
                              (b"a,b", "x.pdf", ".xlsx")):  # fmt: skip
        page = upload(staff, "places", body, name)
        assert page.status_code == 302
        assert words in staff.get("/import").get_data(as_text=True)


def test_the_cli_imports_places_with_a_dry_run_first(app, seeded, tmp_path):
    ws = seeded.workspace_id
    path = tmp_path / "小区台账.csv"
    path.write_bytes("小区名称,类型,地址\n幸福里,小区,宝塔路9号\n新华苑,楼宇,\n".encode("gb18030"))
    url = app.config["DATABASE_URL"]
    args = ["--database-url", url, "import", "places", str(path), "--workspace", "庄泉社区"]
    before = live(ws, "place")
    dry = CliRunner().invoke(main, [*args, "--dry-run"])
    assert dry.exit_code == 0 and "试运行" in dry.output and live(ws, "place") == before
    done = CliRunner().invoke(main, [*args, "--json"])
    assert done.exit_code == 0, done.output
    result = json.loads(done.output)
    assert result["imported"] == 2 and live(ws, "place") == before + 2
    bad = tmp_path / "bad.csv"
    bad.write_text("小区名称,建成日期\n幸福里,去年\n", encoding="utf-8")
    maps = ["--map", "建成日期=notes", "--map", "小区名称=name"]
    failed = CliRunner().invoke(main, ["--database-url", url, "import", "places", str(bad), *maps])
    assert failed.exit_code == 1 and "已有记录" in failed.output and "没有新记录" in failed.output
    undo = CliRunner().invoke(main, ["--database-url", url, "import", "undo", result["batch"]])
    assert undo.exit_code == 0 and live(ws, "place") == before
    again = CliRunner().invoke(main, ["--database-url", url, "import", "undo", result["batch"]])
    assert again.exit_code == 1 and "已经撤销" in again.output


def test_everything_or_nothing(app, seeded, clock):
    ws = seeded.workspace_id
    table = ledger.read_table(xlsx([["名称"], ["甲"], ["乙"]]), "p.xlsx")
    checked = imports.preview(ws, "place", table, {"名称": "name"}, {})
    checked.rows[1].values["lat"] = 999.0  # a value the store refuses
    before = live(ws, "place")
    try:
        imports.run_import(ws, None, checked, filename="p.xlsx", now_ms=clock())
    except imports.ServiceError as error:
        assert error.key == "import_refused"
    assert live(ws, "place") == before and ImportBatch.select().count() == 0
