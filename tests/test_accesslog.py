"""serve's access log: the listeners note each request themselves (launcher.accesslog), real
servers on 127.0.0.1, real TLS against the generated CA; and the line an entry prints."""

from __future__ import annotations

import http.client
import io
import ssl
import threading
import time
from typing import Any

import pytest
from hostile import HOSTILE_PATH, HOSTILE_QUERY, HOSTILE_REQUEST, RAW_CONTROL, raw_request

from launcher.accesslog import AccessEntry, AccessLog
from launcher.recordformat import _escaped_access_line
from launcher.requestlog import RequestLogMiddleware, RequestRecord
from launcher.scheme import Scheme


def entry(**kw: Any) -> AccessEntry:
    fields: dict[str, Any] = dict(
        time=1_700_000_000.25,
        duration_ms=1.5,
        listener=Scheme.HTTPS,
        client_addr="127.0.0.1",
        client_port=50001,
        method="GET",
        path="/p",
        query="",
        http_version="HTTP/1.1",
        status=200,
        response_bytes=10,
        tls_version="TLSv1.3",
        tls_cipher="TLS_AES_128_GCM_SHA256",
        worker=0,
    )
    fields.update(kw)
    return AccessEntry(**fields)


def as_record(item: AccessEntry) -> RequestRecord:
    """The window's record of the same request (the fields an access line shows)."""
    facts = item._asdict()
    del facts["duration_ms"]
    return RequestRecord(
        seq=1, duration_ms=item.duration_ms, user_agent="ua", request_headers=(), response_headers=(), **facts
    )


@pytest.mark.parametrize(
    "changes",
    [{}, {"query": "a=1&b=2"}, {"client_addr": "::1"}, {"tls_version": None, "tls_cipher": None},
     {"worker": 2}, {"duration_ms": 0.04}, {"path": "/a\"b"}, {"path": "/caf\xc3\xa9"},
     {"path": "/x\x1b[2J"}, {"method": "G\\ET"}, {"client_addr": "1.2.3.4\n"}, {"listener": Scheme.HTTP}],
)  # fmt: skip
def test_an_entry_prints_the_line_the_windows_record_of_the_request_prints(changes):
    item = entry(**changes)
    line = item.access_line()
    assert line == as_record(item).access_line()
    assert line == _escaped_access_line(item)  # the quick path writes what the escaping path writes
    assert not RAW_CONTROL.search(line) and line.splitlines() == [line]


def test_an_entry_finishes_its_duration_after_it_started():
    assert entry(time=100.0, duration_ms=250.0).finished == 100.25


# --- the listeners note the requests ------------------------------------------------------------


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    path = environ["PATH_INFO"]
    if path == "/boom":
        raise RuntimeError("the app failed")
    if path == "/rewrite":  # what a proxy-header middleware or a dispatcher does to the environ
        environ.update(PATH_INFO="/elsewhere", REMOTE_ADDR="10.9.9.9", REQUEST_METHOD="PUT")
    if path == "/missing":
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "7")])
        return [b"missing"]
    body = environ["wsgi.input"].read() if environ.get("CONTENT_LENGTH") else b"hello"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def wait_entries(access_log: AccessLog, count: int, timeout: float = 5.0) -> list[AccessEntry]:
    """The entries once *count* came: a task notes its request just after handing the response
    to the connection, so a client can read it a moment before."""
    got: list[AccessEntry] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        access_log.wait(0.05)
        got += access_log.drain()
    return got


@pytest.fixture
def logged(make_servers):
    """Running servers whose listeners note their requests in an access log."""
    servers = make_servers(app, start=False)
    servers.access_log = AccessLog()
    assert not servers.start_all()
    return servers


def request(
    port: int, method: str, path: str, body: bytes | None = None, context: ssl.SSLContext | None = None
) -> tuple[int, bytes, tuple[int, str | None, str | None]]:
    """(status, body, (the client's port, TLS version, cipher)) of one request on a new connection."""
    conn: http.client.HTTPConnection
    if context is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    else:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=context)
    conn.request(method, path, body=body)
    sock = conn.sock  # gone once a response that closes the connection is read
    facts: tuple[int, str | None, str | None] = (sock.getsockname()[1], None, None)
    if isinstance(sock, ssl.SSLSocket):
        facts = (facts[0], sock.version(), (sock.cipher() or ("",))[0])
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data, facts


