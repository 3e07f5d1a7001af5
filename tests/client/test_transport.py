"""The HTTP transport against a real local HTTP server: headers, gzip, retries, error mapping."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from field_client import pulled
from field_client.errors import Offline, Refused, ServerError
from field_client.syncer import Wire, sync_once
from field_client.transport import HttpTransport
from sync import ErrorCode


class Script:
    """The answers the stub server gives, in order, and the requests it saw."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.seen: list[dict] = []
        self.closed = threading.Event()  # the server has closed a connection


def make_handler(script: Script, keep_alive: bool, drop_idle: bool):
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1 keeps the connection open after an answer; HTTP/1.0 closes it, saying so.
        protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            self.seen_request(body)
            status, headers, payload = script.answers.pop(0)
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            # as a server's idle timeout does: the answer said nothing, the connection goes
            self.close_connection = self.close_connection or drop_idle

        def seen_request(self, body: bytes) -> None:
            script.seen.append(
                {
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": body,
                    "client": self.client_address,
                }
            )

        do_GET = do_POST = _answer

        def log_message(self, *args) -> None:
            pass

    return Handler


@pytest.fixture
def stub():
    servers = []

    def start(*answers, keep_alive=False, drop_idle=False):
        script = Script(answers)

        class Server(ThreadingHTTPServer):
            def shutdown_request(self, request) -> None:
                super().shutdown_request(request)
                script.closed.set()

        server = Server(("127.0.0.1", 0), make_handler(script, keep_alive, drop_idle))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}", script

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


OK = (200, {}, {"batch_id": "b", "applied": 1, "conflicts": [], "rejected": []})
PROBLEM = {"type": "t", "title": "t", "status": 503, "detail": "busy", "code": "unavailable"}


def test_push_is_gzipped_with_protocol_header_and_token(stub):
    url, script = stub(OK)
    HttpTransport(url, "tok").push({"batch_id": "b", "changes": [{"title": "污水"}]})
    [request] = script.seen
    assert request["path"] == "/api/v1/sync/push"
    assert request["headers"]["Fieldsync-Protocol"] == "1"
    assert request["headers"]["Authorization"] == "Bearer tok"
    assert request["headers"]["Content-Encoding"] == "gzip"
    assert "gzip" in request["headers"]["Accept-Encoding"]
    assert json.loads(gzip.decompress(request["body"]))["changes"] == [{"title": "污水"}]


def test_requests_share_one_kept_alive_connection_and_gzipped_answers_are_inflated(stub):
    page = {"records": [], "cursor": "c", "more": False, "server_time": "s"}
    gzipped = (200, {"Content-Encoding": "gzip"}, gzip.compress(json.dumps(page).encode()))
    url, script = stub(OK, gzipped, keep_alive=True)
    transport = HttpTransport(url, "tok")
    transport.push({"batch_id": "b", "changes": []})
    answer = transport.pull(None, 10)
    assert (answer["records"], answer["cursor"], answer["more"]) == ([], "c", False)
    assert script.seen[1]["path"] == "/api/v1/sync/pull?limit=10"
    assert script.seen[0]["client"] == script.seen[1]["client"]  # one connection


def test_a_gzipped_answer_that_does_not_inflate_is_a_cut_connection(stub):
    page = gzip.compress(json.dumps({"records": [], "more": False}).encode())
    broken = page[:10] + bytes(b ^ 0xFF for b in page[10:20]) + page[20:]
    url, _ = stub((200, {"Content-Encoding": "gzip"}, broken))
    with pytest.raises(Offline) as caught:
        HttpTransport(url, "tok", retries=0).pull(None, 10)
    assert caught.value.detail == "connection cut"


def test_a_connection_the_server_closed_while_idle_is_replaced_without_a_retry(stub):
    url, script = stub(OK, OK, keep_alive=True, drop_idle=True)
    sleeps: list[float] = []
    transport = HttpTransport(url, "tok", sleep=sleeps.append)
    transport.push({"batch_id": "b1", "changes": []})
    assert script.closed.wait(10)
    transport.push({"batch_id": "b2", "changes": []})
    assert sleeps == [] and len(script.seen) == 2


def test_the_environments_http_proxy_is_asked_for_the_whole_url_with_its_credentials(
    stub, monkeypatch
):
    proxy, script = stub(OK)
    monkeypatch.setenv("http_proxy", proxy.replace("http://", "http://agent:secret@"))
    monkeypatch.setenv("no_proxy", "")
    HttpTransport("http://fieldsync.example:8000", "tok").push({"batch_id": "b", "changes": []})
    [request] = script.seen
    assert request["path"] == "http://fieldsync.example:8000/api/v1/sync/push"
    assert request["headers"]["Proxy-Authorization"] == "Basic YWdlbnQ6c2VjcmV0"


