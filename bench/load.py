"""Load test: many simulated devices against a real server process (``python -m bench load``).

    python -m bench load [--devices 50] [--workspaces 1] [--seconds 30] [--database postgres]
                         [--workers 4] [--interval 2.0] [--seed 1] [--json]

Each device is enrolled over HTTP with a code of its own user, keeps its own hybrid logical clock
(its wall clock off by up to 5 s), records visits and concerns, edits a set of concerns shared by
its workspace (so edits race and conflict for real), and syncs through the real protocol
(docs/protocol.md): a push batch keeps its id until it is answered, a pulled value of a field with
a pending write is held back and settled when the push is answered, the cursor moves only with an
answered page. 2% of pushes are sent twice (the second must come back ``replayed``), 2% of push
answers and 2% of pull answers are dropped (the device retries). After ``--seconds`` of load every
device pushes what it holds and pulls to the end; then every device must hold exactly the
server's field values and stamps (``diverged`` counts the devices that do not), and every write
the server acknowledged must be current, knowingly replaced (a later write based on it, or a later
write of the same device) or in a recorded conflict (``lost`` counts those that are not).

The server is ``gunicorn -w N`` on PostgreSQL (a database of its own, dropped afterwards; the
server is ``FIELDSYNC_BENCH_POSTGRES_URL``, else ``FIELDSYNC_TEST_POSTGRES_URL``, else the local
one) or on an SQLite file. Its Prometheus metrics (multiprocess mode, scraped from 127.0.0.1) give
the time the write lock was held: summed over all write transactions and divided by the run's
wall time, so 100% means one lock busy all the time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.data import summary
from sync import DELETED, PROTOCOL_HEADER, Clock

BIN = Path(sys.executable).parent
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
SHARED_PER_WORKSPACE = 8
DOUBLE, DROP_PUSH, DROP_PULL = 0.02, 0.02, 0.02
PULL_LIMIT = 500
STATUSES = ("new", "accepted", "referred", "in_progress", "resolved")
PRIORITIES = ("low", "normal", "high", "urgent")
CATEGORIES = ("infrastructure", "environment", "property_management", "safety", "business")


def parse_args(argv: list[str]) -> argparse.Namespace:
    what = __doc__.split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m bench load", description=what)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--workspaces", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=30.0, help="load phase (then drain)")
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--interval", type=float, default=2.0, help="mean seconds between syncs")
    parser.add_argument("--threads", type=int, default=64, help="client threads driving devices")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser.parse_args(argv)


# -- the server -------------------------------------------------------------------------------


@contextmanager
def fresh_database(kind: str, home: Path) -> Iterator[str]:
    """Yield the URL of a fresh database (PostgreSQL: created here and dropped afterwards)."""
    if kind == "sqlite":
        yield f"sqlite:///{home / 'load.db'}"
        return
    import psycopg

    admin = (
        os.environ.get("FIELDSYNC_BENCH_POSTGRES_URL")
        or os.environ.get("FIELDSYNC_TEST_POSTGRES_URL")
        or DEFAULT_POSTGRES
    )
    name = "fieldsync_load_" + uuid.uuid4().hex[:10]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare(url: str, devices: int, workspaces: int) -> list[tuple[str, str]]:
    """Create the schema, the workspaces and one representative per device; return for each
    device (its workspace id, an enrollment code of its own)."""
    from server import migrations, services
    from server.db import open_database

    db = open_database(url)
    migrations.upgrade(db)
    spaces = [services.create_workspace(f"负载测试社区{n + 1}") for n in range(workspaces)]
    codes = []
    for n in range(devices):
        space = spaces[n % workspaces]
        services.create_user(f"load-{n}", space, "representative", display_name=f"代表{n}")
        codes.append((str(space.id), services.create_enrollment_code(f"load-{n}")))
    db.close()
    return codes


@contextmanager
def gunicorn(url: str, home: Path, workers: int) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``gunicorn -w workers`` on the database as production runs it (the project's
    gunicorn settings), metrics on for 127.0.0.1 only."""
    from bench.__main__ import free_port, wait_until_up

    port = free_port()
    metrics_dir = home / "metrics"
    metrics_dir.mkdir()
    env = {
        **os.environ,
        "FIELDSYNC_DATABASE_URL": url,
        "FIELDSYNC_INSTANCE_PATH": str(home / "instance"),
        "FIELDSYNC_SECRET_KEY": "load-test",
        "FIELDSYNC_METRICS_ALLOW": "127.0.0.1",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    command = [
        str(BIN / "gunicorn"), "--config", "python:server.gunicorn_conf", "--workers",
        str(workers), "--bind", f"127.0.0.1:{port}", "--backlog", "4096", "--log-level",
        "warning", "server:create_app()",
    ]  # fmt: skip
    log = open(home / "server.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        yield base, process
    finally:
        process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def worker_pids(master: subprocess.Popen[bytes]) -> list[int]:
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def rss_mib(pid: int, key: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass  # the worker has just been replaced
    return 0.0


def metric_sum(base: str, name: str) -> float:
    """The sum of a metric's samples (all label sets) from the server's /metrics."""
    text = requests.get(base + "/metrics", timeout=30).text
    return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))


# -- the devices ------------------------------------------------------------------------------


@dataclass
class Write:
    record: str
    field: str
    value: Any
    stamp: str
    base: str | None


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    push_ms: list[float] = field(default_factory=list)
    pull_ms: list[float] = field(default_factory=list)
    pushed: int = 0  # changes in answered pushes (first answer of each batch)
    pulled: int = 0  # records in answered pull pages
    batches: set[str] = field(default_factory=set)  # distinct batch ids sent
    replays: int = 0
    dropped: int = 0  # answers the device threw away (push and pull)
    conflicts: int = 0

    def request(self, kind: str, ms: float, status: int, code: str | None) -> None:
        with self.lock:
            self.requests += 1
            (self.push_ms if kind == "push" else self.pull_ms).append(ms)
            if status != 200:
                self.errors[f"{kind} {status} {code or ''}".strip()] += 1


class Device:
    """A field device following docs/protocol.md: held values, an outbox, one batch in flight
    (its id stable until answered), held-back pulled values and a cursor."""

    def __init__(self, base: str, workspace: str, code: str, rng: random.Random) -> None:
        self.api = base + "/api/v1"
        self.workspace = workspace
        self.rng = rng
        self.http = requests.Session()
        self.http.headers[PROTOCOL_HEADER] = "1"
        answer = self.http.post(
            self.api + "/enroll", json={"code": code, "device_name": "负载测试平板"}, timeout=60
        )
        answer.raise_for_status()
        body = answer.json()
        self.id = body["device_id"]
        self.http.headers["Authorization"] = "Bearer " + body["token"]
        skew = rng.randint(-5000, 5000)
        self.clock = Clock(lambda: time.time_ns() // 1_000_000 + skew, self.id)
        self.types: dict[str, str] = {}
        self.held: dict[str, dict[str, tuple[Any, str]]] = {}
        self.outbox: dict[tuple[str, str], tuple[Any, str, str | None]] = {}
        self.in_flight: dict[str, Any] | None = None
        self.held_back: dict[tuple[str, str], tuple[Any, str]] = {}
        self.cursor: str | None = None
        self.writes: list[Write] = []  # every write, acknowledged or not yet
        self.acked: list[dict[str, Any]] = []
        self.shared: list[str] = []
        self.own: list[str] = []
        self.next_at = 0.0

    # -- recording

    def write(self, rtype: str, record: str, values: dict[str, Any]) -> None:
        stamp = str(self.clock.tick())
        self.types[record] = rtype
        fields = self.held.setdefault(record, {})
        for name, value in values.items():
            old = fields.get(name)
            base = old[1] if old else None
            pending = self.outbox.get((record, name))
            if pending is not None:
                base = pending[2]  # an unpushed edit keeps its original base
            self.outbox[(record, name)] = (value, stamp, base)
            fields[name] = (value, stamp)
            self.writes.append(Write(record, name, value, stamp, old[1] if old else None))

    def record_something(self, n: int) -> None:
        """One to four edits: a new visit or concern, an edit of a shared or of an own record."""
        for _ in range(self.rng.randint(1, 4)):
            roll = self.rng.random()
            if roll < 0.5 and self.shared:
                record = self.rng.choice(self.shared)
                name = self.rng.choice(("status", "priority", "title"))
                value = {
                    "status": self.rng.choice(STATUSES),
                    "priority": self.rng.choice(PRIORITIES),
                    "title": f"共同诉求{self.rng.randint(1, 30)}号",
                }[name]
                self.write("concern", record, {name: value})
            elif roll < 0.7 and self.own:
                record = self.rng.choice(self.own)
                if self.types[record] == "visit":
                    self.write("visit", record, {"attendee_count": self.rng.randint(1, 80)})
                else:
                    self.write("concern", record, {"status": self.rng.choice(STATUSES)})
            elif roll < 0.85:
                record = str(uuid.uuid4())
                self.own.append(record)
                self.write("visit", record, visit(n + len(self.writes)))
            else:
                record = str(uuid.uuid4())
                self.own.append(record)
                self.write("concern", record, concern(n + len(self.writes), self.rng))

    # -- the protocol

    def pending(self, record: str, name: str) -> bool:
        if (record, name) in self.outbox:
            return True
        flight = self.in_flight
        return flight is not None and any(
            c["id"] == record and name in c["set"] for c in flight["changes"]
        )

    def next_batch(self) -> dict[str, Any] | None:
        if self.in_flight is not None:
            return self.in_flight  # retried with the same batch id until it is answered
        if not self.outbox:
            return None
        changes: dict[str, dict[str, Any]] = {}
        for (record, name), (value, stamp, base) in list(self.outbox.items())[:1000]:
            change = changes.setdefault(
                record, {"type": self.types[record], "id": record, "set": {}}
            )
            change["set"][name] = {"value": value, "stamp": stamp, "base": base}
        for change in changes.values():
            for name in change["set"]:
                del self.outbox[(change["id"], name)]
        self.in_flight = {
            "batch_id": str(uuid.uuid4()),
            "device_time": str(self.clock.tick()),
            "changes": list(changes.values()),
        }
        return self.in_flight

    def push(self, stats: Stats, faults: bool) -> bool:
        """Push one batch; return whether it was answered (a dropped answer is not)."""
        body = self.next_batch()
        if body is None:
            return True
        with stats.lock:
            stats.batches.add(body["batch_id"])
        data = json.dumps(body, ensure_ascii=False).encode()
        answer = self._send_push(data, stats)
        if answer is None:
            return False
        if faults and self.rng.random() < DROP_PUSH:
            with stats.lock:
                stats.dropped += 1
            return False  # the answer is lost on the way: retry the same batch later
        if faults and self.rng.random() < DOUBLE:
            again = self._send_push(data, stats)
            if again is not None and not again.get("replayed"):
                stats.request("push", 0, 599, "replay_not_recognised")
        self.clock.observe(answer["server_time"])
        with stats.lock:
            if not answer.get("replayed"):
                stats.pushed += len(body["changes"])
                stats.conflicts += len(answer["conflicts"])
            else:
                stats.replays += 1
            for rejected in answer["rejected"]:
                stats.errors["rejected " + ",".join(sorted(rejected.get("errors", {})))] += 1
        self.in_flight = None
        self.acked.append(body)
        self._settle(body)
        return True

    def _send_push(self, data: bytes, stats: Stats) -> dict[str, Any] | None:
        start = time.perf_counter()
        try:
            response = self.http.post(
                self.api + "/sync/push",
                data=data,
                headers={"Content-Type": "application/json"},
                timeout=120,
            )
        except requests.RequestException as exc:
            stats.request("push", (time.perf_counter() - start) * 1000, 0, type(exc).__name__)
            return None
        ms = (time.perf_counter() - start) * 1000
        code = _code(response)
        stats.request("push", ms, response.status_code, code)
        return response.json() if response.status_code == 200 else None

    def _settle(self, body: dict[str, Any]) -> None:
        """Take a held-back value that beat the pushed write (docs/protocol.md section 6)."""
        for change in body["changes"]:
            for name, write in change["set"].items():
                key = (change["id"], name)
                if self.pending(*key) or key not in self.held_back:
                    continue
                value, stamp = self.held_back.pop(key)
                if stamp > write["stamp"]:
                    self.held[change["id"]][name] = (value, stamp)

    def pull(self, stats: Stats, faults: bool) -> bool:
        """Pull to the end; return False when an answer was lost (the cursor stays)."""
        while True:
            params: dict[str, Any] = {
                "limit": PULL_LIMIT,
                **({"cursor": self.cursor} if self.cursor else {}),
            }
            start = time.perf_counter()
            try:
                response = self.http.get(self.api + "/sync/pull", params=params, timeout=120)
            except requests.RequestException as exc:
                stats.request("pull", (time.perf_counter() - start) * 1000, 0, type(exc).__name__)
                return False
            ms = (time.perf_counter() - start) * 1000
            stats.request("pull", ms, response.status_code, _code(response))
            if response.status_code != 200:
                return False
            if faults and self.rng.random() < DROP_PULL:
                with stats.lock:
                    stats.dropped += 1
                return False
            page = response.json()
            self.clock.observe(page["server_time"])
            for record in page["records"]:
                self._take(record)
            with stats.lock:
                stats.pulled += len(page["records"])
            self.cursor = page["cursor"]
            if not page["more"]:
                return True

    def _take(self, record: dict[str, Any]) -> None:
        rid = record["id"]
        self.types.setdefault(rid, record["type"])
        held = self.held.setdefault(rid, {})
        for name, stamp in record["stamps"].items():
            value = record["deleted"] if name == DELETED else record["fields"].get(name)
            if self.pending(rid, name):
                self.held_back[(rid, name)] = (value, stamp)
            else:
                held[name] = (value, stamp)
                self.held_back.pop((rid, name), None)

    def sync(self, stats: Stats, faults: bool) -> None:
        """Push everything (as the field client does, batch after batch), then pull to the end."""
        while self.in_flight is not None or self.outbox:
            if not self.push(stats, faults):
                break
        self.pull(stats, faults)


def _code(response: requests.Response) -> str | None:
    if response.status_code == 200:
        return None
    try:
        return str(response.json().get("code"))
    except ValueError:
        return "not-json"


def visit(n: int) -> dict[str, Any]:
    return {
        "kind": ("home_visit", "shop_visit", "reception", "forum")[n % 4],
        "title": f"入户走访第{n + 1}次",
        "summary": summary(n),
        "attendee_count": 2 + n % 30,
    }


def concern(n: int, rng: random.Random) -> dict[str, Any]:
    return {
        "title": f"居民反映问题{n + 1}",
        "description": summary(n + 3),
        "category": rng.choice(CATEGORIES),
        "status": "new",
        "priority": rng.choice(PRIORITIES),
    }


# -- the run ----------------------------------------------------------------------------------


@dataclass
class Result:
    devices: int
    workspaces: int
    database: str
    workers: int
    seconds: float
    requests: int
    errors: dict[str, int]
    push_ms: dict[str, float]
    pull_ms: dict[str, float]
    pushed_per_s: float
    pulled_per_s: float
    syncs_per_s: float
    conflicts: int
    replays: int
    dropped: int
    writes: int
    lost: int
    diverged: int
    worker_peak_mib: float
    lock_share: float
    lock_wait_ms: float
    lock_hold_ms: float  # the mean time one write transaction held the lock
    metrics_pushes: int
    batches: int
    notes: list[str] = field(default_factory=list)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "error_count": self.error_count}


def percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {"p50": values[0] if values else 0.0, "p95": 0.0, "p99": 0.0}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98]}


