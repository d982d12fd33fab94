"""TLS policy and TLS inside waitress's channels.

waitress has no TLS.  Wrapping its listening socket would run every handshake in the accept path,
where one client that connects and sends nothing freezes the whole server (see docs/architecture.md).  Instead
each accepted connection is wrapped on its own in a non-blocking ``ssl.SSLSocket`` whose
handshake, reads and writes are driven by the channel in waitress's event loop:

* the first byte is peeked before any TLS: a plain-HTTP request on this port gets a plain-text
  ``400`` that names the ``https://`` URL (like nginx's 497 page) instead of a handshake error;
* wasyncore knows only EWOULDBLOCK: ``SSLWantReadError``/``SSLWantWriteError`` are handled in the
  channel's own reads and writes, and during the handshake ``readable()``/``writable()`` follow
  what OpenSSL wants, not waitress's request state;
* every read drains what OpenSSL already decrypted (``pending()``): those bytes never wake a
  ``select()``, so leaving them would stall two pipelined requests sent in one TLS record;
* after a write returned WANT_WRITE the retry passes the same length (waitress re-slices a
  buffer that may have grown meanwhile);
* waitress writes responses from its worker threads too: every call into the ``SSLSocket`` is
  guarded by one lock per channel; ``SSLSocket.shutdown()`` is never called (it would drop the
  SSL object under the loop's feet).

(A first version ran an ``SSLObject`` over memory BIOs; it measured the same and needed its own
output buffer and a deferred close, so this one replaced it.)

The TLS facts of a connection reach the WSGI environ under mod_ssl's names (``TLS_ENVIRON_KEYS``).

Both schemes' channels (``_GuardedChannel``) also hold hostile clients to account: request headers
have ``server.limits.header_timeout`` seconds from their first byte (slowloris), and a request
framed two ways (Content-Length + Transfer-Encoding) is answered once and the connection closed
(request smuggling).  A non-ASCII server name (SNI) is a logged handshake rejection, not a
traceback from CPython's ``_ssl`` (``install_sni_hook``).  Text from a client in a log message is
escaped (``recordformat.escape_control``).

This module leans on waitress internals (``HTTPChannel``, ``wasyncore``, ``WSGITask``); the
waitress version is pinned in ``pyproject.toml`` and ``tests/test_tls_channel.py`` covers the
traps above, so an upgrade that breaks it fails loudly.
"""

from __future__ import annotations

import errno
import logging
import socket
import ssl
import sys
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from waitress import wasyncore
from waitress.channel import ClientDisconnected, HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.task import WSGITask
from waitress.utilities import build_http_date

from launcher import wireevents
from launcher.accesslog import AccessEntry
from launcher.errors import CertFileError, KeyMismatchError
from launcher.wireevents import WireEvent

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

#: Plaintext handed to OpenSSL per write: a few records, so a WANT_WRITE retry stays small.
_WRITE_BYTES = 64 * 1024
#: How long a connection may take to finish its handshake before maintenance closes it.
HANDSHAKE_TIMEOUT = 10.0
#: Plaintext asked of OpenSSL per read: one TLS record holds at most 16 KiB.
_RECORD_BYTES = 16 * 1024
_TIMEOUT_BODY = b"408 Request Timeout: the request headers came in too slowly.\n"
#: What a client whose request headers missed the header deadline gets before the close.
REQUEST_TIMEOUT_REPLY = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: %d\r\n"
    b"Connection: close\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY)
)
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
    install_sni_hook()
    leaf_covers[ctx] = _leaf_checker(Path(cert_path))
    return ctx


#: Per SSL context: whether its leaf covers a server name (for a failed handshake's advice).
leaf_covers: weakref.WeakKeyDictionary[ssl.SSLContext, Callable[[str], bool | None]] = (
    weakref.WeakKeyDictionary()
)


def _leaf_checker(cert_path: Path) -> Callable[[str], bool | None]:
    """``covers(name)``: whether the leaf in *cert_path* covers *name* (None when unreadable)."""
    try:
        from cryptography import x509

        from launcher.certs import host_covered

        leaf = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except Exception:  # the context loaded it; a failure here only costs the name check
        return lambda _name: None

    def covers(name: str) -> bool | None:
        try:
            return host_covered(leaf, name)
        except Exception:  # a name that is neither a host name nor an address
            return False

    return covers


