"""Real processes for end-to-end tests: a ``fieldsync-server`` on a free loopback port, a
fault-injecting TCP proxy in front of it, and device homes driven through the ``fieldsync`` CLI.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from field_client.cli import main as fieldsync

BIN = Path(sys.executable).parent
WORKSPACE = "庄泉社区"


class LiveServer:
    """``fieldsync-server`` on a temp SQLite database, started with ``run --port 0``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {
            **os.environ,
            "FIELDSYNC_DATABASE_URL": f"sqlite:///{root / 'server.db'}",
            "FIELDSYNC_INSTANCE_PATH": str(root / "instance"),
            "FIELDSYNC_LANG": "en",
        }
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.made_code = False

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [str(BIN / "fieldsync-server"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr + done.stdout
        return done.stdout

    def setup(self, *usernames: str) -> LiveServer:
        self.cli(
            "init", "--workspace", WORKSPACE, "--admin", "admin", "--password", "admin-pass-1"
        )
        for name in usernames:
            self.cli("user", "add", name, "--workspace", WORKSPACE, "--role", "representative")
        return self

    def code(self, username: str) -> str:
        """A fresh enrollment code: the first through ``enroll-code --json``, later ones from
        the same service in this process (a CLI start costs seconds on a busy machine)."""
        if not self.made_code:
            self.made_code = True
            return str(json.loads(self.cli("enroll-code", username, "--json"))["code"])
        from server import services
        from server.db import open_database

        db = open_database(self.env["FIELDSYNC_DATABASE_URL"])
        try:
            return services.create_enrollment_code(username)
        finally:
            db.close()

    def start(self) -> LiveServer:
        self.process = subprocess.Popen(
            [str(BIN / "fieldsync-server"), "run", "--port", "0"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        self.url = line[line.index("http://") :].split()[0].rstrip("/")
        threading.Thread(target=self.process.stdout.read, daemon=True).start()  # drain
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FaultProxy:
    """A TCP proxy that, while ``cuts`` > 0, drops a connection once ``after`` bytes have gone
    the chosen way (``"up"``: client -> server, ``"down"``: server -> client)."""

    def __init__(self, target_url: str) -> None:
        host_port = target_url.split("//", 1)[1]
        host, port = host_port.split(":")
        self.target = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.direction = "down"
        self.after = 0
        self.cuts = 0
        self.cut_done = 0
        self.trigger = b""  # only connections whose first request contains this are cut
        self.lock = threading.Lock()
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, direction: str, after: int, cuts: int = 1, trigger: bytes = b"") -> None:
        with self.lock:
            self.direction, self.after, self.cuts, self.trigger = direction, after, cuts, trigger

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.target)
        self.open += [client, upstream]
        state = {"up": 0, "down": 0, "armed": False, "checked": False}

        def pump(src: socket.socket, dst: socket.socket, way: str) -> None:
            try:
                while True:
                    data = src.recv(4096)
                    if not data:
                        break
                    if way == "up" and not state["checked"]:
                        state["checked"] = True
                        with self.lock:
                            if self.cuts > 0 and self.trigger in data:
                                self.cuts -= 1
                                state["armed"] = True
                    if state["armed"] and way == self.direction:
                        room = self.after - state[way]
                        if len(data) >= room:
                            dst.sendall(data[: max(room, 0)])
                            self.cut_done += 1
                            raise ConnectionAbortedError
                    state[way] += len(data)
                    dst.sendall(data)
            except OSError:
                pass
            for sock in (client, upstream):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

        threading.Thread(target=pump, args=(client, upstream, "up"), daemon=True).start()
        threading.Thread(target=pump, args=(upstream, client, "down"), daemon=True).start()

    def close(self) -> None:
        """Stop listening and cut every open connection (the network is gone)."""
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked in a thread
        except OSError:
            pass
        self.listener.close()
        for sock in list(self.open):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


class DeviceHome:
    """A device home driven through the ``fieldsync`` CLI (click's runner, in process)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.runner = CliRunner()
        self.env = {"FIELDSYNC_LANG": "en", "FIELDSYNC_RETRIES": "4", "FIELDSYNC_BACKOFF": "0.05"}

    def run(self, *args: str, ok: bool = True) -> Any:
        result = self.runner.invoke(fieldsync, ["--home", str(self.home), *args], env=self.env)
        if ok:
            assert result.exit_code == 0, (args, result.output, result.exception)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def add(self, *args: str) -> str:
        return str(self.run(*args).stdout.strip().splitlines()[-1])

    def snapshot(self) -> dict[str, Any]:
        """Every record of the device, as its fields and deleted flag."""
        from field_client.store import LocalStore

        store = LocalStore(self.home)
        try:
            out = {}
            for rtype in ("place", "party", "visit", "concern", "project", "follow_up"):
                for record in store.list(rtype, include_deleted=True):
                    out[record["id"]] = (record["fields"], record["deleted"], record["stamps"])
            return out
        finally:
            store.close()


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)
