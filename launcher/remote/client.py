"""``RemoteServers``: the window's handle on ``Servers`` that run in a child process.

It has the shape of ``launcher.servers.Servers`` as the window uses it (``http``/``https``
listeners with ``start``/``stop``/``state``/``port``/``url``/``add_state_callback``; ``host``,
``extra_hosts``, ``cert_hosts()``, ``policy``, ``sink``, ``cert_store``; ``start_all``,
``stop_all``, ``restart``, ``reload_tls``, ``serve_target``, ``make_reloader``, ``close``), so
the panels drive either one.  Why: in one process the servers' threads and the event loop share
the GIL, and under load the window stalled for 100–400 ms; in a child process it stays under
the 50 ms target (``bench/gui_responsiveness.py``).

How it works (messages and channel in ``launcher.remote.wire``):

- The child is started at once, in a background thread, with its end of a ``socket.socketpair()``
  (inherited: ``_server-process --fd N``), so no other process can reach the channel.  It must
  say ``Hello`` with this side's ``PROTOCOL`` and then ``Ready`` within ``START_TIMEOUT``, or it
  is killed and the calls waiting for it raise ``ServerProcessError`` saying why.
- Calls name an ``Op`` and block the calling thread until the child answers (the window makes
  them from its worker threads, as with in-process servers), at most their own time plus
  ``CALL_SLACK``; errors arrive as the same typed exceptions.
- Setting ``host``, ports, ``extra_hosts`` or a ``policy`` field only sends a message (fine on
  the GUI thread); the child applies these in order, before any later call.  ``policy.sync()``
  waits until it has (the inspector's proxy lens needs that before its requests).
- Request records arrive in batches (every 50 ms) and go into this process's ``sink``; listener
  state changes and reload events call the callbacks from the receiving thread
  (``launcher-remote-rx``), as in-process listeners call them from their threads.
- If the child dies (a crash in the user's app, say), both listeners turn to ERROR with a message,
  pending calls raise ``ServerProcessError``, and the next call starts a new child (which serves
  the last target again before any operation with ``Op.restore_first``).  ``close(timeout)``
  asks the child to stop both listeners within *timeout* and kills it if it has not ended by
  then (a hung or still-starting child), so it never blocks much longer; if this process dies
  instead, the child sees its channel close and stops on its own.

Limits: records are sent after the response, so the log is about 50 ms behind the server;
``app`` is an ``AppInfo`` (the app object lives in the child).
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from launcher.acceptshare import AcceptShare
from launcher.apptarget import AppTarget
from launcher.certs import CertStore
from launcher.errors import AppLoadError, ConfigError, ServerProcessError
from launcher.options import DEFAULTS, MIB, WILDCARD_HOSTS
from launcher.policy import ForwardingPolicy, Policy
from launcher.remote.wire import (
    CHILD_COMMAND,
    FD_OPTION,
    PROTOCOL,
    SHARE_OPTION,
    AccessLines,
    AppInfo,
    Call,
    Channel,
    Hello,
    Init,
    MessageError,
    Op,
    Ready,
    RecordBatch,
    ReloadEvent,
    Reply,
    Shutdown,
    StateChanged,
    decode_error,
)
from launcher.requestlog import RequestSink
from launcher.scheme import Scheme
from launcher.servers import (
    DEFAULT_LIMITS,
    Limits,
    ListenerState,
    ListenerView,
    cert_hosts_for,
    check_port,
    start_each,
)

if TYPE_CHECKING:
    from launcher.lan import LanScan

log = logging.getLogger("launcher.remote")

#: Seconds the child may take to say ``Hello`` and ``Ready`` (it imports Flask and the demo app).
START_TIMEOUT = 30.0
#: Seconds a killed child may take to be reaped.
REAP_TIMEOUT = 1.0
#: Extra seconds a call may take beyond what it asks for itself (a slow import, a busy machine).
CALL_SLACK = 30.0
#: Seconds a call that names no time of its own may take (starting a listener, importing an app).
DEFAULT_WAIT = 120.0


def valid_port(port: int) -> bool:
    try:
        check_port(port)
    except ConfigError:
        return False
    return True


M = TypeVar("M")


def child_command() -> list[str]:
    """How to start the server process: this interpreter, or the bundle's own executable."""
    if getattr(sys, "frozen", False):
        return [sys.executable, CHILD_COMMAND]
    return [sys.executable, "-m", "launcher", CHILD_COMMAND]


