"""Request records, the WSGI middleware that makes them, and a bounded sink with subscribers.

One ``RequestRecord`` is made per request, in the thread that served it, when the response has
been written (the body iterable's ``close()``).  The ``RequestSink`` keeps the newest records in a
ring (10 000 by default) and hands each one to every ``Subscription``.  A subscription is a
bounded queue that its owner drains when it likes (the GUI on a timer, the CLI in a thread), so a
slow or stalled subscriber costs the request path one ``deque.append`` and never blocks it; when
a subscriber falls behind by more than its bound, its oldest records are dropped and counted.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from launcher.appview import PROBE_ENVIRON, PROBE_HEADER
from launcher.recordformat import escape_control, format_clock, format_ms, format_peer, format_wsgi
from launcher.scheme import Scheme
from launcher.wireevents import WireEvent

DEFAULT_CAPACITY = 10_000

#: WSGI environ key under which an app integration may leave the traceback of an exception that
#: happened inside the request (Flask turns it into a 500 and does not re-raise it).
ERROR_ENVIRON_KEY = "launcher.error"

Headers = tuple[tuple[str, str], ...]


class RequestRecord(NamedTuple):
    """One served request, as the server saw it.  Immutable; cheap to make on the request path."""

    seq: int
    time: float  # wall-clock seconds since the epoch when the request arrived
    listener: Scheme  # the listener that accepted the connection
    client_addr: str
    client_port: int
    method: str
    path: str
    query: str
    http_version: str  # e.g. "HTTP/1.1"
    status: int
    response_bytes: int
    duration_ms: float
    tls_version: str | None
    tls_cipher: str | None
    user_agent: str
    request_headers: Headers
    response_headers: Headers
    error: str | None = None  # traceback text when the app raised while serving the request
    #: The request carried the inspector's probe header (``launcher.appview.PROBE_HEADER``).
    probe: bool = False

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path

    @property
    def status_class(self) -> str:
        return f"{self.status // 100}xx"

    def header(self, name: str, *, response: bool = False) -> str | None:
        """The first request (or response) header called *name*, case-insensitively."""
        wanted = name.lower()
        for key, value in self.response_headers if response else self.request_headers:
            if key.lower() == wanted:
                return value
        return None

    def to_dict(self) -> dict[str, Any]:
        data = self._asdict()
        data["request_headers"] = [list(h) for h in self.request_headers]
        data["response_headers"] = [list(h) for h in self.response_headers]
        return data

    def access_line(self) -> str:
        """One line for a terminal: time, client, listener, request line, status, size, time, TLS.

        Always exactly one line with no control character in it: what the client sent is
        escaped (``launcher.recordformat``), so a request cannot clear the terminal or forge
        lines, and a ``"`` in the request line is escaped so its quoted field stays one field.
        """
        tls = (
            f" {escape_control(self.tls_version)} {escape_control(str(self.tls_cipher))}"
            if self.tls_version
            else ""
        )
        request_line = " ".join(
            format_wsgi(part, quote=True) for part in (self.method, self.target, self.http_version)
        )
        return (
            f"[{format_clock(self.time)}] {format_peer(self.client_addr, self.client_port)} {self.listener} "
            f'"{request_line}" {self.status} '
            f"{self.response_bytes}B {format_ms(self.duration_ms)}ms{tls}"
        )


class Subscription:
    """A bounded queue of records for one consumer; drained by its owner, never blocking writers.

    A subscription made with ``events=True`` also queues the sink's ``WireEvent``s (a second
    bounded queue, ``drain_events``); ``wait`` wakes for either.
    """

    def __init__(self, sink: RequestSink, maxlen: int, events: bool = False) -> None:
        self._sink = sink
        self._queue: deque[RequestRecord] = deque(maxlen=maxlen)
        self._events: deque[WireEvent] | None = deque(maxlen=maxlen) if events else None
        self._maxlen = maxlen
        self._ready = threading.Event()
        self.dropped = 0

    @property
    def wants_events(self) -> bool:
        return self._events is not None

    def _push(self, record: RequestRecord) -> None:
        if len(self._queue) == self._maxlen:
            self.dropped += 1
        self._queue.append(record)
        self._ready.set()

    def _push_event(self, event: WireEvent) -> None:
        events = self._events
        if events is None:
            return
        if len(events) == self._maxlen:
            self.dropped += 1
        events.append(event)
        self._ready.set()

    def _rearm(self) -> None:
        self._ready.clear()
        if self._queue or self._events:  # a writer appended between popleft() and clear()
            self._ready.set()

    def drain(self, limit: int | None = None) -> list[RequestRecord]:
        """Take up to *limit* queued records (all of them by default), oldest first."""
        out: list[RequestRecord] = []
        queue = self._queue
        try:
            while limit is None or len(out) < limit:
                out.append(queue.popleft())
        except IndexError:
            self._rearm()
        return out

    def drain_events(self) -> list[WireEvent]:
        """Take every queued wire event, oldest first (always empty without ``events=True``)."""
        out: list[WireEvent] = []
        events = self._events
        if events is None:
            return out
        try:
            while True:
                out.append(events.popleft())
        except IndexError:
            self._rearm()
        return out

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a record (or event) is queued (or *timeout*); True if one is."""
        return self._ready.wait(timeout)

    def close(self) -> None:
        self._sink._unsubscribe(self)
        self._ready.set()


