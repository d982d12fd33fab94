"""Real clients that go wrong on the wire, for the wire-event tests (core, serve, window).

Each one talks to a real listener over a loopback socket and returns when the server has had its
say (or the client gave up); none of them waits more than a few seconds.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Callable
from typing import Any


def tls_hello_on_http(port: int) -> None:
    """A TLS ClientHello on an HTTP port (a client that used https:// for the http:// port)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        try:
            context.wrap_socket(raw, server_hostname="localhost").close()
        except (ssl.SSLError, OSError):
            pass  # the server closes: that is the point


def plain_http_on_https(port: int, path: str = "/x") -> bytes:
    """A plain HTTP GET on an HTTPS port; the server's whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    return reply


def curl_without_ca(port: int) -> subprocess.CompletedProcess[str]:
    """``curl https://localhost:PORT/`` with no ``--cacert``: curl refuses the leaf (``unknown_ca``).

    ``CURL_CA_BUNDLE``/``SSL_CERT_FILE`` are dropped from the environment so only the system's
    CAs are trusted (ours is not among them on a test machine).
    """
    curl = shutil.which("curl")
    assert curl, "curl is needed (scripts/bootstrap.sh installs it)"
    import os

    env = {
        k: v for k, v in os.environ.items() if k not in ("CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")
    }
    return subprocess.run(
        [curl, "-sS", "--max-time", "5", f"https://localhost:{port}/"],
        capture_output=True,
        text=True,
        timeout=15,
        env=env,
    )


def wrong_name(port: int, ca_file: Any, name: str = "elsewhere.test") -> None:
    """A client that trusts our CA but asks for *name* (SNI), which the leaf does not cover.

    OpenSSL checks the name inside the handshake and refuses with ``bad_certificate`` (curl checks
    it only after the handshake, so the server would never hear of it).
    """
    context = ssl.create_default_context(cafile=str(ca_file))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        try:
            context.wrap_socket(raw, server_hostname=name).close()
        except (ssl.SSLError, OSError):
            pass


def no_shared_cipher(port: int) -> None:
    """A TLS 1.2-only client offering only suites without ECDHE: nothing in common with us."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("AES128-SHA:AES256-SHA")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        try:
            context.wrap_socket(raw, server_hostname="localhost").close()
        except (ssl.SSLError, OSError):
            pass


def hang_up_mid_handshake(port: int) -> None:
    """The start of a ClientHello, then the client hangs up."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
    """*predicate*'s first true value within *timeout* s (else its last value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.01)
