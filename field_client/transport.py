"""Talking to the office server over HTTP: the only module that imports requests.

``HttpTransport`` sends JSON with ``Fieldsync-Protocol: 1``, the bearer token, gzip request
bodies, and retries connection errors, timeouts, 5xx and 429 with exponential backoff and jitter
(honouring ``Retry-After``). A retried push re-sends the very same body, so the same batch id.
requests' errors are translated once, in ``_translated``; answers are checked by
``check_answer``, which in-process transports (tests) share.
"""

from __future__ import annotations

import gzip
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import requests

from field_client import pulled
from field_client.errors import Offline, Refused, ServerError
from sync import PROTOCOL_HEADER, PROTOCOL_VERSION, jsonio

__all__ = ["API", "HttpTransport", "Transport", "check_answer"]

API = "/api/v1"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


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

    def pull(self, cursor: str | None, limit: int) -> dict[str, Any]:
        """Fetch one pull page."""
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


class HttpTransport:
    """A requests.Session to one server, with retries; ``sleep`` is injectable for tests."""

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
        session: requests.Session | None = None,
    ) -> None:
        self.base = server_url.rstrip("/") + API
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sleep = sleep
        self.session = session or requests.Session()
        self.session.headers.update(
            {
                PROTOCOL_HEADER: str(PROTOCOL_VERSION),
                "Accept": "application/json",
                "Accept-Encoding": "gzip",
                "User-Agent": "fieldsync-client/1",
            }
        )
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        # Read proxy settings once: requests would look them up again on every request.
        self.session.proxies.update(requests.utils.get_environ_proxies(self.base))
        self.session.trust_env = False

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    # -- the protocol's calls ------------------------------------------------------------------

    def enroll(self, code: str, device_name: str) -> dict[str, Any]:
        """Enroll this device with a one-time code (never retried: the code is single use)."""
        return self._call("POST", "/enroll", {"code": code, "device_name": device_name}, 0)

    def push(self, body: dict[str, Any] | str | bytes) -> dict[str, Any]:
        """Send one push batch (a dict, its JSON text, or that text gzipped as the store keeps
        it); a retry re-sends the same bytes (the same batch id)."""
        return self._call("POST", "/sync/push", body, self.retries)

    def pull(self, cursor: str | None, limit: int) -> dict[str, Any]:
        """Fetch one pull page."""
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        return self._call("GET", "/sync/pull", None, self.retries, params, pulled.read_page)

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

        def send() -> requests.Response:
            with open(path, "rb") as handle:
                return self.session.put(
                    f"{self.base}/blobs/{sha256}",
                    data=handle,
                    headers={"Content-Type": "application/octet-stream"},
                    timeout=self.timeout,
                )

        answer = self._with_retries(send)
        check_answer(answer.status_code, answer.headers.get("Content-Type", ""), answer.content)
        return answer.status_code == 201

    def download_blob(self, sha256: str, sink: Sink) -> None:
        """Write one blob into ``sink``, streamed (a retry starts ``sink`` over)."""

        def send() -> requests.Response:
            sink.seek(0)
            sink.truncate()
            answer = self.session.get(
                f"{self.base}/blobs/{sha256}", stream=True, timeout=self.timeout
            )
            if answer.status_code == 200:
                for chunk in answer.iter_content(64 * 1024):
                    sink.write(chunk)
            return answer

        answer = self._with_retries(send)
        if answer.status_code != 200:
            check_answer(
                answer.status_code, answer.headers.get("Content-Type", ""), answer.content
            )

    def _with_retries(self, send: Callable[[], requests.Response]) -> requests.Response:
        """Run ``send`` until it gives a final answer, with the same retries as ``_call``."""
        attempt = 0
        while True:
            try:
                with _translated():
                    answer = send()
                if answer.status_code not in RETRY_STATUSES or attempt >= self.retries:
                    return answer
                wait = _retry_after(answer.headers.get("Retry-After"))
            except Offline:
                if attempt >= self.retries:
                    raise
                wait = None
            self.sleep(self._delay(attempt) if wait is None else min(wait, self.max_backoff))
            attempt += 1

    # -- plumbing ------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | str | bytes | None,
        retries: int,
        params: dict[str, Any] | None = None,
        read: Callable[[bytes], Any] = jsonio.loads,
    ) -> dict[str, Any]:
        data, headers = None, {}
        if isinstance(body, bytes):  # already gzipped JSON (a push batch as the store keeps it)
            data = body
        elif body is not None:
            text = body if isinstance(body, str) else jsonio.dumps(body)
            data = gzip.compress(text.encode(), compresslevel=5)
        if body is not None:
            headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        attempt = 0
        while True:
            try:
                with _translated():
                    answer = self.session.request(
                        method,
                        self.base + path,
                        data=data,
                        headers=headers,
                        params=params,
                        timeout=self.timeout,
                    )
                    content = answer.content
                if answer.status_code not in RETRY_STATUSES or attempt >= retries:
                    return check_answer(
                        answer.status_code, answer.headers.get("Content-Type", ""), content, read
                    )
                wait = _retry_after(answer.headers.get("Retry-After"))
            except Offline:
                if attempt >= retries:
                    raise
                wait = None
            self.sleep(self._delay(attempt) if wait is None else min(wait, self.max_backoff))
            attempt += 1

    def _delay(self, attempt: int) -> float:
        """Exponential backoff with full jitter."""
        ceiling = min(self.max_backoff, self.backoff * (2**attempt))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


@contextmanager
def _translated() -> Iterator[None]:
    """Translate requests' errors into the client's error tree, at this one point."""
    try:
        yield
    except requests.exceptions.InvalidURL as exc:
        raise ServerError("bad server address", reason=str(exc)) from exc
    except (requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema) as exc:
        raise ServerError("bad server address", reason=str(exc)) from exc
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        raise Offline("offline", reason=type(exc).__name__) from exc
    except requests.exceptions.ChunkedEncodingError as exc:
        raise Offline("connection cut", reason=type(exc).__name__) from exc
    except requests.exceptions.ContentDecodingError as exc:
        raise Offline("connection cut", reason=type(exc).__name__) from exc
    except requests.exceptions.RequestException as exc:
        raise ServerError("request failed", reason=str(exc)) from exc
