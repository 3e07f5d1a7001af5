"""Hybrid logical clock stamps (PROTOCOL.md section 3).

A stamp is ``(wall_ms, counter, node)``. Its string form ``"%013d-%06d-%s"`` sorts exactly as the
tuple does, so stores can compare stamps as plain strings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sync.errors import InvalidStamp

__all__ = ["MAX_COUNTER", "Clock", "Stamp"]

MAX_COUNTER = 999_999
# ASCII digits only, fixed widths: one spelling per stamp, so strings sort as the tuples do.
_STAMP_RE = re.compile(r"([0-9]{13})-([0-9]{6})-([A-Za-z0-9_.:\-]{1,64})", re.ASCII)


@dataclass(frozen=True, order=True, slots=True)
class Stamp:
    """One HLC reading: wall-clock milliseconds, a counter and the writing node."""

    wall_ms: int
    counter: int
    node: str

    def __str__(self) -> str:
        return f"{self.wall_ms:013d}-{self.counter:06d}-{self.node}"

    @classmethod
    def parse(cls, text: object) -> Stamp:
        """Parse the string form; raise InvalidStamp on anything else."""
        if not isinstance(text, str):
            raise InvalidStamp("a stamp must be a string")
        match = _STAMP_RE.fullmatch(text)
        if match is None:
            raise InvalidStamp(f"not a stamp: {text[:80]!r}")
        return cls(int(match.group(1)), int(match.group(2)), match.group(3))

    @staticmethod
    def node_of(text: str) -> str:
        """Return the node id of a stamp given in string form (no validation)."""
        return text[21:]

    @staticmethod
    def wall_of(text: str) -> int:
        """Return the wall-clock milliseconds of a stamp given in string form."""
        return int(text[:13])


class Clock:
    """An HLC for one node. ``now`` returns wall-clock milliseconds; it is injected, never read."""

    def __init__(
        self, now: Callable[[], int], node_id: str, last: Stamp | str | None = None
    ) -> None:
        if isinstance(last, str):
            last = Stamp.parse(last)
        Stamp.parse(f"{0:013d}-{0:06d}-{node_id}")  # validates the node id
        self._now = now
        self.node_id = node_id
        self.last: Stamp = last or Stamp(0, 0, node_id)

    def tick(self) -> Stamp:
        """Stamp a local event (send rule): strictly after every stamp seen or made."""
        wall = max(self.last.wall_ms, self._now())
        counter = self.last.counter + 1 if wall == self.last.wall_ms else 0
        if counter > MAX_COUNTER:  # a burst of a million events in one ms: borrow the next ms
            wall, counter = wall + 1, 0
        self.last = Stamp(wall, counter, self.node_id)
        return self.last

    def observe(self, remote: Stamp | str) -> Stamp:
        """Fold a remote stamp into the clock (receive rule) and return the new reading."""
        if isinstance(remote, str):
            remote = Stamp.parse(remote)
        now = self._now()
        wall = max(self.last.wall_ms, remote.wall_ms, now)
        if wall == self.last.wall_ms == remote.wall_ms:
            counter = max(self.last.counter, remote.counter) + 1
        elif wall == self.last.wall_ms:
            counter = self.last.counter + 1
        elif wall == remote.wall_ms:
            counter = remote.counter + 1
        else:
            counter = 0
        if counter > MAX_COUNTER:
            wall, counter = wall + 1, 0
        self.last = Stamp(wall, counter, self.node_id)
        return self.last
