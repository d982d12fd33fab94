"""TLS policy and TLS inside waitress's channels.

waitress has no TLS.  Wrapping its listening socket would run every handshake in the accept path,
where one client that connects and sends nothing freezes the whole server (DESIGN.md).  Instead
each accepted connection gets its own ``ssl.SSLObject`` over a pair of memory BIOs, driven by the
channel's own non-blocking reads and writes in waitress's event loop:

* the first byte is peeked before any TLS: a plain-HTTP request on this port gets a plain-text
  ``400`` that names the ``https://`` URL (like nginx's 497 page) instead of a handshake error;
* ``readable()``/``writable()`` follow the handshake and the encrypted bytes waiting for the
  socket, not only waitress's request state;
* every read drains *all* plaintext OpenSSL holds, so bytes already decrypted never wait for a
  ``select()`` that will not fire (two pipelined requests in one TLS record);
* waitress writes responses from its worker threads too: every call into the ``SSLObject`` and
  the BIOs is guarded by one lock per channel;
* encrypted output that the socket has not taken yet is kept in a small buffer; while it is
  above a high-water mark ``send()`` accepts nothing, so waitress keeps (and may spill to disk)
  the rest of a large response for a slow reader;
* a close that waitress asks for while encrypted bytes are still queued waits until they are
  written (or the peer is gone, or the channel times out).

The TLS facts of a connection reach the WSGI environ under mod_ssl's names (``TLS_ENVIRON_KEYS``).

This module leans on waitress internals (``HTTPChannel``, ``wasyncore``, ``WSGITask``); the
waitress version is pinned in ``pyproject.toml`` and ``tests/test_tls_channel.py`` covers the
traps above, so an upgrade that breaks it fails loudly.
"""

from __future__ import annotations

import errno
import logging
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.task import WSGITask

from launcher.errors import CertFileError, KeyMismatchError

log = logging.getLogger("launcher.wire")

#: TLS 1.2 suites: ECDHE key exchange with AEAD ciphers only (no CBC: LUCKY13). TLS 1.3 suites are
#: all AEAD and are not affected by ``set_ciphers``.
CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
ALPN_PROTOCOLS = ["http/1.1"]

#: Keys this module adds to every HTTPS request's WSGI environ (mod_ssl names where they exist).
TLS_ENVIRON_KEYS = (
    "HTTPS",  # "on"
    "SSL_PROTOCOL",  # "TLSv1.3"
    "SSL_CIPHER",  # "TLS_AES_256_GCM_SHA384"
    "SSL_CIPHER_USEKEYSIZE",  # "256"
    "SSL_TLS_SNI",  # the server name the client asked for (absent without SNI)
    "SSL_ALPN_PROTOCOL",  # "http/1.1" (absent when the client offered no ALPN)
)

#: Encrypted bytes kept for the socket before ``send()`` refuses more plaintext.
_TLS_OUT_HIGH_WATER = 256 * 1024
#: How long a connection may take to finish its handshake before maintenance closes it.
HANDSHAKE_TIMEOUT = 10.0
#: How long a close waits for queued encrypted bytes to reach a reader that does not read.
_CLOSE_LINGER = 10.0
#: Bytes asked of the socket per read. Small on purpose: Python allocates the whole size for every
#: call, and a large buffer costs an mmap per read.
_RECV_BYTES = 32 * 1024
#: Plaintext asked of OpenSSL per read: one TLS record holds at most 16 KiB.
_RECORD_BYTES = 16 * 1024
_DISCONNECTED = frozenset(
    {errno.ECONNRESET, errno.ENOTCONN, errno.ESHUTDOWN, errno.ECONNABORTED, errno.EPIPE, errno.EBADF}
)


