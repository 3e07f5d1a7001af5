"""Conformance vectors shared by the Python tests and the field app's JavaScript tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def load(name: str) -> Any:
    """Return the vector file ``name`` (without ``.json``) as data."""
    return json.loads((HERE / f"{name}.json").read_text(encoding="utf-8"))
