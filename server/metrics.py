"""Prometheus metrics for operations: sync latency, batch sizes, the write lock, conflicts, errors.

Off unless configured: ``METRICS_TOKEN`` (a bearer token the scraper sends) and/or
``METRICS_ALLOW`` (comma-separated addresses or networks, e.g. ``127.0.0.1,10.0.0.0/8``). With
neither, ``/metrics`` does not exist and nothing is recorded. With both, a scrape needs both.
The endpoint is never public: a request without the token gets 401, one from another address 403.

Under gunicorn each worker is its own process; set ``PROMETHEUS_MULTIPROC_DIR`` to an empty
folder (wiped at each start) and every worker writes its figures there, so one scrape of any
worker sums them all (prometheus_client's multiprocess mode).

Recording functions (no-ops when off), called by the API and the store::

    observe_push(seconds, changes, conflicts, rejected)   one answered push
    observe_pull(seconds, size)                           one answered pull page (bytes)
    observe_lock(wait, held)                              one write transaction (seconds)
    count_error(code)                                     one problem+json response
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from server import config
from sync import ErrorCode, ProtocolError

if TYPE_CHECKING:  # the store records metrics too, and it knows nothing of Flask
    from flask import Flask, Response

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LOCK_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
BATCH_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000)
BYTES_BUCKETS = (1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216)


@dataclass
class _Metrics:
    registry: Any
    push_seconds: Any
    pull_seconds: Any
    push_changes: Any
    pull_bytes: Any
    lock_wait: Any
    lock_held: Any
    conflicts: Any
    rejections: Any
    errors: Any


_metrics: _Metrics | None = None


def _create() -> _Metrics:
    """Create the metrics once per process (prometheus_client allows one of each name)."""
    from prometheus_client import CollectorRegistry, Counter, Histogram

    registry = CollectorRegistry()

    def histogram(name: str, text: str, buckets: tuple[float, ...]) -> Any:
        return Histogram(name, text, buckets=buckets, registry=registry)

    return _Metrics(
        registry=registry,
        push_seconds=histogram("fieldsync_push_seconds", "Time to answer a push", LATENCY_BUCKETS),
        pull_seconds=histogram(
            "fieldsync_pull_seconds", "Time to answer a pull page", LATENCY_BUCKETS
        ),
        push_changes=histogram("fieldsync_push_changes", "Changes per push", BATCH_BUCKETS),
        pull_bytes=histogram("fieldsync_pull_bytes", "Bytes per pull page", BYTES_BUCKETS),
        lock_wait=histogram(
            "fieldsync_write_lock_wait_seconds", "Time a write waited for the lock", LOCK_BUCKETS
        ),
        lock_held=histogram(
            "fieldsync_write_lock_held_seconds", "Time a write held the lock", LOCK_BUCKETS
        ),
        conflicts=Counter(
            "fieldsync_conflicts", "Conflicts recorded by pushes", registry=registry
        ),
        rejections=Counter(
            "fieldsync_rejections", "Rejected changes by code", ["code"], registry=registry
        ),
        errors=Counter(
            "fieldsync_errors", "Problem responses by code", ["code"], registry=registry
        ),
    )


# -- recording --------------------------------------------------------------------------------


def observe_push(seconds: float, changes: int, conflicts: int, rejected: list[Any]) -> None:
    """Record one answered push: its time, its size, its conflicts and its rejections' codes."""
    if _metrics is None:
        return
    _metrics.push_seconds.observe(seconds)
    _metrics.push_changes.observe(changes)
    if conflicts:
        _metrics.conflicts.inc(conflicts)
    for rejection in rejected:
        codes = {c["code"] for cs in rejection.get("codes", {}).values() for c in cs}
        for code in codes or {"message"}:
            _metrics.rejections.labels(code=code).inc()


def observe_pull(seconds: float, size: int) -> None:
    """Record one answered pull page: its time and its size in bytes."""
    if _metrics is not None:
        _metrics.pull_seconds.observe(seconds)
        _metrics.pull_bytes.observe(size)


def observe_lock(wait: float, held: float) -> None:
    """Record one write transaction: time waiting for the write lock, then holding it."""
    if _metrics is not None:
        _metrics.lock_wait.observe(wait)
        _metrics.lock_held.observe(held)


class LockTimer:
    """Times a write transaction: ``locked()`` right after the lock is taken."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.taken: float | None = None

    def locked(self) -> None:
        self.taken = time.perf_counter()


@contextmanager
def write_lock_timer() -> Iterator[LockTimer]:
    """Wrap a write transaction (commit included) and record its lock wait and hold times."""
    timer = LockTimer()
    try:
        yield timer
    finally:
        if timer.taken is not None:
            observe_lock(timer.taken - timer.start, time.perf_counter() - timer.taken)


def count_error(code: str) -> None:
    """Record one problem+json response by its code."""
    if _metrics is not None:
        _metrics.errors.labels(code=code).inc()


# -- the endpoint -----------------------------------------------------------------------------


def init_app(app: Flask) -> None:
    """Serve ``/metrics`` and start recording, when a token or an address list is configured."""
    global _metrics
    token, allowed = app.config["METRICS_TOKEN"], app.config["METRICS_ALLOW"]
    if not token and not allowed:
        return
    app.extensions["fieldsync_metrics_allow"] = _networks(allowed or "")
    if _metrics is None:
        _metrics = _create()
    app.add_url_rule("/metrics", "metrics", scrape)


def _networks(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    try:
        return [ipaddress.ip_network(part.strip()) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise ValueError(f"FIELDSYNC_METRICS_ALLOW: {exc}") from exc


def scrape() -> Response:
    """Return the metrics of every worker in Prometheus' text format, to allowed callers only."""
    from flask import Response
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    _check_caller()
    assert _metrics is not None  # init_app created them before adding this route
    registry = _metrics.registry
    if config.prometheus_multiproc_dir():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def _check_caller() -> None:
    from flask import current_app, request

    networks = current_app.extensions["fieldsync_metrics_allow"]
    if networks:
        try:
            address = ipaddress.ip_address(request.remote_addr or "")
        except ValueError:
            address = None
        if address is None or not any(address in network for network in networks):
            raise ProtocolError(ErrorCode.FORBIDDEN, "Metrics are not served to this address.")
    token = current_app.config["METRICS_TOKEN"]
    if token:
        sent = request.headers.get("Authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            raise ProtocolError(ErrorCode.UNAUTHORIZED, "Metrics need the metrics token.")
