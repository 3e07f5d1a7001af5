"""Settings of the field client: the only module that reads the environment.

Order: built-in defaults -> ``FIELDSYNC_*`` environment variables -> explicit arguments (the
CLI's options).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

__all__ = ["Config", "load"]

LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class Config:
    """Where the device home is and how the client talks to people and to the server."""

    home: Path
    lang: str = "zh"
    retries: int = 4
    backoff: float = 0.5
    timeout: float = 30.0
    pull_limit: int = 1000


def _lang(value: str | None) -> str:
    value = (value or "zh").lower()
    return "en" if value.startswith("en") else "zh"


def _number(name: str, default: float, cast: type = int) -> Any:
    """Read a numeric setting; a bad value falls back to the default rather than crash."""
    try:
        return cast(os.environ.get(name, default))
    except ValueError:
        return cast(default)


def load(home: str | os.PathLike[str] | None = None, lang: str | None = None) -> Config:
    """Build the settings from defaults, the environment and explicit arguments."""
    env = os.environ
    home_path = Path(
        home or env.get("FIELDSYNC_HOME") or platformdirs.user_data_dir("fieldsync", "fieldsync")
    ).expanduser()
    return Config(
        home=home_path,
        lang=_lang(lang or env.get("FIELDSYNC_LANG") or "zh"),
        retries=_number("FIELDSYNC_RETRIES", 4),
        backoff=_number("FIELDSYNC_BACKOFF", 0.5, float),
        timeout=_number("FIELDSYNC_TIMEOUT", 30.0, float),
        pull_limit=_number("FIELDSYNC_PULL_LIMIT", 1000),
    )
