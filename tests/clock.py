"""The one manual clock of the tests: epoch milliseconds that move only when a test moves them."""

from __future__ import annotations

START_MS = 1_780_000_000_000  # 2026-05-28, a fixed moment


class ManualClock:
    """A wall clock in epoch ms (the server's NOW_MS, a store's ``now``); tests advance it."""

    def __init__(self, ms: int = START_MS) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, with a negative number of seconds)."""
        self.ms += int(seconds * 1000)
