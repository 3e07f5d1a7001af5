"""Field-client benchmark: the device store and syncer in the loop, over real HTTP.

Run with ``python -m bench client [options]`` (or after the server bench by ``make bench``):

    --records N     visits recorded on a device, pushed and pulled (default 10,000)
    --big N         records held for the big initial pull (default 100,000; 0 skips it)
    --keep          keep the temporary directory
    --server KIND   gthread (default), gunicorn or cli: as for ``python -m bench`` (whose
                    docstring says why the default is gunicorn with connections kept alive)

Each measurement runs in its own client process, so its peak memory (VmHWM) is the client's
own: (1) device A records N visits one by one (as a person would), pushes them; device B, fresh,
pulls them; then 10 edits on A sync incrementally. (2) A fresh device pulls ``--big`` records.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGETS = {"push": 0.6, "pull": 0.3, "incremental": 15.0, "peak": 100.0}


def vm_hwm_mib() -> float:
    """This process's peak resident memory in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- the client processes ----------------------------------------------------------------------


class Timer:
    """A progress callback that notes when each sync stage starts."""

    def __init__(self, metered: Any = None) -> None:
        self.start = time.perf_counter()
        self.stages: dict[str, float] = {}
        self.waited: dict[str, float] = {}  # server wait so far, when each stage started
        self.metered = metered

    def __call__(self, stage: Any, done: int, total: int | None) -> None:
        if str(stage) not in self.stages:
            self.stages[str(stage)] = time.perf_counter() - self.start
            self.waited[str(stage)] = self.metered.waited if self.metered else 0.0

    def span(self, first: str, then: str) -> float:
        return self.stages[then] - self.stages[first]


class Metered:
    """Wraps a transport and adds up the time spent waiting for the server (HTTP + server)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.waited = 0.0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.waited += time.perf_counter() - started

        return timed


def device(home: Path, server: str, code: str) -> tuple[Any, Any]:
    from field_client.store import LocalStore
    from field_client.transport import HttpTransport

    store = LocalStore(home)
    answer = HttpTransport(server).enroll(code, home.name)
    store.save_enrollment(server, answer, home.name)
    return store, Metered(HttpTransport(server, answer["token"]))


def worker_sync(
    server: str, codes: list[str], records: int, root: Path, server_pid: int
) -> dict[str, Any]:
    """Record, push, pull to a fresh device, incremental sync; return the figures."""
    from bench.__main__ import cpu_seconds
    from bench.data import visit_values
    from field_client.syncer import sync_once

    a, ta = device(root / "device-a", server, codes[0])
    place = a.create("place", {"kind": "community", "name": "庄泉社区"})
    started = time.perf_counter()
    ids = [a.create("visit", visit_values(n, place)) for n in range(records)]
    record_s = time.perf_counter() - started

    timer = Timer(ta)
    cpu = (cpu_seconds(server_pid), time.process_time())
    report = sync_once(a, ta, a.clock, timer)
    first_sync_s = time.perf_counter() - timer.start
    first_cpu = (cpu_seconds(server_pid) - cpu[0], time.process_time() - cpu[1])
    assert report.ok and report.sent == records + 1, report
    push_s = timer.span("push", "pull")
    push_wait = timer.waited["pull"] - timer.waited["push"]

    b, tb = device(root / "device-b", server, codes[1])
    timer = Timer()
    report = sync_once(b, tb, b.clock, timer)
    assert report.ok and report.received == records + 1, report
    pull_s = timer.span("pull", "conflicts")
    pull_wait = tb.waited

    rounds, waits, server_cpu, client_cpu = [], [], 0.0, 0.0
    for round_no in range(15):
        for rid in ids[round_no * 10 : round_no * 10 + 10]:
            a.update("visit", rid, {"attendee_count": 1000 + round_no})
        ta.waited = 0.0
        cpu = (cpu_seconds(server_pid), time.process_time())
        started = time.perf_counter()
        report = sync_once(a, ta, a.clock)
        rounds.append((time.perf_counter() - started) * 1000)
        server_cpu += cpu_seconds(server_pid) - cpu[0]
        client_cpu += time.process_time() - cpu[1]
        waits.append(ta.waited * 1000)
        assert report.ok and report.sent == 10, report
    return {
        "record_s": record_s,
        "push_s": push_s,
        "push_client_s": push_s - push_wait,
        "first_sync_s": first_sync_s,
        "pull_s": pull_s,
        "pull_wait_s": pull_wait,
        "incremental_ms": rounds,
        "incremental_client_ms": [r - w for r, w in zip(rounds, waits, strict=True)],
        "first_sync_cpu_s": first_cpu,
        "incremental_cpu_ms": (server_cpu * 1000 / 15, client_cpu * 1000 / 15),
        "peak_mib": vm_hwm_mib(),
    }


def worker_pull(server: str, code: str, root: Path) -> dict[str, Any]:
    """A fresh device's initial pull of everything the server holds."""
    from field_client.syncer import sync_once

    store, transport = device(root / "device-big", server, code)
    timer = Timer()
    report = sync_once(store, transport, store.clock, timer)
    assert report.ok, report
    pull_s = timer.span("pull", "conflicts")
    return {
        "received": report.received,
        "pull_s": pull_s,
        "pull_wait_s": transport.waited,
        "peak_mib": vm_hwm_mib(),
    }