class RemotePolicy(ForwardingPolicy):
    """A ``Policy`` whose field changes are also sent to the server process."""

    def __init__(self, owner: RemoteServers, base: Policy | None = None) -> None:
        object.__setattr__(self, "_owner", owner)
        super().__init__(base)

    def _forward(self, changes: dict[str, Any]) -> None:
        self.__dict__["_owner"]._notify(Op.POLICY, **changes)

    def sync(self) -> None:
        """Return once the server process applies every change made so far."""
        self.__dict__["_owner"].call(Op.SYNC)


class RemoteListener(ListenerView):
    """One listener of the child's ``Servers``, as the window sees it."""

    def __init__(self, owner: RemoteServers, scheme: Scheme, host: str, port: int) -> None:
        super().__init__(scheme, host, port)
        self._owner = owner

    def _set_port(self, value: int) -> None:
        self.configured_port = value
        self._owner._notify(Op.CONFIGURE, **{f"{self.scheme}_port": value})

    def _apply(self, state: ListenerState, error: str | None, port: int | None) -> None:
        self._bound_port = port if state in (ListenerState.RUNNING, ListenerState.STOPPING) else None
        self._notify(state, error)

    def start(self, port: int | None = None) -> None:
        """Start in the child; raises what ``Listener.start`` raises (``PortInUseError``...).

        A port out of range is refused here, as ``Listener.start`` refuses it: it never reaches
        the child (whose options hold only valid values).
        """
        try:
            check_port(self.configured_port if port is None else port)
        except ConfigError as exc:
            self._apply(ListenerState.ERROR, str(exc), None)
            raise
        self._owner.call(Op.START, self.scheme, port)

    def stop(self, timeout: float = 1.0, grace: float = 0.0) -> None:
        try:
            if self._owner.alive:
                self._owner.call(Op.STOP, self.scheme, timeout, grace, wait=timeout + grace, spawn=False)
                return
        except ServerProcessError:
            pass
        self._mark_stopped()  # nothing serves: a listener left in ERROR by a crash is stopped

    def _mark_stopped(self) -> None:
        if self._state is not ListenerState.STOPPED:
            self._apply(ListenerState.STOPPED, None, None)


class RemoteReloader:
    """Reload on change, run by the child (it re-imports the app there); see ``launcher.reload``."""

    def __init__(
        self,
        owner: RemoteServers,
        target: AppTarget,
        *,
        on_reloaded: Callable[[AppInfo, list[Exception]], None],
        on_error: Callable[[Exception], None],
        on_change: Callable[[frozenset[Path]], None],
        grace: float,
    ) -> None:
        self._owner = owner
        self.target = target
        self.on_reloaded = on_reloaded
        self.on_error = on_error
        self.on_change = on_change
        self.grace = grace
        self.watched_roots: tuple[Path, ...] = ()
        self.running = False
        self.reloads = 0  # successful swaps, as ``Reloader`` counts them
        self.failures = 0

    def start(self, _app: Any = None) -> None:
        roots = self._owner.call(Op.WATCH, self.target, self.grace)
        self.watched_roots = tuple(Path(r) for r in roots)
        self.running = True
        self._owner._reloader = self

    def stop(self, timeout: float = 2.0) -> None:
        if self._owner._reloader is self:
            self._owner._reloader = None
        if self.running:
            self.running = False
            try:
                self._owner.call(Op.UNWATCH, wait=timeout, spawn=False)
            except ServerProcessError:
                pass

    def reload_now(self) -> AppInfo | None:
        info: AppInfo | None = self._owner.call(Op.RELOAD_NOW)
        return info

    def _event(self, event: ReloadEvent) -> None:
        kind, payload = event.kind, event.payload
        if kind == "reloaded":
            info, errors = payload
            self.reloads += 1
            self._owner.app = info
            self.on_reloaded(info, [decode_error(e) for e in errors])
        elif kind == "failed":
            self.failures += 1
            self.on_error(decode_error(payload))
        elif kind == "changed":
            self.on_change(frozenset(Path(p) for p in payload))


