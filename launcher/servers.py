"""The HTTP and HTTPS listeners: waitress servers started and stopped from any thread.

A ``Listener`` owns one waitress server, its event-loop thread and its worker threads.  Only the
loop thread ever closes the loop's sockets: ``stop()`` hands it the closing work through waitress's
trigger, joins it, then shuts the workers down.  ``Servers`` pairs an HTTP and an HTTPS listener
over one WSGI app, one request sink and one ``Policy``.

Both listeners bind the address themselves before waitress sees the socket, so a bind failure
raises a typed ``ListenError`` (never ``sys.exit``) and leaves no thread or descriptor behind.
"""

from __future__ import annotations

import enum
import errno
import functools
import ipaddress
import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher

from launcher import fdlimits, tls
from launcher.acceptshare import DECLINE_POLL, Seat
from launcher.accesslog import AccessLog
from launcher.appview import AppView
from launcher.errors import (
    AddressUnavailableError,
    ConfigError,
    ListenError,
    PermissionDeniedError,
    PortInUseError,
)
from launcher.options import DEFAULTS, PORT_MAX, WILDCARD_HOSTS, ServeConfig, parse_port
from launcher.policy import Policy, PolicyMiddleware
from launcher.requestlog import RequestLogMiddleware, RequestSink
from launcher.scheme import Scheme
from launcher.wireevents import WireEvent

if TYPE_CHECKING:
    from launcher.lan import LanScan

log = logging.getLogger("launcher.servers")
#: Notices caused by clients (printed rate-limited, see ``launcher.notices``).
wire_log = logging.getLogger("launcher.wire")

#: Seconds an idle keep-alive connection is kept; waitress's default is 120.
CHANNEL_TIMEOUT = 60
#: How often (seconds) the loop looks for idle or stuck connections (slow request headers,
#: handshakes that never finish): the precision of those deadlines.
CLEANUP_INTERVAL = 1
#: Seconds a listener stops accepting after ``accept()`` found no descriptor (or memory) free.
#: The loop wakes at least every ``asyncore_loop_timeout`` (1 s), so a pause lasts 0.25–1 s.
ACCEPT_BACKOFF = 0.25
#: Connections accepted in one turn of the loop at most (the rest wait for the next turn).
ACCEPT_BATCH = 64
#: While descriptors stay exhausted, how often a line says so (else only the episode's end does).
EXHAUSTED_REPORT_INTERVAL = 10.0
#: Clients whose connections are never capped: this machine (127.0.0.0/8 and ::1).
LOOPBACK_NETWORKS = ("127.0.0.0/8", "::1/128")
_OUT_OF_DESCRIPTORS = frozenset({errno.EMFILE, errno.ENFILE})
_OUT_OF_MEMORY = frozenset({errno.ENOBUFS, errno.ENOMEM})

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass(frozen=True)
class Limits:
    """What one listener allows a client: its options in ``launcher.options`` (a change applies at
    the next start).  The listener's waitress server carries it as ``server.limits``, where the
    channels and the accept path read it."""

    header_timeout: float = DEFAULTS.header_timeout
    client_connections: int = DEFAULTS.client_connections
    #: Client networks ``client_connections`` does not apply to (not an option: loopback is
    #: this machine; tests narrow it to cap connections over loopback).
    exempt_networks: tuple[str, ...] = LOOPBACK_NETWORKS

    @classmethod
    def from_config(cls, config: ServeConfig) -> Limits:
        return cls(header_timeout=config.header_timeout, client_connections=config.client_connections)


DEFAULT_LIMITS = Limits()


