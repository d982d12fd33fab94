"""TLS inside waitress's channels: the traps docs/architecture.md lists, each against a real handshake."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import socket
import ssl
import subprocess
import time

import pytest
from flask import Flask, Response, jsonify, request

BIG = 4 * 1024 * 1024


def make_app() -> Flask:
    app = Flask(__name__)

    @app.route("/env")
    def env():
        keys = [k for k in request.environ if k.startswith(("SSL_", "HTTPS", "launcher."))]
        return jsonify({k: request.environ[k] for k in keys} | {"scheme": request.scheme})

    @app.route("/n/<int:n>")
    def number(n: int):
        return f"response {n}"

    @app.route("/upload", methods=["POST"])
    def upload():
        data = request.get_data()
        return jsonify(size=len(data), sha256=hashlib.sha256(data).hexdigest())

    @app.route("/big")
    def big():
        return Response(bytes(range(256)) * (BIG // 256), mimetype="application/octet-stream")

    return app


@pytest.fixture
def servers(make_servers):
    return make_servers(make_app())


def tls_connect(
    port: int, ctx: ssl.SSLContext, host: str = "localhost", timeout: float = 10
) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname=host)


def read_responses(sock: socket.socket, count: int) -> list[tuple[int, bytes]]:
    """Read *count* HTTP/1.1 responses with Content-Length bodies from *sock*."""
    buf = b""
    out: list[tuple[int, bytes]] = []
    while len(out) < count:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {len(out)} responses"
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = next(
            int(v) for k, _, v in (ln.partition(b":") for ln in lines[1:]) if k.lower() == b"content-length"
        )
        while len(buf) < length:
            chunk = sock.recv(65536)
            assert chunk, "connection closed inside a body"
            buf += chunk
        out.append((status, buf[:length]))
        buf = buf[length:]
    return out


def get(path: str, host: str = "localhost") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


def test_environ_carries_tls_facts(servers, client_context):
    with tls_connect(servers.https.port, client_context) as sock:
        sock.sendall(get("/env"))
        [(status, body)] = read_responses(sock, 1)
        version, cipher = sock.version(), sock.cipher()[0]
    env = json.loads(body)
    assert status == 200
    assert env["scheme"] == "https"
    assert env["HTTPS"] == "on"
    assert env["SSL_PROTOCOL"] == version
    assert env["SSL_CIPHER"] == cipher
    assert env["SSL_TLS_SNI"] == "localhost"
    assert env["launcher.listener"] == "https"


def test_alpn_http11_negotiated_and_reported(servers, ca_file):
    ctx = ssl.create_default_context(cafile=str(ca_file))
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with tls_connect(servers.https.port, ctx) as sock:
        assert sock.selected_alpn_protocol() == "http/1.1"
        sock.sendall(get("/env"))
        [(_, body)] = read_responses(sock, 1)
    assert json.loads(body)["SSL_ALPN_PROTOCOL"] == "http/1.1"


def test_pipelined_requests_in_one_tls_record(servers, client_context):
    with tls_connect(servers.https.port, client_context) as sock:
        sock.sendall(get("/n/1") + get("/n/2") + get("/n/3"))  # one write: one TLS record
        responses = read_responses(sock, 3)
    assert [body for _, body in responses] == [b"response 1", b"response 2", b"response 3"]


def test_one_mib_post(servers, client_context):
    payload = bytes(range(256)) * 4096  # 1 MiB
    head = (
        f"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(payload)}\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    with tls_connect(servers.https.port, client_context) as sock:
        sock.sendall(head + payload)
        [(status, body)] = read_responses(sock, 1)
    assert status == 200
    assert json.loads(body) == {"size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}


def test_four_mib_response_to_a_slow_reader(servers, client_context):
    with tls_connect(servers.https.port, client_context) as sock:
        sock.sendall(get("/big"))
        time.sleep(0.5)  # let the server fill every buffer before we read anything
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += sock.recv(4096)
        head, body = buf.split(b"\r\n\r\n", 1)
        while len(body) < BIG:
            chunk = sock.recv(16384)
            assert chunk, f"closed after {len(body)} bytes"
            body += chunk
            if len(body) < 512 * 1024:
                time.sleep(0.001)
    assert b" 200 " in head.split(b"\r\n")[0]
    assert body == bytes(range(256)) * (BIG // 256)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_silent_clients_do_not_delay_others(servers, client_context, scheme):
    listener = getattr(servers, scheme)
    silent = [socket.create_connection(("127.0.0.1", listener.port)) for _ in range(50)]
    try:
        # A blocked server would leave this request hanging until the socket timeout fails it.
        if scheme == "https":
            with tls_connect(listener.port, client_context, timeout=5) as sock:
                sock.sendall(get("/n/7"))
                [(status, body)] = read_responses(sock, 1)
        else:
            with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as sock:
                sock.sendall(get("/n/7"))
                [(status, body)] = read_responses(sock, 1)
        assert (status, body) == (200, b"response 7")
    finally:
        for s in silent:
            s.close()


def test_plain_http_on_https_port_gets_a_400_naming_the_https_url(servers):
    port = servers.https.port
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET /some/page?x=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert f"https://127.0.0.1:{port}/some/page?x=1".encode() in reply
    assert b"this port speaks HTTPS" in reply
    assert servers.sink.snapshot() == []  # not a request of the app


def test_tls_handshake_on_http_port_is_named_and_closed(servers, client_context, caplog):
    caplog.set_level(logging.WARNING, logger="launcher.wire")
    raw = socket.create_connection(("127.0.0.1", servers.http.port), timeout=5)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        client_context.wrap_socket(raw, server_hostname="localhost")
    raw.close()
    deadline = time.monotonic() + 5
    while not caplog.records and time.monotonic() < deadline:
        time.sleep(0.01)
    messages = [r.getMessage() for r in caplog.records]
    assert any("TLS handshake on the HTTP port" in m and servers.https.url in m for m in messages), messages
    assert servers.sink.snapshot() == []


def test_garbage_handshake_closes_only_that_connection(servers, client_context):
    with socket.create_connection(("127.0.0.1", servers.https.port), timeout=5) as sock:
        sock.sendall(b"\x16\x03\x01\x00\x05hello" + b"\x00" * 64)
        assert sock.recv(4096) is not None  # an alert or EOF, never a hang
    with tls_connect(servers.https.port, client_context) as sock:
        sock.sendall(get("/n/9"))
        assert read_responses(sock, 1) == [(200, b"response 9")]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls_below_1_2_is_refused(servers, ca_file):
    ctx = ssl.create_default_context(cafile=str(ca_file))
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    with pytest.raises((ssl.SSLError, ConnectionError)):
        tls_connect(servers.https.port, ctx).close()


def test_cbc_suites_are_refused_on_tls12(servers, ca_file):
    ctx = ssl.create_default_context(cafile=str(ca_file))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ECDHE+AES128+SHA:ECDHE+AES256+SHA")  # CBC only
    with pytest.raises(ssl.SSLError):
        tls_connect(servers.https.port, ctx).close()


def test_tls12_with_aead_works(servers, ca_file):
    ctx = ssl.create_default_context(cafile=str(ca_file))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with tls_connect(servers.https.port, ctx) as sock:
        assert sock.version() == "TLSv1.2"
        assert "GCM" in sock.cipher()[0] or "CHACHA20" in sock.cipher()[0]
        sock.sendall(get("/env"))
        [(_, body)] = read_responses(sock, 1)
    assert json.loads(body)["SSL_PROTOCOL"] == "TLSv1.2"


def test_ip_address_host_verifies(servers, client_context):
    with tls_connect(servers.https.port, client_context, host="127.0.0.1") as sock:
        sock.sendall(get("/n/4", host="127.0.0.1"))
        assert read_responses(sock, 1) == [(200, b"response 4")]


def test_close_notify_from_the_client_does_not_stall_the_loop(servers, client_context):
    sock = tls_connect(servers.https.port, client_context)
    sock.sendall(get("/n/1"))
    assert read_responses(sock, 1) == [(200, b"response 1")]
    sock.settimeout(2)
    try:
        sock.unwrap().close()  # sends close_notify, then the TCP close
    except (ssl.SSLError, OSError):
        sock.close()
    with tls_connect(servers.https.port, client_context, timeout=5) as again:
        again.sendall(get("/n/2"))
        assert read_responses(again, 1) == [(200, b"response 2")]
    started = time.monotonic()
    servers.https.stop()
    assert time.monotonic() - started < 1.0


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command (Debian: openssl)")
def test_renegotiation_is_refused(servers, ca_file):
    """A client asking to renegotiate TLS 1.2 gets OpenSSL's no_renegotiation alert."""
    done = subprocess.run(
        [
            "openssl",
            "s_client",
            "-connect",
            f"127.0.0.1:{servers.https.port}",
            "-tls1_2",
            "-CAfile",
            str(ca_file),
            "-servername",
            "localhost",
        ],
        input=b"R\n",  # s_client's command to renegotiate
        capture_output=True,
        timeout=20,
    )
    err = done.stderr.decode(errors="replace")
    assert "RENEGOTIATING" in err and "no renegotiation" in err, err


