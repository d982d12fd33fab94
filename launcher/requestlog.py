"""Request records, the WSGI middleware that makes them, and a bounded sink with subscribers.

One ``RequestRecord`` is made per request, in the thread that served it, when the response has
been written (the body iterable's ``close()``).  The ``RequestSink`` keeps the newest records in a
ring (10 000 by default) and hands each one to every ``Subscription``.  A subscription is a
bounded queue that its owner drains when it likes (the GUI on a timer, the CLI in a thread), so a
slow or stalled subscriber costs the request path one ``deque.append`` and never blocks it; when
a subscriber falls behind by more than its bound, its oldest records are dropped and counted.

Bodies.  With a body limit (``RequestLogMiddleware(body_limit=...)``, ``--body-limit``, 64 KiB by
default) each record carries the first bytes of its request and response body as a ``Body``:
the request body is what the app itself read from ``wsgi.input`` (the middleware wraps the stream
and keeps a copy of what passes; it never reads the body itself), the response body is teed from
the response iterable.  Each ``Body`` knows its full size and whether it was truncated.

The memory budget (``--log-body-budget``, 64 MiB by default) lives in the ``RequestSink``: every
body a sink has seen and that something still holds counts against it (its bytes plus
``BODY_OVERHEAD``), and when the total is over budget the oldest bodies are dropped first (the
``Body`` object loses its bytes and says so; the record stays).  The sink keeps only weak
references for this, so a sink of capacity 0 (the window's server process, ``serve``) keeps no
body alive after its subscribers have let the record go, yet still bounds the bodies waiting in a
subscription.  A ``Body`` is shared by every holder of its record (the sink's ring, a subscription,
the window's table model), so dropping it frees the memory everywhere at once.
"""

from __future__ import annotations

import base64
import codecs
import itertools
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Generic, NamedTuple, TypeVar

from launcher.appview import PROBE_ENVIRON, PROBE_HEADER
from launcher.recordformat import format_access_line
from launcher.scheme import Scheme
from launcher.wireevents import WireEvent

DEFAULT_CAPACITY = 10_000

T = TypeVar("T")

#: WSGI environ key under which an app integration may leave the traceback of an exception that
#: happened inside the request (Flask turns it into a 500 and does not re-raise it).
ERROR_ENVIRON_KEY = "launcher.error"

Headers = tuple[tuple[str, str], ...]

#: Bytes of each request and response body a record keeps by default (``--body-limit``).
DEFAULT_BODY_LIMIT = 65_536
#: Bytes all bodies held by one sink may use together by default (``--log-body-budget`` 64 MiB).
DEFAULT_BODY_BUDGET = 64 * 1024 * 1024
#: What one recorded body costs beyond its bytes (the ``Body`` object and its budget entry).
BODY_OVERHEAD = 256

#: Content types whose bodies are text even without a ``charset`` parameter (then UTF-8).
_TEXT_TYPES = frozenset(
    {
        "application/json",
        "application/xml",
        "application/javascript",
        "application/x-www-form-urlencoded",
        "application/graphql",
        "application/x-ndjson",
        "image/svg+xml",
    }
)


def _media_type(content_type: str | None) -> tuple[str, str | None]:
    """(lower-case media type, charset or None) of a ``Content-Type`` value."""
    if not content_type:
        return "", None
    media, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"').strip() or None
    return media.strip().lower(), charset


def body_charset(content_type: str | None, data: bytes = b"") -> str | None:
    """The charset to decode a body of *content_type* with, or None when it is binary.

    A ``charset`` parameter wins; textual types without one (``text/*``, JSON, XML, forms) are
    UTF-8; a body with no ``Content-Type`` at all is UTF-8 if *data* decodes as UTF-8 and holds no
    NUL byte; anything else (``application/octet-stream``, images) is binary.
    """
    media, charset = _media_type(content_type)
    if charset is not None:
        try:
            return codecs.lookup(charset).name
        except LookupError:
            return None
    if media.startswith("text/") or media in _TEXT_TYPES or media.endswith(("+json", "+xml")):
        return "utf-8"
    if not media and b"\0" not in data:
        return "utf-8"
    return None