class ListenerState(enum.Enum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    ERROR = "error"


class _NamedDispatcher(ThreadedTaskDispatcher):
    """waitress's worker pool, with thread names that say which listener they serve."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def start_new_thread(self, target: Callable[[int], None], thread_no: int) -> None:
        thread = threading.Thread(target=target, name=f"{self.prefix}-{thread_no}", args=(thread_no,))
        thread.daemon = True
        thread.start()

    def idle(self) -> bool:
        with self.lock:
            return not self.queue and self.active_count == 0


@functools.lru_cache(maxsize=16)
def _networks(networks: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(net) for net in networks)


def client_key(host: str) -> str:
    """The address a client is counted under: *host* normalised (an IPv4-mapped IPv6 address is
    its IPv4 address), or *host* as it is when it is no IP address."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def is_exempt(host: str, networks: tuple[str, ...] = LOOPBACK_NETWORKS) -> bool:
    """True when a client at *host* (as ``client_key`` gives it) is in one of *networks*: its
    connections are not capped.  A host that is no IP address is never exempt."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return any(address.version == net.version and address in net for net in _networks(networks))


class _CountedChannel(HTTPChannel):
    """Tells the server when a capped client's connection leaves the loop (every way a channel
    closes ends in ``del_channel``), so the per-client counts stay exact."""

    client_key: str | None = None

    def del_channel(self, map: Any = None) -> None:
        super().del_channel(map)
        key, self.client_key = self.client_key, None
        if key is not None:
            self.server.client_closed(key)


class _PlainChannel(_CountedChannel, tls.PlainChannel):
    pass


class _TLSChannel(_CountedChannel, tls.TLSChannel):
    pass


class _PlainServer(TcpWSGIServer):
    """waitress's TCP server, plus: a per-client connection cap, a pause when ``accept()`` finds
    no descriptor free (instead of a failure and a traceback on every turn of the loop), a stop
    from any thread."""

    channel_class = _PlainChannel

    def __init__(
        self,
        *args: Any,
        extra_environ: dict[str, Any],
        hint_url: Callable[[], str | None],
        limits: Limits,
        on_event: Callable[[WireEvent], None] | None = None,
        seat: Seat | None = None,
        access_log: AccessLog | None = None,
        **kw: Any,
    ):
        self.extra_environ = extra_environ
        self.scheme = Scheme(extra_environ["launcher.listener"])
        #: Where each task notes its request (``launcher.accesslog``; ``tls._Task.service``);
        #: None: the request log is the app's middleware, or there is none.
        self.access_log = access_log
        #: This worker's place in its pool's ``AcceptShare`` (None outside a pool).
        self.seat = seat
        #: Where the channels hand their ``WireEvent``s (``tls.emit``); None: only logged.
        self.on_event = on_event
        self.limits = limits
        self.hint_url = hint_url
        self._clients: dict[str, int] = {}  # open connections per capped client address
        self._clients_lock = threading.Lock()  # a channel may close in a worker thread
        self._paused_until = 0.0  # accepting resumes at this time.monotonic()
        self._exhausted_since: float | None = None  # the current episode of failing accepts
        self._exhausted_errno = 0
        self._exhausted_failures = 0  # accept() calls that failed in this episode
        self._exhausted_reported = 0.0
        #: A byte is on its way through the trigger (``pull_trigger``): the loop will wake.
        self._wake_pending = False
        super().__init__(*args, **kw)
        trigger = self.trigger
        read_trigger = trigger.handle_read

        def handle_read() -> None:
            read_trigger()  # reads every byte waiting, runs the thunks
            self._wake_pending = False  # after the read: a byte written since wakes the loop again

        trigger.handle_read = handle_read

    # --- accepting ----------------------------------------------------------------------------

    def readable(self) -> bool:
        """waitress's answer (it also runs maintenance), but False while accepting is paused, and
        in a pool for one turn after this worker declined a connection (``launcher.acceptshare``)."""
        readable = bool(super().readable()) and time.monotonic() >= self._paused_until
        seat = self.seat
        if seat is None:
            return readable
        seat.record(len(self._map) if readable else None)  # paused: the others do not wait for it
        return seat.watch() and readable

    def _our_turn(self) -> bool:
        seat = self.seat
        return seat is None or seat.may_accept(len(self._map))

    def run(self) -> None:
        """waitress's loop; in a pool, a turn after declining a connection lasts ``DECLINE_POLL``
        s at most, so it takes the next as soon as it is its turn."""
        seat = self.seat
        if seat is None:
            super().run()
            return
        timeout = self.adj.asyncore_loop_timeout
        try:
            while self._map:
                wasyncore.poll2(DECLINE_POLL if seat.waiting else timeout, self._map)
                seat.turn_ended()
        except (SystemExit, KeyboardInterrupt):
            self.task_dispatcher.shutdown()

    def handle_accept(self) -> None:
        """Accept the connections waiting, up to ``ACCEPT_BATCH`` in one turn of the loop.

        waitress accepts one per turn: under load a turn takes milliseconds, so a burst of a few
        hundred connections left a new client waiting seconds behind it in the kernel's queue
        (measured under load with a flood of 300: the longest wait 4.4 s one at a time, 0.22 s in batches).
        """
        for _ in range(ACCEPT_BATCH):
            if not self._our_turn() or not self._accept_one():
                return

    def _accept_one(self) -> bool:
        """Accept one connection: pause on exhaustion, refuse a client over its cap, else serve.
        False when there was nothing (more) to accept now.

        Replaces waitress's, which logs a traceback for every failed ``accept()``: when descriptors
        run out that is every turn of the loop (tens of thousands of tracebacks a minute, a core
        busy, no connection served).
        """
        try:
            pair = self.accept()  # None for EWOULDBLOCK/ECONNABORTED
        except OSError as exc:
            if exc.errno in _OUT_OF_DESCRIPTORS or exc.errno in _OUT_OF_MEMORY:
                self._accept_failed(exc.errno)
            else:
                log.debug("accept() failed on port %s: %s", self.effective_port, exc)
            return False
        if pair is None:
            return False
        self._accept_resumed()
        if self.seat is not None:
            self.seat.accepted()
        conn, addr = pair
        try:
            self.set_socket_options(conn)
        except OSError:  # the peer is already gone (macOS)
            conn.close()
            return True
        addr = self.fix_addr(addr)
        admitted, key = self._admit(addr[0]) if isinstance(addr, tuple) and addr else (True, None)
        if not admitted:
            conn.close()
            return True
        channel = self.channel_class(self, conn, addr, self.adj, map=self._map)
        if key is not None:
            channel.client_key = key
        return len(self._map) < self.adj.connection_limit

    def _accept_failed(self, err: int) -> None:
        """Pause accepting for ``ACCEPT_BACKOFF`` s; one line per ``EXHAUSTED_REPORT_INTERVAL``
        while it lasts (the episode's count comes when it ends)."""
        now = time.monotonic()
        self._paused_until = now + ACCEPT_BACKOFF
        self._exhausted_failures += 1
        if self._exhausted_since is None:
            self._exhausted_since = self._exhausted_reported = now
            self._exhausted_errno = err
        elif now - self._exhausted_reported >= EXHAUSTED_REPORT_INTERVAL:
            self._exhausted_reported = now
            wire_log.warning(
                "Port %s still cannot accept connections (%s s so far): %s",
                self.effective_port,
                round(now - self._exhausted_since),
                _exhaustion(self._exhausted_errno),
            )

    def _accept_resumed(self) -> None:
        """An accept worked: end the episode of failures, if any, with its one line."""
        if self._exhausted_since is None:
            return
        seconds = time.monotonic() - self._exhausted_since
        wire_log.warning(
            "Port %s could not accept connections for %.1f s (%d attempts; waiting clients were "
            "served after): %s",
            self.effective_port,
            seconds,
            self._exhausted_failures,
            _exhaustion(self._exhausted_errno),
        )
        self._exhausted_since = None
        self._exhausted_failures = 0

    # --- the per-client cap -------------------------------------------------------------------

    def _admit(self, host: str) -> tuple[bool, str | None]:
        """Whether a new connection from *host* may stay, and the key it is counted under (None
        for a client that is not capped).  Refused: it already holds ``limits.client_connections``."""
        key = client_key(host)
        if is_exempt(key, self.limits.exempt_networks):
            return True, None
        cap = self.limits.client_connections
        with self._clients_lock:
            open_now = self._clients.get(key, 0)
            if open_now < cap:
                self._clients[key] = open_now + 1
                return True, key
        wire_log.warning(
            "Refused a connection on port %s from %s: it already holds %d (--max-client-connections)",
            self.effective_port,
            key,
            cap,
        )
        return False, key

    def client_closed(self, key: str) -> None:
        """A capped client's connection closed (called by its channel, from any thread)."""
        with self._clients_lock:
            left = self._clients.get(key, 0) - 1
            if left > 0:
                self._clients[key] = left
            else:
                self._clients.pop(key, None)

    def client_connections(self) -> dict[str, int]:
        """Open connections per capped client address (a copy)."""
        with self._clients_lock:
            return dict(self._clients)

    def maintenance(self, now: float) -> None:
        """waitress's idle reaper, then each channel's own deadlines (``tls.PlainChannel.overdue``,
        ``tls.TLSChannel.overdue``: request headers, TLS handshakes); runs in the loop thread."""
        super().maintenance(now)
        mono = time.monotonic()
        for channel in list(self.active_channels.values()):
            if channel.overdue(mono, now):
                channel.close_overdue()

    def call_in_loop(self, thunk: Callable[[], Any]) -> bool:
        """Run *thunk* in the loop thread; False when the loop has already closed its trigger."""
        trigger = self.trigger
        with trigger.lock:
            if trigger._closed:
                return False
            trigger.thunks.append(thunk)
            trigger._physical_pull()
        return True

    def pull_trigger(self) -> None:
        """Wake the loop; a no-op once the loop has closed its trigger, or while a wake-up is
        already on its way.

        Worker threads call this after every request (waitress's ``HTTPChannel.service``), so the
        loop looks at the channel again.  While an earlier pull's byte has not been read, the
        loop is bound to wake and to look at every channel afterwards (it clears the flag only
        after reading the trigger, and asks each channel ``readable``/``writable`` only after
        that): a second byte would cost a lock, a ``write`` and the loop's ``read`` for nothing.
        Under load most pulls are such second ones.

        Worker threads call this while ``stop()`` may be closing everything.  The loop closes the
        trigger inside a thunk, which runs under ``trigger.lock``; taking the same lock here means
        no worker ever writes to the trigger's closed (maybe reused) fd.
        """
        if self._wake_pending:
            return
        trigger = self.trigger
        with trigger.lock:
            if trigger._closed or self._wake_pending:
                return
            self._wake_pending = True
            try:
                trigger._physical_pull()
            except BaseException:
                self._wake_pending = False
                raise


class _TLSServer(_PlainServer):
    channel_class = _TLSChannel

    def __init__(self, *args: Any, ssl_context: ssl.SSLContext, **kw: Any) -> None:
        self.ssl_context = ssl_context
        super().__init__(*args, **kw)


def _exhaustion(err: int) -> str:
    """Why ``accept()`` failed, for a notice: descriptors (with the limit) or memory."""
    if err in _OUT_OF_DESCRIPTORS:
        return f"out of file descriptors (ulimit -n {fdlimits.open_file_limit() or 'unlimited'})"
    return f"out of memory for sockets ({errno.errorcode.get(err, err)})"


def _port_holder(port: int) -> str | None:
    """Which process listens on TCP *port*, from /proc (Linux); None where the OS does not tell."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                next(fh, None)
                for line in fh:
                    fields = line.split()
                    if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(fields[9])
        except OSError:
            continue
    if not inodes:
        return None
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            for fd in fds:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in wanted:
                    with open(f"/proc/{pid}/comm") as fh:
                        name = fh.read().strip()
                    return f"{name} (pid {pid})" + (" — this launcher" if int(pid) == os.getpid() else "")
        except OSError:
            continue
    return None


def check_port(port: int) -> None:
    """Raise ``ConfigError`` for a port no listener can bind."""
    try:
        parse_port(port)
    except ValueError:
        raise ConfigError(f"Port {port} is out of range: use 1–{PORT_MAX}, or 0 for any free port.") from None


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound (not yet listening) TCP socket; typed errors for every way binding fails."""
    check_port(port)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise AddressUnavailableError(
            f"Cannot resolve the host {host!r}: {exc.strerror}.", host=host, port=port
        ) from None
    family, socktype, proto, _, sockaddr = infos[0]
    sock = socket.socket(family, socktype, proto)
    try:
        if os.name == "posix":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(sockaddr)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(host, port, _port_holder(port)) from None
        if exc.errno == errno.EACCES:
            raise PermissionDeniedError(
                f"Not allowed to listen on port {port}: ports below 1024 need administrator rights. "
                "Choose a port above 1024.",
                host=host,
                port=port,
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise AddressUnavailableError(
                f"The address {host} does not belong to this machine. Use 127.0.0.1, or 0.0.0.0 for all.",
                host=host,
                port=port,
            ) from None
        raise ListenError(f"Cannot listen on {host}:{port}: {exc.strerror}.", host=host, port=port) from None
    return sock


def url_host(host: str) -> str:
    """The host part of a URL for a listener bound to *host* (a wildcard becomes loopback)."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def cert_hosts_for(host: str, extra_hosts: Iterable[str] = ()) -> tuple[str, ...]:
    """The names a leaf for servers bound to *host* must cover: the defaults, *host*, the extras."""
    from launcher.certs import DEFAULT_HOSTS

    hosts = list(DEFAULT_HOSTS)
    for name in (host, *extra_hosts):
        if name and name not in WILDCARD_HOSTS and name not in hosts:
            hosts.append(name)
    return tuple(hosts)


def start_each(listeners: Iterable[Any], ports: Mapping[Scheme, int] | None = None) -> list[Exception]:
    """Start each listener in turn (with *ports*: only those it names, on those ports); the
    errors, none raised (one failing starts the others)."""
    errors: list[Exception] = []
    for listener in listeners:
        try:
            if ports is None:
                listener.start()
            elif listener.scheme in ports:
                listener.start(port=ports[listener.scheme])
        except Exception as exc:
            errors.append(exc)
    return errors


#: ``callback(listener, state)``: told of each state change, in the thread that made it.
StateCallback = Callable[[Any, ListenerState], None]


class ListenerView:
    """What every listener shows: state, port, URL, state callbacks.

    ``Listener`` (waitress here), ``RemoteListener`` (one server process) and
    ``launcher.workers.PoolListener`` (N of them) derive from it and add ``start``/``stop``;
    ``_notify`` sets a state and calls the callbacks.
    """

    def __init__(self, scheme: Scheme, host: str, port: int) -> None:
        self.scheme = scheme
        self._host = host
        self.configured_port = port
        self.error: str | None = None
        self._state = ListenerState.STOPPED
        self._bound_port: int | None = None
        self._callbacks: list[StateCallback] = []

    @property
    def state(self) -> ListenerState:
        return self._state

    @property
    def running(self) -> bool:
        return self._state is ListenerState.RUNNING

    @property
    def host(self) -> str:
        return self._host

    @host.setter
    def host(self, value: str) -> None:
        self._host = value  # the next start binds it

    @property
    def port(self) -> int:
        """The bound port while serving, else the configured one (0 = any free port)."""
        return self._bound_port if self._bound_port is not None else self.configured_port

    @port.setter
    def port(self, value: int) -> None:
        self._set_port(value)

    def _set_port(self, value: int) -> None:
        self.configured_port = value  # the next start binds it

    @property
    def url(self) -> str:
        return f"{self.scheme}://{url_host(self.host)}:{self.port}/"

    def add_state_callback(self, callback: StateCallback) -> None:
        """``callback(listener, state)`` runs in whichever thread changed the state."""
        self._callbacks.append(callback)

    def _notify(self, state: ListenerState, error: str | None = None) -> None:
        self._state = state
        self.error = error
        for callback in list(self._callbacks):
            try:
                callback(self, state)
            except Exception:
                log.exception("State callback failed")


class Listener(ListenerView):
    """One waitress listener (``scheme`` HTTP or HTTPS) with its own threads.

    ``build`` is called at each start and returns the WSGI app to serve and, for HTTPS, the SSL
    context; so a new app or certificate takes effect at the next start.
    """

    def __init__(
        self,
        scheme: Scheme | str,
        build: Callable[[], tuple[WSGIApp, ssl.SSLContext | None]],
        *,
        host: str = DEFAULTS.host,
        port: int = 0,
        threads: int = DEFAULTS.threads,
        limits: Limits = DEFAULT_LIMITS,
        hint_url: Callable[[], str | None] = lambda: None,
        on_event: Callable[[WireEvent], None] | None = None,
    ) -> None:
        if scheme not in (Scheme.HTTP, Scheme.HTTPS):
            raise ValueError(f"scheme must be 'http' or 'https', not {scheme!r}")
        super().__init__(Scheme(scheme), host, port)
        self.threads = threads
        self.limits = limits
        self._build = build
        self._hint_url = hint_url
        self._on_event = on_event
        self._lock = threading.RLock()  # serialises start/stop
        self._server: _PlainServer | None = None
        self._loop_thread: threading.Thread | None = None
        self._dispatcher: _NamedDispatcher | None = None
        #: A listening socket made elsewhere (a worker pool's, ``launcher.workers``): each start
        #: serves a duplicate of it instead of binding, so the port and its queue outlive a stop.
        self.inherited: socket.socket | None = None
        #: With ``inherited``: this worker's place in the pool's ``AcceptShare`` (which worker
        #: takes a new connection); emptied when the listener stops.
        self.seat: Seat | None = None
        #: Where the requests are noted (``Servers.access_log``); next start.
        self.access_log: AccessLog | None = None

    # --- start / stop ------------------------------------------------------------------------

    def start(self, port: int | None = None) -> None:
        """Bind, start the loop and worker threads; return once accepting connections.

        *port* overrides the configured port for this start (a restart keeps its port this way).

        Raises ``ListenError`` subclasses (``PortInUseError``...) or ``CertError``; the listener is
        then in state ERROR with ``error`` set, and nothing is left running.
        """
        with self._lock:
            if self._state in (ListenerState.RUNNING, ListenerState.STARTING):
                return
            self._notify(ListenerState.STARTING)
            sock = dispatcher = server = None
            try:
                app, ssl_context = self._build()
                if self.inherited is not None:
                    sock = self.inherited.dup()
                    if self.seat is not None:
                        self.seat.open()
                else:
                    sock = bind_socket(self.host, self.configured_port if port is None else port)
                port = sock.getsockname()[1]
                adj = Adjustments(
                    host=self.host,
                    port=str(port),
                    threads=self.threads,
                    url_scheme=self.scheme,
                    ident="flask-https-launcher",
                    # Proxy headers are handled per request by PolicyMiddleware.
                    clear_untrusted_proxy_headers=False,
                    asyncore_use_poll=True,  # select() stops at 1024 descriptors
                    connection_limit=fdlimits.connection_limit(),
                    channel_timeout=CHANNEL_TIMEOUT,
                    cleanup_interval=CLEANUP_INTERVAL,
                )
                dispatcher = _NamedDispatcher(f"launcher-{self.scheme}-worker")
                dispatcher.set_thread_count(self.threads)
                kwargs: dict[str, Any] = {
                    "extra_environ": {"launcher.listener": self.scheme},
                    "limits": self.limits,
                    "hint_url": self._hint_url,
                    "on_event": self._on_event,
                    "map": {},
                    "_sock": sock,
                    "dispatcher": dispatcher,
                    "adj": adj,
                    "bind_socket": False,
                    "seat": self.seat,
                    "access_log": self.access_log,
                }
                if self.scheme == Scheme.HTTPS:
                    if ssl_context is None:
                        raise RuntimeError("the HTTPS listener's build gave no SSL context")
                    server = _TLSServer(app, ssl_context=ssl_context, **kwargs)
                else:
                    server = _PlainServer(app, **kwargs)
                thread = threading.Thread(
                    target=self._run_loop, args=(server,), name=f"launcher-{self.scheme}-loop", daemon=True
                )
                thread.start()
            except Exception as exc:
                if dispatcher is not None:
                    dispatcher.shutdown(timeout=1)
                if server is not None:
                    tls.close_channels(server)
                elif sock is not None:
                    sock.close()
                self._bound_port = None
                self._notify(ListenerState.ERROR, str(exc))
                raise
            self._server, self._dispatcher, self._loop_thread = server, dispatcher, thread
            self._bound_port = port
            self._notify(ListenerState.RUNNING)
            log.info("%s listening on %s", self.scheme.upper(), self.url)

    def _run_loop(self, server: _PlainServer) -> None:
        try:
            server.run()
        except Exception:
            log.exception("The %s event loop failed", self.scheme)
            if self.seat is not None:
                self.seat.vacate()  # nothing accepts here any more: the other workers take it all
            tls.close_channels(server)

    def stop(self, timeout: float = 1.0, grace: float = 0.0) -> None:
        """Stop serving and free the port; safe to call twice and from any thread.

        With *grace* > 0 the listening socket closes first and requests in flight get up to
        *grace* seconds to finish before the connections are closed.
        """
        with self._lock:
            server, dispatcher, thread = self._server, self._dispatcher, self._loop_thread
            if server is None or dispatcher is None or thread is None:  # set and cleared together
                if self._state is ListenerState.ERROR:
                    self._notify(ListenerState.STOPPED)
                return
            self._notify(ListenerState.STOPPING)
            if self.seat is not None:
                self.seat.vacate()  # the other workers take every new connection from now on
            deadline = time.monotonic() + timeout + grace
            if grace > 0:
                # Stop accepting: close the listening socket only; the loop keeps the connections.
                server.call_in_loop(lambda: wasyncore.dispatcher.close(server))
                while time.monotonic() < deadline - timeout and not dispatcher.idle():
                    time.sleep(0.01)
            server.call_in_loop(lambda: tls.close_channels(server))  # False: the loop already ended
            thread.join(max(0.05, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("The %s event loop did not stop in time", self.scheme)
            dispatcher.shutdown(cancel_pending=True, timeout=max(0.05, deadline - time.monotonic()))
            self._server = self._dispatcher = self._loop_thread = None
            self._bound_port = None
            self._notify(ListenerState.STOPPED)
            log.info("%s stopped", self.scheme.upper())


def serving_options(config: ServeConfig) -> dict[str, Any]:
    """What *config* says to the constructors of ``Servers``, ``RemoteServers`` and
    ``launcher.workers.WorkerPool``, as their keywords: the policy (its live options), the bind
    address, the ports, threads, limits and body limit."""
    return dict(
        policy=Policy.from_config(config),
        host=config.bind_host,
        http_port=config.http_port,
        https_port=config.https_port,
        threads=config.threads,
        limits=Limits.from_config(config),
        body_limit=config.body_limit,
    )


class Servers:
    """An HTTP and an HTTPS listener serving one app, logging into one sink, under one Policy."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        cert_store: Any,
        sink: RequestSink | None = None,
        policy: Policy | None = None,
        host: str = DEFAULTS.host,
        http_port: int = DEFAULTS.http_port,
        https_port: int = DEFAULTS.https_port,
        threads: int = DEFAULTS.threads,
        limits: Limits = DEFAULT_LIMITS,
        hosts: Iterable[str] | None = None,
        body_limit: int = DEFAULTS.body_limit,
    ) -> None:
        self.app = app
        self.body_limit = body_limit  # bytes of each body the request log keeps (next start)
        self.cert_store = cert_store
        self.sink = sink if sink is not None else RequestSink()
        self.policy = policy if policy is not None else Policy()
        self.extra_hosts = tuple(hosts or ())
        #: Captures what the app saw of inspector probes (``launcher.appview``); its token is
        #: random per ``Servers``.
        self.appview = AppView()
        #: Wraps the HTTP listener's request path inside the request log and outside the policy
        #: (``serve --lan``'s phone set-up page, ``launcher.onboarding``); next start.
        self.http_front: Callable[[WSGIApp], WSGIApp] | None = None
        #: LAN sharing (``share``): the scan while on, else None; the names it adds to the leaf.
        self.lan_scan: LanScan | None = None
        self.lan_hosts: tuple[str, ...] = ()
        #: ``--name``: the leaf covers ``<name>.localhost`` too.
        self.name: str | None = None
        self.http = Listener(
            Scheme.HTTP,
            lambda: (self._stack(Scheme.HTTP), None),
            host=host,
            port=http_port,
            threads=threads,
            limits=limits,
            hint_url=lambda: self.https.url if self.https.running else None,
            on_event=self._event,
        )
        self.https = Listener(
            Scheme.HTTPS,
            lambda: (self._stack(Scheme.HTTPS), self._ssl_context()),
            host=host,
            port=https_port,
            threads=threads,
            limits=limits,
            on_event=self._event,
        )

    @property
    def access_log(self) -> AccessLog | None:
        """``serve``'s log (``launcher.accesslog``): set, the listeners note each request there
        and serve the app without ``RequestLogMiddleware``, and the sink gets no records (wire
        events still); None (the default), the middleware records them into ``sink``.  Takes
        effect at the next start of each listener."""
        return self.https.access_log

    @access_log.setter
    def access_log(self, access_log: AccessLog | None) -> None:
        self.http.access_log = self.https.access_log = access_log

    def _event(self, event: WireEvent) -> None:
        """A listener's wire event goes into the sink, next to the request records."""
        self.sink.add_event(event)

    @classmethod
    def from_config(
        cls,
        app: WSGIApp,
        config: ServeConfig,
        *,
        cert_store: Any,
        sink: RequestSink | None = None,
        policy: Policy | None = None,
        hosts: Iterable[str] | None = None,
    ) -> Servers:
        """Servers as *config* says (its live options become the ``Policy``, unless one is given).

        ``--lan`` and ``--name`` go to ``share`` (LAN addresses, the set-up page, NAME.localhost)."""
        options = serving_options(config)
        if policy is not None:
            options["policy"] = policy
        servers = cls(
            app,
            cert_store=cert_store,
            sink=sink if sink is not None else RequestSink(body_budget=config.body_budget_bytes),
            hosts=hosts,
            **options,
        )
        servers.share(config.lan, config.lan_bridges, config.name)
        return servers

    def share(self, lan: bool, lan_bridges: bool = False, name: str | None = None) -> None:
        """Share on the local network (*lan*) or stop, and serve under ``<name>.localhost`` (next start).

        On: the machine's LAN addresses (``launcher.lan.scan``; bridges too with *lan_bridges*)
        and ``<hostname>.local`` join the leaf's names, and the HTTP listener serves the phone
        set-up page (``launcher.onboarding``) unless the store serves an imported certificate.
        The bind address is the caller's (``ServeConfig.bind_host``): set ``host`` first, it
        decides whether IPv6 addresses are offered.  Off: all of that goes.
        """
        self.name = name
        if not lan:
            self.lan_scan, self.lan_hosts, self.http_front = None, (), None
            return
        from launcher.onboarding import lan_hosts, onboarding_front

        scan, hosts = lan_hosts(include_bridges=lan_bridges, ipv6=self.host == "::")
        self.lan_scan, self.lan_hosts = scan, tuple(hosts)
        imported = bool(getattr(self.cert_store, "is_imported", False))
        self.http_front = None if imported else onboarding_front(self.cert_store, self, scan, hosts)

    @property
    def listeners(self) -> tuple[Listener, Listener]:
        return (self.http, self.https)

    @property
    def host(self) -> str:
        return self.http.host

    @host.setter
    def host(self, value: str) -> None:
        for listener in self.listeners:
            listener.host = value

    @property
    def limits(self) -> Limits:
        """What each listener allows a client (a change applies at the next start)."""
        return self.http.limits

    @limits.setter
    def limits(self, value: Limits) -> None:
        for listener in self.listeners:
            listener.limits = value

    @property
    def threads(self) -> int:
        """Worker threads per listener (a change applies at the next start)."""
        return self.http.threads

    @threads.setter
    def threads(self, value: int) -> None:
        for listener in self.listeners:
            listener.threads = value

    def cert_hosts(self) -> tuple[str, ...]:
        """The names the generated leaf must cover: the defaults, the bind host, any extra."""
        named = (f"{self.name}.localhost",) if self.name else ()
        return cert_hosts_for(self.host, (*self.extra_hosts, *self.lan_hosts, *named))

    def _ssl_context(self) -> ssl.SSLContext:
        self.cert_store.ensure(hosts=self.cert_hosts())
        return tls.server_context(Path(self.cert_store.cert_path), Path(self.cert_store.key_path))

    def _https_port(self) -> int | None:
        return self.https.port if self.https.running else None

    @property
    def probe_token(self) -> str:
        """The secret an inspector probe sends in ``launcher.appview.PROBE_HEADER`` to get back
        what the app saw (random per ``Servers``)."""
        return self.appview.token

    def _stack(self, scheme: Scheme) -> WSGIApp:
        """The request path: log → policy → the probe capture → the app (built at each start, so
        the capture follows the app served now: ``set_app`` and reloads restart the listeners)."""
        app: WSGIApp = PolicyMiddleware(self.appview.wrap(self.app), self.policy, scheme, self._https_port)
        if scheme == Scheme.HTTP and self.http_front is not None:
            app = self.http_front(app)
        if self.access_log is not None:  # the listeners note each request themselves
            return app
        return RequestLogMiddleware(app, self.sink, scheme, self.body_limit)

    def start_all(self) -> list[Exception]:
        """Start both listeners (HTTPS first, so HTTP can redirect to it); return the errors."""
        return start_each((self.https, self.http))

    def start_on(self, ports: Mapping[Scheme, int]) -> list[Exception]:
        """Start the listeners of *ports* on those ports (HTTPS first); return the errors."""
        return start_each((self.https, self.http), ports)

    def stop_all(self, timeout: float = 1.0, grace: float = 0.0) -> None:
        """Stop both listeners at once (in parallel), within about *timeout* + *grace* seconds."""
        other = threading.Thread(target=self.http.stop, args=(timeout, grace), name="launcher-stop-http")
        other.start()
        self.https.stop(timeout, grace)
        other.join()

    def restart(self, grace: float = 0.5) -> list[Exception]:
        """Restart the listeners that run (in-flight requests get *grace* seconds)."""
        running = [(listener, listener.port) for listener in (self.https, self.http) if listener.running]
        errors: list[Exception] = []
        for listener, _ in running:
            listener.stop(grace=grace)
        for listener, port in running:
            try:
                listener.start(port=port)
            except Exception as exc:
                errors.append(exc)
        return errors

    def set_app(self, app: WSGIApp, grace: float = 0.5) -> list[Exception]:
        """Serve *app* from now on: the running listeners restart with it."""
        self.app = app
        return self.restart(grace=grace)

    def serve_target(
        self, target: Any, *, fresh: bool = True, grace: float = 0.5
    ) -> tuple[Any, list[Exception]]:
        """Load *target* (a ``launcher.apptarget.AppTarget``) and serve it; (the app, restart errors).

        Raises ``AppLoadError`` when it does not load: nothing changes then.
        """
        from launcher.apptarget import load_app

        app = load_app(target, fresh=fresh)
        return app, self.set_app(app, grace=grace)

    def make_reloader(
        self,
        target: Any,
        *,
        on_reloaded: Callable[[Any, list[Exception]], None],
        on_error: Callable[[Exception], None],
        on_change: Callable[[frozenset[Path]], None],
        grace: float = 0.5,
    ) -> Any:
        """A ``launcher.reload.Reloader`` for *target* that serves each good reload here.

        ``on_reloaded(app, errors)`` follows each swap; all callbacks run in the watcher's thread.
        """
        from launcher.reload import Reloader

        def swap(app: Any) -> list[Exception]:
            errors = self.set_app(app, grace=grace)
            on_reloaded(app, errors)
            return errors

        return Reloader(target, swap, on_error=on_error, on_change=on_change)

    def close(self, timeout: float = 1.0) -> None:
        """Stop both listeners (what ``RemoteServers.close`` does for its process)."""
        self.stop_all(timeout=timeout)
        self.appview.detach()

    def reload_tls(self) -> None:
        """Restart HTTPS, if it runs, so it serves the certificate now in the store."""
        if self.https.running:
            port = self.https.port
            self.https.stop()
            self.https.start(port=port)