def test_5xx_is_retried_with_growing_backoff_and_the_same_body(stub):
    url, script = stub((503, {}, PROBLEM), (502, {}, b"bad gateway"), (500, {}, PROBLEM), OK)
    sleeps: list[float] = []
    transport = HttpTransport(url, "tok", backoff=1.0, sleep=sleeps.append)
    assert transport.push({"batch_id": "same-batch", "changes": []})["applied"] == 1
    bodies = {r["body"] for r in script.seen}
    assert len(script.seen) == 4 and len(bodies) == 1  # the very same batch each time
    assert len(sleeps) == 3
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0 and 2.0 <= sleeps[2] <= 4.0


def test_429_honours_retry_after(stub):
    url, _ = stub((429, {"Retry-After": "7"}, {**PROBLEM, "code": "rate_limited"}), OK)
    sleeps: list[float] = []
    HttpTransport(url, "tok", sleep=sleeps.append).push({"batch_id": "b", "changes": []})
    assert sleeps == [7.0]


def test_retries_give_up_with_a_server_error(stub):
    url, script = stub(*[(503, {}, b"<html>down</html>")] * 3)
    sleeps: list[float] = []
    with pytest.raises(ServerError):
        HttpTransport(url, "tok", retries=2, sleep=sleeps.append).pull(None, 10)
    assert len(script.seen) == 3 and len(sleeps) == 2


def test_problem_json_becomes_a_protocol_error_with_its_code(stub):
    revoked = {
        "type": "t",
        "title": "t",
        "status": 401,
        "detail": "revoked",
        "code": "device_revoked",
    }
    url, script = stub((401, {"Content-Type": "application/problem+json"}, revoked))
    sleeps: list[float] = []
    with pytest.raises(Refused) as caught:
        HttpTransport(url, "tok", sleep=sleeps.append).pull("c", 10)
    assert caught.value.code == ErrorCode.DEVICE_REVOKED and caught.value.status == 401
    assert sleeps == [] and len(script.seen) == 1  # not retried


def test_a_web_page_instead_of_the_api_is_a_server_error(stub):
    url, _ = stub((404, {"Content-Type": "text/html"}, b"<html>Not Found</html>"))
    with pytest.raises(ServerError):
        HttpTransport(url).enroll("CODE", "pad")


def test_no_server_is_offline_after_retries():
    sleeps: list[float] = []
    with pytest.raises(Offline):
        HttpTransport("http://127.0.0.1:9", "tok", retries=3, sleep=sleeps.append).pull(None, 1)
    assert len(sleeps) == 3


def test_offline_sync_is_a_normal_report_and_keeps_the_outbox(store):
    store.create("place", {"kind": "shop", "name": "早餐店"})
    transport = HttpTransport("http://127.0.0.1:9", "tok", retries=1, sleep=lambda s: None)
    report = sync_once(store, transport, store.clock)
    assert report.offline and not report.ok and report.error is None
    assert report.pending == 1 and store.status()["pending"] == 1
    # the batch was persisted before sending: the next sync re-sends the same batch id
    [entry] = {e["batch_id"] for e in store.pending()}
    assert entry is not None
    assert store.next_batch()[0] == entry


def test_a_malformed_pull_page_stops_the_sync_and_nothing_of_it_is_kept(stub, store):
    good = {"type": "place", "id": "p1", "fields": {"kind": "shop", "name": "早餐店"},
            "stamps": {"kind": "1780000000000-000001-dev-b", "name": "1780000000000-000001-dev-b"},
            "deleted": False, "meta": {}}  # fmt: skip
    bad = {**good, "id": "p2", "stamps": {"kind": 1}}  # a stamp must be a string
    answer = {"records": [good, bad], "cursor": "c1", "more": False, "server_time": "x"}
    url, _ = stub((200, {}, answer))
    report = sync_once(store, HttpTransport(url, "tok", retries=0), store.clock)
    assert report.error == "server_error" and report.message == "not a fieldsync server"
    assert store.list("place") == [] and store.cursor is None


def test_a_pull_page_asked_for_unread_is_its_body_as_received_gzip_undone(stub):
    body = json.dumps({"records": [], "cursor": "c", "more": False}, ensure_ascii=False)
    gzipped = (200, {"Content-Encoding": "gzip"}, gzip.compress(body.encode()))
    problem = (409, {"Content-Type": "application/problem+json"}, {**PROBLEM, "code": "x"})
    url, _ = stub(gzipped, problem)
    transport = HttpTransport(url, "tok", retries=0)
    assert transport.pull(None, 10, pulled.unread) == {"body": body.encode()}
    with pytest.raises(Refused):  # a refusal is still one, read or not
        transport.pull(None, 10, pulled.unread)


def test_a_malformed_later_page_keeps_the_pages_applied_before_it(stub, store):
    """Pages are read on the syncing thread, after the previous one is applied: a malformed
    page stops the sync there, and the next pull resumes after the last page applied."""
    good = {"type": "place", "id": "p1", "fields": {"kind": "shop", "name": "早餐店"},
            "stamps": {"kind": "1780000000000-000001-dev-b", "name": "1780000000000-000001-dev-b"},
            "deleted": False, "meta": {}}  # fmt: skip
    stamp = good["stamps"]["kind"]
    first = {"records": [good], "cursor": "c1", "more": True, "server_time": stamp}
    bad = {"records": [{**good, "id": "p2", "fields": []}], "cursor": "c2", "more": False}
    url, script = stub((200, {}, first), (200, {}, bad))
    report = sync_once(store, HttpTransport(url, "tok", retries=0), store.clock)
    assert report.error == "server_error" and report.message == "not a fieldsync server"
    assert [r["id"] for r in store.list("place")] == ["p1"] and store.cursor == "c1"
    assert script.seen[1]["path"].endswith("cursor=c1")


