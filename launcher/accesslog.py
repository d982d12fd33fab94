"""``serve``'s access log: each request noted by the listener itself, one line printed for it.

The window's log needs the request as the app saw it arrive (headers, bodies, the traceback of an
exception), so ``RequestLogMiddleware`` wraps the app and makes a ``RequestRecord`` of each
request.  ``serve`` prints one line per request and keeps nothing else, and there the middleware
was most of what the log cost: a wrapper around the app, its ``start_response`` and its response
body, about 9 µs a request around the tiny Flask app of ``bench/`` (CPU time, measured without
sockets, docs/benchmarks.md).  So when a ``Servers`` has an ``access_log``, its listeners serve
the app without the middleware, and the task that served a request notes it when it is done
(``launcher.tls``): an ``AccessEntry`` made of what waitress already knows (the parsed request
line, the status and length the app gave, the connection's peer and TLS facts), about 1 µs.  A
reader drains the ``AccessLog`` every few tens of milliseconds and formats the lines
(``recordformat.format_access_line``, the same line a ``RequestRecord`` gives): ``serve``'s
printer with one process, each worker's sender in a pool (``launcher.remote.child``).

What an entry holds is the request as the client sent it: waitress's parse of the request line,
and the socket's peer, whatever a proxy-header middleware or the app did to the environ later.
A request the app failed on before its response started is noted as a 500 with no body (waitress
answers it so).  Requests waitress answers on its own (a malformed request line, a head too large)
never reach a task and are not noted, as they never reach the middleware either; what happens on
a connection before a request is a ``WireEvent``.
"""

from __future__ import annotations

from typing import NamedTuple

from launcher.recordformat import format_access_line
from launcher.requestlog import Backlog

#: How many entries wait for their reader at most (a reader that fell this far behind, say a
#: terminal paused with Ctrl+S, loses the oldest, counted in ``AccessLog.dropped``).
BACKLOG = 10_000


class AccessEntry(NamedTuple):
    """One served request, as ``serve`` prints it.  Made on the request path: a plain tuple."""

    time: float  # wall-clock seconds since the epoch when the request's task started
    duration_ms: float  # from then until its response was handed to the connection
    listener: str  # the listener that served it (a ``launcher.scheme.Scheme``)
    client_addr: str
    client_port: int
    method: str
    path: str
    query: str
    http_version: str  # "HTTP/1.1"
    status: int
    response_bytes: int  # the response's Content-Length, or the body bytes written
    tls_version: str | None
    tls_cipher: str | None
    worker: int  # the pool's worker that served it (1…N); 0 with one process

    @property
    def finished(self) -> float:
        """When the response was handed over (seconds since the epoch): a pool merges by it."""
        return self.time + self.duration_ms / 1000.0

    def access_line(self) -> str:
        return format_access_line(self)


class AccessLog(Backlog[AccessEntry]):
    """The entries of the requests a ``Servers``' listeners served, for one reader to drain.

    ``add`` runs in the task's thread after each request; ``drain`` and ``wait`` are the
    reader's (a ``Backlog``).  *worker* is stamped on every entry (a pool's worker number).
    """

    def __init__(self, worker: int = 0, maxlen: int = BACKLOG) -> None:
        super().__init__(maxlen)
        self.worker = worker

    add = Backlog._push
