"""``WorkerPool``: N server processes serving both listeners on the same ports (``--workers``).

One waitress process is held to about one core by the GIL.  A pool runs N of the window's
server processes (``launcher.remote``: the same typed boundary, one ``RemoteServers`` per
worker) and has the shape of ``launcher.servers.Servers``, so ``serve`` and the window drive it
as they drive one process (``launcher.control.ServersControl``).

How the work is shared:

- **Ports.**  The pool binds each listening socket itself, here, once, so a port in use (or any
  other bind error) is reported once, typed, as with one process.  Every worker inherits a
  descriptor of it and serves it; none binds.  The workers take turns accepting from its one
  queue (``launcher.acceptshare``): a new connection goes to the worker that holds the fewest,
  so clients that open many connections at once get every worker.  A worker that died holds no
  queue of its own: the others take every new connection until it is back, and its place in the
  table is emptied so they do not wait for it.
- **The certificate** is made (or renewed) here before any worker starts, once; the workers find
  it ready and only read it.
- **One request log.**  Each worker stamps its number on its records (``RequestRecord.worker``)
  and sends them in batches; ``RecordMerger`` holds them ``MERGE_DELAY`` seconds (access lines
  ``LINES_MERGE_DELAY``) and adds them to the one ``sink`` in the order the requests finished, as
  one process logs them.  A supervisor that only prints an access log (``serve``:
  ``print_access_lines``) has the workers send each request's access line instead of its record,
  and writes the lines in the same order: what it would make of the records anyway, for less work
  in the supervisor and less to pickle.
- **Live options** (redirect, HSTS, trusted proxy: ``PoolPolicy``) go to every worker.
- **Supervision.**  A worker that dies is started again after a back-off (``BACKOFF_FIRST``,
  doubling to ``BACKOFF_MAX``, back to the first once a worker lived ``STABLE_AFTER`` s), with a
  line through ``on_notice``; the others keep serving meanwhile.  A worker whose parent dies sees
  its channel close and stops on its own (``launcher.remote.child``).
- **New code** (``replace_workers``: reload on change, ``PoolReloader``) starts a new set of
  workers on the same sockets, and only once the first one imported the app do the others start
  and the old ones retire (finishing what they serve, then closing their connections, before
  the reload is reported); an app that fails to import changes nothing, and its error is
  reported once.
- **Stopping** (``close``) asks every worker at once to stop within the time given, keep-alive
  clients included, and kills one that has not.

POSIX only (the sockets are inherited by descriptor).
"""

from __future__ import annotations

import bisect
import logging
import operator
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from launcher.acceptshare import AcceptShare
from launcher.apptarget import AppTarget
from launcher.appview import new_token
from launcher.certs import CertStore
from launcher.errors import ConfigError, ServerProcessError
from launcher.options import DEFAULTS, ServeConfig
from launcher.policy import ForwardingPolicy, Policy
from launcher.reload import Reloader
from launcher.remote.client import RemoteServers, WorkerSpec
from launcher.remote.wire import LINES_BATCH_SECONDS, AppInfo, Op, decode_error
from launcher.requestlog import RequestRecord, RequestSink
from launcher.scheme import Scheme
from launcher.servers import (
    DEFAULT_LIMITS,
    Limits,
    ListenerState,
    ListenerView,
    bind_socket,
    cert_hosts_for,
    check_port,
    serving_options,
)

if TYPE_CHECKING:
    from launcher.lan import LanScan
    from launcher.wireevents import WireEvent

log = logging.getLogger("launcher.workers")

#: Seconds records wait in ``RecordMerger`` (workers send records at most every 50 ms): enough for
#: every worker's batch of the same moment to arrive, so the merged log is in order.
MERGE_DELAY = 0.25
#: The same for access lines, which workers send at most every ``LINES_BATCH_SECONDS`` (0.2 s): a
#: line that just missed its worker's batch waits that long there, and 0.15 s is left for the
#: batch to reach the supervisor (a worker's sender waits its turn at the GIL under load).
LINES_MERGE_DELAY = LINES_BATCH_SECONDS + 0.15
MERGE_INTERVAL = 0.05
#: Back-off before a dead worker is started again: first, doubling up to the most.
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0
#: A worker that served this long before it died gets the first back-off again.
STABLE_AFTER = 30.0
#: The kernel's queue of not-yet-accepted connections on a port's one socket, per worker.
BACKLOG = 1024
#: Seconds old workers get to finish what they serve when new ones replace them.
RETIRE_GRACE = 0.5