def test_each_request_is_noted_with_what_the_client_sent_and_got(logged, client_context):
    access_log = logged.access_log
    _, _, tls = request(logged.https.port, "GET", "/a?b=1", context=client_context)
    status, data, _ = request(logged.http.port, "POST", "/echo", body=b"0123456789")
    assert (status, data) == (200, b"0123456789")
    assert request(logged.http.port, "GET", "/missing")[0] == 404
    head = http.client.HTTPSConnection("127.0.0.1", logged.https.port, timeout=5, context=client_context)
    head.request("HEAD", "/h")
    assert head.getresponse().status == 200
    head.close()
    started = time.time()
    get, post, missing, head_entry = sorted(wait_entries(access_log, 4), key=lambda e: e.time)

    assert (get.listener, get.method, get.path, get.query, get.http_version) == (
        Scheme.HTTPS, "GET", "/a", "b=1", "HTTP/1.1",
    )  # fmt: skip
    assert (get.status, get.response_bytes, get.client_addr) == (200, 5, "127.0.0.1")
    assert (get.client_port, get.tls_version, get.tls_cipher) == tls
    assert tls[1] in ("TLSv1.2", "TLSv1.3") and tls[2]
    assert started - 10 < get.time <= started and 0 <= get.duration_ms < 5000 and get.worker == 0

    assert (post.listener, post.method, post.path, post.status, post.response_bytes) == (
        Scheme.HTTP, "POST", "/echo", 200, 10,
    )  # fmt: skip
    assert (post.tls_version, post.tls_cipher) == (None, None)
    assert (missing.path, missing.status, missing.response_bytes) == ("/missing", 404, 7)
    # HEAD: the length the app gave, as the window's record says (no body went out).
    assert (head_entry.method, head_entry.status, head_entry.response_bytes) == ("HEAD", 200, 5)
    assert get.access_line().endswith(
        f'https "GET /a?b=1 HTTP/1.1" 200 5B {get.duration_ms:.1f}ms {tls[1]} {tls[2]}'
    )


def test_with_an_access_log_the_app_is_served_without_the_middleware_and_the_sink_gets_no_records(
    logged, make_servers
):
    assert request(logged.http.port, "GET", "/")[0] == 200
    assert len(wait_entries(logged.access_log, 1)) == 1
    assert logged.sink.total == 0
    assert not isinstance(logged._stack(Scheme.HTTP), RequestLogMiddleware)
    # Without one (the window's servers), the middleware records into the sink; nothing is noted.
    plain = make_servers(app)
    assert isinstance(plain._stack(Scheme.HTTP), RequestLogMiddleware)
    assert request(plain.http.port, "GET", "/")[0] == 200
    deadline = time.monotonic() + 5
    while plain.sink.total < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert plain.sink.total == 1 and plain.access_log is None


def test_the_entry_is_the_request_as_sent_whatever_the_app_did_to_the_environ(logged):
    assert request(logged.http.port, "GET", "/rewrite")[0] == 200
    [item] = wait_entries(logged.access_log, 1)
    assert (item.method, item.path, item.client_addr) == ("GET", "/rewrite", "127.0.0.1")


def test_an_app_that_fails_is_noted_as_a_500_and_the_listener_keeps_serving(logged, caplog):
    assert request(logged.http.port, "GET", "/boom")[0] == 500
    assert request(logged.http.port, "GET", "/after")[0] == 200
    boom, after = sorted(wait_entries(logged.access_log, 2), key=lambda e: e.time)
    assert (boom.path, boom.status, boom.response_bytes) == ("/boom", 500, 0)
    assert (after.path, after.status) == ("/after", 200)


def test_an_http_10_request_says_so(logged):
    reply = raw_request(logged.http.port, b"GET /old HTTP/1.0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.0 200 ")
    [item] = wait_entries(logged.access_log, 1)
    assert (item.path, item.http_version) == ("/old", "HTTP/1.0")


def test_a_hostile_request_is_noted_as_sent_and_printed_escaped_on_one_line(logged):
    assert raw_request(logged.http.port, HOSTILE_REQUEST).startswith(b"HTTP/1.1 200 ")
    [item] = wait_entries(logged.access_log, 1)
    assert (item.path, item.query) == (HOSTILE_PATH, HOSTILE_QUERY)
    line = item.access_line()
    assert not RAW_CONTROL.search(line) and line.splitlines() == [line]
    assert '"GET /a\\x1b[2J\\n[00:00:00] 10.6.6.6:1 http \\"GET /forged' in line


def test_a_reader_that_falls_behind_loses_the_oldest_entries_counted():
    access_log = AccessLog(maxlen=3)
    for n in range(5):
        access_log.add(entry(client_port=n))
    assert [e.client_port for e in access_log.drain()] == [2, 3, 4]
    assert access_log.dropped == 2
    assert not access_log.wait(0)  # drained: nothing is waiting


def test_serve_writes_a_batch_of_lines_per_interval_not_a_write_per_request():
    """Entries trickling in (one every 2 ms, as under a steady load) are written in a few
    batches: waking for each one cost more CPU than the request itself."""
    from launcher.commands.serve import PRINT_BATCH_SECONDS, _print_requests

    class Out(io.StringIO):
        writes = 0

        def write(self, text: str) -> int:
            Out.writes += 1
            return super().write(text)

    access_log = AccessLog()
    out, stop = Out(), threading.Event()
    printer = threading.Thread(target=_print_requests, args=(access_log, out, stop))
    printer.start()
    entries = [entry(path=f"/p{n}", time=1_700_000_000.0 + n) for n in range(40)]
    try:
        started = time.monotonic()
        for item in entries:
            access_log.add(item)
            time.sleep(0.002)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        printer.join(5)
    assert out.getvalue().splitlines() == [item.access_line() for item in entries]
    # One write per interval (and the last one on stopping); 40 writes before batching.
    assert Out.writes <= elapsed / PRINT_BATCH_SECONDS + 3, (Out.writes, elapsed)
