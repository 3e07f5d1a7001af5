"""Casework benchmark: a ledger of 10,000 people from XLSX, and the inbox among 50,000 concerns.

Run with ``make bench`` (after the sync benchmark) or ``python -m bench casework [options]``:

    --parties N    people in the imported XLSX ledger (default 10,000)
    --concerns N   concerns in the workspace for the inbox page (default 50,000)

Both run in-process on SQLite in a temporary directory: the import as the office page does it
(read the file, check every row and duplicate, write in one transaction); the inbox as a real
request to the office app with a signed-in staff member (the median of several).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from openpyxl import Workbook

TARGETS = {"import": 10.0, "inbox": 200.0}  # seconds for the import, ms for the inbox page
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "芳明华英军红平静丽强磊洋艳勇杰娟涛超秀霞"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench casework")
    parser.add_argument("--parties", type=int, default=10_000)
    parser.add_argument("--concerns", type=int, default=50_000)
    return parser.parse_args(argv)


def ledger_bytes(rows: int) -> bytes:
    """An XLSX ledger of people: name, phone, kind, notes."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("居民台账")
    sheet.append(["姓名", "联系电话", "身份", "备注"])
    for n in range(rows):
        name = SURNAMES[n % 20] + GIVEN[(n // 20) % 20] + GIVEN[(n // 400) % 20]
        sheet.append([name, f"139{n:08d}", "居民", f"第{n % 60 + 1}栋 走访登记"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def make_app(home: Path):  # noqa: ANN201 (a Flask app)
    from server import create_app

    return create_app({
        "DATABASE_URL": f"sqlite:///{home / 'bench.db'}", "INSTANCE_PATH": str(home),
        "SECRET_KEY": "bench", "AUTO_UPGRADE": True, "TESTING": True,
        "WTF_CSRF_ENABLED": False,
    })  # fmt: skip


def bench_import(home: Path, parties: int) -> float:
    """Seconds to read, check and import the ledger as one batch."""
    from server import imports, ledger, services

    data = ledger_bytes(parties)
    app = make_app(home / "import")
    with app.app_context():
        space = services.create_workspace("庄泉社区")
        start = time.perf_counter()
        table = ledger.read_table(data, "居民台账.xlsx")
        mapping = ledger.guess_mapping("party", table.headers)
        checked = imports.preview(space.id, "party", table, mapping,
                                  ledger.choice_words("party"))  # fmt: skip
        batch = imports.run_import(space.id, None, checked, filename="居民台账.xlsx",
                                   now_ms=int(time.time() * 1000))  # fmt: skip
        elapsed = time.perf_counter() - start
        assert batch.rows == parties, (batch.rows, checked.errors[:3])
    return elapsed


def seed_concerns(db_path: Path, workspace_id: str, owner_id: str, total: int) -> None:
    """Bulk-insert concerns (one in 25 owned by the bench user, some overdue) with plain SQL."""
    import sqlite3

    today = dt.date.today()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
    rows = []
    for n in range(total):
        status = ("new", "accepted", "resolved")[n % 3]
        fields = {"title": f"诉求{n}：楼道照明损坏", "status": status,
                  "category": "infrastructure", "raised_on": "2024-05-01"}  # fmt: skip
        if n % 25 == 0:
            fields["owner_id"] = owner_id
            fields["due_on"] = (today + dt.timedelta(days=n % 11 - 5)).isoformat()
        stamps = dict.fromkeys(fields, "1714521600000-000000-office-bench")
        text = json.dumps(fields, ensure_ascii=False)
        rows.append((str(uuid.uuid4()), workspace_id, "concern", text, json.dumps(stamps), 0,
                     n + 1, now, owner_id, now, owner_id, fields.get("owner_id")))  # fmt: skip
    with sqlite3.connect(db_path) as conn:
        conn.executemany(
            "INSERT INTO record (id, workspace_id, type, fields, stamps, deleted, seq, created_at,"
            " created_by, updated_at, updated_by, owner_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute(
            "INSERT INTO workspace_state (workspace_id, seq, last_stamp) VALUES (?, ?, '')"
            " ON CONFLICT (workspace_id) DO UPDATE SET seq = excluded.seq",
            (workspace_id, total),
        )


def bench_inbox(home: Path, concerns: int) -> tuple[float, int]:
    """Median milliseconds of the inbox page among ``concerns`` concerns; the items shown."""
    from server import services

    folder = home / "inbox"
    app = make_app(folder)
    with app.app_context():
        space = services.create_workspace("庄泉社区")
        wang = services.create_user("wang", space, "staff", "bench-pass-1", "王芳")
    seed_concerns(folder / "bench.db", space.id, wang.id, concerns)
    client = app.test_client()
    client.post("/login", data={"username": "wang", "password": "bench-pass-1"})
    times = []
    page = ""
    for _ in range(7):
        start = time.perf_counter()
        response = client.get("/inbox")
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
        page = response.get_data(as_text=True)
    shown = len(re.findall(r'href="/concerns/[0-9a-f-]{36}"', page))
    return statistics.median(times), shown


def main(argv: list[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    home = Path(tempfile.mkdtemp(prefix="fieldsync-bench-casework-"))
    try:
        seconds = bench_import(home, args.parties)
        ms, shown = bench_inbox(home, args.concerns)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    rows = [
        (f"import {args.parties:,} people from XLSX", f"{seconds:.2f} s",
         f"<= {TARGETS['import']:.0f} s", seconds <= TARGETS["import"]),
        (f"inbox page, {args.concerns:,} concerns ({shown} links)", f"{ms:.0f} ms",
         f"<= {TARGETS['inbox']:.0f} ms", ms <= TARGETS["inbox"]),
    ]  # fmt: skip
    print("\nCasework (in-process, SQLite)")
    for what, value, target, met in rows:
        print(f"  {what:<48} {value:>10}  {target:>10}  {'met' if met else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
