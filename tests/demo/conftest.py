"""Fixtures of the demo tests: the demo played once per test module (it takes a few seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from server.cli import main


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """Play the demo with --no-serve into a kept data folder; return (output, data folder)."""
    data = tmp_path_factory.mktemp("demo") / "data"
    result = CliRunner().invoke(main, ["demo", "--no-serve", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output, data
