"""The request sink and its subscriptions, the middleware's records, and the access line serve prints."""

from __future__ import annotations

import io
import logging
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hostile import (
    BARE_LF_HOST_REQUEST,
    HOSTILE_AGENT,
    HOSTILE_HOST,
    HOSTILE_PATH,
    HOSTILE_QUERY,
    HOSTILE_REQUEST,
    RAW_CONTROL,
    ok_app,
    raw_request,
)

from launcher.requestlog import ERROR_ENVIRON_KEY, RequestLogMiddleware, RequestRecord, RequestSink
from launcher.scheme import Scheme

ROOT = Path(__file__).resolve().parent.parent


def record(seq: int, **kw) -> RequestRecord:
    fields = dict(
        seq=seq,
        time=1_700_000_000.0 + seq,
        listener="https",
        client_addr="127.0.0.1",
        client_port=50000 + seq,
        method="GET",
        path=f"/p{seq}",
        query="",
        http_version="HTTP/1.1",
        status=200,
        response_bytes=10,
        duration_ms=1.5,
        tls_version="TLSv1.3",
        tls_cipher="TLS_AES_128_GCM_SHA256",
        user_agent="ua",
        request_headers=(("Host", "localhost"),),
        response_headers=(("Content-Type", "text/plain"),),
    )
    fields.update(kw)
    return RequestRecord(**fields)


def test_sink_keeps_the_newest_records_up_to_its_capacity():
    sink = RequestSink(capacity=3)
    for n in range(1, 6):
        sink.add(record(n))
    assert [r.seq for r in sink.snapshot()] == [3, 4, 5]
    assert sink.total == 5
    sink.clear()
    assert sink.snapshot() == [] and sink.total == 5


def test_default_capacity_is_ten_thousand():
    assert RequestSink().capacity == 10_000


def test_each_subscription_sees_every_record_once():
    sink = RequestSink()
    a, b = sink.subscribe(), sink.subscribe()
    for n in range(1, 4):
        sink.add(record(n))
    assert [r.seq for r in a.drain()] == [1, 2, 3]
    assert a.drain() == []
    assert [r.seq for r in b.drain(limit=2)] == [1, 2]
    assert [r.seq for r in b.drain()] == [3]


def test_a_stalled_subscriber_never_blocks_writers_and_counts_what_it_lost():
    sink = RequestSink()
    stalled = sink.subscribe(maxlen=5)  # never drained
    done = threading.Event()

    def writer():
        for n in range(1, 1001):
            sink.add(record(n))
        done.set()

    threading.Thread(target=writer).start()
    assert done.wait(5)
    assert stalled.dropped == 995
    assert [r.seq for r in stalled.drain()] == [996, 997, 998, 999, 1000]


def test_wait_wakes_on_a_new_record_and_close_unsubscribes():
    sink = RequestSink()
    sub = sink.subscribe()
    assert not sub.wait(0.01)
    threading.Timer(0.05, sink.add, args=(record(1),)).start()
    assert sub.wait(5)
    sub.drain()
    sub.close()
    sink.add(record(2))
    assert sub.drain() == []


def test_a_consumer_that_waits_and_drains_never_misses_a_wake_up():
    """A push sets the subscription's event only when it is not set already (once per drain,
    not per record); a record queued must still always wake ``wait``."""
    sink = RequestSink()
    sub = sink.subscribe(maxlen=100_000)
    total = 20_000
    writer = threading.Thread(target=lambda: [sink.add(record(n)) for n in range(total)])
    writer.start()
    got = 0
    deadline = time.monotonic() + 30
    while got < total and time.monotonic() < deadline:
        assert sub.wait(5), f"wait() slept through queued records ({got} of {total} taken)"
        got += len(sub.drain())
    writer.join()
    assert got == total
    assert not sub.wait(0.01)  # all taken: the event is clear
    sink.add(record(1))
    sink.add(record(2))
    assert len(sub.drain(limit=1)) == 1
    assert sub.wait(0)  # one is left: still set
    assert len(sub.drain()) == 1 and not sub.wait(0)


def test_record_helpers():
    r = record(7, query="a=1", status=404)
    assert r.target == "/p7?a=1"
    assert r.status_class == "4xx"
    assert r.header("HOST") == "localhost"
    assert r.header("content-type", response=True) == "text/plain"
    assert r.header("missing") is None
    line = r.access_line()
    assert '"GET /p7?a=1 HTTP/1.1" 404 10B 1.5ms TLSv1.3 TLS_AES_128_GCM_SHA256' in line
    assert r.to_dict()["request_headers"] == [["Host", "localhost"]]


