"""Listener lifecycle: start, stop with clients connected, restarts, leaks, bind errors, policy."""

from __future__ import annotations

import gc
import http.client
import json
import os
import socket
import ssl
import threading
import time
import urllib.request

import pytest
from flask import Flask, jsonify, request, session
from nethelpers import refuses

from launcher.errors import AddressUnavailableError, ConfigError, PortInUseError
from launcher.servers import Listener, ListenerState


def make_app() -> Flask:
    app = Flask(__name__)
    app.secret_key = "test"

    @app.route("/", defaults={"path": ""})
    @app.route("/<path:path>", methods=["GET", "POST"])
    def echo(path: str):
        return jsonify(
            path=path,
            scheme=request.scheme,
            is_secure=request.is_secure,
            url_root=request.url_root,
            remote_addr=request.remote_addr,
            forwarded_proto=request.headers.get("X-Forwarded-Proto"),
        )

    @app.route("/slow")
    def slow():
        time.sleep(0.4)
        return "slow done"

    @app.route("/login")
    def login():
        session["user"] = "demo"
        return "ok"

    return app


def fetch(url: str, ctx: ssl.SSLContext | None = None, headers: dict | None = None):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, context=ctx, timeout=5) as resp:
        return resp.status, dict(resp.headers), resp.read()


def no_redirect_get(port: int, path: str = "/", method: str = "GET") -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request(method, path, body=b"x=1" if method == "POST" else None)
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp


def test_both_schemes_serve_the_same_app(make_servers, client_context):
    servers = make_servers(make_app())
    _, _, body = fetch(servers.http.url + "a?b=1")
    assert json.loads(body)["scheme"] == "http"
    _, _, body = fetch(servers.https.url + "a", client_context)
    data = json.loads(body)
    assert (data["scheme"], data["is_secure"]) == ("https", True)
    assert servers.http.url == f"http://127.0.0.1:{servers.http.port}/"
    assert servers.http.port != 0 and servers.https.port != 0


def test_each_listener_starts_and_stops_on_its_own(make_servers, client_context):
    servers = make_servers(make_app(), start=False)
    states = []
    servers.https.add_state_callback(lambda listener, state: states.append(state))
    servers.https.start()
    assert servers.https.running and not servers.http.running
    fetch(servers.https.url, client_context)
    port = servers.https.port
    servers.https.stop()
    assert refuses(port)
    assert states == [
        ListenerState.STARTING,
        ListenerState.RUNNING,
        ListenerState.STOPPING,
        ListenerState.STOPPED,
    ]


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_stop_with_keepalive_clients_is_quick_and_frees_the_port(make_servers, client_context, scheme):
    servers = make_servers(make_app())
    listener = getattr(servers, scheme)
    port = listener.port
    conns = []
    for _ in range(5):
        if scheme == "https":
            conn = http.client.HTTPSConnection("localhost", port, context=client_context, timeout=5)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/")
        conn.getresponse().read()  # the connection stays open (keep-alive)
        conns.append(conn)
    started = time.monotonic()
    listener.stop()
    assert time.monotonic() - started < 1.0
    assert listener.state is ListenerState.STOPPED
    assert refuses(port)
    listener.start(port=port)  # immediate restart on the same port
    assert listener.port == port
    ctx = client_context if scheme == "https" else None
    assert fetch(listener.url, ctx)[0] == 200
    for conn in conns:
        conn.close()


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_fifty_start_stop_cycles_leak_no_threads_or_descriptors(make_servers, client_context):
    servers = make_servers(make_app(), start=False)
    servers.start_all()
    fetch(servers.https.url, client_context)
    servers.stop_all()
    gc.collect()  # descriptors other tests left to the garbage collector must not count here
    threads, fds = threading.active_count(), _fds()
    for _ in range(50):
        servers.start_all()
        servers.stop_all()
    time.sleep(0.1)
    gc.collect()
    assert threading.active_count() <= threads, [t.name for t in threading.enumerate()]
    assert _fds() <= fds
    assert not [t.name for t in threading.enumerate() if t.name.startswith("launcher-")]


def test_port_in_use_names_the_port_and_holder(make_servers):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    try:
        servers = make_servers(make_app(), start=False, http_port=port)
        threads = threading.active_count()
        with pytest.raises(PortInUseError) as info:
            servers.http.start()
        assert info.value.port == port
        assert str(port) in str(info.value)
        assert f"pid {os.getpid()}" in (info.value.holder or "")
        assert servers.http.state is ListenerState.ERROR
        assert servers.http.error == str(info.value)
        assert threading.active_count() == threads  # nothing left behind
        servers.http.port = 0  # the user picks another port: it works
        servers.http.start()
        assert servers.http.running
    finally:
        blocker.close()