def test_wire_refuses_an_answer_without_a_page_body():
    with pytest.raises(ServerError, match="not a fieldsync server"):
        Wire.read({})
    with pytest.raises(ServerError, match="not a fieldsync server"):
        Wire.read(pulled.unread(b'{"records": [{"id": 1}], "more": false}'))


def _seen_within(script: Script, count: int, seconds: float = 5.0) -> bool:
    """Whether the stub has seen ``count`` requests, waiting up to ``seconds`` for them."""
    deadline = time.monotonic() + seconds
    while len(script.seen) < count and time.monotonic() < deadline:
        time.sleep(0.005)
    return len(script.seen) >= count


def test_pull_pages_grow_and_each_next_one_is_asked_for_before_this_one_is_read(
    stub, store, monkeypatch
):
    """The first page is small (this device has work at once), each later one twice as large up
    to the limit; and with the page's ``Fieldsync-Next`` header the next page is asked for
    before this one is read (the server works meanwhile), from the cursor saved with it."""
    good = {"type": "place", "id": "p1", "fields": {"kind": "shop", "name": "早餐店"},
            "stamps": {"kind": "1780000000000-000001-dev-b", "name": "1780000000000-000001-dev-b"},
            "deleted": False, "meta": {}}  # fmt: skip
    stamp = good["stamps"]["kind"]

    def page(n: int, more: bool) -> tuple[int, dict, dict]:
        body = {"records": [{**good, "id": f"p{n}"}], "cursor": f"c{n}", "more": more,
                "server_time": stamp}  # fmt: skip
        return 200, ({"Fieldsync-Next": f"c{n}"} if more else {}), body

    device = (200, {}, {"open_conflicts": []})  # asked after a pull that brought records
    url, script = stub(page(1, True), page(2, True), page(3, True), page(4, False), device)
    read, asked = Wire.read, []

    def reading(answer):
        if len(asked) < 3:  # pages 1-3 say there is more: the next was asked for already
            asked.append(_seen_within(script, len(asked) + 2))
        return read(answer)

    monkeypatch.setattr(Wire, "read", staticmethod(reading))
    report = sync_once(store, HttpTransport(url, "tok", retries=0), store.clock, pull_limit=300)
    assert report.ok and report.received == 4 and store.cursor == "c4"
    assert asked == [True, True, True]
    paths = [seen["path"].removeprefix("/api/v1/sync/pull?") for seen in script.seen[:4]]
    assert paths == ["limit=100", "limit=200&cursor=c1", "limit=300&cursor=c2",
                     "limit=300&cursor=c3"]  # fmt: skip


def test_a_pull_page_whose_header_and_body_disagree_is_refused_whole(stub, store):
    good = {"type": "place", "id": "p1", "fields": {"kind": "shop", "name": "早餐店"},
            "stamps": {"kind": "1780000000000-000001-dev-b", "name": "1780000000000-000001-dev-b"},
            "deleted": False, "meta": {}}  # fmt: skip
    first = {"records": [good], "cursor": "c1", "more": True, "server_time": "x"}
    last = {"records": [], "cursor": "c2", "more": False, "server_time": "x"}
    url, script = stub((200, {"Fieldsync-Next": "c9"}, first), (200, {}, last))
    report = sync_once(store, HttpTransport(url, "tok", retries=0), store.clock)
    assert report.error == "server_error" and report.message == "not a fieldsync server"
    assert store.list("place") == [] and store.cursor is None


def test_asking_for_a_page_with_sent_returns_once_the_request_is_on_its_way():
    """``Wire.pull(..., sent=True)`` returns once the request has gone (here it may wait that
    long), before the answer: the syncing thread then decodes the page before, holding the
    GIL, and the request would otherwise wait for that (see ``Wire.pull``). Over loopback a
    sent request is in the server's socket at once, so this thread finds it there."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    with ThreadPoolExecutor(max_workers=1) as net:
        wire = Wire(HttpTransport(url, "tok", retries=0), net, send_wait=30)
        answer = wire.pull(None, 10, sent=True)
        connection, _ = listener.accept()
        with connection:
            connection.setblocking(False)
            assert connection.recv(65536).startswith(b"GET /api/v1/sync/pull?limit=10 ")
            assert not answer.done()
            body = b'{"records": [], "cursor": "c", "more": false}'
            connection.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            assert Wire.read(answer.result(10))["cursor"] == "c"
        # a request that cannot go: the call still returns (the answer is the error)
        offline = Wire(HttpTransport("http://127.0.0.1:9", "tok", retries=0), net, send_wait=30)
        assert isinstance(offline.pull(None, 10, sent=True).exception(10), Offline)
    listener.close()
