"""The demo's field devices (each a real device home with the field client) and its servers.

A ``FieldDevice`` enrolls over HTTP with a one-time code and syncs with
``field_client.syncer.sync_once``, exactly as ``fieldsync init`` and ``fieldsync sync`` do.
``Served`` runs a WSGI app on 127.0.0.1 in a background thread (werkzeug), the way the demo
serves the office and one device's field UI on real sockets.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from demo.errors import PortInUse
from field_client import config as field_config
from field_client.cli import App
from field_client.cli import enroll as enroll_device
from field_client.store import LocalStore
from field_client.syncer import SyncReport, sync_once
from field_client.transport import HttpTransport
from server import store as office_store
from sync import RECORD_TYPES

__all__ = ["FieldDevice", "Served", "diverging_records", "local_records"]

Progress = Callable[[str, int, "int | None"], None]


class _QuietHandler(WSGIRequestHandler):
    """No line per request: the demo's output is the story, not an access log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class Served:
    """A WSGI app served on 127.0.0.1 (``port`` 0: any free port) in a daemon thread."""

    def __init__(self, app: Any, port: int, name: str) -> None:
        if port:
            _check_port_free(port)
        self.server: BaseWSGIServer = make_server(
            "127.0.0.1", port, app, threaded=True, request_handler=_QuietHandler
        )
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, name=name, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop serving and free the port."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def _check_port_free(port: int) -> None:
    """Raise PortInUse when 127.0.0.1:port cannot be bound (werkzeug would exit the process)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise PortInUse(port) from exc


@dataclass
class FieldDevice:
    """One field device of the demo: its story key, name, user and (once open) local store."""

    key: str
    name: str
    username: str
    home: Path
    store: LocalStore | None = None
    transport: HttpTransport | None = None

    @property
    def local(self) -> LocalStore:
        """The device's local store (the demo opens it when the device enrolls)."""
        if self.store is None:
            raise RuntimeError(f"device {self.key} is not enrolled yet")
        return self.store

    @property
    def device_id(self) -> str:
        """The id the server gave this device (its node id in stamps)."""
        return str(self.local.credentials()["device_id"])

    def enroll(self, server_url: str, code: str, lang: str) -> str:
        """Enroll over HTTP the way ``fieldsync init`` does; return its confirmation line."""
        app = App(field_config.load(home=self.home, lang=lang))
        message = enroll_device(app, server_url, code, self.name)
        self.store = app.store
        self.transport = app.transport()
        return message

    def sync(self, progress: Progress | None = None) -> SyncReport:
        """Push the outbox and pull what is new, over HTTP."""
        if self.transport is None:
            raise RuntimeError(f"device {self.key} is not enrolled yet")
        return sync_once(self.local, self.transport, progress=progress)

    def close(self) -> None:
        """Close the connection pool and the local database."""
        if self.transport is not None:
            self.transport.close()
        if self.store is not None:
            self.store.close()


def local_records(store: LocalStore) -> list[dict[str, Any]]:
    """Return every record a device holds, tombstones included."""
    return [r for t in RECORD_TYPES for r in store.list(t, include_deleted=True)]


def diverging_records(store: LocalStore, workspace_id: str) -> list[str]:
    """Return the ids of a device's records whose fields, stamps or tombstone differ from the
    server's."""
    differing = []
    for record in local_records(store):
        server = office_store.get_record(workspace_id, record["id"])
        mine = (record["fields"], record["stamps"], record["deleted"])
        if server is None or mine != (server["fields"], server["stamps"], server["deleted"]):
            differing.append(record["id"])
    return differing