class _Session:
    """One child process: its channel, the calls waiting for it, whether it is up."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.conn: Channel | None = None  # set once the child said Ready; None again once it ended
        self.ready = threading.Event()  # set once the child said Ready, or it failed/ended
        self.error: BaseException | None = None  # why it could not start
        self.pending: dict[int, Future[Any]] = {}
        self.receiver: threading.Thread | None = None
        self.spawner: threading.Thread | None = None
        self.restore_owed = False  # a respawn: the user's app (and watcher) must be served again

    @property
    def alive(self) -> bool:
        proc = self.proc
        return proc is not None and proc.poll() is None and self.conn is not None

    def kill(self) -> None:
        """Kill the child (if it runs) and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            _exit_code(self.proc)


@dataclass(frozen=True)
class WorkerSpec:
    """What makes a ``RemoteServers`` one worker of a pool (``launcher.workers.WorkerPool``).

    ``sockets``: a listening socket per scheme, bound by the pool (the pool's own dict for this
    worker's place, which it changes as listeners start and stop); each new child inherits those
    it holds then and serves them (it binds nothing).  ``number``: 1…N, stamped on its records.
    ``probe_token``: the inspector token every worker shares.  ``deliver(records, events)`` takes its batches
    (instead of ``sink``); ``on_lost(exit_code)`` is called when its process ended unexpectedly.
    With ``deliver_lines``, the worker sends access lines instead of records
    (``Init.access_lines``) and ``deliver_lines(lines, events)`` takes them.  ``share``: its
    set's ``AcceptShare`` (each child inherits it and takes its place ``number - 1``).
    """

    sockets: dict[Scheme, socket.socket]
    number: int
    workers: int
    probe_token: str
    deliver: Callable[[list[Any], list[Any]], None]
    on_lost: Callable[[int | None], None]
    deliver_lines: Callable[[list[tuple[float, str]], list[Any]], None] | None = None
    share: AcceptShare | None = None

    def descriptors(self) -> tuple[int, ...]:
        """What a new child of this worker inherits: its listening sockets and the share."""
        if self.share is not None and self.share.closed:
            raise ServerProcessError("This worker's set was replaced: it starts no new process.")
        share = () if self.share is None else (self.share.fileno(),)
        return (*(sock.fileno() for sock in self.sockets.values()), *share)