class RecordMerger:
    """Takes the workers' batches (any thread) and adds them to *sink* in time order.

    A record's time is when its request finished (``time`` + ``duration_ms``); a wire event's,
    when it happened.  Each is held ``delay`` seconds, then added in that order by one thread
    (each worker numbers its records apart: ``RequestSink.number_as_worker``).  ``close()``
    adds what is left.
    """

    def __init__(
        self, sink: RequestSink, *, delay: float = MERGE_DELAY, interval: float = MERGE_INTERVAL
    ) -> None:
        self.sink = sink
        self.delay = delay
        self.interval = interval
        self._records: list[tuple[float, RequestRecord]] = []  # (finished, record), any order
        self._lines: list[tuple[float, str]] = []  # (finished, access line), any order
        self._events: list[tuple[float, WireEvent]] = []
        #: Where merged access lines go (``WorkerPool.print_access_lines``): one string per flush.
        self.write_lines: Callable[[str], None] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="launcher-merge", daemon=True)
        self._thread.start()

    def put(self, records: Sequence[RequestRecord], events: Sequence[WireEvent]) -> None:
        """One worker's batch (called from its receiving thread)."""
        keyed = [(r.time + r.duration_ms / 1000.0, r) for r in records]
        with self._lock:
            self._records += keyed
            if events:
                self._events += [(e.time, e) for e in events]

    def put_lines(self, lines: Sequence[tuple[float, str]], events: Sequence[WireEvent]) -> None:
        """One worker's access lines, ``(finished, line)`` (``launcher.remote.wire.AccessLines``)."""
        with self._lock:
            self._lines += lines
            if events:
                self._events += [(e.time, e) for e in events]

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush(time.time() - self.delay)
        self.flush(None)

    def flush(self, horizon: float | None) -> int:
        """Add everything that finished before *horizon* (None: everything); how many."""
        with self._lock:
            records = _take(self._records, horizon) if self._records else []
            lines = _take(self._lines, horizon) if self._lines else []
            events = _take(self._events, horizon) if self._events else []
        try:
            if lines and self.write_lines is not None:
                self.write_lines("\n".join([line for _, line in lines]) + "\n")
            if records:
                self.sink.add_many([record for _, record in records])
            for _, event in events:
                self.sink.add_event(event)
        except Exception:
            log.exception("Adding the workers' records to the log failed")
        return len(records) + len(lines) + len(events)

    def close(self, timeout: float = 1.0) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)


def _take(items: list[tuple[float, Any]], horizon: float | None) -> list[tuple[float, Any]]:
    """Remove and return, in time order, the items of *items* up to *horizon* (None: all).

    A stable sort in C of a list that is mostly in order already (the key too is C, not a Python
    function called for every item on every flush): cheaper than a heap per item."""
    items.sort(key=_first)
    cut = len(items) if horizon is None else bisect.bisect_right(items, horizon, key=_first)
    taken = items[:cut]
    del items[:cut]
    return taken


_first = operator.itemgetter(0)


class PoolPolicy(ForwardingPolicy):
    """A ``Policy`` whose changes go to every worker (each sends them to its process)."""

    def __init__(self, owner: WorkerPool, base: Policy | None = None) -> None:
        object.__setattr__(self, "_owner", owner)
        super().__init__(base)

    def _forward(self, changes: dict[str, Any]) -> None:
        for servers in self.__dict__["_owner"]._workers():
            servers.policy.update(**changes)

    def sync(self) -> None:
        """Return once every worker applies every change made so far."""
        for servers in self.__dict__["_owner"]._workers():
            servers.policy.sync()