def emit(channel: Any, event: WireEvent, level: int = logging.INFO) -> None:
    """Log *event* on ``launcher.wire`` (its advice, one rate-limit reason per kind) and hand it to
    the channel's server (``server.on_event``, the listener's sink).  Loop thread; never raises."""
    log.log(level, "%s", event.notice(), extra={"reason": f"wire-event:{event.kind.value}"})
    on_event = getattr(channel.server, "on_event", None)
    if on_event is not None:
        try:
            on_event(event)
        except Exception:
            log.exception("Could not record a wire event")


def _remember_sni(sslobj: Any, server_name: str | None, _ctx: ssl.SSLContext) -> None:
    sslobj.launcher_sni = server_name


# --- a non-ASCII server name (SNI) -------------------------------------------------------------
#
# CPython's _ssl decodes the server name a ClientHello carries as ASCII before it calls
# ``sni_callback``; a name that is not ASCII raises UnicodeDecodeError inside OpenSSL's callback,
# where CPython can only hand it to ``sys.unraisablehook`` (whose default prints "Exception
# ignored in: b'...'" and a traceback on stderr, one per connection) and fail the handshake
# (CALLBACK_FAILED, an internal_error alert).  The hook below takes exactly that case, while one of
# our handshakes runs in this thread, and turns it into the reason of that handshake's rejection;
# everything else goes on to the hook it replaced.

_handshake_state = threading.local()


class _SniHook:
    """``sys.unraisablehook`` wrapper: swallows the non-ASCII-SNI decode error of our handshakes."""

    def __init__(self, previous: Callable[[Any], object]) -> None:
        self.previous = previous

    def __call__(self, unraisable: Any) -> None:
        exc = unraisable.exc_value
        if (
            getattr(_handshake_state, "active", False)
            and isinstance(exc, UnicodeDecodeError)
            and isinstance(unraisable.object, bytes)
            and exc.object == unraisable.object
        ):
            _handshake_state.bad_sni = unraisable.object
            return
        self.previous(unraisable)


def install_sni_hook() -> None:
    """Wrap ``sys.unraisablehook`` once (again if something replaced our wrapper since)."""
    if not isinstance(sys.unraisablehook, _SniHook):
        sys.unraisablehook = _SniHook(sys.unraisablehook)


# --- HTTP framing --------------------------------------------------------------------------------


class _Parser(HTTPRequestParser):
    """waitress's request parser, plus two facts the channel needs.

    * ``on_headers`` is called once the headers of a request (not a blank line) are complete: it
      stops the channel's header deadline.
    * ``framing_suspect``: the request has both ``Transfer-Encoding: chunked`` and
      ``Content-Length``, or ``Transfer-Encoding`` on HTTP/1.0 (RFC 9112 §6.1, §6.3).  A proxy in
      front may have framed it the other way, so the bytes after it cannot be trusted to start a
      request: the rest of what arrived with it is dropped and the connection is closed once the
      response is out (request smuggling).
    """

    framing_suspect = False
    on_headers: Callable[[], None] | None = None

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        headers = self.headers
        self.framing_suspect = (self.chunked and "CONTENT_LENGTH" in headers) or (
            self.version == "1.0" and "TRANSFER_ENCODING" in headers
        )

    def received(self, data: bytes) -> int:
        had_headers = self.headers_finished
        consumed: int = super().received(data)
        if self.headers_finished and not had_headers and not self.empty and self.on_headers is not None:
            self.on_headers()
        if self.completed and self.framing_suspect:
            return len(data)  # what follows this request in the same read is not parsed
        return consumed


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


