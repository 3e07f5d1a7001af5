"""Helpers for the store tests: devices, a manual clock, push bodies, a statement counter."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from peewee import Database

from server import store
from server.models import Device, User, Workspace
from server.store import reads as store_reads
from server.store import sql as store_sql
from sync import Clock

NOW = 1_780_000_000_000  # a fixed epoch-ms "now"; tests move it by hand
SKEW = 15 * 60 * 1000


def make_device(workspace_name: str = "东湖街道", device_id: str | None = None) -> Device:
    """Create a workspace (if needed), a representative and an enrolled device."""
    workspace, _ = Workspace.get_or_create(name=workspace_name)
    user = User.create(
        workspace=workspace, username=f"rep-{uuid.uuid4().hex[:8]}", role="representative"
    )
    return Device.create(
        id=device_id or f"dev-{uuid.uuid4().hex[:12]}",
        user=user,
        workspace=workspace,
        name="phone",
        token_hash=uuid.uuid4().hex,
    )


@dataclass
class Tick:
    """A manual clock in epoch milliseconds."""

    now: int = NOW

    def __call__(self) -> int:
        return self.now


@dataclass
class Writer:
    """Builds push bodies stamped by one device's HLC."""

    device: Device
    tick: Tick = field(default_factory=Tick)

    def __post_init__(self) -> None:
        self.clock = Clock(self.tick, self.device.id)

    def stamp(self) -> str:
        return str(self.clock.tick())

    def change(
        self, rtype: str, rid: str, values: dict[str, Any], bases: dict[str, str | None] | None
    ) -> dict[str, Any]:
        stamp = self.stamp()
        bases = bases or {}
        return {
            "type": rtype,
            "id": rid,
            "set": {
                k: {"value": v, "stamp": stamp, "base": bases.get(k)} for k, v in values.items()
            },
        }

    def body(self, *changes: dict[str, Any]) -> dict[str, Any]:
        return {
            "batch_id": str(uuid.uuid4()),
            "device_time": self.stamp(),
            "changes": list(changes),
        }


class StatementCounter:
    """Counts SQL statements sent through ``Database.execute_sql``, the store's bulk insert
    (``server.store.sql.executemany``: one statement run for many rows) and the pull's binary
    query on PostgreSQL (``server.store.reads._select_binary``: the page, then the state) while
    active."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.statements: list[str] = []

    def __enter__(self) -> StatementCounter:
        original: Callable[..., Any] = self.db.execute_sql

        def counting(sql: str, *args: Any, **kwargs: Any) -> Any:
            self.statements.append(sql[:60])
            return original(sql, *args, **kwargs)

        def counting_many(db: Database, sql: str, rows: Any) -> Any:
            self.statements.append("many: " + sql[:54])
            return original_many(db, sql, rows)

        def counting_binary(db: Database, sql: str, params: Any, workspace_id: str) -> Any:
            self.statements += ["binary: " + sql[:52], "binary: the state"]
            return original_binary(db, sql, params, workspace_id)

        original_many = store_sql.executemany
        original_binary = store_reads._select_binary
        self.db.execute_sql = counting  # type: ignore[method-assign]
        store_sql.executemany = counting_many  # type: ignore[assignment]
        store_reads._select_binary = counting_binary
        self._original_many = original_many
        self._original_binary = original_binary
        return self

    def __exit__(self, *exc: object) -> None:
        del self.db.execute_sql
        store_sql.executemany = self._original_many  # type: ignore[assignment]
        store_reads._select_binary = self._original_binary

    @property
    def count(self) -> int:
        return len(self.statements)


def race(
    pushers: Sequence[Callable[[], None]],
    pullers: Sequence[Callable[[threading.Event], None]],
    timeout: float = 120,
) -> None:
    """Run pushers and pullers on threads of their own, together: the pullers pull until
    every pusher has ended (the event they are given is set then), and this returns when all
    have ended. Each reports its own errors (the threads cannot raise here)."""
    done = threading.Event()
    pulling = [threading.Thread(target=puller, args=(done,)) for puller in pullers]
    pushing = [threading.Thread(target=pusher) for pusher in pushers]
    for thread in pulling + pushing:
        thread.start()
    for thread in pushing:
        thread.join(timeout)
    done.set()
    for thread in pulling:
        thread.join(timeout)


def push_projects(
    db: Database,
    device: Device,
    seed: int,
    errors: list[BaseException],
    *,
    batches: int,
    size: Callable[[random.Random], int],
    edit_share: float,
) -> None:
    """Push ``batches`` batches of new projects and edits of the device's own earlier ones
    (about ``edit_share`` of the changes; ``size`` draws a batch's number of changes), on the
    calling thread's own connection: a racing pusher (``race``). Errors go to ``errors``."""
    rng = random.Random(seed)
    clock = Clock(lambda: NOW, device.id)
    mine: list[tuple[str, str]] = []  # (record id, title stamp)
    try:
        db.connect(reuse_if_open=True)
        for _ in range(batches):
            changes, touched = [], set()
            for _ in range(size(rng)):
                stamp = str(clock.tick())
                if mine and rng.random() < edit_share:
                    index = rng.randrange(len(mine))
                    rid, base = mine[index]
                else:
                    rid, base, index = str(uuid.uuid4()), None, len(mine)
                    mine.append((rid, stamp))
                if rid in touched:
                    continue
                touched.add(rid)
                mine[index] = (rid, stamp)
                changes.append({"type": "project", "id": rid,
                                "set": {"title": {"value": f"t{stamp}", "stamp": stamp,
                                                  "base": base}}})  # fmt: skip
            body = {"batch_id": str(uuid.uuid4()), "changes": changes}
            response = store.push(device, body, now_ms=NOW, max_skew_ms=SKEW)
            assert response["rejected"] == [] and response["conflicts"] == []
    except BaseException as exc:  # noqa: BLE001 - reported to the main thread
        errors.append(exc)
    finally:
        db.close()