def test_bind_failures_raise_typed_errors_and_never_exit(make_servers):
    servers = make_servers(make_app(), start=False, host="192.0.2.1")  # TEST-NET: not ours
    with pytest.raises(AddressUnavailableError):
        servers.http.start()
    servers = make_servers(make_app(), start=False, http_port=70000)
    with pytest.raises(ConfigError):
        servers.http.start()
    assert servers.http.state is ListenerState.ERROR


def test_start_all_reports_errors_without_raising(make_servers):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    try:
        servers = make_servers(make_app(), start=False, http_port=blocker.getsockname()[1])
        errors = servers.start_all()
        assert [type(e) for e in errors] == [PortInUseError]
        assert servers.https.running and not servers.http.running
    finally:
        blocker.close()


def test_redirect_is_off_by_default_and_308_when_on(make_servers):
    servers = make_servers(make_app())
    assert no_redirect_get(servers.http.port, "/x?y=1").status == 200
    servers.policy.redirect_https = 308  # takes effect on the next request
    resp = no_redirect_get(servers.http.port, "/x?y=1")
    assert resp.status == 308
    assert resp.getheader("Location") == f"https://127.0.0.1:{servers.https.port}/x?y=1"


@pytest.mark.parametrize("code", [301, 302, 307])
def test_redirect_status_can_be_chosen(make_servers, code):
    servers = make_servers(make_app())
    servers.policy.redirect_https = code
    resp = no_redirect_get(servers.http.port, "/p", method="POST")
    assert resp.status == code


def test_redirect_follows_to_https_and_keeps_the_host_name(make_servers, client_context):
    servers = make_servers(make_app())
    servers.policy.redirect_https = 308
    url = f"http://localhost:{servers.http.port}/landing"
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=client_context))
    with opener.open(url, timeout=5) as resp:
        assert resp.url == f"https://localhost:{servers.https.port}/landing"
        assert json.loads(resp.read())["scheme"] == "https"


def test_hsts_off_by_default_then_with_max_age(make_servers, client_context):
    servers = make_servers(make_app())
    _, headers, _ = fetch(servers.https.url, client_context)
    assert "Strict-Transport-Security" not in headers
    servers.policy.hsts = 600
    _, headers, _ = fetch(servers.https.url, client_context)
    assert headers["Strict-Transport-Security"] == "max-age=600"
    _, headers, _ = fetch(servers.http.url)
    assert "Strict-Transport-Security" not in headers  # never on plain HTTP (RFC 6797 §7.2)


def test_forwarded_proto_stripped_by_default_and_honoured_when_trusted(make_servers):
    servers = make_servers(make_app())
    _, _, body = fetch(servers.http.url, headers={"X-Forwarded-Proto": "https"})
    data = json.loads(body)
    assert (data["scheme"], data["forwarded_proto"]) == ("http", None)
    servers.policy.trusted_proxy = True
    _, _, body = fetch(servers.http.url, headers={"X-Forwarded-Proto": "https"})
    data = json.loads(body)
    assert data["scheme"] == "https"
    assert data["url_root"].startswith("https://")


def test_requests_are_logged_once_each(make_servers, client_context, wait_records):
    servers = make_servers(make_app())
    fetch(servers.http.url + "one?q=1", headers={"User-Agent": "probe/1"})
    fetch(servers.https.url + "two", client_context)
    no_redirect_get(servers.http.port, "/three", method="POST")
    # Each record is made when its response ends, in its worker thread: on a busy machine two
    # finish in either order, so they are compared in the order the requests arrived.
    records = sorted(wait_records(servers.sink, 3), key=lambda r: r.time)
    assert [(r.listener, r.method, r.path) for r in records] == [
        ("http", "GET", "/one"),
        ("https", "GET", "/two"),
        ("http", "POST", "/three"),
    ]
    first, second = records[0], records[1]
    assert first.query == "q=1" and first.user_agent == "probe/1" and first.status == 200
    assert first.http_version == "HTTP/1.1" and first.client_addr == "127.0.0.1" and first.client_port > 0
    assert first.tls_version is None and second.tls_version in ("TLSv1.2", "TLSv1.3")
    assert second.tls_cipher and first.response_bytes > 0 and first.duration_ms >= 0
    assert first.header("user-agent") == "probe/1"
    assert first.header("content-type", response=True) == "application/json"