def server_context(cert_path: str | Path, key_path: str | Path) -> ssl.SSLContext:
    """The one SSL context of an HTTPS listener: TLS 1.2+, AEAD suites, ALPN http/1.1.

    Built once per listener start and shared by all its connections (a context per connection
    costs more than the handshake).  Raises ``CertFileError`` or ``KeyMismatchError``.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(CIPHERS)
    ctx.set_alpn_protocols(ALPN_PROTOCOLS)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_RENEGOTIATION
    for path in (cert_path, key_path):
        if not Path(path).is_file():
            raise CertFileError(f"Certificate file {path} does not exist.")
    try:
        ctx.load_cert_chain(str(cert_path), str(key_path))
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc) or "key values mismatch" in str(exc):
            raise KeyMismatchError(
                f"The private key {key_path} does not belong to the certificate {cert_path}."
            ) from None
        raise CertFileError(
            f"Cannot load the certificate {cert_path} with key {key_path}: {exc.reason or exc}."
        ) from None
    except OSError as exc:
        raise CertFileError(f"Cannot read {exc.filename or cert_path}: {exc.strerror}.") from None
    ctx.sni_callback = _remember_sni
    return ctx


def _remember_sni(sslobj: Any, server_name: str | None, _ctx: ssl.SSLContext) -> None:
    sslobj.launcher_sni = server_name


def plain_http_reply(https_url: str) -> bytes:
    """The plain-text 400 a plain-HTTP request on the HTTPS port gets (nginx's 497, in words)."""
    body = (
        "400 Bad Request: this port speaks HTTPS, and your client sent plain HTTP.\n"
        f"Use {https_url} instead.\n"
    ).encode()
    head = (
        "HTTP/1.1 400 Bad Request\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    return head + body


def _host_from_request(data: bytes) -> str | None:
    for line in data.split(b"\r\n")[1:]:
        if not line:
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"host":
            return value.strip().decode("latin-1") or None
    return None


def _target_from_request(data: bytes) -> str:
    parts = data.split(b"\r\n", 1)[0].split(b" ")
    if len(parts) == 3 and parts[1].startswith(b"/"):
        return parts[1].decode("latin-1")
    return "/"


class TLSTask(WSGITask):
    """A WSGI task whose environ carries the listener name and the connection's TLS facts."""

    def get_environment(self) -> dict[str, Any]:
        cached = self.environ is not None
        environ = super().get_environment()
        if not cached:
            environ.update(self.channel.extra_environ)
        return environ


class PlainTask(WSGITask):
    """A WSGI task whose environ carries the listener name."""

    def get_environment(self) -> dict[str, Any]:
        cached = self.environ is not None
        environ = super().get_environment()
        if not cached:
            environ.update(self.channel.server.extra_environ)
        return environ


class PlainChannel(HTTPChannel):
    """waitress's channel, plus: a TLS ClientHello on this port is named and closed, not parsed."""

    task_class = PlainTask
    _first = True

    def received(self, data: bytes) -> bool:
        if self._first and data:
            self._first = False
            if data[0] == 0x16 and (len(data) < 2 or data[1] == 0x03):
                hint = self.server.hint_url() or "the HTTPS listener's https:// URL"
                log.warning(
                    "TLS handshake on the HTTP port %s from %s:%s: use %s",
                    self.server.effective_port,
                    self.addr[0],
                    self.addr[1],
                    hint,
                )
                self.will_close = True
                return False
        return super().received(data)


class TLSChannel(HTTPChannel):
    """An HTTPChannel that speaks TLS through memory BIOs, without blocking the event loop."""

    task_class = TLSTask

    def __init__(self, server: Any, sock: socket.socket, addr: Any, adj: Any, map: Any = None) -> None:
        self._tls_lock = threading.Lock()
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls: ssl.SSLObject | None = None
        self._handshaking = True
        self._tls_out = bytearray()  # encrypted bytes the socket has not taken yet
        self._dead = False  # the peer is gone: nothing more can be written
        self._close_pending = False
        self._close_deadline = 0.0
        self._plain_reply = False
        self._closed = False
        self.extra_environ: dict[str, Any] = dict(server.extra_environ)
        super().__init__(server, sock, addr, adj, map)

    # --- readiness ---------------------------------------------------------------------------

    # The loop asks every channel both questions on every turn: these are written out in full
    # (HTTPChannel's conditions inlined, no super() call) because they are the hottest code here.

    def readable(self) -> bool:
        if self._close_pending or self._plain_reply:
            return False
        if self._handshaking:
            return not self.will_close
        return not (
            self.will_close
            or self.close_when_flushed
            or len(self.requests) > self.adj.channel_request_lookahead
            or self.total_outbufs_len
        )

    def writable(self) -> bool:
        return bool(
            self._tls_out
            or self._close_pending
            or self.total_outbufs_len
            or self.will_close
            or self.close_when_flushed
        )

    # --- reading -----------------------------------------------------------------------------

    def handle_read(self) -> None:
        if self._tls is None:
            self._start_tls()
            return
        data = self._read_plaintext()
        if data:
            self.last_activity = time.time()
            if self._handshaking:
                return  # cannot happen: plaintext only flows after the handshake
            self.received(data)

    def _start_tls(self) -> None:
        """Peek at the first byte: a TLS record starts with 0x16, anything else is plain text."""
        try:
            first = self.socket.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            return
        except OSError:
            self._force_close()
            return
        if not first:
            self._force_close()
            return
        if first[0] != 0x16:
            self._reject_plain_http()
            return
        self._tls = self.server.ssl_context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._read_plaintext()

    def _reject_plain_http(self) -> None:
        try:
            data = self.socket.recv(65536)
        except OSError:
            data = b""
        host = _host_from_request(data) or f"{self.server.adj.host}:{self.server.effective_port}"
        url = f"https://{host}{_target_from_request(data)}"
        log.warning(
            "Plain HTTP on the HTTPS port %s from %s:%s: answered 400, use %s",
            self.server.effective_port,
            self.addr[0],
            self.addr[1],
            url,
        )
        self._plain_reply = True
        with self._tls_lock:
            self._tls_out += plain_http_reply(url)
            self._flush_tls_out()
        self._close_after_flush()

    def _read_plaintext(self) -> bytes:
        """Read what the socket has, feed OpenSSL, return all the plaintext it now holds."""
        try:
            raw = self.socket.recv(_RECV_BYTES)
        except BlockingIOError:
            return b""
        except OSError as exc:
            if exc.errno not in _DISCONNECTED:
                log.debug("TLS socket error from %s: %s", self.addr, exc)
            self._force_close()
            return b""
        if not raw:
            self._dead = True
            self._force_close()
            return b""
        chunks: list[bytes] = []
        closing = False
        with self._tls_lock:
            self._incoming.write(raw)
            try:
                if self._handshaking:
                    self._tls.do_handshake()
                    self._handshake_done()
                tls, incoming = self._tls, self._incoming
                while True:
                    chunk = tls.read(_RECORD_BYTES)
                    if not chunk:  # the peer's close_notify (SSLObject may return b"")
                        closing = True
                        break
                    chunks.append(chunk)
                    if not incoming.pending and not tls.pending():
                        break  # all consumed: skip the SSLWantReadError a further read raises
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                closing = True  # the client sent close_notify
            except ssl.SSLError as exc:
                log.info("TLS error from %s:%s: %s", self.addr[0], self.addr[1], exc.reason or exc)
                self._flush_tls_out()  # deliver our alert, if any
                closing = True
            self._tls_out += self._outgoing.read()
            self._flush_tls_out()
        if closing:
            self._close_after_flush()
        return b"".join(chunks)

    def _handshake_done(self) -> None:
        tls = self._tls
        self._handshaking = False
        name, _version, bits = tls.cipher() or ("", "", 0)
        facts = {"HTTPS": "on", "SSL_PROTOCOL": tls.version(), "SSL_CIPHER": name}
        facts["SSL_CIPHER_USEKEYSIZE"] = str(bits)
        sni = getattr(tls, "launcher_sni", None)
        if sni:
            facts["SSL_TLS_SNI"] = sni
        alpn = tls.selected_alpn_protocol()
        if alpn:
            facts["SSL_ALPN_PROTOCOL"] = alpn
        self.extra_environ.update(facts)

    # --- writing -----------------------------------------------------------------------------

    def send(self, data: bytes, do_close: bool = True) -> int:
        """Encrypt *data* and queue it for the socket; called by waitress from any thread."""
        if self._dead or self._tls is None:
            if do_close:
                self._force_close()
            return 0
        with self._tls_lock:
            if len(self._tls_out) >= _TLS_OUT_HIGH_WATER:
                self._flush_tls_out()
                if len(self._tls_out) >= _TLS_OUT_HIGH_WATER:
                    return 0
            try:
                sent = self._tls.write(data)
            except ssl.SSLError as exc:
                log.info("TLS write error to %s:%s: %s", self.addr[0], self.addr[1], exc)
                self._dead = True
                sent = 0
            if self._tls_out:
                self._tls_out += self._outgoing.read()
                self._flush_tls_out()
            else:
                self._send_direct(self._outgoing.read())
        if self._dead and do_close:
            self._force_close()
        return sent

    def _send_direct(self, data: bytes) -> None:
        """Send *data* when nothing is queued; keep what the socket does not take.  Hold the lock."""
        sock = self.socket
        if self._dead or sock is None:
            self._dead = True
            return
        try:
            sent = sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            if exc.errno not in _DISCONNECTED:
                log.debug("TLS socket error to %s: %s", self.addr, exc)
            self._dead = True
            return
        if sent < len(data):
            self._tls_out += data[sent:]

    def _flush_tls_out(self) -> None:
        """Write queued encrypted bytes to the socket without blocking.  Hold ``_tls_lock``."""
        sock = self.socket
        if not self._tls_out or self._dead:
            return
        if sock is None:  # closed by the loop thread meanwhile
            self._dead = True
            self._tls_out.clear()
            return
        try:
            sent = sock.send(self._tls_out)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno not in _DISCONNECTED:
                log.debug("TLS socket error to %s: %s", self.addr, exc)
            self._dead = True
            self._tls_out.clear()
            return
        del self._tls_out[:sent]

    def handle_write(self) -> None:
        with self._tls_lock:
            self._flush_tls_out()
        if self._tls_out:
            return  # wait until the socket takes the rest
        if self._close_pending or self._dead:
            self._force_close()
            return
        super().handle_write()

    # --- closing -----------------------------------------------------------------------------

    def _close_after_flush(self) -> None:
        if self._tls_out and not self._dead:
            self._close_pending = True
            self._close_deadline = time.monotonic() + _CLOSE_LINGER
        else:
            self._force_close()

    def handle_close(self) -> None:
        """waitress asks to close: first let the encrypted tail of the response reach the peer."""
        if self._tls_out and not self._dead and not self._closed:
            if not self._close_pending:
                self._close_pending = True
                self._close_deadline = time.monotonic() + _CLOSE_LINGER
            return
        self._force_close()

    def _force_close(self) -> None:
        self._close_pending = False
        self._tls_out.clear()
        if not self._closed:
            self._closed = True
            super().handle_close()

    def overdue(self, now_monotonic: float, now: float) -> bool:
        """True when this channel is stuck: a handshake or a lingering close that took too long."""
        if self._close_pending:
            return now_monotonic >= self._close_deadline
        return self._handshaking and now - self.creation_time >= HANDSHAKE_TIMEOUT


def close_channels(server: Any) -> None:
    """Close every channel of *server* and the server itself.  Run it in the loop thread only."""
    for channel in list(server.active_channels.values()):
        try:
            force = getattr(channel, "_force_close", None)
            (force or channel.handle_close)()
        except Exception:
            log.exception("Error while closing a channel")
    wasyncore.close_all(server._map, ignore_all=True)