def environ(**kw) -> dict:
    env = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/x",
        "QUERY_STRING": "q=1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "4242",
        "HTTP_USER_AGENT": "tester",
        "HTTP_X_FORWARDED_PROTO": "https",
        "CONTENT_TYPE": "text/plain",
        "CONTENT_LENGTH": "3",
    }
    env.update(kw)
    return env


def test_middleware_records_once_on_close_with_the_request_as_it_arrived():
    sink = RequestSink()

    def app(env, start_response):
        env.pop("HTTP_X_FORWARDED_PROTO")  # like a proxy-header middleware downstream
        env["REMOTE_ADDR"] = "203.0.113.9"
        start_response("201 Created", [("Content-Type", "text/plain")])
        return [b"ab", b"cde"]

    body = RequestLogMiddleware(app, sink, "http")(environ(), lambda status, headers: None)
    assert b"".join(body) == b"abcde"
    assert sink.snapshot() == []  # not before the server closes the body
    body.close()
    [r] = sink.snapshot()
    assert (r.listener, r.method, r.path, r.query, r.status, r.response_bytes) == (
        "http",
        "POST",
        "/x",
        "q=1",
        201,
        5,
    )
    assert r.client_addr == "127.0.0.1" and r.client_port == 4242 and r.user_agent == "tester"
    assert r.header("X-Forwarded-Proto") == "https"
    assert r.header("Content-Length") == "3"
    assert r.response_headers == (("Content-Type", "text/plain"),)
    assert r.error is None


def test_the_middleware_puts_every_field_of_the_record_in_its_place():
    # The record is built positionally (it is on every request's path): each field gets a value
    # no other field has, so a field added or moved in RequestRecord without the builder fails here.
    sink = RequestSink()
    sink.number_as_worker(3, 4)

    def app(env, start_response):
        assert env["wsgi.input"].read() == b"abc"
        env["launcher.error"] = "kept error"
        start_response("202 Accepted", [("Content-Length", "4"), ("X-Out", "o")])
        return [b"body"]

    env = environ(SSL_PROTOCOL="TLSv1.2", SSL_CIPHER="ECDHE-ECDSA-AES128-GCM-SHA256")
    env["wsgi.input"] = io.BytesIO(b"abc")
    body = RequestLogMiddleware(app, sink, Scheme.HTTPS, 64)(env, lambda status, headers: None)
    assert b"".join(body) == b"body"
    body.close()
    [r] = sink.snapshot()
    fields = r._asdict()
    assert set(fields) == set(RequestRecord._fields)
    duration = fields.pop("duration_ms")
    assert 0 <= duration < 5000
    assert 0 < fields.pop("time") <= time.time()
    assert fields.pop("request_body").data == b"abc"
    assert fields.pop("response_body").data == b"body"
    assert fields == {
        "seq": 3,
        "listener": Scheme.HTTPS,
        "client_addr": "127.0.0.1",
        "client_port": 4242,
        "method": "POST",
        "path": "/x",
        "query": "q=1",
        "http_version": "HTTP/1.1",
        "status": 202,
        "response_bytes": 4,
        "tls_version": "TLSv1.2",
        "tls_cipher": "ECDHE-ECDSA-AES128-GCM-SHA256",
        "user_agent": "tester",
        "request_headers": (
            ("User-Agent", "tester"),
            ("X-Forwarded-Proto", "https"),
            ("Content-Type", "text/plain"),
            ("Content-Length", "3"),
        ),
        "response_headers": (("Content-Length", "4"), ("X-Out", "o")),
        "error": "kept error",
        "probe": False,
        "worker": 3,
    }


def test_middleware_records_an_app_that_raises_with_its_traceback():
    sink = RequestSink()

    def app(env, start_response):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        RequestLogMiddleware(app, sink, "https")(environ(), lambda status, headers: None)
    [r] = sink.snapshot()
    assert r.status == 500
    assert "RuntimeError: boom" in r.error