def test_the_log_keeps_forwarded_headers_the_app_did_not_see(make_servers, wait_records):
    servers = make_servers(make_app())
    fetch(servers.http.url, headers={"X-Forwarded-Proto": "https"})
    [record] = wait_records(servers.sink, 1)
    assert record.header("x-forwarded-proto") == "https"


def test_stop_with_grace_lets_a_request_in_flight_finish(make_servers):
    servers = make_servers(make_app())
    result: dict = {}

    def slow_request():
        result["body"] = fetch(servers.http.url + "slow")[2]

    worker = threading.Thread(target=slow_request)
    worker.start()
    time.sleep(0.1)
    servers.http.stop(grace=2.0)
    worker.join(5)
    assert result.get("body") == b"slow done"


def test_set_app_restarts_on_the_same_ports(make_servers, client_context):
    servers = make_servers(make_app())
    ports = (servers.http.port, servers.https.port)
    other = Flask("other")
    other.add_url_rule("/", "i", lambda: "other app")
    assert servers.set_app(other) == []
    assert (servers.http.port, servers.https.port) == ports
    assert fetch(servers.https.url, client_context)[2] == b"other app"


def test_listener_rejects_unknown_scheme():
    with pytest.raises(ValueError):
        Listener("ftp", lambda: (None, None))


def test_a_pull_while_a_wake_up_is_on_its_way_writes_nothing(make_servers, client_context):
    """Workers pull the loop's trigger after every request; while an earlier pull's byte is unread
    another byte would only cost a write and a read (``_PlainServer.pull_trigger``)."""
    servers = make_servers(make_app())
    server = servers.https._server
    writes: list[int] = []
    physical_pull = server.trigger._physical_pull

    def counting_pull() -> None:
        writes.append(1)
        physical_pull()

    server.trigger._physical_pull = counting_pull
    server._wake_pending = True  # as if a byte were on its way (the server is idle: nothing reads)
    server.pull_trigger()
    server.pull_trigger()
    assert writes == []
    server._wake_pending = False
    server.pull_trigger()  # a byte, and the flag until the loop has read it
    server.pull_trigger()
    assert len(writes) <= 2  # the second one writes only if the loop read the first in between
    deadline = time.monotonic() + 5
    while server._wake_pending and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not server._wake_pending  # the loop read it, and the next pull wakes it again
    before = len(writes)
    server.pull_trigger()
    assert len(writes) == before + 1

    # A pull skipped wrongly would leave a keep-alive connection unread until the loop's 1 s
    # timeout: on four connections at once, each request waits for the one before on its own.
    def keep_alive(results: list[float]) -> None:
        conn = http.client.HTTPSConnection("127.0.0.1", servers.https.port, context=client_context, timeout=5)
        for _ in range(50):
            started = time.monotonic()
            conn.request("GET", "/n")
            assert conn.getresponse().read()
            results.append(time.monotonic() - started)
        conn.close()

    results: list[float] = []
    threads = [threading.Thread(target=keep_alive, args=(results,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 200
    assert max(results) < 0.9, sorted(results)[-5:]


@pytest.mark.parametrize(
    "header",
    [
        "X_FORWARDED_FOR",
        "X_FORWARDED_HOST",
        "X_FORWARDED_PROTO",
        "X_FORWARDED_PORT",
        "X_FORWARDED_BY",
        "FORWARDED",
    ],
)
def test_policy_removes_each_proxy_header_of_an_untrusted_peer(header):
    from launcher.policy import Policy, PolicyMiddleware
    from launcher.scheme import Scheme

    seen: list[dict] = []

    def app(environ, start_response):
        seen.append(dict(environ))
        start_response("200 OK", [])
        return [b""]

    middleware = PolicyMiddleware(app, Policy(), Scheme.HTTPS, lambda: None)
    environ = {"REMOTE_ADDR": "10.0.0.5", "HTTP_HOST": "x", f"HTTP_{header}": "evil"}
    middleware(environ, lambda status, headers, exc_info=None: None)
    assert seen[-1] == {"REMOTE_ADDR": "10.0.0.5", "HTTP_HOST": "x"}
    # A request with none of them reaches the app as it came, the same environ.
    plain = {"REMOTE_ADDR": "10.0.0.5", "HTTP_HOST": "x", "HTTP_X_OTHER": "kept"}
    middleware(plain, lambda status, headers, exc_info=None: None)
    assert seen[-1] == plain
