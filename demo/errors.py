"""Errors of the demo. The tree::

DemoError          root: the demo cannot go on; the message says why in one line
├── StoryError     the story file cannot be played (where and why)
└── PortInUse      the chosen port is taken by another program
"""

from __future__ import annotations

__all__ = ["DemoError", "PortInUse", "StoryError"]


class DemoError(Exception):
    """The demo cannot go on; the message says why in one line."""


class StoryError(DemoError, ValueError):
    """The story file cannot be played: the message says where and why."""


class PortInUse(DemoError, OSError):
    """The chosen port is taken by another program."""

    def __init__(self, port: int) -> None:
        super().__init__(f"port {port} is in use")
        self.port = port