def test_a_small_response_is_one_tls_record(servers, client_context):
    """The response head leaves with the body (``tls._Task.write``): one ``send``, one TLS record.
    A TLS client's ``recv`` returns one record at a time, so the first holds the whole response
    (with a record for the head and one for the body it held the head alone)."""
    with tls_connect(servers.https.port, client_context) as sock:
        for n in range(3):  # each response of a keep-alive connection
            sock.sendall(get(f"/n/{n}"))
            first = sock.recv(65536)
            assert first.startswith(b"HTTP/1.1 200 OK\r\n")
            assert first.endswith(b"\r\n\r\n" + f"response {n}".encode()), first


def connect(servers, scheme: str, client_context) -> socket.socket:
    """A connection to the *scheme* listener of *servers* (TLS done for HTTPS)."""
    port = getattr(servers, scheme).port
    if scheme == "https":
        return tls_connect(port, client_context)
    return socket.create_connection(("127.0.0.1", port), timeout=10)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_head_and_body_go_out_in_one_send(servers, client_context, scheme, monkeypatch):
    from launcher import servers as servers_module

    sent: list[bytes] = []
    channel_class = servers_module._TLSChannel if scheme == "https" else servers_module._PlainChannel
    original = channel_class.send

    def send(self, data, do_close=True):
        sent.append(bytes(data))
        return original(self, data, do_close)

    monkeypatch.setattr(channel_class, "send", send)
    with connect(servers, scheme, client_context) as sock:
        sock.sendall(get("/n/5") + b"HEAD /n/6 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        [(status, body)] = read_responses(sock, 1)
    assert (status, body) == (200, b"response 5")
    deadline = time.monotonic() + 5
    while len(sent) < 2 and time.monotonic() < deadline:  # the HEAD's answer follows
        time.sleep(0.01)
    assert len(sent) == 2, sent
    assert sent[0].startswith(b"HTTP/1.1 200 OK\r\n") and sent[0].endswith(b"\r\n\r\nresponse 5")
    assert sent[1].startswith(b"HTTP/1.1 200 OK\r\n") and sent[1].endswith(b"\r\n\r\n")  # no body


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_responses_have_one_date_header_the_apps_own_if_it_set_one(servers, client_context, scheme):
    from email.utils import parsedate_to_datetime

    app = servers.app

    @app.route("/dated")
    def dated():
        return Response("old", headers={"date": "Tue, 15 Nov 1994 08:12:31 GMT"})

    with connect(servers, scheme, client_context) as sock:
        heads = []
        for path in ("/n/1", "/dated"):
            sock.sendall(get(path))
            data = b""
            while b"\r\n\r\n" not in data:
                data += sock.recv(65536)
            heads.append(data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n"))
    own = [line for line in heads[0] if line.lower().startswith("date:")]
    assert len(own) == 1
    sent = parsedate_to_datetime(own[0].split(":", 1)[1].strip()).timestamp()
    assert abs(sent - time.time()) < 5
    assert [line for line in heads[1] if line.lower().startswith("date:")] == [
        "Date: Tue, 15 Nov 1994 08:12:31 GMT"
    ]
