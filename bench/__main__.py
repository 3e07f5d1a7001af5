"""Server benchmark: push, pull and incremental sync over real HTTP against a real server process.

Run with ``make bench`` (arguments via ``BENCH_ARGS``) or ``python -m bench [options]``:

    --records N       records pushed and pulled (default 10,000)
    --batch N         changes per push (default 1,000)
    --page N          pull page size (default 1,000)
    --held N          records the server holds for the incremental sync (default 100,000)
    --large           hold 1,000,000 records instead
    --server KIND     gthread (default: gunicorn, one worker of the gthread class, connections
                      kept alive), gunicorn (one sync worker: a new connection per request) or
                      cli (``fieldsync-server run``: werkzeug's threaded server, which closes
                      every connection and starts a thread per request)
    --gzip            ask for gzipped responses (a device on a slow network would; on the
                      loopback it only costs CPU on both ends)
    --keep            keep the temporary directory
    --verbose         print the server's memory after each step

Why gunicorn with keep-alive: the targets are the field client and the server together as
deployed, and production is gunicorn behind a reverse proxy (README), where the device's
connection stays open between requests (nginx keeps client connections alive by default). With
no proxy on the loopback, the gthread worker is what keeps the device's connection open; one
worker, so the memory figure is per worker. Measured with 500 empty pulls over one session
(SQLite, this 2-core machine, busy): gthread 1.3 ms a request (server CPU 0.82 ms, client
0.56 ms), a sync worker 1.3-2.8 ms (0.76-1.06, 0.63-0.83: a connection per request),
``fieldsync-server run`` 1.8-2.6 ms (1.20-1.58, 0.74-0.93).

The server runs on SQLite in a temporary directory. Each measure shows the wall time a device
sees and the CPU time the server process spent meanwhile (the machine may be shared and busy).
The database is seeded for the incremental case directly with bulk SQL (the server keeps
running; SQLite WAL lets both work). If ``bench/client.py`` exists (the field client's
benchmark) and defines ``main(argv) -> int``, it runs afterwards; ``python -m bench client
...`` runs only it. The casework benchmark (``bench/casework.py``: ledger import, inbox page)
runs next; ``python -m bench casework ...`` runs only it. The field app benchmark
(``bench/field_app.py``: the web app in Chromium) runs last; ``python -m bench field-app ...``
runs only it.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bench.data import place_values, visit_values
from field_client.transport import HttpTransport
from sync import Clock

TARGETS = {
    "push": 0.5,  # seconds for 10,000 records
    "pull": 0.2,  # seconds for 10,000 records
    "incremental": 10.0,  # ms for 10 changes
    "peak": 100.0,  # MiB
}
BIN = Path(sys.executable).parent
SERVERS = ("gthread", "gunicorn", "cli")  # the --server choices, the default first
# gunicorn's gthread worker, keeping a connection open 75 s between requests (nginx's default
# keepalive_timeout for its clients)
GTHREAD = ["--worker-class", "gthread", "--threads", "2", "--keep-alive", "75"]
SERVER_NAMES = {
    "gthread": "gunicorn, 1 gthread worker, keep-alive",
    "gunicorn": "gunicorn, 1 sync worker",
    "cli": "fieldsync-server run",
}


@dataclass
class Row:
    what: str
    value: str
    target: str
    met: bool | None

    def cells(self) -> tuple[str, str, str, str]:
        flag = "" if self.met is None else ("met" if self.met else "NOT MET")
        return self.what, self.value, self.target, flag


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--page", type=int, default=1_000)
    parser.add_argument("--held", type=int, default=100_000)
    parser.add_argument("--large", action="store_true", help="hold 1,000,000 records")
    parser.add_argument("--server", choices=SERVERS, default=SERVERS[0])
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--gzip", action="store_true", help="ask for gzipped responses")
    parser.add_argument("--verbose", action="store_true", help="server memory after each step")
    parser.add_argument(
        "--database", choices=("sqlite", "postgres", "both"), default="both",
        help="the server's database (PostgreSQL: a fresh database on FIELDSYNC_BENCH_POSTGRES_URL"
        " or FIELDSYNC_TEST_POSTGRES_URL, dropped afterwards)",
    )  # fmt: skip
    parser.add_argument("--no-load", action="store_true", help="skip the load tests")
    parser.add_argument("--city", action="store_true", help="add the 1,000-device load test")
    args = parser.parse_args(argv)
    if args.large:
        args.held = 1_000_000
    return args


# -- the server process ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare_database(url: str) -> tuple[str, str]:
    """Create the schema, a workspace and a representative; return (workspace id, code)."""
    from server import migrations, services
    from server.db import open_database

    db = open_database(url)
    migrations.upgrade(db)
    workspace = services.create_workspace("宝塔路街道")
    services.create_user("bench-rep", workspace, "representative", display_name="代表")
    code = services.create_enrollment_code("bench-rep")
    db.close()
    return str(workspace.id), code


@contextmanager
def server_process(kind: str, url: str, home: Path) -> Iterator[tuple[str, int]]:
    """Start the server (a kind of SERVERS); yield (base URL, pid of the process that serves
    requests)."""
    port = free_port()
    env = {**os.environ, "FIELDSYNC_DATABASE_URL": url, "FIELDSYNC_INSTANCE_PATH": str(home)}
    if kind in ("gunicorn", "gthread"):
        command = [
            str(BIN / "gunicorn"), "--config", "python:server.gunicorn_conf", "--workers", "1",
            *(GTHREAD if kind == "gthread" else []), "--bind", f"127.0.0.1:{port}",
            "--log-level", "warning", "server:create_app()",
        ]  # fmt: skip
    else:
        command = [
            str(BIN / "fieldsync-server"), "--database-url", url, "run",
            "--host", "127.0.0.1", "--port", str(port),
        ]  # fmt: skip
    log = open(home / "server.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        yield base, serving_pid(process)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def wait_until_up(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}; see server.log")
        try:
            if requests.get(base + "/healthz", timeout=1).ok:
                return
        except requests.RequestException:
            pass  # not listening yet, or still starting
        time.sleep(0.05)
    raise SystemExit("the server did not come up within 30 s")


def serving_pid(process: subprocess.Popen[bytes]) -> int:
    """The pid that handles requests: gunicorn's worker, else the process itself."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    if children.exists():
        pids = children.read_text().split()
        if pids:
            return int(pids[0])
    return process.pid