class _Task(WSGITask):
    """waitress's WSGI task, plus: a request with suspect framing closes its connection, and the
    response head leaves with the first body bytes.

    waitress hands the head and the first chunk of the body to ``write_soon`` one after the
    other, and each is sent at once (``send_bytes`` is 1): two ``send`` calls, two TLS records and
    two TCP segments for a small response.  ``write`` gathers both (``_GuardedChannel.write_soon``
    holds them) and hands them over as one buffer; the bytes on the wire are the same.
    """

    def service(self) -> None:
        """Serve the request; with an access log on the server (``serve``), note it there.

        The entry is made of what waitress already has (``launcher.accesslog``): this is the
        whole per-request cost of ``serve``'s log in the request's thread."""
        channel = self.channel
        access_log = channel.server.access_log
        if access_log is None:
            super().service()
            return
        started = time.perf_counter()
        status = None
        try:
            super().service()
        except ClientDisconnected:
            raise
        except Exception:
            if not self.wrote_header:  # waitress answers 500 with its own error task
                status = 500
            raise
        finally:
            request = self.request
            length = self.content_length
            addr = channel.addr
            access_log.add(
                _entry(  # positionally, in the order of AccessEntry's fields (the request path)
                    (
                        self.start_time,
                        (time.perf_counter() - started) * 1000.0,
                        channel.server.scheme,
                        addr[0],
                        addr[1],
                        request.command,
                        request.path,
                        request.query,
                        "HTTP/" + self.version,  # waitress's: "1.0" or "1.1"
                        status or int(self.status[:3]),
                        self.content_bytes_written if length is None or status else length,
                        *channel.tls_facts,
                        access_log.worker,
                    )
                )
            )

    def write(self, data: bytes) -> None:
        if self.wrote_header or not data:
            super().write(data)
            return
        channel = self.channel
        held: list[bytes] = []
        channel.held_writes = held
        try:
            super().write(data)  # the head, then the first body bytes (if any): into ``held``
        finally:
            channel.held_writes = None
        if held:
            channel.write_soon(held[0] if len(held) == 1 else b"".join(held))

    def build_response_header(self) -> bytes:
        if getattr(self.request, "framing_suspect", False):
            addr = self.channel.addr
            log.info(
                "Request from %s:%s has both Content-Length and Transfer-Encoding"
                " (or Transfer-Encoding on HTTP/1.0): answered, then the connection is closed",
                addr[0],
                addr[1],
            )
            self.set_close_on_finish()  # also says "Connection: close" in the response
        headers = self.response_headers
        for name, _value in headers:
            if len(name) == 4 and name.lower() == "date":
                break
        else:  # the Date waitress would add (it formats one per response): once a second here
            headers.append(("Date", http_date(self.start_time)))
        return super().build_response_header()


#: The last ``http_date``: (whole second, its text).
_last_date: tuple[int, str] = (-1, "")


def http_date(when: float) -> str:
    """*when* as an HTTP date (``Sun, 06 Nov 1994 08:49:37 GMT``), as waitress's
    ``build_http_date`` makes it; formatted once a second, whatever the number of responses."""
    global _last_date
    second = int(when)
    last = _last_date
    if last[0] != second:
        last = _last_date = (second, build_http_date(second))
    return last[1]


_entry = AccessEntry._make


class TLSTask(_Task):
    """A WSGI task whose environ carries the listener name and the connection's TLS facts."""

    def get_environment(self) -> dict[str, Any]:
        cached = self.environ is not None
        environ = super().get_environment()
        if not cached:
            environ.update(self.channel.extra_environ)
        return environ


class PlainTask(_Task):
    """A WSGI task whose environ carries the listener name."""

    def get_environment(self) -> dict[str, Any]:
        cached = self.environ is not None
        environ = super().get_environment()
        if not cached:
            environ.update(self.channel.server.extra_environ)
        return environ