def drive(devices: list[Device], stats: Stats, args: argparse.Namespace, until: float) -> int:
    """Run the load phase on ``args.threads`` threads; return the number of syncs done."""
    syncs = [0]
    count_lock = threading.Lock()

    def loop(mine: list[Device], seed: int) -> None:
        rng = random.Random(seed)
        for device in mine:
            device.next_at = time.monotonic() + rng.uniform(0, args.interval)
        while True:
            device = min(mine, key=lambda d: d.next_at)
            wait = device.next_at - time.monotonic()
            if device.next_at >= until or time.monotonic() >= until:
                return  # bounded: no sync starts after the load phase
            if wait > 0:
                time.sleep(wait)
            device.record_something(rng.randint(0, 1_000_000))
            device.sync(stats, faults=True)
            with count_lock:
                syncs[0] += 1
            device.next_at = time.monotonic() + args.interval * rng.uniform(0.5, 1.5)

    threads = [
        threading.Thread(target=loop, args=(devices[n :: args.threads], args.seed * 1000 + n))
        for n in range(min(args.threads, len(devices)))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return syncs[0]


def drain(devices: list[Device], stats: Stats, threads: int) -> None:
    """Every device pushes everything (no faults), then every device pulls to the end."""

    def each(action: str) -> None:
        def work(mine: list[Device]) -> None:
            for device in mine:
                if action == "push":
                    while device.in_flight is not None or device.outbox:
                        if not device.push(stats, faults=False):
                            raise SystemExit(f"device {device.id} cannot push: {stats.errors}")
                elif not device.pull(stats, faults=False):
                    raise SystemExit(f"device {device.id} cannot pull: {stats.errors}")

        pool = [
            threading.Thread(target=work, args=(devices[n::threads],))
            for n in range(min(threads, len(devices)))
        ]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()

    each("push")
    each("pull")


def server_state(workspace_id: str) -> dict[str, dict[str, tuple[Any, str]]]:
    """The workspace as the server holds it, read from the start through the store on the
    bound database (a device's own pull leaves out its own writes, docs/protocol.md
    section 6)."""
    from server import store

    state: dict[str, dict[str, tuple[Any, str]]] = {}
    cursor = None
    while True:
        page = store.pull(workspace_id, cursor, 5000, now_ms=time.time_ns() // 1_000_000)
        for record in page["records"]:
            state[record["id"]] = {
                name: (record["deleted"] if name == DELETED else record["fields"].get(name), s)
                for name, s in record["stamps"].items()
            }
        cursor = page["cursor"]
        if not page["more"]:
            return state


def count_lost(
    writes: list[Write],
    server: dict[str, dict[str, tuple[Any, str]]],
    conflicted: set[tuple[str, str, str]],
) -> list[Write]:
    """Writes that are neither current, knowingly replaced, in a conflict, nor merged into an
    accounted write of the same value with a greater stamp (equal values make no conflict)."""
    by_field: dict[tuple[str, str], list[Write]] = {}
    for write in writes:
        by_field.setdefault((write.record, write.field), []).append(write)
    lost = []
    for (record, name), group in by_field.items():
        value, stamp = server.get(record, {}).get(name, (None, ""))
        bases = {w.base for w in group}
        accounted = []
        for write in group:
            node = write.stamp[21:]
            ok = (
                stamp == write.stamp
                or write.stamp in bases
                or any(w.stamp > write.stamp and w.stamp[21:] == node for w in group)
                or (record, name, write.stamp) in conflicted
            )
            accounted.append(ok)
        grown = True
        while grown:
            grown = False
            for n, write in enumerate(group):
                if not accounted[n] and any(
                    accounted[m] and w.value == write.value and w.stamp > write.stamp
                    for m, w in enumerate(group)
                ):
                    accounted[n] = grown = True
        lost += [w for n, w in enumerate(group) if not accounted[n]]
    return lost


def conflicts_recorded(url: str) -> set[tuple[str, str, str]]:
    from server.db import open_database

    db = open_database(url)
    rows = db.execute_sql("SELECT record_id, field, kept_stamp, other_stamp FROM conflict")
    found = {(r, f, s) for r, f, kept, other in rows for s in (kept, other)}
    db.close()
    return found


def run(args: argparse.Namespace) -> Result:
    rng = random.Random(args.seed)
    home = Path(tempfile.mkdtemp(prefix="fieldsync-load-"))
    try:
        with fresh_database(args.database, home) as url:
            codes = prepare(url, args.devices, args.workspaces)
            with gunicorn(url, home, args.workers) as (base, master):
                return _run_against(base, master, url, codes, args, rng)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _run_against(
    base: str,
    master: subprocess.Popen[bytes],
    url: str,
    codes: list[tuple[str, str]],
    args: argparse.Namespace,
    rng: random.Random,
) -> Result:
    stats = Stats()
    seeds = [rng.random() for _ in codes]
    with ThreadPoolExecutor(16) as pool:  # enrollments over HTTP, a few at a time
        devices = list(
            pool.map(lambda n: Device(base, *codes[n], random.Random(seeds[n])), range(len(codes)))
        )
    stats.requests += len(devices)  # the enrollments
    first: dict[str, Device] = {}
    for device in devices:
        first.setdefault(device.workspace, device)
    for n, device in enumerate(first.values()):  # each workspace's shared concerns
        for k in range(SHARED_PER_WORKSPACE):
            device.write("concern", str(uuid.uuid4()), concern(n * 100 + k, device.rng))
        device.sync(stats, faults=False)
    drain(devices, stats, args.threads)  # everybody starts from the shared records
    for device in devices:
        device.shared = [r for r, t in device.types.items() if t == "concern"]
    held_before = metric_sum(base, "fieldsync_write_lock_held_seconds_sum")
    waited_before = metric_sum(base, "fieldsync_write_lock_wait_seconds_sum")
    locks_before = metric_sum(base, "fieldsync_write_lock_held_seconds_count")
    pushes_before = stats.pushed
    stats.push_ms.clear()
    stats.pull_ms.clear()
    start = time.monotonic()
    syncs = drive(devices, stats, args, start + args.seconds)
    elapsed = time.monotonic() - start
    held = metric_sum(base, "fieldsync_write_lock_held_seconds_sum") - held_before
    waited = metric_sum(base, "fieldsync_write_lock_wait_seconds_sum") - waited_before
    locks = metric_sum(base, "fieldsync_write_lock_held_seconds_count") - locks_before
    pushed = stats.pushed - pushes_before
    pulled = stats.pulled
    push_ms, pull_ms = percentiles(stats.push_ms), percentiles(stats.pull_ms)
    drain(devices, stats, args.threads)
    peak = max((rss_mib(pid, "VmHWM") for pid in worker_pids(master)), default=0.0)
    diverged = 0
    from server.db import open_database

    db = open_database(url)
    try:
        states = {space: server_state(space) for space in first}
    finally:
        db.close()
    for device in devices:
        if device.held != states[device.workspace]:
            diverged += 1
    conflicted = conflicts_recorded(url)
    lost = 0
    writes = 0
    for space, state in states.items():  # a write may be replaced by another device's
        written = [w for d in devices if d.workspace == space for w in d.writes]
        writes += len(written)
        lost += len(count_lost(written, state, conflicted))
    metrics_pushes = int(metric_sum(base, "fieldsync_push_seconds_count"))
    notes = []
    if metrics_pushes != len(stats.batches):
        notes.append(
            f"metrics count {metrics_pushes} pushes, devices sent {len(stats.batches)} batches"
        )
    return Result(
        devices=len(devices),
        workspaces=args.workspaces,
        database=args.database,
        workers=args.workers,
        seconds=elapsed,
        requests=stats.requests,
        errors=dict(stats.errors),
        push_ms=push_ms,
        pull_ms=pull_ms,
        pushed_per_s=pushed / elapsed,
        pulled_per_s=pulled / elapsed,
        syncs_per_s=syncs / elapsed,
        conflicts=stats.conflicts,
        replays=stats.replays,
        dropped=stats.dropped,
        writes=writes,
        lost=lost,
        diverged=diverged,
        worker_peak_mib=peak,
        lock_share=held / elapsed,
        lock_wait_ms=waited * 1000,
        lock_hold_ms=held * 1000 / max(locks, 1),
        metrics_pushes=metrics_pushes,
        batches=len(stats.batches),
        notes=notes,
    )


def report(result: Result) -> str:
    errors = ", ".join(f"{k}: {v}" for k, v in sorted(result.errors.items())) or "none"
    p, q = result.push_ms, result.pull_ms
    lines = [
        f"Load test: {result.devices} devices in {result.workspaces} workspace(s),"
        f" {result.database}, gunicorn -w {result.workers}, {os.cpu_count()} CPUs,"
        f" {result.seconds:.1f} s of load",
        f"  requests         {result.requests:,}  ({result.syncs_per_s:.1f} syncs/s)",
        f"  errors           {result.error_count}  ({errors})",
        f"  push latency     p50 {p['p50']:.1f} ms  p95 {p['p95']:.1f} ms  p99 {p['p99']:.1f} ms",
        f"  pull latency     p50 {q['p50']:.1f} ms  p95 {q['p95']:.1f} ms  p99 {q['p99']:.1f} ms",
        f"  records/s        {result.pushed_per_s:,.0f} pushed, {result.pulled_per_s:,.0f} pulled",
        f"  conflicts        {result.conflicts} recorded;"
        f" {result.replays} doubled pushes replayed; {result.dropped} answers dropped",
        f"  writes checked   {result.writes:,}: {result.lost} lost;"
        f" {result.diverged} devices diverged",
        f"  worker memory    peak {result.worker_peak_mib:.1f} MiB (largest VmHWM of the workers)",
        f"  write lock       held {result.lock_share:.0%} of the time;"
        f" {result.lock_hold_ms:.1f} ms per write; {result.lock_wait_ms / 1000:.1f} s waited",
    ]
    lines += [f"  note: {note}" for note in result.notes]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    result = run(args)
    if args.json:
        print(json.dumps(result.as_dict(), indent=1))
    else:
        print(report(result))
    return 0 if result.error_count == 0 and result.lost == 0 and result.diverged == 0 else 1