def test_middleware_keeps_an_error_the_app_left_in_environ():
    sink = RequestSink()

    def app(env, start_response):
        env[ERROR_ENVIRON_KEY] = "Traceback: the user's error"
        start_response("500 INTERNAL SERVER ERROR", [])
        return [b"oops"]

    body = RequestLogMiddleware(app, sink, "https")(environ(), lambda status, headers: None)
    list(body)
    body.close()
    assert sink.snapshot()[0].error == "Traceback: the user's error"


# --- what reaches the terminal: the access line and serve's notices, from hostile requests ---------


def test_the_access_line_of_a_hostile_request_is_one_line_without_control_characters(
    make_servers, wait_records
):
    servers = make_servers(ok_app)
    assert raw_request(servers.http.port, HOSTILE_REQUEST).startswith(b"HTTP/1.1 200 ")
    [record] = wait_records(servers.sink, 1)
    # The record keeps what was sent (exports stay faithful) ...
    assert (record.path, record.query) == (HOSTILE_PATH, HOSTILE_QUERY)
    assert record.header("Host") == HOSTILE_HOST and record.user_agent == HOSTILE_AGENT
    # ... and its access line shows it escaped: one line, nothing for the terminal to act on.
    line = record.access_line()
    assert not RAW_CONTROL.search(line), repr(line)
    assert line.splitlines() == [line]
    assert (
        '/a\\x1b[2J\\n[00:00:00] 10.6.6.6:1 http \\"GET /forged HTTP/1.1\\" 200 0B 0.0ms?q=\\x1b[31mred'
        in line
    )
    # The quoted request line is still one field: exactly two unescaped quotes in the line.
    assert len(re.findall(r'(?<!\\)"', line)) == 2
    assert ' HTTP/1.1" 200 2B ' in line


def test_a_bare_lf_in_the_host_header_never_reaches_the_log(make_servers, wait_records):
    servers = make_servers(ok_app)
    assert raw_request(servers.http.port, BARE_LF_HOST_REQUEST).startswith(b"HTTP/1.0 400 ")
    raw_request(servers.http.port, b"GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    records = wait_records(servers.sink, 1)
    time.sleep(0.1)  # a record for the rejected request would have been made by now
    assert [r.path for r in servers.sink.snapshot()] == ["/after"] == [r.path for r in records]


def test_an_ipv6_client_is_shown_in_brackets():
    line = record(1, client_addr="::1", client_port=5555).access_line()
    assert "] [::1]:5555 https " in line


def test_serve_prints_one_escaped_access_line_per_request(tmp_path):
    """``flask-launcher serve`` as users run it: the hostile request is one line on stdout."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "launcher", "serve", "--no-https", "--http-port", "0", "--cert-dir", tmp_path],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline().decode()
        assert banner.startswith("http://") and "listening" in banner, banner
        port = int(banner.split()[0].rstrip("/").rsplit(":", 1)[1])
        raw_request(port, HOSTILE_REQUEST)
        raw_request(port, b"GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(b'"GET /after ' in line for line in lines):
            lines.append(proc.stdout.readline())
        access = [line for line in lines if line.startswith(b"[")]
        assert len(access) == 2, lines  # the hostile request made one line, not two
        hostile = access[0].decode("utf-8")
        assert hostile.endswith("\n") and not RAW_CONTROL.search(hostile[:-1]), repr(hostile)
        assert "GET /a\\x1b[2J\\n[00:00:00] 10.6.6.6:1 http " in hostile
        assert b'"GET /after HTTP/1.1" ' in access[1]
    finally:
        proc.terminate()
        proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_serve_notices_escape_control_characters():
    from launcher.commands.serve import _LineHandler

    out = io.StringIO()
    handler = _LineHandler(out)
    handler.emit(
        logging.LogRecord(
            "launcher.wire",
            logging.WARNING,
            __file__,
            1,
            "TLS error from %s: %s",
            ("x", "\x1b[2J\nnotice: forged"),
            None,
        )
    )
    assert out.getvalue() == "notice: TLS error from x: \\x1b[2J\\nnotice: forged\n"


def test_add_many_keeps_order_and_counts_what_a_full_subscription_drops():
    sink = RequestSink(capacity=6)
    small = sink.subscribe(5)
    sink.add_many([record(n) for n in range(1, 9)])
    assert [r.seq for r in small.drain()] == [4, 5, 6, 7, 8]
    assert small.dropped == 3
    assert [r.seq for r in sink.snapshot()] == [3, 4, 5, 6, 7, 8] and sink.total == 8
    sink.add_many([])
    assert sink.total == 8