def peak_rss_mib(pid: int, field: str = "VmHWM") -> float:
    """The process's peak (VmHWM) or current (VmRSS) resident memory in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def note(args: argparse.Namespace, pid: int, what: str) -> None:
    if args.verbose:
        rss, peak = peak_rss_mib(pid, "VmRSS"), peak_rss_mib(pid)
        fds = sum(1 for fd in Path(f"/proc/{pid}/fd").iterdir() if fd.resolve().suffix == ".db")
        print(
            f"  after {what}: server RSS {rss:.1f} MiB, peak {peak:.1f} MiB,"
            f" {fds} database connections",
            flush=True,
        )


# -- the device side ------------------------------------------------------------------------


class Device:
    """A minimal device: the field client's own transport (one kept-alive connection), an HLC
    and a pull cursor. Push bodies are built ahead and gzipped, as the field client stores its
    batches, so a timed push is the request alone."""

    def __init__(self, base: str, code: str, gzip: bool) -> None:
        self.http = HttpTransport(base, retries=0)
        enrolled = self.http.enroll(code, "bench")
        self.http = HttpTransport(base, enrolled["token"], retries=0)
        # The transport always asks for gzip; the bench measures both (``--gzip``).
        self.http.headers["Accept-Encoding"] = "gzip" if gzip else "identity"
        self.clock = Clock(lambda: time.time_ns() // 1_000_000, enrolled["device_id"])
        self.cursor: str | None = None

    def change(self, rtype: str, rid: str, values: dict[str, Any], base: dict[str, str]) -> dict:
        """One change in the compact form, as the field client sends it (docs/protocol.md
        section 5): one stamp for all its writes, the bases of the fields that have one."""
        change = {"type": rtype, "id": rid, "stamp": str(self.clock.tick()), "values": values}
        return {**change, "bases": base} if base else change

    def body(self, changes: list[dict[str, Any]]) -> bytes:
        body = {"batch_id": str(uuid.uuid4()), "device_time": str(self.clock.tick())}
        text = json.dumps({**body, "changes": changes}, ensure_ascii=False)
        return gzip.compress(text.encode(), compresslevel=3)

    def push(self, body: bytes) -> dict[str, Any]:
        result = self.http.push(body)
        if result["rejected"]:
            raise SystemExit(f"the server rejected changes: {result['rejected'][:2]}")
        return result

    def pull_all(self, limit: int) -> list[str]:
        """Pull to the end; return the ids of the records pulled."""
        ids: list[str] = []
        while True:
            page = self.http.pull(self.cursor, limit)
            ids += [record.id for record in page["records"]]
            self.cursor = page["cursor"]
            if not page["more"]:
                return ids


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far, all its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Timing:
    wall: float  # seconds on the clock, as the device sees it
    server_cpu: float  # seconds of CPU the server process spent meanwhile

    def text(self, records: int) -> str:
        return (
            f"{self.wall:.3f} s  ({records / self.wall:,.0f} rec/s;"
            f" server CPU {self.server_cpu:.2f} s)"
        )


def timed(action: Callable[[], Any], pid: int) -> tuple[Timing, Any]:
    cpu, start = cpu_seconds(pid), time.perf_counter()
    result = action()
    return Timing(time.perf_counter() - start, cpu_seconds(pid) - cpu), result


# -- the scenarios --------------------------------------------------------------------------


def push_and_pull(
    device: Device, fresh: Device, args: argparse.Namespace, pid: int
) -> tuple[list[Row], list[str]]:
    """``device`` pushes; ``fresh``, another device of the workspace, pulls (a device's own
    writes do not come back to it, docs/protocol.md section 6)."""
    places = [str(uuid.uuid4()) for _ in range(20)]
    device.push(device.body([device.change("place", p, place_values(i), {}) for i, p in
                             enumerate(places)]))  # fmt: skip
    ids = [str(uuid.uuid4()) for _ in range(args.records)]
    bodies = [
        device.body([
            device.change("visit", rid, visit_values(n, places[n % len(places)]), {})
            for n, rid in enumerate(ids[start : start + args.batch], start)
        ])
        for start in range(0, len(ids), args.batch)
    ]  # fmt: skip
    fresh.pull_all(5000)  # the places: the cursor now sits before the visits
    push, _ = timed(lambda: [device.push(body) for body in bodies], pid)
    pull, records = timed(lambda: fresh.pull_all(args.page), pid)
    if sorted(records) != sorted(ids) or device.pull_all(5000):
        raise SystemExit("the pull did not return exactly the pushed records (to the other)")
    scale = args.records / 10_000
    rows = [
        Row(
            f"push {args.records:,} (batches of {args.batch:,})",
            push.text(args.records),
            f"<= {TARGETS['push'] * scale:.2f} s",
            push.wall <= TARGETS["push"] * scale,
        ),
        Row(
            f"pull {args.records:,} (pages of {args.page:,})",
            pull.text(args.records),
            f"<= {TARGETS['pull'] * scale:.2f} s",
            pull.wall <= TARGETS["pull"] * scale,
        ),
    ]
    return rows, ids


def seed(url: str, workspace_id: str, total: int) -> float:
    """Bring the database to ``total`` records with bulk SQL (another device's visits)."""
    from bench.data import seed_records

    start = time.perf_counter()
    seed_records(url, workspace_id, total)
    return time.perf_counter() - start


def incremental(device: Device, other: Device, ids: list[str], rounds: int = 15) -> list[float]:
    """Time a device pushing 10 changes and another pulling them; return ms per round."""
    times = []
    for n in range(rounds):
        changes = [
            device.change("visit", rid, {"attendee_count": n, "title": f"回访 {n}"}, {})
            for rid in ids[n * 10 : n * 10 + 10]
        ]
        body = device.body(changes)
        start = time.perf_counter()
        device.push(body)
        pulled = other.pull_all(1000)
        times.append((time.perf_counter() - start) * 1000)
        if len(pulled) != 10:
            raise SystemExit(f"incremental pull returned {len(pulled)} records, not 10")
    return times


def print_table(rows: list[Row]) -> None:
    header = ("measure", "value", "target", "")
    cells = [header, *(r.cells() for r in rows)]
    widths = [max(_width(c[i]) for c in cells) for i in range(4)]
    for n, line in enumerate(cells):
        print("  ".join(_pad(cell, widths[i]) for i, cell in enumerate(line)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def run(args: argparse.Namespace, database: str = "sqlite") -> int:
    from bench.load import fresh_database

    home = Path(tempfile.mkdtemp(prefix="fieldsync-bench-"))
    try:
        with fresh_database(database, home) as url:
            return _run_on(args, database, url, home)
    finally:
        if args.keep:
            print(f"\nkept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


def _run_on(args: argparse.Namespace, database: str, url: str, home: Path) -> int:
    from bench import targets

    workspace_id, code = prepare_database(url)
    with server_process(args.server, url, home) as (base, pid):
        note(args, pid, "start")
        from bench.client import codes

        device = Device(base, code, args.gzip)
        other = Device(base, codes(url, 1)[0], args.gzip)
        rows, ids = push_and_pull(device, other, args, pid)
        note(args, pid, "push and pull")
        seed_s = seed(url, workspace_id, args.held)
        other.pull_all(args.page)  # catch up after the seeding
        cpu = cpu_seconds(pid)
        times = incremental(device, other, ids)
        cpu_ms = (cpu_seconds(pid) - cpu) * 1000 / len(times)
        note(args, pid, "incremental")
        median = statistics.median(times)
        rows.append(
            Row(
                f"incremental 10 changes, {args.held:,} held",
                f"{median:.1f} ms  (median of {len(times)}; max {max(times):.1f};"
                f" server CPU {cpu_ms:.1f} ms)",
                f"<= {TARGETS['incremental']:.0f} ms",
                median <= TARGETS["incremental"],
            )
        )
        peak = peak_rss_mib(pid)
        targets.note("incremental", database, {"ms": median, "held": args.held})
        targets.note("server_peak", database, peak)
        rows.append(
            Row("server peak memory (VmHWM)", f"{peak:.1f} MiB", "<= 100 MiB", peak <= 100)
        )
    name = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[database]
    print(
        f"\nFieldsync server bench: {name}, server = {SERVER_NAMES[args.server]},"
        f" {os.cpu_count()} CPUs,"
        f" responses {'gzipped' if args.gzip else 'not compressed'}"
    )
    print(f"(seeded to {args.held:,} records in {seed_s:.1f} s)\n")
    print_table(rows)
    print(
        "\nWall times are what the device sees (HTTP, the server, and decoding the JSON);"
        "\nserver CPU is the server process's own user+system time meanwhile."
    )
    return 0


def run_client(argv: list[str]) -> int | None:
    """Run ``bench.client.main(argv)`` when the field client's benchmark exists."""
    if importlib.util.find_spec("bench.client") is None:
        return None
    from bench import client

    main = getattr(client, "main", None)
    return int(main(argv) or 0) if callable(main) else None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["client"]:
        result = run_client(argv[1:])
        return 1 if result is None else result
    if argv[:1] == ["load"]:
        from bench import load

        return load.main(argv[1:])
    if argv[:1] == ["casework"]:
        from bench import casework

        return casework.main(argv[1:])
    if argv[:1] == ["field-app"]:
        from bench import field_app

        return field_app.main(argv[1:])
    args = parse_args(argv)
    databases = ("sqlite", "postgres") if args.database == "both" else (args.database,)
    status = 0
    for database in databases:
        status = status or run(args, database)
        status = status or (run_client(["--database", database]) or 0)
    from bench import casework, targets

    status = status or casework.main([])
    from bench import field_app

    status = status or field_app.main([])
    if not args.no_load and "postgres" in databases:
        status = status or run_loads(args.city)
    targets.print_targets()
    return status


def run_loads(city: bool) -> int:
    """The load tests of the targets table, on PostgreSQL with gunicorn -w 4."""
    from bench import load, targets

    status = 0
    for devices, workspaces in ((50, 1), (200, 20), *([(1000, 100)] if city else [])):
        argv = ["--devices", str(devices), "--workspaces", str(workspaces)]
        result = load.run(load.parse_args(argv))
        print("\n" + load.report(result))
        targets.note(f"load_{devices}", "postgres", result.as_dict())
        status = status or int(result.error_count + result.lost + result.diverged > 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
