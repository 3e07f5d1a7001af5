"""Talking to the office server over HTTP: the only module that opens connections.

``HttpTransport`` sends JSON with ``Fieldsync-Protocol: 1``, the bearer token, gzip request
bodies, and retries connection errors, timeouts, 5xx and 429 with exponential backoff and jitter
(honouring ``Retry-After``). A retried push re-sends the very same body, so the same batch id.
It speaks HTTP with the standard library's ``http.client`` over one kept-alive connection: an
incremental sync is two small requests, and with requests each cost the device 0.55 ms of CPU
(a pull of 10 records, its JSON decoded), with ``http.client`` 0.2 ms. Socket and HTTP errors
are translated once, in ``_translated``; answers are checked by ``check_answer``, which
in-process transports (tests) share.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import os
import random
import select
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import SplitResult, urlencode, urlsplit

import certifi
from isal import isal_zlib

from field_client import pulled
from field_client.errors import Offline, Refused, ServerError
from sync import NEXT_HEADER, PROTOCOL_HEADER, PROTOCOL_VERSION, jsonio

__all__ = ["API", "NEXT", "HttpTransport", "Transport", "check_answer"]

API = "/api/v1"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# A transport's pull answer carries the cursor of the page's ``NEXT_HEADER`` under this key
# (absent: an older server, or the last page).
NEXT = "next"


class Sink(Protocol):
    """Where a downloaded blob goes: a binary file, or one that refuses to grow too big."""

    def write(self, data: bytes) -> int: ...

    def seek(self, offset: int, whence: int = 0) -> int: ...

    def truncate(self, size: int | None = None) -> int: ...


class Transport(Protocol):
    """What the syncer needs from a connection to the server."""

    def enroll(self, code: str, device_name: str) -> dict[str, Any]:
        """Enroll this device with a one-time code; return the server's answer."""
        ...

    def push(self, body: dict[str, Any] | str | bytes) -> dict[str, Any]:
        """Send one push batch (a dict, its JSON text, or that text gzipped); return the
        server's answer."""
        ...

    def pull(
        self,
        cursor: str | None,
        limit: int,
        read: Callable[[bytes], Any] = pulled.read_page,
        sent: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """Fetch one pull page, read by ``read`` (``pulled.unread``: its body, read later); with
        the ``Fieldsync-Next`` header's cursor under ``NEXT`` when the server sent one.
        ``sent()``, if given, is called once the request is on its way (an in-process
        transport may call it at once)."""
        ...

    def device(self) -> dict[str, Any]:
        """Fetch this device's record (its user, last sync, open conflicts)."""
        ...

    def device_wiped(self) -> dict[str, Any]:
        """Tell the server this device, revoked with wipe, deleted its personal data."""
        ...

    def missing_blobs(self, hashes: list[str]) -> dict[str, Any]:
        """Ask which of ``hashes`` the server lacks: ``{"missing": [...], "limit": bytes}``."""
        ...

    def upload_blob(self, sha256: str, path: Path) -> bool:
        """Upload one blob from a file, streamed; return whether the server stored it anew."""
        ...

    def download_blob(self, sha256: str, sink: Sink) -> None:
        """Write one blob into ``sink``, streamed."""
        ...


def check_answer(
    status: int, content_type: str, body: bytes, read: Callable[[bytes], Any] = jsonio.loads
) -> dict[str, Any]:
    """Return the JSON of a successful answer, decoded by ``read`` (a pull page's by
    ``pulled.read_page``); raise Refused for problem+json and ServerError for anything else
    that is not a Fieldsync answer."""
    try:
        data = (read if status < 400 else jsonio.loads)(body) if body else {}
    except ValueError:
        data = None
    if status < 400 and isinstance(data, dict):
        return data
    if isinstance(data, dict) and "code" in data:
        raise Refused(
            str(data["code"]),
            str(data.get("detail") or data.get("title") or ""),
            status=status,
            body=data,
        )
    if status < 400:
        raise ServerError("not a fieldsync server", status=status)
    if status == 404 or "html" in content_type:
        raise ServerError("not a fieldsync server", status=status)
    raise ServerError("server error", status=status)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


@dataclass(frozen=True)
class Answer:
    """A server's answer: status, content type, body (gzip undone; empty when streamed into a
    sink) and its Retry-After."""

    status: int
    content_type: str
    body: bytes
    retry_after: float | None
    following: str | None = None  # a pull page's Fieldsync-Next header


_CHUNK = 64 * 1024


class HttpTransport:
    """One kept-alive connection to one server, with retries; ``sleep`` is injectable for
    tests."""

    def __init__(
        self,
        server_url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base = server_url.rstrip("/") + API
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sleep = sleep
        self.headers = {
            PROTOCOL_HEADER: str(PROTOCOL_VERSION),
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
            "User-Agent": "fieldsync-client/1",
        }
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self._connection: http.client.HTTPConnection | None = None
        self._turn = threading.Lock()  # one connection: callers on several threads take turns
        self._prefix = ""  # of each request target, and the headers for a proxy (``_open``)
        self._route_headers: dict[str, str] = {}

    def close(self) -> None:
        """Close the kept-alive connection."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # -- the protocol's calls ------------------------------------------------------------------

    def enroll(self, code: str, device_name: str) -> dict[str, Any]:
        """Enroll this device with a one-time code (never retried: the code is single use)."""
        return self._call("POST", "/enroll", {"code": code, "device_name": device_name}, 0)

    def push(self, body: dict[str, Any] | str | bytes) -> dict[str, Any]:
        """Send one push batch (a dict, its JSON text, or that text gzipped as the store keeps
        it); a retry re-sends the same bytes (the same batch id)."""
        return self._call("POST", "/sync/push", body, self.retries)

    def pull(
        self,
        cursor: str | None,
        limit: int,
        read: Callable[[bytes], Any] = pulled.read_page,
        sent: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """Fetch one pull page, read by ``read`` (``pulled.unread``: its body, read later);
        ``sent()`` is called once the request is on its way or has failed to go (so for each
        try)."""
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        path = "/sync/pull?" + urlencode(params)
        answer = self._send("GET", path, None, self.retries, sent)
        page = check_answer(answer.status, answer.content_type, answer.body, read)
        if answer.following is not None:
            page[NEXT] = answer.following
        return page

    def device(self) -> dict[str, Any]:
        """Fetch this device's record from the server."""
        return self._call("GET", "/device", None, self.retries)

    def device_wiped(self) -> dict[str, Any]:
        """Tell the server this device, revoked with wipe, deleted its personal data."""
        return self._call("POST", "/device/wiped", {}, self.retries)

    # -- blobs (PROTOCOL.md section 7; used by field_client.blobs) -----------------------------

    def missing_blobs(self, hashes: list[str]) -> dict[str, Any]:
        """Ask which of ``hashes`` (at most 1,000) the server lacks: ``{"missing", "limit"}``."""
        return self._call("POST", "/blobs/missing", {"sha256": hashes}, self.retries)

    def upload_blob(self, sha256: str, path: Path) -> bool:
        """Upload one blob from a file, streamed (a retry re-reads the file); return whether the
        server stored it anew (False: it had it)."""

        def send() -> Answer:
            with open(path, "rb") as handle:
                headers = {
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(os.fstat(handle.fileno()).st_size),
                }
                return self._exchange("PUT", f"/blobs/{sha256}", handle, headers)

        answer = self._with_retries(send, self.retries)
        check_answer(answer.status, answer.content_type, answer.body)
        return answer.status == 201

    def download_blob(self, sha256: str, sink: Sink) -> None:
        """Write one blob into ``sink``, streamed (a retry starts ``sink`` over)."""

        def send() -> Answer:
            sink.seek(0)
            sink.truncate()
            return self._exchange("GET", f"/blobs/{sha256}", None, {}, sink)

        answer = self._with_retries(send, self.retries)
        if answer.status != 200:
            check_answer(answer.status, answer.content_type, answer.body)

    # -- plumbing ------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | str | bytes | None,
        retries: int,
        read: Callable[[bytes], Any] = jsonio.loads,
    ) -> dict[str, Any]:
        answer = self._send(method, path, body, retries)
        return check_answer(answer.status, answer.content_type, answer.body, read)

    def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | str | bytes | None,
        retries: int,
        sent: Callable[[], None] | None = None,
    ) -> Answer:
        """Send a request (its body gzipped) until it gets a final answer (``_with_retries``);
        ``sent()``, if given, is called as each try is on its way."""
        data, headers = None, {}
        if isinstance(body, bytes):  # already gzipped JSON (a push batch as the store keeps it)
            data = body
        elif body is not None:
            text = body if isinstance(body, str) else jsonio.dumps(body)
            data = gzip.compress(text.encode(), compresslevel=5)
        if body is not None:
            headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        return self._with_retries(
            lambda: self._exchange(method, path, data, headers, sent=sent), retries
        )

    def _with_retries(self, send: Callable[[], Answer], retries: int) -> Answer:
        """Run ``send`` until it gives a final answer: connection errors, timeouts and the
        statuses of ``RETRY_STATUSES`` are tried again up to ``retries`` times."""
        attempt = 0
        while True:
            try:
                answer = send()
                if answer.status not in RETRY_STATUSES or attempt >= retries:
                    return answer
                wait = answer.retry_after
            except Offline:
                if attempt >= retries:
                    raise
                wait = None
            self.sleep(self._delay(attempt) if wait is None else min(wait, self.max_backoff))
            attempt += 1

    def _exchange(
        self,
        method: str,
        path: str,
        body: bytes | BinaryIO | None,
        headers: dict[str, str],
        sink: Sink | None = None,
        sent: Callable[[], None] | None = None,
    ) -> Answer:
        """Send one request and read its whole answer (into ``sink`` when it is a 200 and one
        is given; ``sent()`` is called once the request is sent or has failed); on any error
        the connection is dropped and the error translated."""
        with self._turn, _translated():
            connection = self._connect()
            try:
                try:
                    connection.request(
                        method,
                        self._prefix + path,
                        body=body,
                        headers={**self.headers, **self._route_headers, **headers},
                    )
                finally:
                    if sent is not None:  # on its way, or failed to go (a retry may follow)
                        sent()
                response = connection.getresponse()
                answer = _read(response, sink if response.status == 200 else None)
            except BaseException:
                self.close()
                raise
            if response.will_close:
                self.close()
        return answer

    def _connect(self) -> http.client.HTTPConnection:
        """The kept-alive connection, or a new one when there is none or the server has closed
        it while it was idle (as urllib3 checks before reusing a connection)."""
        connection = self._connection
        if connection is not None and connection.sock is not None and _closed(connection.sock):
            self.close()
            connection = None
        if connection is None:
            connection, self._prefix, self._route_headers = _open(
                urlsplit(self.base), self.timeout
            )
            self._connection = connection
        return connection

    def _delay(self, attempt: int) -> float:
        """Exponential backoff with full jitter."""
        ceiling = min(self.max_backoff, self.backoff * (2**attempt))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def _open(
    url: SplitResult, timeout: float
) -> tuple[http.client.HTTPConnection, str, dict[str, str]]:
    """A connection (opened by its first request) to the server, through the environment's
    proxy for it; with the prefix of every request target and the headers every request
    carries for the proxy (a plain-HTTP proxy takes the whole URL, and its credentials each
    time; an HTTPS server is reached through a tunnel)."""
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ServerError("bad server address", reason=url.geturl())
    try:
        port = url.port
    except ValueError as exc:
        raise ServerError("bad server address", reason=str(exc)) from exc
    secure = url.scheme == "https"
    proxy = _proxy_for(url)
    host, connect_port = (proxy.hostname or "", proxy.port) if proxy else (url.hostname, port)
    connection: http.client.HTTPConnection
    if secure:
        context = ssl.create_default_context(cafile=certifi.where())
        connection = http.client.HTTPSConnection(
            host, connect_port, timeout=timeout, context=context, blocksize=_CHUNK
        )
    else:
        connection = http.client.HTTPConnection(
            host, connect_port, timeout=timeout, blocksize=_CHUNK
        )
    if proxy is None:
        return connection, url.path, {}
    credentials = _proxy_authorization(proxy)
    if secure:
        connection.set_tunnel(url.hostname, port, headers=credentials)
        return connection, url.path, {}
    return connection, url.geturl(), credentials


