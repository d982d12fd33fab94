"""Hostile requests against both listeners, over real sockets: slow headers (slowloris), requests
framed two ways at once (Content-Length + Transfer-Encoding), a non-ASCII server name, control
bytes in the wrong-protocol notice; and the limits that held before (handshake and idle reaping,
pipelining, oversized headers, byte-exact bodies), kept holding."""

from __future__ import annotations

import hashlib
import logging
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hostile import RAW_CONTROL

from launcher import servers as servers_module
from launcher import tls
from launcher.servers import Limits

ROOT = Path(__file__).resolve().parent.parent
SCHEMES = ["http", "https"]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """``/sleep``: 1.5 s then ``slept``; ``/upload``: the body's size and SHA-256; else the path."""
    path = environ["PATH_INFO"]
    if path == "/sleep":
        time.sleep(1.5)
        body = b"slept"
    elif path == "/upload":
        data = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        body = f"{len(data)} {hashlib.sha256(data).hexdigest()}".encode()
    else:
        body = path.encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def connect(servers: Any, scheme: str, ctx: ssl.SSLContext, timeout: float = 5) -> socket.socket:
    """A connection to *scheme*'s listener; for HTTPS the handshake is done."""
    raw = socket.create_connection(("127.0.0.1", getattr(servers, scheme).port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname="localhost") if scheme == "https" else raw


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()


def read_response(sock: socket.socket, buf: bytes = b"") -> tuple[int, bytes, bytes, bytes]:
    """One response with a Content-Length body: (status, head, body, bytes read past it)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {buf!r}"
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    length = next(
        int(v)
        for k, _, v in (ln.partition(b":") for ln in head.split(b"\r\n")[1:])
        if k.lower() == b"content-length"
    )
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside a body"
        rest += chunk
    return int(head.split()[1]), head, rest[:length], rest[length:]


def read_to_close(sock: socket.socket, limit: float) -> tuple[bytes, bool]:
    """Everything the server sends within *limit* seconds; and whether it closed the connection."""
    deadline = time.monotonic() + limit
    data = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except (ConnectionError, ssl.SSLError):
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def trickle(sock: socket.socket, payload: bytes, interval: float, limit: float) -> tuple[float, bytes]:
    """Send *payload* one byte every *interval* s until the server closes the connection.

    Returns the seconds from the first byte to the close, and what the server sent; fails when
    the connection is still open after *limit* seconds (or the payload ran out).
    """
    started = time.monotonic()
    for byte in payload:
        try:
            sock.sendall(bytes([byte]))
        except (ConnectionError, ssl.SSLError):
            return time.monotonic() - started, b""
        reply, closed = read_to_close(sock, interval)
        if closed:
            return time.monotonic() - started, reply
        if time.monotonic() - started > limit:
            break
    raise AssertionError(f"still open {time.monotonic() - started:.1f} s after the first byte")


SLOW_HEAD = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 200


# --- slow headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("payload", [SLOW_HEAD, b"\r\n" * 100], ids=["header", "blank-lines"])
def test_a_trickled_request_is_closed_at_the_header_deadline(make_servers, client_context, scheme, payload):
    servers = make_servers(app, limits=Limits(header_timeout=1.5))
    with connect(servers, scheme, client_context) as sock:
        elapsed, reply = trickle(sock, payload, 0.3, limit=5)
    # maintenance looks once a second and the loop wakes at least once a second: at most ~2 s late
    assert 1.4 <= elapsed <= 4.0, elapsed
    assert reply == b"" or reply.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), reply
    with connect(servers, scheme, client_context) as sock:  # and the listener still serves
        sock.sendall(get("/after"))
        assert read_response(sock)[:3:2] == (200, b"/after")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_slow_but_complete_request_within_the_deadline_is_served(make_servers, client_context, scheme):
    servers = make_servers(app, limits=Limits(header_timeout=2))
    request = get("/slow-but-fine")
    with connect(servers, scheme, client_context) as sock:
        for start in range(0, len(request), 8):  # 1.2 s in all, one piece every 0.25 s
            sock.sendall(request[start : start + 8])
            time.sleep(0.25 if start + 8 < len(request) else 0)
        status, _, body, _ = read_response(sock)
    assert (status, body) == (200, b"/slow-but-fine")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_each_request_of_a_keepalive_connection_gets_its_own_deadline(make_servers, client_context, scheme):
    servers = make_servers(app, limits=Limits(header_timeout=1.5))
    with connect(servers, scheme, client_context) as sock:
        sock.sendall(get("/first"))
        assert read_response(sock)[:3:2] == (200, b"/first")
        time.sleep(1.0)  # idle between requests: no deadline runs
        second = get("/second")
        for start in range(0, len(second), 10):  # ~1.2 s: past 1.5 s from the first request
            sock.sendall(second[start : start + 10])
            time.sleep(0.3 if start + 10 < len(second) else 0)
        assert read_response(sock)[:3:2] == (200, b"/second")
        elapsed, reply = trickle(sock, SLOW_HEAD, 0.3, limit=5)  # a third, trickled: its own deadline
    assert 1.4 <= elapsed <= 4.0, elapsed
    assert reply == b"" or reply.startswith(b"HTTP/1.1 408 "), reply


@pytest.mark.parametrize("scheme", SCHEMES)
def test_the_clock_waits_while_the_server_is_busy_on_the_connection(make_servers, client_context, scheme):
    """A partial request pipelined behind a 1.5 s request is not cut at the 1 s deadline."""
    servers = make_servers(app, limits=Limits(header_timeout=1))
    with connect(servers, scheme, client_context) as sock:
        sock.sendall(get("/sleep") + b"GET /next HTTP/1.1\r\nHost: localhost\r\n")
        status, _, body, rest = read_response(sock)
        assert (status, body) == (200, b"slept")
        sock.sendall(b"\r\n")
        assert read_response(sock, rest)[:3:2] == (200, b"/next")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_slow_body_is_not_cut_by_the_header_deadline(make_servers, client_context, scheme):
    """The deadline ends with the headers: a 256 KiB upload sent over 2 s arrives byte-exact."""
    servers = make_servers(app, limits=Limits(header_timeout=1))
    payload = bytes(range(256)) * 1024
    head = f"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
    with connect(servers, scheme, client_context) as sock:
        sock.sendall(head)
        for start in range(0, len(payload), len(payload) // 8):
            time.sleep(0.25)
            sock.sendall(payload[start : start + len(payload) // 8])
        status, _, body, _ = read_response(sock)
    assert (status, body) == (200, f"{len(payload)} {hashlib.sha256(payload).hexdigest()}".encode())


# --- Content-Length + Transfer-Encoding ------------------------------------------------------------

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n"
TWO_FRAMINGS = {
    "cl-and-te": b"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te-on-http10": b"POST /upload HTTP/1.0\r\nHost: localhost\r\nConnection: keep-alive\r\n"
    b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("framing", sorted(TWO_FRAMINGS))
def test_a_request_framed_two_ways_is_answered_once_then_closed(
    make_servers, client_context, scheme, framing
):
    servers = make_servers(app)
    with connect(servers, scheme, client_context) as sock:
        sock.sendall(TWO_FRAMINGS[framing] + SMUGGLED)  # one write
        data, closed = read_to_close(sock, 3)
    assert data.count(b"HTTP/1.") == 1, data
    assert b"/smuggled" not in data
    assert data.split(b"\r\n", 1)[0].split()[1] == b"200"
    assert b"\r\nConnection: close\r\n" in data.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    assert closed, "the connection stayed open after a request framed two ways"


@pytest.mark.parametrize("scheme", SCHEMES)
def test_plain_chunked_requests_keep_the_connection(make_servers, client_context, scheme):
    servers = make_servers(app)
    chunked = (
        b"POST /upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    )
    with connect(servers, scheme, client_context) as sock:
        sock.sendall(chunked + get("/again"))
        status, _, body, rest = read_response(sock)
        assert (status, body) == (200, f"3 {hashlib.sha256(b'abc').hexdigest()}".encode())
        assert read_response(sock, rest)[:3:2] == (200, b"/again")


# --- a non-ASCII server name -----------------------------------------------------------------------


def client_hello(server_name: bytes) -> bytes:
    """A real ClientHello (Python's own client) whose SNI carries *server_name* as raw bytes.

    Python's client only sends IDNA/ASCII names, so it is made with an ASCII name of the same
    length and the name's bytes are swapped in (no length field changes).
    """
    placeholder = b"x" * len(server_name)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=placeholder.decode())
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    hello = outgoing.read()
    assert hello.count(placeholder) == 1
    return hello.replace(placeholder, server_name)


NON_ASCII_SNI = "café.test".encode()


def send_hello(port: int, hello: bytes) -> bytes:
    """Send a ClientHello; what comes back before the server closes (an alert)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(hello)
        data, closed = read_to_close(sock, 5)
    assert closed
    return data


def test_a_non_ascii_server_name_is_a_logged_rejection(make_servers, client_context, caplog):
    caplog.set_level(logging.INFO, logger="launcher.wire")
    servers = make_servers(app)
    reply = send_hello(servers.https.port, client_hello(NON_ASCII_SNI))
    assert reply[:1] == b"\x15"  # a TLS alert, then the close
    messages = [r.getMessage() for r in caplog.records if r.name == "launcher.wire"]
    assert any(
        m.startswith("TLS handshake failed from 127.0.0.1:")
        and 'server name (SNI) is not ASCII: "café.test"' in m
        for m in messages
    ), messages
    with connect(servers, "https", client_context) as sock:
        sock.sendall(get("/still"))
        assert read_response(sock)[:3:2] == (200, b"/still")


def test_other_unraisable_exceptions_still_reach_the_previous_hook(make_servers):
    make_servers(app)  # a listener start installs the hook
    seen: list[Any] = []
    hook = tls._SniHook(seen.append)

    class Unraisable:
        exc_type = UnicodeDecodeError
        exc_value = UnicodeDecodeError("ascii", b"\xff", 0, 1, "ordinal not in range(128)")
        exc_traceback = None
        err_msg = None
        object = b"\xff"

    hook(Unraisable())  # outside a handshake of ours: not ours to swallow
    assert len(seen) == 1
    assert isinstance(sys.unraisablehook, tls._SniHook)


def test_serve_prints_no_traceback_for_a_non_ascii_server_name(tmp_path):
    certs = str(tmp_path / "certs")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "launcher",
            "serve",
            "--http-port",
            "0",
            "--https-port",
            "0",
            "--cert-dir",
            certs,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        urls: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (line := proc.stdout.readline()).startswith(
            "CA certificate: "
        ):
            assert line, "serve ended early"
            urls.append(line.split()[0])
        https = next(u for u in urls if u.startswith("https://"))
        port = int(https.rsplit(":", 1)[1].strip("/"))
        for _ in range(3):
            assert send_hello(port, client_hello(NON_ASCII_SNI))[:1] == b"\x15"
        ctx = ssl.create_default_context(cafile=str(tmp_path / "certs" / "ca.pem"))
        with ctx.wrap_socket(
            socket.create_connection(("127.0.0.1", port), timeout=5), server_hostname="localhost"
        ) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            assert read_to_close(s, 5)[0].startswith(b"HTTP/1.1 200 ")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    stderr = proc.stderr.read()
    assert "Exception ignored" not in stderr and "Traceback" not in stderr, stderr
    # Three rejections, one reason: one line, then (rate-limited notices) a count of the rest.
    rejected = [ln for ln in stderr.splitlines() if "server name (SNI) is not ASCII" in ln]
    assert len(rejected) == 2, stderr
    assert rejected[0].startswith("notice: TLS handshake failed from "), stderr
    assert rejected[1].startswith("notice: 2 more like this in the last 10 s not shown; the last: "), stderr


# --- control bytes in the wrong-protocol notice ----------------------------------------------------


def test_the_plain_http_notice_escapes_the_clients_host(make_servers, caplog):
    caplog.set_level(logging.INFO, logger="launcher.wire")
    servers = make_servers(app)
    port = servers.https.port
    request = b"GET /p\x1b[2J HTTP/1.1\r\nHost: a\n[00:00:00] notice: forged\x1b[31m\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        reply, closed = read_to_close(sock, 5)
    assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n") and closed
    notices = [
        r.getMessage() for r in caplog.records if r.getMessage().startswith("Plain HTTP on the HTTPS port")
    ]
    assert len(notices) == 1
    assert not RAW_CONTROL.search(notices[0]), notices[0]
    assert "a\\n[00:00:00] notice: forged\\x1b[31m" in notices[0]


# --- what held before, and must keep holding -------------------------------------------------------


def test_a_stalled_handshake_is_reaped(make_servers, monkeypatch):
    monkeypatch.setattr(tls, "HANDSHAKE_TIMEOUT", 1.0)  # 10 s in production
    servers = make_servers(app)
    with socket.create_connection(("127.0.0.1", servers.https.port), timeout=5) as sock:
        sock.sendall(client_hello(b"localhost")[:20])  # a ClientHello cut short
        started = time.monotonic()
        _, closed = read_to_close(sock, 5)
    assert closed and 0.5 <= time.monotonic() - started <= 3.5


@pytest.mark.parametrize("scheme", SCHEMES)
def test_an_idle_keepalive_connection_is_reaped(make_servers, client_context, monkeypatch, scheme):
    monkeypatch.setattr(servers_module, "CHANNEL_TIMEOUT", 2)  # 60 s in production
    servers = make_servers(app)
    with connect(servers, scheme, client_context) as sock:
        sock.sendall(get("/one"))
        assert read_response(sock)[:3:2] == (200, b"/one")
        started = time.monotonic()
        _, closed = read_to_close(sock, 6)
    assert closed and 1.5 <= time.monotonic() - started <= 4.5


def test_a_hundred_requests_in_one_tls_record_are_all_answered(make_servers, client_context):
    servers = make_servers(app)
    with connect(servers, "https", client_context) as sock:
        sock.sendall(b"".join(get(f"/{n}") for n in range(100)))  # ~3.5 KB: one record
        rest = b""
        for n in range(100):
            status, _, body, rest = read_response(sock, rest)
            assert (status, body) == (200, f"/{n}".encode())


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_300_kib_header_gets_431(make_servers, client_context, scheme):
    servers = make_servers(app)
    with connect(servers, scheme, client_context) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * (300 * 1024) + b"\r\n\r\n")
        data, _ = read_to_close(sock, 5)
    assert data.split(b"\r\n", 1)[0].split()[1] == b"431", data[:100]