class Body:
    """A request or response body as recorded: its first bytes (``data``) and its full ``size``.

    ``truncated`` is true when ``data`` holds fewer bytes than ``size`` (over the body limit, or
    the app did not read the whole request body).  ``data`` becomes None when the log's body
    budget drops the body (``dropped``); ``size`` and ``truncated`` stay.  Plain attribute reads
    and one attribute write (``drop``) make it safe to share between threads.
    """

    __slots__ = ("__weakref__", "data", "size", "truncated")

    def __init__(self, data: bytes | None, size: int, truncated: bool | None = None) -> None:
        self.data: bytes | None = data
        self.size = size
        self.truncated = (len(data or b"") < size) if truncated is None else truncated

    @property
    def dropped(self) -> bool:
        """The log's body budget let go of this body's bytes (the record stays)."""
        return self.data is None

    def drop(self) -> None:
        self.data = None

    def text(self, content_type: str | None) -> str | None:
        """The recorded bytes decoded per *content_type*'s charset; None if binary or dropped.

        A truncated body may end inside a multi-byte character: that tail is left out.
        """
        data = self.data
        if data is None:
            return None
        charset = body_charset(content_type, data)
        if charset is None:
            return None
        try:
            return codecs.getincrementaldecoder(charset)("strict").decode(data, final=not self.truncated)
        except (UnicodeDecodeError, LookupError):
            return None

    def export(self, content_type: str | None) -> dict[str, Any]:
        """A JSON-ready dict: ``size``, ``truncated``, ``dropped`` and, unless dropped, ``text``
        (decoded text, or base64 with ``encoding: "base64"`` for a binary body)."""
        out: dict[str, Any] = {"size": self.size, "truncated": self.truncated, "dropped": self.dropped}
        data = self.data
        if data is not None:
            text = self.text(content_type)
            if text is None:
                out["text"] = base64.b64encode(data).decode("ascii")
                out["encoding"] = "base64"
            else:
                out["text"] = text
        return out

    def __reduce__(self) -> tuple[Any, ...]:
        return (Body, (self.data, self.size, self.truncated))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Body):
            return NotImplemented
        return (self.data, self.size, self.truncated) == (other.data, other.size, other.truncated)

    def __hash__(self) -> int:
        return hash((self.size, self.truncated))

    def __repr__(self) -> str:
        kept = "dropped" if self.data is None else f"{len(self.data)} bytes kept"
        return f"Body(size={self.size}, {kept}{', truncated' if self.truncated else ''})"


#: The request body of a request that had none, while bodies are recorded (shared; never dropped).
NO_BODY = Body(b"", 0)


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
    request_body: Body | None = None  # None: bodies were not recorded (``--body-limit 0``)
    response_body: Body | None = None
    #: The worker process that served it (``serve --workers``: 1…N); 0 with one process.
    worker: int = 0

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
        data["request_body"] = self.request_body_export()
        data["response_body"] = self.response_body_export()
        return data

    def request_body_export(self) -> dict[str, Any] | None:
        """``Body.export`` of the request body (None when bodies were not recorded)."""
        body = self.request_body
        return None if body is None else body.export(self.header("Content-Type"))

    def response_body_export(self) -> dict[str, Any] | None:
        """``Body.export`` of the response body (None when bodies were not recorded)."""
        body = self.response_body
        return None if body is None else body.export(self.header("Content-Type", response=True))

    def access_line(self) -> str:
        """The line ``serve`` prints for this request (``recordformat.format_access_line``)."""
        return format_access_line(self)


