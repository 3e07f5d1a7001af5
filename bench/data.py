"""Realistic bench records: visits with Chinese titles and ~120-character summaries."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

if TYPE_CHECKING:
    import psycopg

PLACES = ("庄泉社区", "宝塔路商圈", "金山花园", "长江路小区", "城际商圈", "梦溪园", "京口新村")
TOPICS = (
    "加装电梯", "停车难", "楼道照明", "垃圾分类", "商户经营", "老年助餐", "雨污分流",
    "物业服务", "噪音扰民", "就业帮扶",
)  # fmt: skip
SENTENCES = (
    "代表走进小区与居民面对面交流,认真记录大家反映的{topic}问题。",
    "居民表示近期{topic}情况有所改善,但仍希望街道加快推进相关工作。",
    "商户代表提出{topic}方面的具体建议,代表当场作了解答并承诺跟进。",
    "会后工作室将问题整理成册,转交相关职能部门限期办理并及时反馈。",
    "下一步将结合走访情况,持续跟踪{topic}事项的办理进度和群众满意度。",
)
KINDS = ("home_visit", "shop_visit", "reception", "forum")


def summary(n: int) -> str:
    """A summary of about 120 Chinese characters."""
    topic = TOPICS[n % len(TOPICS)]
    text = "".join(SENTENCES[(n + i) % len(SENTENCES)].format(topic=topic) for i in range(4))
    return text[:120]


def visit_values(n: int, place_id: str) -> dict[str, Any]:
    """The field values of the n-th bench visit."""
    start = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    start += dt.timedelta(hours=n % 2000, minutes=(n * 7) % 60)
    return {
        "kind": KINDS[n % len(KINDS)],
        "title": f"走访{PLACES[n % len(PLACES)]}:{TOPICS[n % len(TOPICS)]}座谈第{n + 1}次",
        "summary": summary(n),
        "place_id": place_id,
        "started_at": start.isoformat(),
        "attendee_count": 3 + n % 40,
    }


def place_values(n: int) -> dict[str, Any]:
    return {"kind": "community", "name": PLACES[n % len(PLACES)] + f"{n}号"}


def seed_records(url: str, workspace_id: str, total: int) -> None:
    """Insert visits until the database holds ``total`` records (bulk SQL, one transaction).

    Sequence numbers come from the workspace's counter row under the write lock, as the store
    does.
    """
    if url.startswith("postgresql"):
        _seed_postgres(url, workspace_id, total)
        return
    path = urlparse(url).path
    conn = sqlite3.connect(path[1:] if url.startswith("sqlite:///") and not url.startswith(
        "sqlite:////") else path, isolation_level=None, timeout=30)  # fmt: skip
    try:
        conn.execute("BEGIN IMMEDIATE")
        have = conn.execute('SELECT count(*) FROM "record"').fetchone()[0]
        conn.execute(
            "INSERT INTO workspace_state (workspace_id, seq, last_stamp) VALUES (?, 0, '')"
            " ON CONFLICT (workspace_id) DO NOTHING",
            (workspace_id,),
        )
        seq = conn.execute(
            "SELECT seq FROM workspace_state WHERE workspace_id = ?", (workspace_id,)
        ).fetchone()[0]
        node = "seed-device"
        moment = str(dt.datetime(2024, 3, 1, 9, 0))
        variants = _variants(node)
        sql = (
            'INSERT INTO "record" (id, workspace_id, type, fields, stamps, deleted, seq,'
            " created_at, created_by, updated_at, updated_by, updated_device)"
            " VALUES (?, ?, 'visit', ?, ?, 0, ?, ?, NULL, ?, NULL, ?)"
        )
        missing = max(0, total - have)
        for start in range(0, missing, 20_000):
            rows = [
                (str(uuid.uuid4()), workspace_id, *variants[n % 200], seq + n + 1, moment,
                 moment, node)
                for n in range(start, min(missing, start + 20_000))
            ]  # fmt: skip
            conn.executemany(sql, rows)
        conn.execute(
            "UPDATE workspace_state SET seq = ? WHERE workspace_id = ?",
            (seq + missing, workspace_id),
        )
        conn.execute("COMMIT")
    finally:
        conn.close()


def _variants(node: str) -> list[tuple[str, str]]:
    """200 visits' fields and stamps as JSON text, repeated to make up the seeded records."""
    wall = time.time_ns() // 1_000_000 - 86_400_000
    variants = []
    for n in range(200):
        values = visit_values(n, str(uuid.uuid4()))
        stamp = f"{wall + n:013d}-000000-{node}"
        variants.append((
            json.dumps(values, ensure_ascii=False, separators=(",", ":")),
            json.dumps(dict.fromkeys(values, stamp), separators=(",", ":")),
        ))  # fmt: skip
    return variants


def _one_value(cursor: psycopg.Cursor[Any]) -> Any:
    """The single value of a query that always returns one row (a count, a row just made)."""
    row = cursor.fetchone()
    assert row is not None  # both callers' queries return exactly one row
    return row[0]


def _seed_postgres(url: str, workspace_id: str, total: int) -> None:
    """The PostgreSQL side of ``seed_records``: COPY in one transaction, under the row lock."""
    import psycopg

    node, moment = "seed-device", dt.datetime(2024, 3, 1, 9, 0)
    variants = _variants(node)
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO workspace_state (workspace_id, seq, last_stamp) VALUES (%s, 0, '')"
            " ON CONFLICT (workspace_id) DO NOTHING",
            (workspace_id,),
        )
        seq = _one_value(
            conn.execute(
                "SELECT seq FROM workspace_state WHERE workspace_id = %s FOR UPDATE",
                (workspace_id,),
            )
        )
        have = _one_value(conn.execute('SELECT count(*) FROM "record"'))
        missing = max(0, total - have)
        columns = (
            "id, workspace_id, type, fields, stamps, deleted, seq, created_at, updated_at,"
            " updated_device"
        )
        with conn.cursor().copy(f'COPY "record" ({columns}) FROM STDIN') as copy:
            for n in range(missing):
                fields, stamps = variants[n % 200]
                copy.write_row((
                    str(uuid.uuid4()), workspace_id, "visit", fields, stamps, False,
                    seq + n + 1, moment, moment, node,
                ))  # fmt: skip
        conn.execute(
            "UPDATE workspace_state SET seq = %s WHERE workspace_id = %s",
            (seq + missing, workspace_id),
        )