def worker(argv: list[str]) -> int:
    """Entry of a client process: ``worker sync|pull SERVER ROOT CODES... [RECORDS PID]``."""
    kind, server, root, *rest = argv
    if kind == "sync":
        result = worker_sync(server, rest[:2], int(rest[2]), Path(root), int(rest[3]))
    else:
        result = worker_pull(server, rest[0], Path(root))
    print(json.dumps(result))
    return 0


# -- the driver --------------------------------------------------------------------------------


def codes(url: str, count: int) -> list[str]:
    """Make enrollment codes for the bench representative (the server keeps running)."""
    from server import services
    from server.db import open_database

    db = open_database(url)
    try:
        return [services.create_enrollment_code("bench-rep") for _ in range(count)]
    finally:
        db.close()


def run_worker(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.client", "worker", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    if done.returncode != 0:
        raise SystemExit(f"client worker failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def held(url: str) -> int:
    from server.db import open_database

    db = open_database(url)
    try:
        return int(db.execute_sql('SELECT count(*) FROM "record"').fetchone()[0])
    finally:
        db.close()


def run(args: argparse.Namespace) -> int:
    """Run the client bench and print the table (unmet targets are marked, not errors)."""
    from bench.load import fresh_database

    home = Path(tempfile.mkdtemp(prefix="fieldsync-client-bench-"))
    try:
        with fresh_database(args.database, home) as url:
            return _run_on(args, url, home)
    finally:
        if args.keep:
            print(f"\nkept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


def _run_on(args: argparse.Namespace, url: str, home: Path) -> int:
    from bench import targets
    from bench.__main__ import SERVER_NAMES, Row, prepare_database, print_table, server_process
    from bench.data import seed_records

    rows: list[Row] = []
    n = args.records
    workspace_id, first = prepare_database(url)
    with server_process(args.server, url, home) as (base, pid):
        out = run_worker("sync", base, str(home), first, *codes(url, 1), str(n), str(pid))
        inc = statistics.median(out["incremental_ms"])
        inc_client = statistics.median(out["incremental_client_ms"])
        first_cpu, inc_cpu = out["first_sync_cpu_s"], out["incremental_cpu_ms"]
        if n == 10_000:
            targets.note("client_push", args.database, out["push_s"])
            targets.note("client_pull", args.database, out["pull_s"])
            targets.note("first_sync", args.database, out["first_sync_s"])
        rows += [
            Row(f"record {n:,} visits locally", _rate(out["record_s"], n), "", None),
            Row(f"push {n:,} from a device store", _rate(out["push_s"], n),
                f"<= {TARGETS['push']} s", out["push_s"] <= TARGETS["push"]),
            Row("  of which in the client", f"{out['push_client_s']:.3f} s", "", None),
            Row("first sync (push and pull)", f"{out['first_sync_s']:.3f} s  (CPU: server "
                f"{first_cpu[0]:.3f} s, client {first_cpu[1]:.3f} s)", "", None),
            Row(f"pull {n:,} into a fresh store", _rate(out["pull_s"], n),
                f"<= {TARGETS['pull']} s", out["pull_s"] <= TARGETS["pull"]),
            Row("  server + HTTP (overlaps applying)", f"{out['pull_wait_s']:.3f} s", "",
                None),
            Row("incremental sync of 10 edits", f"{inc:.1f} ms (median of 15; max "
                f"{max(out['incremental_ms']):.1f})", f"<= {TARGETS['incremental']:.0f} ms",
                inc <= TARGETS["incremental"]),
            Row("  of which in the client", f"{inc_client:.1f} ms  (CPU per sync: server "
                f"{inc_cpu[0]:.1f} ms, client {inc_cpu[1]:.1f} ms)", "", None),
            Row(f"client peak memory ({n:,})", f"{out['peak_mib']:.1f} MiB",
                f"<= {TARGETS['peak']:.0f} MiB", out["peak_mib"] <= TARGETS["peak"]),
        ]  # fmt: skip
        if args.big:
            seed_records(url, workspace_id, args.big)
            big = run_worker("pull", base, str(home), *codes(url, 1))
            rows += [
                Row(f"initial pull of {big['received']:,}",
                    _rate(big["pull_s"], big["received"]), "", None),
                Row("  server + HTTP (overlaps applying)", f"{big['pull_wait_s']:.3f} s",
                    "", None),
                Row(f"client peak memory ({big['received']:,} pull)",
                    f"{big['peak_mib']:.1f} MiB", f"<= {TARGETS['peak']:.0f} MiB",
                    big["peak_mib"] <= TARGETS["peak"]),
            ]  # fmt: skip
    name = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[args.database]
    print(f"\nFieldsync client bench: server = {SERVER_NAMES[args.server]} ({name}), "
          f"{os.cpu_count()} CPUs; server holds {held(url):,} records\n")  # fmt: skip
    print_table(rows)
    return 0  # the figures are a report; targets not met are marked in the table


def _rate(seconds: float, count: int) -> str:
    return f"{seconds:.3f} s  ({count / seconds:,.0f} records/s)"


def parse_args(argv: list[str]) -> argparse.Namespace:
    from bench.__main__ import SERVERS

    parser = argparse.ArgumentParser(
        prog="python -m bench client", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=100_000, help="0 skips the big pull")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--server", choices=SERVERS, default=SERVERS[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point used by ``python -m bench`` (H1a's runner) and ``python -m bench.client``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["worker"]:
        return worker(argv[1:])
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