class Backlog(Generic[T]):
    """A bounded queue of items for one consumer; drained by its owner, never blocking writers.

    ``_push`` (any thread) costs a ``deque.append``, and sets the ``wait`` event once per drain,
    not per item; when the owner falls behind by more than *maxlen* items, the oldest go and are
    counted (``dropped``).
    """

    def __init__(self, maxlen: int) -> None:
        self._queue: deque[T] = deque(maxlen=maxlen)
        self._maxlen = maxlen
        self._ready = threading.Event()
        self.dropped = 0

    def _push(self, item: T, queue: deque[Any] | None = None) -> None:
        """Queue *item* (in *queue*: a subclass's second queue, ``Subscription``'s events)."""
        if queue is None:
            queue = self._queue
        if len(queue) == self._maxlen:
            self.dropped += 1
        queue.append(item)
        ready = self._ready
        if not ready.is_set():  # set already: the owner has not drained since (see ``_rearm``)
            ready.set()  # takes a lock and wakes the waiter: once per drain, not per item

    def _push_many(self, items: Sequence[T]) -> None:
        overflow = len(self._queue) + len(items) - self._maxlen
        if overflow > 0:  # the oldest go, as ``_push`` drops them one by one
            self.dropped += overflow
        self._queue.extend(items)
        ready = self._ready
        if not ready.is_set():
            ready.set()

    def _pending(self) -> bool:
        return bool(self._queue)

    def _rearm(self) -> None:
        self._ready.clear()
        if self._pending():  # a writer appended between popleft() and clear()
            self._ready.set()

    def drain(self, limit: int | None = None) -> list[T]:
        """Take up to *limit* queued items (all of them by default), oldest first."""
        return self._drain(self._queue, limit)

    def _drain(self, queue: deque[Any], limit: int | None) -> list[Any]:
        out: list[Any] = []
        try:
            while limit is None or len(out) < limit:
                out.append(queue.popleft())
        except IndexError:
            self._rearm()
        return out

    def wait(self, timeout: float | None = None) -> bool:
        """Block until an item is queued (or *timeout*); True if one is."""
        return self._ready.wait(timeout)


class Subscription(Backlog[RequestRecord]):
    """A sink's records for one consumer (a ``Backlog``).

    A subscription made with ``events=True`` also queues the sink's ``WireEvent``s (a second
    bounded queue, ``drain_events``); ``wait`` wakes for either.
    """

    def __init__(self, sink: RequestSink, maxlen: int, events: bool = False) -> None:
        super().__init__(maxlen)
        self._sink = sink
        self._events: deque[WireEvent] | None = deque(maxlen=maxlen) if events else None

    @property
    def wants_events(self) -> bool:
        return self._events is not None

    def _push_event(self, event: WireEvent) -> None:
        if self._events is not None:
            self._push(event, self._events)  # type: ignore[arg-type]  # an event, not a record

    def _pending(self) -> bool:
        return bool(self._queue or self._events)

    def drain_events(self) -> list[WireEvent]:
        """Take every queued wire event, oldest first (always empty without ``events=True``)."""
        return [] if self._events is None else self._drain(self._events, None)

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

    Bodies of the records it has seen share *body_budget* bytes; see the module docstring.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY, body_budget: int = DEFAULT_BODY_BUDGET) -> None:
        self._records: deque[RequestRecord] = deque(maxlen=capacity)
        self._events: deque[WireEvent] = deque(maxlen=min(capacity, EVENT_CAPACITY))
        self._subscriptions: tuple[Subscription, ...] = ()
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self.total = 0  # records ever added
        self.events_total = 0  # wire events ever added
        #: The bytes the bodies may use together (their data plus ``BODY_OVERHEAD`` each).
        self.body_budget = body_budget
        self._bodies: deque[tuple[weakref.ref[Body], int]] = deque()  # oldest first
        self._body_bytes = 0
        self.bodies_dropped = 0  # bodies ever dropped for the budget
        #: A pool's worker (``launcher.workers``) stamps its number on the records it makes.
        self.worker = 0

    def number_as_worker(self, worker: int, workers: int) -> None:
        """Records made here belong to *worker* (1…*workers*): stamped with it, and numbered
        *worker*, *worker* + *workers*, … so the numbers of a pool's workers never collide."""
        self.worker = worker
        self._seq = itertools.count(worker, max(1, workers))

    @property
    def capacity(self) -> int:
        return self._records.maxlen or 0

    def next_seq(self) -> int:
        return next(self._seq)

    @property
    def body_bytes(self) -> int:
        """What the bodies counted against the budget use now (an upper bound: a body let go of
        by everyone counts until a newer one needs its room)."""
        return self._body_bytes

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)
            self.total += 1
            if record.request_body is not None or record.response_body is not None:
                self._admit(record.request_body, record.response_body)
            subscriptions = self._subscriptions
        for subscription in subscriptions:
            subscription._push(record)

    def add_many(self, records: Sequence[RequestRecord]) -> None:
        """``add`` each of *records*, in order, taking the lock once (a worker pool's batches)."""
        if not records:
            return
        with self._lock:
            self._records.extend(records)
            self.total += len(records)
            for record in records:
                if record.request_body is not None or record.response_body is not None:
                    self._admit(record.request_body, record.response_body)
            subscriptions = self._subscriptions
        for subscription in subscriptions:
            subscription._push_many(records)

    def add_event(self, event: WireEvent) -> None:
        """Keep *event* and hand it to the subscriptions that want events (any thread)."""
        with self._lock:
            self._events.append(event)
            self.events_total += 1
            subscriptions = self._subscriptions
        for subscription in subscriptions:
            subscription._push_event(event)

    def _admit(self, *bodies: Body | None) -> None:
        """Count *bodies* against the budget; drop the oldest bodies while over it (under the lock)."""
        entries = self._bodies
        for body in bodies:
            if body is not None:
                data = body.data
                if data:
                    cost = len(data) + BODY_OVERHEAD
                    entries.append((weakref.ref(body), cost))
                    self._body_bytes += cost
        while entries:
            ref, cost = entries[0]
            oldest = ref()
            if oldest is not None and self._body_bytes <= self.body_budget:
                break
            entries.popleft()  # gone already (nothing holds its record), or the oldest over budget
            self._body_bytes -= cost
            if oldest is not None and oldest.data is not None:
                oldest.drop()
                self.bodies_dropped += 1

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

    def __init__(
        self,
        app: WSGIApp,
        sink: RequestSink,
        listener: Scheme,
        body_limit: int = DEFAULT_BODY_LIMIT,
    ) -> None:
        self.app = app
        self.sink = sink
        self.listener = listener
        #: Bytes of each body to keep; 0 records no bodies (and costs nothing).
        self.body_limit = body_limit

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        exchange = _Exchange(self, environ, start_response)
        if self.body_limit > 0:
            length = environ.get("CONTENT_LENGTH")
            if length and length != "0" and environ.get("wsgi.input") is not None:
                exchange.input = environ["wsgi.input"] = _InputTee(
                    environ["wsgi.input"], self.body_limit, length
                )
        try:
            exchange.body = self.app(environ, exchange.start_response)
        except BaseException:
            import traceback

            environ.setdefault(ERROR_ENVIRON_KEY, traceback.format_exc())
            exchange.record(0, None)
            raise
        return exchange


