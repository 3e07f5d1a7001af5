"""The dependency rules of STYLE.md, checked on the source with ``ast``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import sync

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def top(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


@pytest.mark.parametrize("path", sources("sync"), ids=lambda p: str(p.relative_to(ROOT)))
def test_sync_is_pure(path):
    forbidden = {"flask", "peewee", "requests", "server", "field_client", "psycopg", "sqlite3"}
    forbidden |= {"socket", "urllib3", "http", "time", "os", "subprocess", "threading"}
    assert not top(imported_modules(path)) & forbidden


COMPOSITION_ROOTS = {
    "demo",
    "bench",
}  # they put server and field client together; nothing imports them


@pytest.mark.parametrize("path", sources("server"), ids=lambda p: str(p.relative_to(ROOT)))
def test_server_never_imports_the_field_client(path):
    assert not top(imported_modules(path)) & {"field_client", *COMPOSITION_ROOTS}


@pytest.mark.parametrize("path", sources("field_client"), ids=lambda p: str(p.relative_to(ROOT)))
def test_field_client_never_imports_the_server(path):
    assert not top(imported_modules(path)) & {"server", *COMPOSITION_ROOTS}


def test_the_server_command_loads_no_field_client():
    script = (
        "import sys; from server.cli import main; "
        "main(['--help'], standalone_mode=False); "
        "main(['report', '--help'], standalone_mode=False); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('field_client', 'demo')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "demo" in done.stdout  # the demo command is listed in --help
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_only_config_reads_the_environment():
    offenders = []
    for package in ("server", "field_client"):
        for path in sources(package):
            text = path.read_text(encoding="utf-8")
            if ("os.environ" in text or "getenv" in text) and path.name != "config.py":
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_only_transport_imports_requests():
    offenders = [
        str(path.relative_to(ROOT))
        for path in sources("field_client")
        if "requests" in top(imported_modules(path)) and path.name != "transport.py"
    ]
    assert offenders == []


def test_views_do_not_touch_peewee():
    view_files = [ROOT / "server" / "api.py", *sorted((ROOT / "server" / "office").glob("*.py"))]
    offenders = [
        str(path.relative_to(ROOT))
        for path in view_files
        if path.exists() and path.name.startswith(("api", "views"))
        if "peewee" in top(imported_modules(path))
    ]
    assert offenders == []


def test_sync_public_api_is_exactly_all():
    public = {name for name in vars(sync) if not name.startswith("_")}
    modules = {
        "annotations",
        "casework",
        "choices",
        "coerce",
        "errors",
        "hlc",
        "jsonio",
        "merge",
        "records",
        "rules",
        "strict",
        "vocabulary",
        "wire",
    }
    assert public - modules == set(sync.__all__)


def test_the_server_serves_the_field_app_without_importing_it(tmp_path: Path) -> None:
    script = (
        "import sys; from server import create_app; "
        f"app = create_app({{'DATABASE_URL': 'sqlite:///{tmp_path / 'x.db'}', "
        f"'INSTANCE_PATH': {str(tmp_path)!r}, 'AUTO_UPGRADE': True, 'SECRET_KEY': 'x'}}); "
        "c = app.test_client(); "
        "print(c.get('/field/').status_code, c.get('/field/js/store.js').status_code); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'field_client'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().splitlines()[-2:] == ["200 200", "[]"]