class PoolListener(ListenerView):
    """One listener of the pool: the sockets the pool binds, served by every worker."""

    def __init__(self, owner: WorkerPool, scheme: Scheme, host: str, port: int) -> None:
        super().__init__(scheme, host, port)
        self._owner = owner

    def _apply(self, state: ListenerState, error: str | None = None) -> None:
        if state not in (ListenerState.RUNNING, ListenerState.STOPPING):
            self._bound_port = None
        self._notify(state, error)

    def start(self, port: int | None = None) -> None:
        """Bind (typed errors, as ``Listener.start``) and have every worker serve it."""
        self._owner.start_listeners((self.scheme,), {self.scheme: port} if port is not None else None)

    def stop(self, timeout: float = 1.0, grace: float = 0.0) -> None:
        self._owner.stop_listeners((self.scheme,), timeout, grace)


@dataclass
class _Slot:
    """One worker's place: its number, its sockets, the process serving them now."""

    number: int
    sockets: dict[Scheme, socket.socket] = field(default_factory=dict)
    servers: RemoteServers | None = None
    started: float = 0.0
    backoff: float = BACKOFF_FIRST
    revive: threading.Timer | None = None


class WorkerPool:
    """N server processes on shared ports; the shape of ``Servers`` (see the module docstring).

    ``on_notice(text)`` receives the supervisor's lines (a worker died, is serving again, could
    not be started); by default they are logged.
    """

    def __init__(
        self,
        *,
        cert_store: CertStore,
        workers: int,
        sink: RequestSink | None = None,
        policy: Policy | None = None,
        host: str = DEFAULTS.host,
        http_port: int = DEFAULTS.http_port,
        https_port: int = DEFAULTS.https_port,
        threads: int = DEFAULTS.threads,
        limits: Limits = DEFAULT_LIMITS,
        hosts: Iterable[str] | None = None,
        body_limit: int = DEFAULTS.body_limit,
        target: AppTarget | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        if os.name != "posix":
            raise ConfigError("More than one worker process needs Linux or macOS: use --workers 1.")
        if workers < 1:
            raise ConfigError(f"A pool needs at least one worker, not {workers}.")
        self.cert_store = cert_store
        self.sink = sink if sink is not None else RequestSink()
        self.body_limit = body_limit
        self.limits = limits
        self._threads = threads
        self._extra_hosts = tuple(hosts or ())
        self._sharing: tuple[bool, bool, str | None] = (False, False, None)
        self.lan_scan: LanScan | None = None
        self.lan_hosts: tuple[str, ...] = ()
        self.policy = PoolPolicy(self, policy)
        self.http = PoolListener(self, Scheme.HTTP, host, http_port)
        self.https = PoolListener(self, Scheme.HTTPS, host, https_port)
        #: One inspector token for all workers: a probe may reach any of them.
        self.probe_token = new_token()
        self.target = target if target is not None else AppTarget()
        self.app: Any = AppInfo(self.target.label() if self.target.target else "flaskapp")
        self.startup_error: Exception | None = None
        self.on_startup_error: Callable[[Exception], None] | None = None
        self.on_notice = on_notice or (lambda text: log.warning("%s", text))
        self._slots = [_Slot(number) for number in range(1, workers + 1)]
        self._lock = threading.RLock()  # the slots, their sockets, the listeners' states
        self._replace_lock = threading.Lock()  # one change of the worker set at a time
        self._merger = RecordMerger(self.sink)
        #: The serving set's table of connections per worker (a new set gets a new one).
        self._share: AcceptShare | None = None
        self._reloader: PoolReloader | None = None
        self._closed = False
        #: When the workers serving now began to import the app (``time.time_ns()``): a watcher
        #: started later reports files saved since then (``FileWatcher.start(since_ns=...)``).
        self.loaded_ns: int | None = None

    @classmethod
    def from_config(
        cls,
        config: ServeConfig,
        *,
        cert_store: CertStore,
        sink: RequestSink | None = None,
        target: AppTarget | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> WorkerPool:
        """A pool of ``config.workers`` as *config* says (see ``Servers.from_config``)."""
        pool = cls(
            cert_store=cert_store,
            workers=config.workers,
            sink=sink if sink is not None else RequestSink(body_budget=config.body_budget_bytes),
            target=target,
            on_notice=on_notice,
            **serving_options(config),
        )
        pool.share(config.lan, config.lan_bridges, config.name)
        return pool

    # --- facts --------------------------------------------------------------------------------------

    @property
    def listeners(self) -> tuple[PoolListener, PoolListener]:
        return (self.http, self.https)

    @property
    def workers(self) -> int:
        """How many worker processes the pool runs."""
        return len(self._slots)

    @property
    def host(self) -> str:
        return self.http.host

    @host.setter
    def host(self, value: str) -> None:
        for listener in self.listeners:
            listener._host = value  # the next bind uses it
        for servers in self._workers():
            servers.host = value

    @property
    def extra_hosts(self) -> tuple[str, ...]:
        return self._extra_hosts

    @extra_hosts.setter
    def extra_hosts(self, value: Iterable[str]) -> None:
        self._extra_hosts = tuple(value)
        for servers in self._workers():
            servers.extra_hosts = self._extra_hosts

    @property
    def threads(self) -> int:
        return self._threads

    @threads.setter
    def threads(self, value: int) -> None:
        self._threads = value
        for servers in self._workers():
            servers.threads = value

    @property
    def name(self) -> str | None:
        return self._sharing[2]

    def share(self, lan: bool, lan_bridges: bool = False, name: str | None = None) -> None:
        """``Servers.share`` for every worker (set ``host`` first); the scan is made here once."""
        from launcher.onboarding import lan_hosts

        self._sharing = (lan, lan_bridges, name)
        if lan:
            scan, hosts = lan_hosts(include_bridges=lan_bridges, ipv6=self.host == "::")
            self.lan_scan, self.lan_hosts = scan, tuple(hosts)
        else:
            self.lan_scan, self.lan_hosts = None, ()
        for servers in self._workers():
            servers._sharing = self._sharing
            servers.lan_scan, servers.lan_hosts = self.lan_scan, self.lan_hosts
            servers._notify(Op.CONFIGURE, lan=lan, lan_bridges=lan_bridges, name=name)

    def cert_hosts(self) -> tuple[str, ...]:
        named = (f"{self.name}.localhost",) if self.name else ()
        return cert_hosts_for(self.host, (*self._extra_hosts, *self.lan_hosts, *named))

    @property
    def alive(self) -> bool:
        return any(servers.alive for servers in self._workers())

    def print_access_lines(self, write: Callable[[str], None]) -> None:
        """Have the workers send access lines instead of records, and pass the merged lines to
        *write* (one string per batch, each line ending in a newline); ``sink`` then gets no
        records (the wire events still reach it).  For a supervisor that only prints the log
        (``serve``).  Applies to workers started from now on: call it before ``start_listeners``."""
        self._merger.write_lines = write
        # Each flush is a wake-up and a sort of what waits: not more often than the lines come.
        self._merger.interval = LINES_BATCH_SECONDS
        self._merger.delay = LINES_MERGE_DELAY

    @property
    def pids(self) -> list[int]:
        """The worker processes' pids (those running)."""
        return [pid for servers in self._workers() if (pid := servers.pid) is not None and servers.alive]

    @property
    def pid(self) -> int | None:
        pids = self.pids
        return pids[0] if pids else None

    def diagnostics(self) -> dict[str, Any]:
        """Each worker's own diagnostics, by number."""
        return {"workers": {slot.number: slot.servers.diagnostics() for slot in self._slots if slot.servers}}

    def _workers(self) -> list[RemoteServers]:
        return [slot.servers for slot in self._slots if slot.servers is not None]

    # --- workers ------------------------------------------------------------------------------------

    def _new_worker(self, slot: _Slot, share: AcceptShare) -> RemoteServers:
        """A worker process for *slot* in the set that shares *share* (not started yet: its first
        call starts it)."""
        holder: list[RemoteServers] = []
        spec = WorkerSpec(
            sockets=slot.sockets,  # the slot's own: each new process of this worker gets what it holds now
            number=slot.number,
            workers=len(self._slots),
            probe_token=self.probe_token,
            deliver=self._merger.put,
            on_lost=lambda code: self._lost(slot, holder[0], code),
            deliver_lines=self._merger.put_lines if self._merger.write_lines is not None else None,
            share=share,
        )
        servers = RemoteServers(
            cert_store=self.cert_store,
            sink=self.sink,
            policy=self.policy,
            host=self.host,
            http_port=self.http.port,
            https_port=self.https.port,
            threads=self._threads,
            limits=self.limits,
            hosts=self._extra_hosts,
            start=False,
            body_limit=self.body_limit,
            worker=spec,
        )
        servers._sharing = self._sharing
        servers.lan_scan, servers.lan_hosts = self.lan_scan, self.lan_hosts
        holder.append(servers)
        return servers

    def _launch(self, servers: RemoteServers, target: AppTarget) -> None:
        """Start *servers*' process: serve *target* (raises ``AppLoadError``), then its sockets."""
        if self._closed:
            raise ServerProcessError("The servers were closed.")
        if target.target is not None or target.chdir is not None:
            info, _ = servers.serve_target(target, fresh=True, grace=0.0)
            self.app = info
        else:
            servers.target = target
        for scheme in servers.worker.sockets if servers.worker else ():
            servers.call(Op.START, scheme, None)
        if servers.startup_error is not None and self.startup_error is None:
            self.startup_error = servers.startup_error
            if self.on_startup_error is not None:
                self.on_startup_error(servers.startup_error)

    def _start_set(
        self, slots: Sequence[_Slot], target: AppTarget, share: AcceptShare
    ) -> list[RemoteServers]:
        """New workers for *slots*, sharing *share*: the first alone (its error is the one
        reported, and nothing is left running), then the others at once.  Raises what the first
        raised."""
        first = self._new_worker(slots[0], share)
        loading = time.time_ns()
        try:
            self._launch(first, target)
        except BaseException:
            first.close(1.0)
            raise
        self.loaded_ns = loading
        news = [first]
        rest = [self._new_worker(slot, share) for slot in slots[1:]]
        with ThreadPoolExecutor(max_workers=max(1, len(rest)), thread_name_prefix="launcher-pool") as ex:
            results = list(ex.map(lambda s: _attempt(lambda: self._launch(s, target)), rest))
        for slot, servers, error in zip(slots[1:], rest, results, strict=True):
            news.append(servers)
            if error is not None:
                self.on_notice(f"worker {slot.number} could not start: {error}")
        return news

    def replace_workers(
        self, target: AppTarget | None = None, grace: float = RETIRE_GRACE
    ) -> tuple[Any, list[Exception]]:
        """A new set of workers on the same sockets (new code, new sockets); the old ones retire
        once the new ones serve: they stop accepting and end their connections (requests in
        flight get *grace* seconds) before this returns.  Raises (``AppLoadError``...) with
        nothing changed."""
        target = self.target if target is None else target
        with self._replace_lock:
            if self._closed:
                raise ServerProcessError("The servers were closed.")
            slots = list(self._slots)
            share = AcceptShare.create(len(slots))
            try:
                news = self._start_set(slots, target, share)
            except BaseException:
                share.close()
                raise
            with self._lock:
                if self._closed:  # closed while the new set started: it must not outlive close()
                    _each(news, lambda s: s.close(0.5))
                    share.close()
                    raise ServerProcessError("The servers were closed.")
                olds = [slot.servers for slot in slots]
                old_share, self._share = self._share, share
                now = time.monotonic()
                for slot, servers in zip(slots, news, strict=True):
                    if slot.revive is not None:
                        slot.revive.cancel()
                        slot.revive = None
                    slot.servers, slot.started = servers, now
                self.target = target
            # A worker that could not start is started again like one that died.
            for slot, servers in zip(slots, news, strict=True):
                if not servers.alive:
                    self._schedule(slot, servers)
        retiring = [s for s in olds if s is not None]
        # The old set stops accepting and ends its connections (what is in flight gets *grace*)
        # before this returns: once a reload is reported, every request gets the new code, on a
        # new connection or one a browser kept open.  Idle, that takes a few milliseconds.
        _each(retiring, lambda servers: servers.stop_all(timeout=1.0, grace=grace))
        _retire(retiring, old_share)
        return self.app, []

    def _lost(self, slot: _Slot, servers: RemoteServers, code: int | None) -> None:
        """*servers*' process ended unexpectedly (its receiving thread): start it again later."""
        if servers.worker is not None and servers.worker.share is not None:
            # In its set's table (a set still starting, too): the others stop leaving it connections.
            servers.worker.share.vacate(slot.number - 1)
        with self._lock:
            if self._closed or slot.servers is not servers:
                return
            if time.monotonic() - slot.started > STABLE_AFTER:
                slot.backoff = BACKOFF_FIRST
            delay = slot.backoff
        self._schedule(slot, servers)
        self.on_notice(
            f"worker {slot.number} exited unexpectedly (exit code {code}): starting it again in {delay:g} s"
        )

    def _schedule(self, slot: _Slot, servers: RemoteServers) -> None:
        with self._lock:
            if self._closed or slot.servers is not servers:
                return
            delay = slot.backoff
            slot.backoff = min(BACKOFF_MAX, slot.backoff * 2)
            timer = threading.Timer(delay, self._revive, (slot, servers))
            timer.daemon = True
            timer.name = f"launcher-revive-{slot.number}"
            slot.revive = timer
            timer.start()

    def _revive(self, slot: _Slot, servers: RemoteServers) -> None:
        try:
            with self._lock:
                if self._closed or slot.servers is not servers:
                    return
                slot.revive = None
            for scheme in list(slot.sockets):
                servers.call(Op.START, scheme, None)  # a new process (it serves the app first)
        except Exception as exc:
            self.on_notice(f"worker {slot.number} could not be started again: {exc}")
            self._schedule(slot, servers)
            return
        slot.started = time.monotonic()
        self.on_notice(f"worker {slot.number} is serving again (pid {servers.pid})")

    # --- listeners ----------------------------------------------------------------------------------

    def _bind(self, listener: PoolListener, port: int) -> list[socket.socket]:
        """The listening socket on *port* (typed errors as ``bind_socket`` raises them), one
        descriptor of it per worker: all accept from its one queue."""
        sock = bind_socket(listener.host, port)
        try:
            sock.listen(BACKLOG * len(self._slots))
            return [sock, *(sock.dup() for _ in self._slots[1:])]
        except BaseException:
            sock.close()
            raise

    def start_listeners(self, schemes: Iterable[Scheme], ports: dict[Scheme, int] | None = None) -> None:
        """Bind *schemes*' ports and have every worker serve them (workers start, or a new set
        replaces them); raises the first error (typed) with those listeners in ERROR."""
        ports = ports or {}
        wanted = [lst for lst in (self.https, self.http) if lst.scheme in set(schemes) and not lst.running]
        if not wanted:
            return
        bound: dict[Scheme, list[socket.socket]] = {}
        with self._lock:
            current = wanted[0]
            try:
                for listener in wanted:
                    current = listener
                    listener._apply(ListenerState.STARTING)
                    port = ports.get(listener.scheme, listener.configured_port)
                    check_port(port)
                    if listener.scheme == Scheme.HTTPS:
                        self.cert_store.ensure(hosts=self.cert_hosts())  # once, before any worker
                    bound[listener.scheme] = self._bind(listener, port)
                    listener._bound_port = bound[listener.scheme][0].getsockname()[1]
            except Exception as exc:
                self._unbind(bound)
                for listener in wanted:
                    if listener is current:
                        listener._apply(ListenerState.ERROR, str(exc))
                    elif listener.state is not ListenerState.STOPPED:
                        listener._apply(ListenerState.STOPPED)
                raise
            for scheme, socks in bound.items():
                for slot, sock in zip(self._slots, socks, strict=True):
                    slot.sockets[scheme] = sock
        try:
            self.replace_workers()  # the first set of workers, or a new one with the new sockets
        except Exception as exc:
            with self._lock:
                for slot in self._slots:
                    for scheme in bound:
                        slot.sockets.pop(scheme, None)
                self._unbind(bound)
            for listener in wanted:
                listener._apply(ListenerState.ERROR, str(exc))
            raise
        for listener in wanted:
            listener._apply(ListenerState.RUNNING)
            log.info("%s listening on %s (%d workers)", listener.scheme.upper(), listener.url, self.workers)

    @staticmethod
    def _unbind(bound: dict[Scheme, list[socket.socket]]) -> None:
        for socks in bound.values():
            for sock in socks:
                sock.close()

    def stop_listeners(self, schemes: Iterable[Scheme], timeout: float = 1.0, grace: float = 0.0) -> None:
        """Every worker stops serving *schemes*; the ports are freed."""
        wanted = [lst for lst in self.listeners if lst.scheme in set(schemes)]
        for listener in wanted:
            if listener.state is ListenerState.ERROR:
                listener._apply(ListenerState.STOPPED)
        running = [lst for lst in wanted if lst.state is ListenerState.RUNNING]
        if not running:
            return
        for listener in running:
            listener._apply(ListenerState.STOPPING)

        def stop(servers: RemoteServers) -> None:
            for listener in running:
                try:
                    servers.call(
                        Op.STOP, listener.scheme, timeout, grace, True, wait=timeout + grace, spawn=False
                    )
                except ServerProcessError:
                    pass  # not running: nothing to stop

        _each(self._workers(), stop)
        with self._lock:
            for slot in self._slots:
                for listener in running:
                    sock = slot.sockets.pop(listener.scheme, None)
                    if sock is not None:
                        sock.close()
        for listener in running:
            listener._apply(ListenerState.STOPPED)

    # --- what Servers does --------------------------------------------------------------------------

    def start_all(self) -> list[Exception]:
        """Start both listeners (one set of workers); return the errors."""
        return self._start_together((Scheme.HTTPS, Scheme.HTTP), {})

    def start_on(self, ports: Mapping[Scheme, int]) -> list[Exception]:
        """Start the listeners of *ports* on those ports (one set of workers); the errors."""
        return self._start_together(tuple(ports), dict(ports))

    def _start_together(self, schemes: tuple[Scheme, ...], ports: dict[Scheme, int]) -> list[Exception]:
        errors: list[Exception] = []
        try:
            self.start_listeners(schemes, ports)
        except Exception as exc:
            errors.append(exc)
            # One listener may still start alone (the other's port is taken, say).
            for listener in (self.https, self.http):
                if listener.scheme in schemes and not listener.running:
                    try:
                        self.start_listeners((listener.scheme,), ports)
                    except Exception as again:
                        if not any(str(again) == str(e) for e in errors):
                            errors.append(again)
        return errors

    def stop_all(self, timeout: float = 1.0, grace: float = 0.0) -> None:
        self.stop_listeners((Scheme.HTTP, Scheme.HTTPS), timeout, grace)

    def restart(self, grace: float = 0.5) -> list[Exception]:
        """Every worker restarts its listeners (a new certificate, say); the errors, once each."""
        results = _each(self._workers(), lambda s: s.call(Op.RESTART, grace))
        return _unique([decode_error(e) for errors in results if isinstance(errors, list) for e in errors])

    def reload_tls(self) -> None:
        self.cert_store.ensure(hosts=self.cert_hosts())
        _each(self._workers(), lambda s: s.call(Op.RELOAD_TLS))

    def serve_target(
        self, target: AppTarget, *, fresh: bool = True, grace: float = 0.5
    ) -> tuple[Any, list[Exception]]:
        """Serve *target* in every worker: the first imports it (an ``AppLoadError`` changes
        nothing), then the others; (AppInfo, errors)."""
        workers = self._workers()
        if not workers:
            # Nothing started yet: the first start serves it.  It is imported now in a process of
            # its own, so an app that does not import is refused at once (``AppLoadError``,
            # nothing changes) and ``app`` names the app the workers will serve.
            probe = RemoteServers(cert_store=self.cert_store, start=False)
            try:
                info, _ = probe.serve_target(target, fresh=True, grace=0.0)
            finally:
                probe.close(1.0)
            self.app, self.target = info, target
            return info, []
        info, errors = workers[0].serve_target(target, fresh=fresh, grace=grace)
        results = _each(workers[1:], lambda s: s.serve_target(target, fresh=fresh, grace=grace))
        for result in results:
            if isinstance(result, Exception):
                errors.append(result)
            elif isinstance(result, tuple):
                errors.extend(result[1])
        self.app, self.target = info, target
        return info, _unique(errors)

    def make_reloader(
        self,
        target: AppTarget,
        *,
        on_reloaded: Callable[[Any, list[Exception]], None],
        on_error: Callable[[Exception], None],
        on_change: Callable[[frozenset[Path]], None],
        grace: float = 0.5,
    ) -> PoolReloader:
        return PoolReloader(
            self, target, on_reloaded=on_reloaded, on_error=on_error, on_change=on_change, grace=grace
        )

    def close(self, timeout: float = 1.0) -> None:
        """Stop every worker within about *timeout* s (killing one that has not), free the ports;
        idempotent."""
        deadline = time.monotonic() + timeout
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for slot in self._slots:
                if slot.revive is not None:
                    slot.revive.cancel()
        reloader = self._reloader
        if reloader is not None:
            reloader.stop(0.2)
        # A new set of workers being started (a reload) sees _closed and gives up; wait for it a
        # little, so its sockets are not closed under it (it closes what it started itself).
        waited = self._replace_lock.acquire(timeout=max(0.0, timeout * 0.4))
        try:
            _each(self._workers(), lambda s: s.close(max(0.1, deadline - time.monotonic() - 0.05)))
            with self._lock:
                for slot in self._slots:
                    for sock in slot.sockets.values():
                        sock.close()
                    slot.sockets.clear()
                if self._share is not None:
                    self._share.close()
        finally:
            if waited:
                self._replace_lock.release()
        for listener in self.listeners:
            if listener.state is not ListenerState.STOPPED:
                listener._apply(ListenerState.STOPPED)
        self._merger.close(max(0.05, deadline - time.monotonic()))


class PoolReloader(Reloader):
    """Reload on change for a pool: a new set of workers with the new code (see module docstring).

    ``launcher.reload.Reloader`` watches the files here, but the app is imported only in the new
    workers (``WorkerPool.replace_workers``: an app that fails to import there is reported
    through ``on_error`` and the old workers keep serving).  Callbacks run in the watcher's
    thread, as ``Reloader``'s do; ``on_reloaded(info, errors)`` follows each new set.
    """

    def __init__(
        self,
        pool: WorkerPool,
        target: AppTarget,
        *,
        on_reloaded: Callable[[Any, list[Exception]], None],
        on_error: Callable[[Exception], None],
        on_change: Callable[[frozenset[Path]], None],
        grace: float,
    ) -> None:
        super().__init__(target, self._new_workers, on_error=on_error, on_change=on_change)
        self._pool = pool
        self.on_reloaded = on_reloaded
        self.grace = grace

    def start(self, app: Any = None) -> None:
        super().start(None)  # the supervisor never imports the app: its roots come from the target
        self._pool._reloader = self

    def stop(self, timeout: float = 2.0) -> None:
        if self._pool._reloader is self:
            self._pool._reloader = None
        super().stop(timeout)

    def _loaded_ns(self) -> int | None:
        return self._pool.loaded_ns

    def _load(self) -> AppTarget:
        return self.target  # imported by the new workers, in ``_new_workers``

    def _new_workers(self, target: Any) -> list[Exception]:  # ``swap``: gets what ``_load`` gave
        info, errors = self._pool.replace_workers(target, grace=self.grace)
        self.on_reloaded(info, errors)
        return errors


def _attempt(run: Callable[[], object]) -> Exception | None:
    try:
        run()
    except Exception as exc:
        return exc
    return None


def _each(workers: Sequence[RemoteServers], run: Callable[[RemoteServers], Any]) -> list[Any]:
    """*run* on every worker at once; each one's result, or the exception it raised."""
    if not workers:
        return []

    def one(servers: RemoteServers) -> Any:
        try:
            return run(servers)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(workers), thread_name_prefix="launcher-pool") as ex:
        return list(ex.map(one, workers))


def _retire(olds: Sequence[RemoteServers], share: AcceptShare | None) -> None:
    """Old workers, stopped already, end their processes, then their table closes (here: the
    processes keep their own mappings); in the background."""

    def run() -> None:
        _each(olds, lambda servers: servers.close(1.0))
        if share is not None:
            share.close()

    if olds or share is not None:
        threading.Thread(target=run, name="launcher-pool-retire", daemon=True).start()


def _unique(errors: Iterable[Exception]) -> list[Exception]:
    """*errors* without repeats (every worker reports the same port or certificate error)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for error in errors:
        key = (type(error).__name__, str(error))
        if key not in seen:
            seen.add(key)
            out.append(error)
    return out