_make_record = RequestRecord._make

#: environ key -> header name ("HTTP_USER_AGENT" -> "User-Agent"), so each name is built once.
_HEADER_NAMES: dict[str, str] = {}
_HEADER_NAMES_MAX = 4096  # clients choose header names: keep the cache bounded
_PROBE_KEY, _PROBE_NAME, _REDACTED = PROBE_ENVIRON, PROBE_HEADER.lower(), "(probe token, not kept)"


def _content_length(headers: Headers) -> int | None:
    for name, value in headers:
        if len(name) == 14 and name.lower() == "content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class _InputTee:
    """``wsgi.input`` as the app sees it, keeping a copy of the first *limit* bytes the app reads.

    Every read goes to the server's stream unchanged (``read(n)``, ``read()``, ``readline``,
    ``readlines``, ``readinto``, iteration by lines; anything else is the stream's own), so the app
    gets exactly what it would without the log, and nothing is read that the app does not read.
    """

    __slots__ = ("_chunks", "_length", "_room", "_stream", "count")

    def __init__(self, stream: Any, limit: int, length: str) -> None:
        self._stream = stream
        self._room = limit
        self._chunks: list[bytes] = []
        try:
            self._length = int(length)
        except ValueError:
            self._length = 0
        self.count = 0  # bytes the app has read

    def _keep(self, data: bytes) -> bytes:
        n = len(data)
        self.count += n
        room = self._room
        if room > 0 and n:
            piece = data if n <= room else data[:room]
            self._chunks.append(bytes(piece))
            self._room = room - len(piece)
        return data

    def read(self, size: int | None = -1) -> bytes:
        return self._keep(self._stream.read(size))

    def readline(self, size: int | None = -1) -> bytes:
        return self._keep(self._stream.readline(size))

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        return [self._keep(line) for line in self._stream.readlines(hint)]

    def readinto(self, buffer: Any) -> int | None:
        readinto = getattr(self._stream, "readinto", None)
        if readinto is None:  # a stream with read() only
            data = self._stream.read(len(buffer))
            memoryview(buffer).cast("B")[: len(data)] = data
            self._keep(data)
            return len(data)
        n: int | None = readinto(buffer)
        if n:
            self._keep(bytes(memoryview(buffer).cast("B")[:n]))
        return n

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def body(self) -> Body:
        """What the app read, as a ``Body`` (full size: ``Content-Length``, or what was read)."""
        data = b"".join(self._chunks)
        return Body(data, max(self._length, self.count))