class RemoteServers:
    """``Servers`` in a child process; see the module docstring."""

    def __init__(
        self,
        *,
        cert_store: CertStore,
        sink: RequestSink | None = None,
        policy: Policy | None = None,
        host: str = DEFAULTS.host,
        http_port: int = DEFAULTS.http_port,
        https_port: int = DEFAULTS.https_port,
        threads: int = DEFAULTS.threads,
        limits: Limits = DEFAULT_LIMITS,
        hosts: Iterable[str] | None = None,
        start: bool = True,
        body_limit: int = DEFAULTS.body_limit,
        worker: WorkerSpec | None = None,
    ) -> None:
        #: Set when this is one worker of a pool (``launcher.workers``): its sockets, number,
        #: token, and where its records and its death go.
        self.worker = worker
        self.cert_store = cert_store
        self.body_limit = body_limit  # sent at the (next) start of the server process
        self.sink = sink if sink is not None else RequestSink()
        self._threads = threads
        #: What each listener allows a client; sent at the (next) start of the server process.
        self.limits = limits
        self._extra_hosts = tuple(hosts or ())
        #: LAN sharing and ``--name`` as last set (``share``): the child scans and serves the
        #: set-up page itself; the scan here is what the window shows.
        self._sharing: tuple[bool, bool, str | None] = (False, False, None)
        self.lan_scan: LanScan | None = None
        self.lan_hosts: tuple[str, ...] = ()
        self.app: Any = AppInfo("flaskapp")
        #: The server process's inspector token (``launcher.appview``); a new one with each process.
        self.probe_token: str | None = None
        self.target: AppTarget = AppTarget()  # what the child serves (served again after a crash)
        self.startup_error: Exception | None = None
        #: Called (from the thread that started the process) with the error when the bundled demo
        #: app cannot be loaded in a new server process; it then answers 503 until another app
        #: is served.
        self.on_startup_error: Callable[[Exception], None] | None = None
        self.http = RemoteListener(self, Scheme.HTTP, host, http_port)
        self.https = RemoteListener(self, Scheme.HTTPS, host, https_port)
        self.policy = RemotePolicy(self, policy)
        self._reloader: RemoteReloader | None = None
        self._lock = threading.Lock()  # which session is current; closing
        self._send_lock = threading.Lock()  # one message at a time on the current connection
        self._session: _Session | None = None
        self._restore_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._closed = False
        if start:
            with self._lock:
                self._begin_spawn()

    # --- facts --------------------------------------------------------------------------------------

    @property
    def listeners(self) -> tuple[RemoteListener, RemoteListener]:
        return (self.http, self.https)

    @property
    def host(self) -> str:
        return self.http.host

    @host.setter
    def host(self, value: str) -> None:
        for listener in self.listeners:
            listener._host = value
        self._notify(Op.CONFIGURE, host=value)

    @property
    def extra_hosts(self) -> tuple[str, ...]:
        return self._extra_hosts

    @extra_hosts.setter
    def extra_hosts(self, value: Iterable[str]) -> None:
        self._extra_hosts = tuple(value)
        self._notify(Op.CONFIGURE, extra_hosts=self._extra_hosts)

    @property
    def threads(self) -> int:
        """Worker threads per listener (a change applies at the next start)."""
        return self._threads

    @threads.setter
    def threads(self, value: int) -> None:
        self._threads = value
        self._notify(Op.CONFIGURE, threads=value)

    @property
    def name(self) -> str | None:
        """``<name>.localhost`` is served too (see ``share``)."""
        return self._sharing[2]

    def share(self, lan: bool, lan_bridges: bool = False, name: str | None = None) -> None:
        """``Servers.share`` in the server process (next start); the same scan is made here, for
        the window to show (set ``host`` first)."""
        from launcher.onboarding import lan_hosts

        self._sharing = (lan, lan_bridges, name)
        if lan:
            scan, hosts = lan_hosts(include_bridges=lan_bridges, ipv6=self.host == "::")
            self.lan_scan, self.lan_hosts = scan, tuple(hosts)
        else:
            self.lan_scan, self.lan_hosts = None, ()
        self._notify(Op.CONFIGURE, lan=lan, lan_bridges=lan_bridges, name=name)

    def cert_hosts(self) -> tuple[str, ...]:
        named = (f"{self.name}.localhost",) if self.name else ()
        return cert_hosts_for(self.host, (*self._extra_hosts, *self.lan_hosts, *named))

    @property
    def alive(self) -> bool:
        session = self._session
        return session is not None and session.alive

    @property
    def pid(self) -> int | None:
        session = self._session
        return session.proc.pid if session is not None and session.proc is not None else None

    # --- the child's lifecycle ----------------------------------------------------------------------

    def _begin_spawn(self) -> _Session:
        """A new session, its child started in a background thread (call with ``_lock`` held)."""
        session = _Session()
        session.restore_owed = self._session is not None  # not the first child: a respawn
        self._session = session
        session.spawner = threading.Thread(
            target=self._spawn, args=(session,), name="launcher-remote-spawn", daemon=True
        )
        session.spawner.start()
        return session

    def _spawn(self, session: _Session) -> None:
        try:
            self._connect(session)
        except BaseException as exc:  # reported to whoever waits for this child
            session.error = exc
            session.kill()
            session.ready.set()

    def _current(self, session: _Session) -> bool:
        return not self._closed and self._session is session

    def _connect(self, session: _Session) -> None:
        """Start the child on a private socket pair; return once it said ``Hello`` and ``Ready``."""
        deadline = time.monotonic() + START_TIMEOUT
        ours, theirs = socket.socketpair()
        channel = Channel(ours)
        try:
            with self._lock:
                if not self._current(session):
                    raise ServerProcessError("The servers were closed.")
                worker = self.worker
                session.proc = _start_child(theirs, worker.descriptors() if worker else ())
            theirs.close()  # the child holds its end now: its exit is our end-of-file
            hello = self._expect(session, channel, Hello, deadline)
            if hello.protocol != PROTOCOL:
                raise ServerProcessError(
                    f"The server process speaks protocol version {hello.protocol}, this window "
                    f"version {PROTOCOL}: they come from different installations.  Reinstall, "
                    "then start the window again."
                )
            channel.send(self._init_config())
            ready = self._expect(session, channel, Ready, deadline)
            with self._send_lock:
                if not self._current(session):
                    raise ServerProcessError("The servers were closed.")
                session.conn = channel
        except BaseException:
            theirs.close()
            channel.close()
            raise
        self.app = ready.app
        self.probe_token = ready.probe_token or None
        receiver = threading.Thread(
            target=self._receive, args=(session,), name="launcher-remote-rx", daemon=True
        )
        session.receiver = receiver
        receiver.start()
        session.ready.set()
        if ready.startup_error is not None:
            self.startup_error = decode_error(ready.startup_error)
            if self.on_startup_error is not None:
                try:
                    self.on_startup_error(self.startup_error)
                except Exception:
                    log.exception("Reporting the demo app's error failed")

    def _expect(self, session: _Session, channel: Channel, kind: type[M], deadline: float) -> M:
        """The child's next message, which must be a *kind*, by *deadline*; else ``ServerProcessError``.

        Watches the child meanwhile: its exit, or a ``close()``, ends the wait at once.
        """
        proc = session.proc
        assert proc is not None
        what = kind.__name__
        while not channel.poll(0.05):
            if proc.poll() is not None:
                raise ServerProcessError(
                    f"The server process exited at start (exit code {proc.returncode}): "
                    "see the terminal for why."
                )
            if not self._current(session):
                raise ServerProcessError("The servers were closed.")
            if time.monotonic() > deadline:
                raise ServerProcessError(
                    f"The server process did not start within {START_TIMEOUT:g} s (no {what} from it)."
                )
        try:
            message = channel.recv(timeout=max(0.1, deadline - time.monotonic()))
        except (EOFError, OSError):
            code = _exit_code(proc)
            raise ServerProcessError(
                f"The server process exited at start (exit code {code}): see the terminal for why."
            ) from None
        except (TimeoutError, MessageError) as exc:
            raise ServerProcessError(f"The server process sent no readable {what}: {exc}.") from None
        if not isinstance(message, kind):
            raise ServerProcessError(
                f"The server process sent {type(message).__name__} where {what} was due."
            )
        return message

    def _init_config(self) -> Init:
        """What a new server process builds: the options as they are now (a respawn keeps them)."""
        config = DEFAULTS.replace(
            host=self.host,
            # A port out of range stays here (``RemoteListener.start`` refuses it).
            http_port=self.http.configured_port if valid_port(self.http.configured_port) else 0,
            https_port=self.https.configured_port if valid_port(self.https.configured_port) else 0,
            threads=self._threads,
            header_timeout=self.limits.header_timeout,
            client_connections=self.limits.client_connections,
            body_limit=self.body_limit,
            log_body_budget=max(1, -(-self.sink.body_budget // MIB)),
            cert_dir=Path(self.cert_store.directory),
            # ``--lan`` goes only with a loopback or wildcard host (``ServeConfig.validate``).
            lan=self._sharing[0] and self.host in (*WILDCARD_HOSTS, "127.0.0.1"),
            lan_bridges=self._sharing[1],
            name=self._sharing[2],
            **self.policy.values(),
        )
        # The user's app imports as it would here (``flask launch`` and tests may add folders).
        sys_path = tuple(p for p in sys.path if isinstance(p, str))
        worker = self.worker
        if worker is None:
            return Init(config, extra_hosts=self._extra_hosts, sys_path=sys_path)
        return Init(
            config,
            extra_hosts=self._extra_hosts,
            sys_path=sys_path,
            listen_fds=tuple((scheme, sock.fileno()) for scheme, sock in worker.sockets.items()),
            worker=worker.number,
            workers=worker.workers,
            probe_token=worker.probe_token,
            access_lines=worker.deliver_lines is not None,
            share_fd=worker.share.fileno() if worker.share is not None else -1,
        )

    def _wait_ready(self, spawn: bool = True) -> _Session:
        """The current session once its child is ready; a new child first if it is gone (*spawn*)."""
        with self._lock:
            if self._closed:
                raise ServerProcessError("The servers were closed.")
            session = self._session
            if session is None or (spawn and session.ready.is_set() and not session.alive):
                if not spawn:
                    raise ServerProcessError("The server process is not running.")
                session = self._begin_spawn()  # the child died (or never started): a new one
        if not session.ready.wait(START_TIMEOUT + 5):
            session.kill()
            raise ServerProcessError("The server process did not start in time.")
        if session.error is not None:
            error = session.error
            if isinstance(error, ServerProcessError):
                raise error
            raise ServerProcessError(f"The server process could not be started: {error}") from error
        if session.conn is None:
            raise ServerProcessError("The server process is not running.")
        return session

    def _restore(self, session: _Session) -> None:
        """After a respawn: serve the user's app again, and watch it again if that was on."""
        target = self.target
        if target.target is not None or target.chdir is not None:
            try:
                self._call(session, Op.SERVE_TARGET, (target, True, 0.0), {}, None)
            except AppLoadError as exc:  # still owed: the next call tries again
                raise AppLoadError(
                    f"The server process was restarted after it stopped unexpectedly, and the app "
                    f"no longer loads: {exc} Fix it, then press Apply.",
                    exc.details,
                ) from None
            reloader = self._reloader
            if reloader is not None and reloader.running:
                self._call(session, Op.WATCH, (reloader.target, reloader.grace), {}, None)
        session.restore_owed = False

    def _receive(self, session: _Session) -> None:
        """The ``launcher-remote-rx`` thread of *session*: replies, states, records, reload events."""
        conn = session.conn
        assert conn is not None
        add, add_event = self.sink.add, self.sink.add_event
        deliver = self.worker.deliver if self.worker is not None else None
        deliver_lines = self.worker.deliver_lines if self.worker is not None else None
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            except MessageError as exc:  # a message this side cannot unpickle: skip it, keep the child
                log.error("A message from the server process could not be read: %s", exc)
                continue
            try:
                if isinstance(message, AccessLines):
                    if deliver_lines is not None:
                        deliver_lines(message.lines, message.events)
                elif isinstance(message, RecordBatch):
                    if deliver is not None:
                        deliver(message.records, message.events)
                        continue
                    for record in message.records:
                        add(record)
                    for event in message.events:
                        add_event(event)
                elif isinstance(message, Reply):
                    future = session.pending.pop(message.call_id, None)
                    if future is not None:
                        if message.ok:
                            future.set_result(message.value)
                        else:
                            future.set_exception(decode_error(message.value))
                elif isinstance(message, StateChanged):
                    if self._session is session:
                        listener = self.https if message.scheme == Scheme.HTTPS else self.http
                        listener._apply(ListenerState(message.state), message.error, message.port)
                elif isinstance(message, ReloadEvent):
                    reloader = self._reloader
                    if reloader is not None and self._session is session:
                        reloader._event(message)
                else:
                    log.error("Unknown message from the server process: %s", type(message).__name__)
            except Exception:  # a callback failed: log it, keep reading
                log.exception("Handling a message from the server process failed")
        self._lost(session)

    def _lost(self, session: _Session) -> None:
        conn, proc = session.conn, session.proc
        with self._send_lock:
            session.conn = None
        assert proc is not None
        code: int | None
        try:
            code = proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = _exit_code(proc)
        if conn is not None:
            conn.close()
        expected = self._closed
        reason = (
            "The servers were closed."
            if expected
            else f"The server process exited unexpectedly (exit code {code}). Press Start to start it again."
        )
        for call_id in list(session.pending):
            future = session.pending.pop(call_id, None)
            if future is not None and not future.done():
                future.set_exception(ServerProcessError(reason))
        if self._session is session or expected:
            for listener in self.listeners:
                if listener.state is not ListenerState.STOPPED:
                    if expected:
                        listener._apply(ListenerState.STOPPED, None, None)
                    else:
                        listener._apply(ListenerState.ERROR, reason, None)
            if not expected and self.worker is None:
                log.warning("%s", reason)
        session.ready.set()  # anyone still waiting finds it gone (and starts a new one)
        if not expected and self.worker is not None and self._session is session:
            try:
                self.worker.on_lost(code)
            except Exception:
                log.exception("Reporting a lost worker failed")

    # --- calls --------------------------------------------------------------------------------------

    def _notify(self, op: Op, **kwargs: Any) -> None:
        """Send a quick change (an inline *op*) without waiting; dropped while no child runs (its
        ``Init`` carries the current values)."""
        with self._send_lock:
            session = self._session
            conn = session.conn if session is not None else None
            if conn is None:
                return
            try:
                conn.send(Call(0, op, (), kwargs))
            except (OSError, ValueError):
                pass

    def call(self, op: Op, *args: Any, wait: float | None = None, spawn: bool = True, **kwargs: Any) -> Any:
        """Run *op* in the child and return its result (or raise its error).

        *wait*: seconds the call itself may take (plus ``CALL_SLACK``); None: ``DEFAULT_WAIT``.
        *spawn*: start a new child if it is gone (False for stops: nothing runs then anyway).
        """
        session = self._wait_ready(spawn=spawn)
        if session.restore_owed and op.restore_first:
            with self._restore_lock:  # once, even when both listeners start at the same time
                if session.restore_owed:
                    self._restore(session)
        result = self._call(session, op, args, kwargs, wait)
        if op is Op.SERVE_TARGET:  # the user's app is served again: nothing left to restore
            session.restore_owed = False
        return result

    def diagnostics(self) -> dict[str, Any]:
        """What the child reports about itself (protocol, pid, listener and thread names)."""
        return dict(self.call(Op.DIAGNOSTICS, wait=5.0))

    def _call(
        self, session: _Session, op: Op, args: Sequence[Any], kwargs: dict[str, Any], wait: float | None
    ) -> Any:
        call_id = next(self._ids)
        future: Future[Any] = Future()
        session.pending[call_id] = future
        try:
            with self._send_lock:
                conn = session.conn
                if conn is None:
                    raise OSError("the channel is closed")
                conn.send(Call(call_id, op, tuple(args), kwargs))
        except (OSError, ValueError) as exc:
            session.pending.pop(call_id, None)
            raise ServerProcessError(f"The server process is not reachable: {exc}.") from None
        if session.conn is None and not future.done():  # lost while sending: _lost may have run
            session.pending.pop(call_id, None)
            raise ServerProcessError("The server process is not running.")
        try:
            return future.result((DEFAULT_WAIT if wait is None else wait) + CALL_SLACK)
        except FutureTimeout:
            session.pending.pop(call_id, None)
            raise ServerProcessError(f"The server process did not answer ({op.value.name}).") from None

    # --- what Servers does --------------------------------------------------------------------------

    def start_all(self) -> list[Exception]:
        """Start both listeners (HTTPS first, as ``Servers.start_all``); return the errors."""
        if all(valid_port(lst.configured_port) for lst in self.listeners):
            return [decode_error(e) for e in self.call(Op.START_ALL)]
        return start_each((self.https, self.http))

    def start_on(self, ports: Mapping[Scheme, int]) -> list[Exception]:
        """Start the listeners of *ports* on those ports (HTTPS first); return the errors."""
        return start_each((self.https, self.http), ports)

    def stop_all(self, timeout: float = 1.0, grace: float = 0.0) -> None:
        try:
            if self.alive:
                self.call(Op.STOP_ALL, timeout, grace, wait=timeout + grace, spawn=False)
                return
        except ServerProcessError:
            pass
        for listener in self.listeners:  # nothing serves: listeners left in ERROR by a crash
            listener._mark_stopped()

    def restart(self, grace: float = 0.5) -> list[Exception]:
        return [decode_error(e) for e in self.call(Op.RESTART, grace)]

    def reload_tls(self) -> None:
        self.call(Op.RELOAD_TLS)

    def serve_target(
        self, target: AppTarget, *, fresh: bool = True, grace: float = 0.5
    ) -> tuple[Any, list[Exception]]:
        """Load *target* in the child and serve it (running listeners restart); (AppInfo, errors).

        Raises ``AppLoadError`` when it does not load: nothing changes then.
        """
        info, errors = self.call(Op.SERVE_TARGET, target, fresh, grace)
        self.app, self.target = info, target
        return info, [decode_error(e) for e in errors]

    def make_reloader(
        self,
        target: AppTarget,
        *,
        on_reloaded: Callable[[Any, list[Exception]], None],
        on_error: Callable[[Exception], None],
        on_change: Callable[[frozenset[Path]], None],
        grace: float = 0.5,
    ) -> RemoteReloader:
        return RemoteReloader(
            self, target, on_reloaded=on_reloaded, on_error=on_error, on_change=on_change, grace=grace
        )

    def close(self, timeout: float = 1.0) -> None:
        """Stop both listeners and end the child, returning within about *timeout* s; idempotent.

        The child is asked to stop everything within *timeout*; one that has not ended by then
        (hung, or stopped by a debugger) is killed, and so is one still starting.  Killing frees
        its ports too (the kernel closes its sockets).
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            if self._closed:
                return
            self._closed = True
            session = self._session
        if session is None:
            return
        conn = session.conn
        if conn is None or not session.ready.is_set():
            session.kill()  # still starting (the spawner sees _closed and gives up) or already gone
        else:
            call_id = next(self._ids)
            future: Future[Any] = Future()
            session.pending[call_id] = future
            # Leave the child a moment of the budget to exit after its reply.
            if conn.try_send(Shutdown(call_id, max(0.1, timeout - 0.25))):
                try:
                    future.result(max(0.0, deadline - time.monotonic()))
                except (FutureTimeout, ServerProcessError):
                    pass
        proc = session.proc
        if proc is not None:
            try:
                proc.wait(timeout=max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("The server process did not stop within %.1f s: killing it", timeout)
                proc.kill()
                _exit_code(proc)
        for thread in (session.spawner, session.receiver):
            if thread is not None and thread is not threading.current_thread():
                thread.join(0.5)


def _start_child(sock: socket.socket, inherit: Sequence[int] = ()) -> subprocess.Popen[bytes]:
    """Start the server process with *sock* as its end of the channel (see ``child_command``).

    POSIX: the descriptor is inherited (``pass_fds``), named by ``--fd N``.  Windows cannot pass a
    socket that way: the child gets ``socket.share`` data for it on its stdin instead.
    """
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    if os.name == "posix":
        fd = sock.fileno()
        fds = (fd, *inherit)
        return subprocess.Popen(
            [*child_command(), FD_OPTION, str(fd)], env=env, stdin=subprocess.DEVNULL, pass_fds=fds
        )
    proc = subprocess.Popen([*child_command(), SHARE_OPTION], env=env, stdin=subprocess.PIPE)
    try:
        assert proc.stdin is not None
        data = sock.share(proc.pid)  # type: ignore[attr-defined,unused-ignore]
        proc.stdin.write(struct.pack("!I", len(data)) + data)
        proc.stdin.close()
    except BaseException:
        proc.kill()
        raise
    return proc


def _exit_code(proc: subprocess.Popen[bytes]) -> int | None:
    """*proc*'s exit code once it ended (waiting up to ``REAP_TIMEOUT``); None if it has not."""
    try:
        return proc.wait(timeout=REAP_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None
