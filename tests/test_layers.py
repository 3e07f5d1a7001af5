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


def test_only_transport_speaks_http():
    clients = {"http", "requests", "urllib3"}  # http.client, or a library over it
    offenders = [
        str(path.relative_to(ROOT))
        for path in sources("field_client")
        if clients & top(imported_modules(path)) and path.name != "transport.py"
    ]
    assert offenders == []


# -- the database layer: only the store (and models, migrations, db) knows peewee -----------

DATABASE_MODULES = {"peewee", "playhouse"}
# Per package: the module paths (relative to the package) allowed to import the database layer,
# and the package's own model modules nobody else may import.
STORE_LAYER = {
    "server": ({"store/", "models.py", "migrations.py", "db.py"}, {"server.models"}),
    "field_client": ({"store/", "models.py", "migrations.py", "db.py"}, {"field_client.models"}),
}
MODEL_MODULES = {m for _paths, models in STORE_LAYER.values() for m in models}
# Who may import whom among the top-level packages (``demo`` and ``bench`` are composition roots:
# they put the server and the field client together, and nothing imports them).
ALLOWED_PACKAGES = {
    "sync": {"sync"},
    "server": {"sync", "server"},
    "field_client": {"sync", "field_client"},
    # the composition roots reach the server and the client through their public modules,
    # never through the database layer
    "demo": {"sync", "server", "field_client", "demo"},
    "bench": {"sync", "server", "field_client", "bench"},
}
OURS = {"sync", "server", "field_client", *COMPOSITION_ROOTS}


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def every_import(root: Path, path: Path) -> set[str]:
    """Every module a file imports, anywhere in it (functions too), relative imports resolved;
    ``from a import b`` counts as ``a`` and ``a.b`` (b may be a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = module_name(root, path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            if module:
                names.add(module)
            names.update(f"{module}.{alias.name}".lstrip(".") for alias in node.names)
    return names


def layer_violations(root: Path) -> list[str]:
    """Every import of the tree under ``root`` that breaks the layers, as "path: module"."""
    found = []
    for package, allowed in ALLOWED_PACKAGES.items():
        store_paths = STORE_LAYER.get(package, (set(), set()))[0]
        for path in sorted((root / package).rglob("*.py")):
            inside = path.relative_to(root / package).as_posix()
            in_store = any(
                inside.startswith(p) if p.endswith("/") else inside == p for p in store_paths
            )
            for name in sorted(every_import(root, path)):
                first = name.split(".")[0]
                wrong_package = first in OURS and first not in allowed
                database = first in DATABASE_MODULES or any(
                    name == m or name.startswith(m + ".") for m in MODEL_MODULES
                )
                if wrong_package or (database and not in_store):
                    found.append(f"{path.relative_to(root).as_posix()}: {name}")
    return sorted(found)


def test_only_the_store_knows_the_database_and_packages_keep_apart():
    assert layer_violations(ROOT) == []


def test_the_layer_check_walks_every_module(tmp_path: Path) -> None:
    def write(relative: str, text: str) -> None:
        target = tmp_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    for package in ("sync", "server", "server/store", "server/cli", "field_client"):
        write(f"{package}/__init__.py", "")
    write("server/store/people.py", "import peewee\nfrom server.models import User\n")
    write("server/models.py", "from peewee import Model\n")
    write("server/cli/names.py", "def f():\n    from ..models import User\n")
    write("server/helpers.py", "from playhouse.pool import X\n")
    write("server/hub.py", "from server import models\n")
    write("server/mix.py", "import field_client.web\n")
    write("field_client/ui.py", "from server.errors import Refused\n")
    write("field_client/more.py", "from demo import runner\n")
    write("sync/bad.py", "from . import x\nimport server\n")
    write("demo/run.py", "import field_client.web\nfrom server.models import X\nimport server\n")
    write("bench/go.py", "import peewee\nfrom field_client import models\n")
    assert layer_violations(tmp_path) == [
        "bench/go.py: field_client.models",
        "bench/go.py: peewee",
        "demo/run.py: server.models",
        "demo/run.py: server.models.X",
        "field_client/more.py: demo",
        "field_client/more.py: demo.runner",
        "field_client/ui.py: server.errors",
        "field_client/ui.py: server.errors.Refused",
        "server/cli/names.py: server.models",
        "server/cli/names.py: server.models.User",
        "server/helpers.py: playhouse.pool",
        "server/helpers.py: playhouse.pool.X",
        "server/hub.py: server.models",
        "server/mix.py: field_client.web",
        "sync/bad.py: server",
    ]


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
        "translations",
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


CLIENT_DATABASE_MODULES = {
    "field_client/models.py",
    "field_client/migrations.py",
    "field_client/db.py",
}


@pytest.mark.parametrize("path", sources("field_client"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_field_client_uses_peewee_only_in_its_store(path):
    where = str(path.relative_to(ROOT))
    if where in CLIENT_DATABASE_MODULES or where.startswith("field_client/store/"):
        return
    assert "peewee" not in top(imported_modules(path))


def test_the_syncer_needs_only_the_sync_store_protocol():
    names = imported_modules(ROOT / "field_client" / "syncer.py")
    assert not {n for n in names if n.startswith("field_client.store")}
