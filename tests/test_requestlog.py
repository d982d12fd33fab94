"""The request sink and its subscriptions, and the middleware's records, apart from the servers."""

from __future__ import annotations

import threading

import pytest

from launcher.requestlog import ERROR_ENVIRON_KEY, RequestLogMiddleware, RequestRecord, RequestSink


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