def _proxy_for(url: SplitResult) -> SplitResult | None:
    """The proxy the environment names for this server (``https_proxy``, ``no_proxy``...)."""
    proxy = urllib.request.getproxies().get(url.scheme)
    if not proxy or urllib.request.proxy_bypass(url.netloc):
        return None
    return urlsplit(proxy if "://" in proxy else "http://" + proxy)


def _proxy_authorization(proxy: SplitResult) -> dict[str, str]:
    if not proxy.username:
        return {}
    pair = f"{proxy.username}:{proxy.password or ''}".encode()
    return {"Proxy-Authorization": "Basic " + base64.b64encode(pair).decode()}


def _closed(sock: Any) -> bool:
    """Whether an idle connection's socket has something to read: the server closed it (or
    sent what no request asked for); either way it cannot carry the next request."""
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


def _read(response: http.client.HTTPResponse, sink: Sink | None) -> Answer:
    """Read an answer's body, undoing gzip; into ``sink`` in chunks when one is given.

    Inflated by ISA-L (``isal``, as the server deflates): on the pages of a 10,000-record pull
    it takes 8-10 ms of the device's CPU where zlib took 19 ms."""
    gzipped = (response.getheader("Content-Encoding") or "").strip().lower() == "gzip"
    inflater = isal_zlib.decompressobj(wbits=31) if gzipped else None
    body = b""
    if sink is None:
        body = response.read()
        if inflater is not None:
            body = inflater.decompress(body) + inflater.flush()
    else:
        while chunk := response.read(_CHUNK):
            sink.write(inflater.decompress(chunk) if inflater is not None else chunk)
        if inflater is not None:
            sink.write(inflater.flush())
    return Answer(
        response.status,
        response.getheader("Content-Type") or "",
        body,
        _retry_after(response.getheader("Retry-After")),
        response.getheader(NEXT_HEADER),
    )


@contextmanager
def _translated() -> Iterator[None]:
    """Translate socket and HTTP errors into the client's error tree, at this one point."""
    try:
        yield
    except http.client.InvalidURL as exc:
        raise ServerError("bad server address", reason=str(exc)) from exc
    # isal's stubs declare ``error`` as an instance; it is the class of its inflate errors
    except (http.client.IncompleteRead, isal_zlib.error) as exc:  # type: ignore[misc]
        raise Offline("connection cut", reason=type(exc).__name__) from exc
    except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, TLS
        raise Offline("offline", reason=type(exc).__name__) from exc
