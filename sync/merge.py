"""The field-level merge decision of PROTOCOL.md section 5, as a pure function.

Stamps are compared in their string form, which sorts as the HLC tuple does.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from sync.hlc import Stamp

__all__ = ["Current", "Decision", "Incoming", "Outcome", "decide"]


class Outcome(enum.StrEnum):
    """What the server does with one incoming field write."""

    MALFORMED = "malformed"  # stamp does not sort after its own base: reject the change
    REPLAY = "replay"  # already have it (or something newer from the same node): unchanged
    FAST_FORWARD = "fast_forward"  # take the incoming value
    CONCURRENT_KEPT = "concurrent_kept"  # conflict; the current value has the greater stamp
    CONCURRENT_REPLACED = "concurrent_replaced"  # conflict; the incoming value wins
    CONCURRENT_EQUAL = "concurrent_equal"  # concurrent but same value: keep the greater stamp

    @property
    def takes_incoming(self) -> bool:
        """Whether the stored value and stamp become the incoming ones."""
        return self in _TAKES

    @property
    def is_conflict(self) -> bool:
        """Whether a conflict is recorded for office staff."""
        return self in (Outcome.CONCURRENT_KEPT, Outcome.CONCURRENT_REPLACED)


@dataclass(frozen=True, slots=True)
class Current:
    """What a replica holds for one field."""

    value: Any
    stamp: str


@dataclass(frozen=True, slots=True)
class Incoming:
    """One field write as pushed: value, its stamp, and the stamp the writer saw (or None)."""

    value: Any
    stamp: str
    base: str | None


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    incoming_greater: bool = False

    @property
    def takes_incoming(self) -> bool:
        if self.outcome is Outcome.CONCURRENT_EQUAL:
            return self.incoming_greater
        return self.outcome.takes_incoming


_TAKES = frozenset({Outcome.FAST_FORWARD, Outcome.CONCURRENT_REPLACED})


def decide(current: Current | None, incoming: Incoming) -> Decision:
    """Decide one field write against the held value, in the protocol's order of rules."""
    if incoming.base is not None and not incoming.stamp > incoming.base:
        return Decision(Outcome.MALFORMED)
    if current is None:
        return Decision(Outcome.FAST_FORWARD)
    same_node = Stamp.node_of(current.stamp) == Stamp.node_of(incoming.stamp)
    if same_node and current.stamp >= incoming.stamp:
        return Decision(Outcome.REPLAY)
    if same_node or current.stamp == incoming.base:
        return Decision(Outcome.FAST_FORWARD)
    greater = incoming.stamp > current.stamp
    if current.value == incoming.value:
        return Decision(Outcome.CONCURRENT_EQUAL, incoming_greater=greater)
    return Decision(Outcome.CONCURRENT_REPLACED if greater else Outcome.CONCURRENT_KEPT, greater)