class _GuardedChannel(HTTPChannel):
    """waitress's channel, plus the header deadline and the framing check (both schemes).

    The header deadline (slow-header, "slowloris" clients): from the first byte of a request to
    the end of its headers a client has ``server.limits.header_timeout`` seconds, for every
    request of a keep-alive connection.  waitress alone only has an idle timer that every byte
    resets, so one byte every few seconds held a connection forever.  While headers are incomplete
    this deadline rules; blank lines between requests count as the start of one (a trickle of
    CRLFs is still a trickle).  The clock waits while the server itself is busy on the connection
    (a request being served, a response being sent): only the client's slowness counts.  The
    loop's maintenance (``overdue``/``close_overdue``) closes a channel past it, after a ``408``.
    All of this runs in the loop thread.
    """

    _header_started: float | None = None  # time.monotonic() of the first byte of a partial request
    _header_paused = False  # the server was busy on this connection at the last look
    _header_timed_out = False
    #: The connection's TLS version and cipher, for the access log (``TLSChannel``: once the
    #: handshake is done).
    tls_facts: tuple[str | None, str | None] = (None, None)
    #: While a task writes a response's head and first body bytes (``_Task.write``, in the task's
    #: worker thread): where ``write_soon`` puts them, to go out as one buffer.
    held_writes: list[bytes] | None = None

    def write_soon(self, data: Any) -> int:
        held = self.held_writes
        if held is not None and data:
            if not self.connected:
                raise ClientDisconnected
            held.append(data)
            return len(data)
        written: int = super().write_soon(data)
        return written

    def parser_class(self, adj: Any) -> _Parser:
        """A parser for the next request (waitress calls ``self.parser_class(adj)``)."""
        parser = _Parser(adj)
        parser.on_headers = self._headers_done
        return parser

    def _headers_done(self) -> None:
        self._header_started = None
        self._header_paused = False

    def received(self, data: bytes) -> bool:
        if (
            data
            and self._header_started is None
            and (self.request is None or not self.request.headers_finished)
        ):
            self._header_started = time.monotonic()  # the first byte of a request (not of a body)
        result: bool = super().received(data)
        request = self.request
        if self._header_started is None and request is not None and not request.headers_finished:
            # One request's headers ended in this read and the next one started after them.
            self._header_started = time.monotonic()
        return result

    def overdue(self, now_monotonic: float, now: float) -> bool:
        """True when a request's headers missed the header deadline (see the class)."""
        started = self._header_started
        if started is None:
            return False
        if self.requests or self.total_outbufs_len:
            self._header_paused = True  # busy on our side: the client's clock waits
            return False
        if self._header_paused:  # the server just finished: the client's clock starts again
            self._header_paused = False
            self._header_started = now_monotonic
            return False
        self._header_timed_out = now_monotonic - started >= self.server.limits.header_timeout
        return self._header_timed_out

    def close_overdue(self) -> None:
        """Close a channel ``overdue`` named, at the loop's next write turn; a late request gets a
        best-effort ``408`` first.

        Only marked here (``will_close``, as waitress's own idle reaper does): maintenance runs
        while the loop is collecting the descriptors to poll, and a descriptor closed there can be
        reused by a connection accepted in the same turn, which would then get the closed one's
        poll result (POLLNVAL) and be closed too.
        """
        if self._header_timed_out:
            log.info(
                "Request headers from %s:%s not complete within %g s: answered 408, closed",
                self.addr[0],
                self.addr[1],
                self.server.limits.header_timeout,
            )
            with self.outbuf_lock:  # no task runs on this channel (see ``overdue``)
                self.outbufs[-1].append(REQUEST_TIMEOUT_REPLY)
                self.total_outbufs_len += len(REQUEST_TIMEOUT_REPLY)
        self.will_close = True

    def _force_close(self) -> None:
        if self.socket is not None or self.connected:
            super().handle_close()


class PlainChannel(_GuardedChannel):
    """waitress's channel with the header deadline and the framing check, plus: a TLS
    ClientHello on this port is named and closed, not parsed."""

    task_class = PlainTask
    _first = True

    def received(self, data: bytes) -> bool:
        if self._first and data:
            self._first = False
            if data[0] == 0x16 and (len(data) < 2 or data[1] == 0x03):
                emit(self, wireevents.tls_on_http(self.addr, self.server.hint_url()), logging.WARNING)
                self.will_close = True
                return False
        return super().received(data)


_Socket = socket.socket