#: The sink keeps at most this many wire events (they are rare; a flood of them is one client).
EVENT_CAPACITY = 1000


class RequestSink:
    """Keeps the newest *capacity* records and fans each new one out to the subscriptions.

    Wire events (``launcher.wireevents.WireEvent``: a connection that failed before a request)
    travel next to the records: ``add_event`` keeps the newest ``EVENT_CAPACITY`` of them
    (``snapshot_events``, ``events_total``) and hands each to the subscriptions made with
    ``events=True``; the others never see one.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._records: deque[RequestRecord] = deque(maxlen=capacity)
        self._events: deque[WireEvent] = deque(maxlen=min(capacity, EVENT_CAPACITY))
        self._subscriptions: tuple[Subscription, ...] = ()
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self.total = 0  # records ever added
        self.events_total = 0  # wire events ever added

    @property
    def capacity(self) -> int:
        return self._records.maxlen or 0

    def next_seq(self) -> int:
        return next(self._seq)

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)
            self.total += 1
            subscriptions = self._subscriptions
        for subscription in subscriptions:
            subscription._push(record)

    def add_event(self, event: WireEvent) -> None:
        """Keep *event* and hand it to the subscriptions that want events (any thread)."""
        with self._lock:
            self._events.append(event)
            self.events_total += 1
            subscriptions = self._subscriptions
        for subscription in subscriptions:
            subscription._push_event(event)

    def snapshot(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def snapshot_events(self) -> list[WireEvent]:
        with self._lock:
            return list(self._events)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._events.clear()

    def subscribe(self, maxlen: int = DEFAULT_CAPACITY, *, events: bool = False) -> Subscription:
        """A new subscription; with *events* it also gets the wire events (``drain_events``)."""
        subscription = Subscription(self, maxlen, events)
        with self._lock:
            self._subscriptions = (*self._subscriptions, subscription)
        return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)


StartResponse = Callable[..., Callable[[bytes], Any]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class RequestLogMiddleware:
    """WSGI middleware that records each request into a ``RequestSink``, exactly once.

    The record is made when the server closes the response body, so ``duration_ms`` covers the
    whole response and ``response_bytes`` counts the body bytes the app produced.
    """

    def __init__(self, app: WSGIApp, sink: RequestSink, listener: Scheme) -> None:
        self.app = app
        self.sink = sink
        self.listener = listener

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        # What the client sent, taken before the app (or a proxy-header middleware) changes environ.
        head = _Head(environ, time.time())
        captured: list[Any] = [500, ()]

        def logging_start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], Any]:
            captured[0] = int(status[:3])
            captured[1] = tuple(headers)
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        try:
            body = self.app(environ, logging_start_response)
        except BaseException:
            import traceback

            environ.setdefault(ERROR_ENVIRON_KEY, traceback.format_exc())
            self._record(head, environ, captured, 0, started)
            raise
        return _LoggedBody(self, body, head, environ, captured, started)

    def _record(
        self, head: _Head, environ: dict[str, Any], captured: list[Any], size: int, started: float
    ) -> None:
        self.sink.add(
            RequestRecord(
                seq=self.sink.next_seq(),
                time=head.wall,
                listener=self.listener,
                client_addr=head.client_addr,
                client_port=head.client_port,
                method=head.method,
                path=head.path,
                query=head.query,
                http_version=head.http_version,
                status=captured[0],
                response_bytes=size,
                duration_ms=(time.perf_counter() - started) * 1000.0,
                tls_version=head.tls_version,
                tls_cipher=head.tls_cipher,
                user_agent=head.user_agent,
                request_headers=head.headers,
                response_headers=captured[1],
                error=environ.get(ERROR_ENVIRON_KEY),
                probe=head.probe,
            )
        )


#: environ key -> header name ("HTTP_USER_AGENT" -> "User-Agent"), so each name is built once.
_HEADER_NAMES: dict[str, str] = {}
_HEADER_NAMES_MAX = 4096  # clients choose header names: keep the cache bounded
_PROBE_KEY, _PROBE_NAME, _REDACTED = PROBE_ENVIRON, PROBE_HEADER.lower(), "(probe token, not kept)"


class _Head:
    """The request as it arrived: read from environ before anything downstream rewrites it."""

    __slots__ = (
        "client_addr",
        "client_port",
        "headers",
        "http_version",
        "method",
        "path",
        "probe",
        "query",
        "tls_cipher",
        "tls_version",
        "user_agent",
        "wall",
    )

    def __init__(self, environ: dict[str, Any], wall: float) -> None:
        self.wall = wall
        names = _HEADER_NAMES
        headers = []
        for key, value in environ.items():
            if key[:5] == "HTTP_":
                name = names.get(key)
                if name is None:
                    name = key[5:].replace("_", "-").title()
                    if len(names) < _HEADER_NAMES_MAX:
                        names[key] = name
                headers.append((name, value))
        if "CONTENT_TYPE" in environ:
            headers.append(("Content-Type", environ["CONTENT_TYPE"]))
        if "CONTENT_LENGTH" in environ:
            headers.append(("Content-Length", environ["CONTENT_LENGTH"]))
        # An inspector probe: marked, and its token never kept (the log is shown and exported).
        self.probe = _PROBE_KEY in environ
        if self.probe:
            headers = [(n, _REDACTED) if n.lower() == _PROBE_NAME else (n, v) for n, v in headers]
        self.headers = tuple(headers)
        try:
            self.client_port = int(environ.get("REMOTE_PORT") or 0)
        except ValueError:
            self.client_port = 0
        self.client_addr = environ.get("REMOTE_ADDR", "")
        self.method = environ.get("REQUEST_METHOD", "")
        self.path = environ.get("PATH_INFO", "")
        self.query = environ.get("QUERY_STRING", "")
        self.http_version = environ.get("SERVER_PROTOCOL", "")
        self.tls_version = environ.get("SSL_PROTOCOL")
        self.tls_cipher = environ.get("SSL_CIPHER")
        self.user_agent = environ.get("HTTP_USER_AGENT", "")


def _content_length(headers: Headers) -> int | None:
    for name, value in headers:
        if len(name) == 14 and name.lower() == "content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class _LoggedBody:
    """Wraps a response body: counts its bytes and records the request on ``close()``."""

    __slots__ = ("_body", "_captured", "_environ", "_head", "_middleware", "_size", "_started")

    def __init__(
        self,
        middleware: RequestLogMiddleware,
        body: Iterable[bytes],
        head: _Head,
        environ: dict[str, Any],
        captured: list[Any],
        started: float,
    ) -> None:
        self._middleware = middleware
        self._body = body
        self._head = head
        self._environ = environ
        self._captured = captured
        self._started = started
        self._size = 0

    def __iter__(self) -> Iterator[bytes]:
        length = _content_length(self._captured[1])
        if length is not None:  # the server sends exactly this many bytes: no need to count
            self._size = length
            return iter(self._body)
        return self._counted()

    def _counted(self) -> Iterator[bytes]:
        for chunk in self._body:
            self._size += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._middleware._record(self._head, self._environ, self._captured, self._size, self._started)