class _Exchange:
    """One request through ``RequestLogMiddleware``: the request as it arrived (read from environ
    before the app, or a proxy-header middleware, rewrites it), what the app answered (through
    ``start_response``), and the response body, which the server iterates and closes.  The body's
    bytes are counted (the first ones kept when bodies are recorded), and ``close()`` records the
    request, exactly once.  One object per request: this runs on every request."""

    __slots__ = (
        "_start_response",
        "body",
        "client_addr",
        "client_port",
        "environ",
        "headers",
        "http_version",
        "input",
        "kept",
        "method",
        "middleware",
        "path",
        "probe",
        "query",
        "response_headers",
        "size",
        "started",
        "status",
        "tls_cipher",
        "tls_version",
        "user_agent",
        "wall",
    )

    def __init__(
        self, middleware: RequestLogMiddleware, environ: dict[str, Any], start_response: StartResponse
    ) -> None:
        self.started = time.perf_counter()
        self.wall = time.time()
        self.middleware = middleware
        self.environ = environ
        self._start_response = start_response
        self.input: _InputTee | None = None  # the wrapped wsgi.input, when bodies are recorded
        self.status = 500
        self.response_headers: Headers = ()
        self.body: Iterable[bytes] = ()
        self.size = 0
        self.kept: list[bytes] | None = None
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

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], Any]:
        """The app's ``start_response``: notes the status and headers, then passes them on."""
        self.status = int(status[:3])
        self.response_headers = tuple(headers)
        if exc_info is None:
            return self._start_response(status, headers)
        return self._start_response(status, headers, exc_info)

    def __iter__(self) -> Iterator[bytes]:
        limit = self.middleware.body_limit
        if limit > 0:
            self.kept = []
            return self._teed(limit)
        length = _content_length(self.response_headers)
        if length is not None:  # the server sends exactly this many bytes: no need to count
            self.size = length
            return iter(self.body)
        return self._counted()

    def _counted(self) -> Iterator[bytes]:
        for chunk in self.body:
            self.size += len(chunk)
            yield chunk

    def _teed(self, room: int) -> Iterator[bytes]:
        kept = self.kept
        assert kept is not None
        for chunk in self.body:
            n = len(chunk)
            self.size += n
            if room > 0 and n:
                piece = chunk if n <= room else chunk[:room]
                kept.append(bytes(piece))
                room -= len(piece)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            kept, size = self.kept, self.size
            body = None
            if kept is not None:  # teed: the body is what the app produced; the size is as before
                body = Body(b"".join(kept), size)
                length = _content_length(self.response_headers)
                size = length if length is not None else size
            self.record(size, body)

    def record(self, size: int, response_body: Body | None) -> None:
        """Add this request's record to the middleware's sink."""
        middleware = self.middleware
        if middleware.body_limit > 0:
            request_body = self.input.body() if self.input is not None else NO_BODY
            if response_body is None:
                response_body = Body(b"", size)
        else:
            request_body = None
        sink = middleware.sink
        # Positionally, in the order of RequestRecord's fields (a third of the keyword call's
        # cost, on every request).
        sink.add(
            _make_record(
                (
                    sink.next_seq(),
                    self.wall,
                    middleware.listener,
                    self.client_addr,
                    self.client_port,
                    self.method,
                    self.path,
                    self.query,
                    self.http_version,
                    self.status,
                    size,
                    (time.perf_counter() - self.started) * 1000.0,
                    self.tls_version,
                    self.tls_cipher,
                    self.user_agent,
                    self.headers,
                    self.response_headers,
                    self.environ.get(ERROR_ENVIRON_KEY),
                    self.probe,
                    request_body,
                    response_body,
                    sink.worker,
                )
            )
        )
