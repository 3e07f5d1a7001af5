"""Sync in a background thread so the page stays responsive, plus a quick "is the server there".

``SyncJob.start()`` runs one sync (``runner(progress)``) in a thread; the page polls ``snapshot()``
(stage, done, total, and at the end the report or the one-sentence reason it failed). Only one
sync runs at a time. Everything a sync does not finish stays queued in the store.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["Reachability", "SyncJob"]

log = logging.getLogger("fieldsync.client")

Progress = Callable[[str, int, int | None], None]  # total None: not known yet
Runner = Callable[[Progress], dict[str, Any]]


class SyncJob:
    """One device's sync runs, one at a time, in a daemon thread."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._state: dict[str, Any] = {"state": "idle", "run": 0}

    def start(self) -> bool:
        """Start a sync unless one is running; return whether this call started it."""
        with self._lock:
            if self._state["state"] == "running":
                return False
            run = self._state["run"] + 1
            self._state = {"state": "running", "run": run, "stage": "starting", "done": 0,
                           "total": 0, "stages": [], "started": time.time()}  # fmt: skip
            self._thread = threading.Thread(
                target=self._run, args=(run,), name="fieldsync-web-sync", daemon=True
            )
            self._thread.start()
            return True

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the running sync to end (tests and shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def snapshot(self) -> dict[str, Any]:
        """Return a copy of the current state: idle, running (stage, done, total), done, failed."""
        with self._lock:
            return dict(self._state)  # ``stages`` is replaced, never changed in place

    def _progress(self, run: int) -> Progress:
        def report(stage: str, done: int, total: int | None) -> None:
            with self._lock:
                if self._state.get("run") == run:
                    self._state.update(stage=str(stage), done=int(done), total=int(total or 0))
                    if str(stage) not in self._state["stages"]:
                        self._state["stages"] = [*self._state["stages"], str(stage)]

        return report

    def _run(self, run: int) -> None:
        try:
            result = self._runner(self._progress(run))
            failed = result.get("failed") or result.get("error")
            final = {"state": "failed" if failed else "done", "result": result}
        except Exception as exc:  # a sync never takes the page down; say why in one sentence
            _log_failure(exc)
            final = {"state": "failed", "result": {"failed": True, "reason": _reason(exc)}}
        with self._lock:
            if self._state.get("run") == run:
                self._state.update(final, finished=time.time())


def _log_failure(exc: Exception) -> None:
    """Log a failed sync: the error's class and where it arose, never its message (it may
    quote a name or a phone number)."""
    frames = "\n".join(
        f"  {frame.filename}:{frame.lineno} in {frame.name}"
        for frame in traceback.extract_tb(exc.__traceback__)
    )
    log.error("sync failed: %s\n%s", type(exc).__name__, frames)


def _reason(exc: Exception) -> str:
    text = getattr(exc, "detail", "") or str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


class Reachability:
    """Remembers for a short while whether the office server answered a quick check."""

    def __init__(self, check: Callable[[], bool | None], ttl: float = 10.0) -> None:
        self._check = check
        self._ttl = ttl
        self._lock = threading.Lock()
        self._value: bool | None = None
        self._at = 0.0

    def get(self, refresh: bool = False) -> bool | None:
        """Return True (answered), False (no answer) or None (no server configured)."""
        with self._lock:
            if not refresh and self._at and time.monotonic() - self._at < self._ttl:
                return self._value
        value = self._check()
        with self._lock:
            self._value, self._at = value, time.monotonic()
        return value

    def forget(self) -> None:
        """Drop the remembered answer (after a sync learned something new)."""
        with self._lock:
            self._at = 0.0