class TLSChannel(_GuardedChannel):
    """An HTTPChannel that speaks TLS over a non-blocking ``SSLSocket``, inside waitress's loop."""

    task_class = TLSTask

    socket: _Socket  # waitress's dispatcher sets it; an SSLSocket after _start_tls

    def __init__(self, server: Any, sock: _Socket, addr: Any, adj: Any, map: Any = None) -> None:
        self._tls_lock = threading.Lock()
        self._tls: ssl.SSLSocket | None = None
        self._handshaking = True
        self._handshake_wants_write = False
        self._retry_len: int | None = None  # a write that hit WANT_WRITE must be retried this long
        self._plain_out = bytearray()  # the plain-text 400 for plain HTTP on this port
        self._plain_reply = False
        self._dead = False
        self.extra_environ: dict[str, Any] = dict(server.extra_environ)
        super().__init__(server, sock, addr, adj, map)

    # The loop asks every channel both questions on every turn: these are written out in full
    # (HTTPChannel's conditions inlined, no super() call) because they are the hottest code here.

    def readable(self) -> bool:
        if self._plain_reply:
            return False
        if self._handshaking:
            return not (self.will_close or self._handshake_wants_write)
        return not (
            self.will_close
            or self.close_when_flushed
            or len(self.requests) > self.adj.channel_request_lookahead
            or self.total_outbufs_len
        )

    def writable(self) -> bool:
        if self._handshaking:
            return self._handshake_wants_write or self.will_close or bool(self._plain_out)
        return bool(self.total_outbufs_len or self.will_close or self.close_when_flushed)

    # --- reading -----------------------------------------------------------------------------

    def handle_read(self) -> None:
        if self._tls is None and not self._start_tls():
            return
        if self._handshaking and not self._do_handshake():
            return
        data = self._read_plaintext()
        if data:
            self.last_activity = time.time()
            self.received(data)

    def _start_tls(self) -> bool:
        """Peek at the first byte: a TLS record starts with 0x16, anything else is plain text."""
        try:
            first = self.socket.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            return False
        except OSError:
            self._force_close()
            return False
        if not first:
            self._force_close()
            return False
        if first[0] != 0x16:
            self._reject_plain_http()
            return False
        # Same descriptor, now wrapped: the loop's map is keyed by it and stays valid.
        self._tls = self.server.ssl_context.wrap_socket(
            self.socket, server_side=True, do_handshake_on_connect=False
        )
        self.socket = self._tls
        return True

    def _reject_plain_http(self) -> None:
        try:
            data = self.socket.recv(65536)
        except OSError:
            data = b""
        host = _host_from_request(data) or f"{self.server.adj.host}:{self.server.effective_port}"
        url = f"https://{host}{_target_from_request(data)}"
        # The Host and the path are the client's: the notice escapes them.
        emit(self, wireevents.http_on_https(self.addr, url), logging.WARNING)
        self._plain_reply = True
        self._plain_out += plain_http_reply(url)
        self._send_plain()

    def _send_plain(self) -> None:
        try:
            sent = self.socket.send(self._plain_out)
        except BlockingIOError:
            return
        except OSError:
            self._force_close()
            return
        del self._plain_out[:sent]
        if not self._plain_out:
            self._force_close()

    def _do_handshake(self) -> bool:
        """One non-blocking step of the handshake; True once it is done."""
        with self._tls_lock:
            _handshake_state.active = True
            _handshake_state.bad_sni = None
            try:
                self._ssl.do_handshake()
            except ssl.SSLWantReadError:
                self._handshake_wants_write = False
                return False
            except ssl.SSLWantWriteError:
                self._handshake_wants_write = True
                return False
            except (ssl.SSLError, OSError) as exc:
                bad_sni = _handshake_state.bad_sni
                event = (
                    wireevents.bad_sni(self.addr, bad_sni)
                    if bad_sni is not None
                    else self._handshake_event(exc)
                )
                failed = True
            else:
                failed = False
                self._handshake_done()
            finally:
                _handshake_state.active = False
        if failed:
            emit(self, event)
            self._force_close()
            return False
        return True

    def _handshake_event(self, exc: BaseException) -> WireEvent:
        """The wire event of a handshake that failed with *exc* (the SNI checked against the leaf)."""
        tls = self._tls
        sni = getattr(tls, "launcher_sni", None) if tls is not None else None
        covered: bool | None = None
        if sni:
            checker = leaf_covers.get(self.server.ssl_context)
            covered = checker(sni) if checker is not None else None
        return wireevents.classify_handshake(self.addr, exc, sni, covered)

    def _read_plaintext(self) -> bytes:
        """All the plaintext available now, including what OpenSSL already decrypted.

        Bytes OpenSSL holds (``pending()``) never wake ``select()``: leaving them would stall
        pipelined requests that arrived in one TLS record.
        """
        chunks: list[bytes] = []
        closing = False
        tls = self._ssl
        with self._tls_lock:
            try:
                while True:
                    chunk = tls.recv(_RECORD_BYTES)
                    if not chunk:  # EOF (with or without the client's close_notify)
                        closing = True
                        break
                    chunks.append(chunk)
                    if not tls.pending():
                        break
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
            except ssl.SSLZeroReturnError:
                closing = True
            except (ssl.SSLError, OSError, ValueError) as exc:
                if getattr(exc, "errno", None) not in _DISCONNECTED:
                    log.info("TLS error from %s:%s: %s", self.addr[0], self.addr[1], _reason(exc))
                closing = True
        if closing:
            self._dead = not chunks
            if chunks:
                self.close_when_flushed = True  # answer what arrived, then close
            else:
                self._force_close()
        return b"".join(chunks)

    @property
    def _ssl(self) -> ssl.SSLSocket:
        """The wrapped socket; every caller runs after ``_start_tls`` made it."""
        tls = self._tls
        if tls is None:
            raise RuntimeError("TLS has not started on this connection")
        return tls

    def _handshake_done(self) -> None:
        tls = self._ssl
        self._handshaking = False
        self._handshake_wants_write = False
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
        self.tls_facts = (facts["SSL_PROTOCOL"], name)

    # --- writing -----------------------------------------------------------------------------

    def send(self, data: bytes, do_close: bool = True) -> int:
        """Encrypt and send what the socket takes now; called by waitress from any thread.

        After OpenSSL answered WANT_WRITE, the retry passes the same length (waitress hands us
        a re-sliced, possibly longer buffer that starts with the same bytes).
        """
        tls = self._tls
        if self._dead or tls is None or self._handshaking:
            if do_close and self._dead:
                self._force_close()
            return 0
        with self._tls_lock:
            length = self._retry_len or min(len(data), _WRITE_BYTES)
            try:
                sent = tls.send(data[:length])
            except ssl.SSLWantWriteError:
                self._retry_len = length
                return 0
            except ssl.SSLWantReadError:
                return 0
            except (ssl.SSLError, OSError, ValueError) as exc:
                if getattr(exc, "errno", None) not in _DISCONNECTED:
                    log.debug("TLS write error to %s: %s", self.addr, exc)
                self._dead = True
                sent = 0
            else:
                self._retry_len = None
        if self._dead and do_close:
            self._force_close()
        return sent

    def handle_write(self) -> None:
        if self._plain_reply:
            self._send_plain()
            if self.will_close:  # the reply took too long (``overdue``): give up on it
                self._force_close()
            return
        if self._handshaking:
            if self.will_close:
                self._force_close()
            else:
                self._do_handshake()
            return
        if self._dead:
            self._force_close()
            return
        super().handle_write()

    # --- closing -----------------------------------------------------------------------------

    def overdue(self, now_monotonic: float, now: float) -> bool:
        """True when this channel is stuck: a handshake (or a plain-text reply) that took too long,
        or request headers past the header deadline."""
        if self._handshaking or self._plain_reply:
            return now - self.creation_time >= HANDSHAKE_TIMEOUT
        return super().overdue(now_monotonic, now)


def _reason(exc: BaseException) -> str:
    return getattr(exc, "reason", None) or str(exc)


def close_channels(server: Any) -> None:
    """Close every channel of *server* and the server itself.  Run it in the loop thread only."""
    for channel in list(server.active_channels.values()):
        try:
            force = getattr(channel, "_force_close", None)
            (force or channel.handle_close)()
        except Exception:
            log.exception("Error while closing a channel")
    wasyncore.close_all(server._map, ignore_all=True)
