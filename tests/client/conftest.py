"""Fixtures of the field-client tests: an enrolled device store with a manual clock."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from field_client.store import LocalStore
from tests.clock import ManualClock


def enrolled_store(home: Path, clock: ManualClock, device_id: str = "dev-a") -> LocalStore:
    """Open a store in ``home`` and give it credentials as an enrollment would."""
    store = LocalStore(home, now=clock)
    answer = {
        "device_id": device_id,
        "token": "secret-token",
        "user": {"username": "wang", "display_name": "王芳"},
        "workspace": {"id": "w1", "name": "庄泉社区"},
        "server_time": f"{clock.ms:013d}-000000-server",
        "compact": True,  # as this project's server answers (docs/protocol.md section 5)
    }
    store.save_enrollment("http://127.0.0.1:9", answer, "平板")
    return store


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(tmp_path: Path, clock: ManualClock) -> LocalStore:
    s = enrolled_store(tmp_path / "device", clock)
    yield s
    s.close()


@pytest.fixture(params=["posix", "windows"])
def file_system(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a client test twice: as here, and on the Windows code path of durable writes,
    with ``os.open`` refusing folders as Windows does (issue 9, item 9)."""
    if request.param == "windows":
        from field_client import durable

        real_open = os.open

        def windows_open(path, flags, *args, **kwargs):  # type: ignore[no-untyped-def]
            if os.path.isdir(path):
                raise PermissionError(13, "Access is denied", str(path))
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(durable, "WINDOWS", True)
        monkeypatch.setattr(os, "open", windows_open)
    return str(request.param)
