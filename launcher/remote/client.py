"""``RemoteServers``: the window's handle on ``Servers`` that run in a child process.

It has the shape of ``launcher.servers.Servers`` as the window uses it (``http``/``https``
listeners with ``start``/``stop``/``state``/``port``/``url``/``add_state_callback``; ``host``,
``extra_hosts``, ``cert_hosts()``, ``policy``, ``sink``, ``cert_store``; ``start_all``,
``stop_all``, ``restart``, ``reload_tls``, ``serve_target``, ``make_reloader``, ``close``), so
the panels drive either one.  Why: in one process the servers' threads and the event loop share
the GIL, and under load the window stalled for 100–400 ms; in a child process it stays under
the 50 ms target (``bench/gui_responsiveness.py``).

How it works (messages in ``launcher.remote.wire``):

- The child is started at once, in a background thread, and connects back over 127.0.0.1 with a
  random key.  Calls made before it is ready wait for it (``START_TIMEOUT``).
- Calls block the calling thread until the child answers (the window makes them from its worker
  threads, as with in-process servers); errors arrive as the same typed exceptions.
- Setting ``host``, ports, ``extra_hosts`` or a ``policy`` field only sends a message (fine on
  the GUI thread); the child applies these in order, before any later call.  ``policy.sync()``
  waits until it has (the inspector's proxy lens needs that before its requests).
- Request records arrive in batches (every 50 ms) and go into this process's ``sink``; listener
  state changes and reload events call the callbacks from the receiving thread
  (``launcher-remote-rx``), as in-process listeners call them from their threads.
- If the child dies (a crash in the user's app, say), both listeners turn to ERROR with a message,
  pending calls raise ``ServerProcessError``, and the next call starts a new child (which serves
  the last target again).  ``close()`` stops both listeners and ends the child; if this process
  dies instead, the child sees its connection close and stops on its own.

Limits: records are sent after the response, so the log is about 50 ms behind the server;
``app`` is an ``AppInfo`` (the app object lives in the child).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import fields
from multiprocessing.connection import Connection, answer_challenge, deliver_challenge
from pathlib import Path
from typing import Any

from launcher.apptarget import AppTarget
from launcher.certs import CertStore
from launcher.errors import ServerProcessError
from launcher.policy import Policy
from launcher.remote.wire import AUTHKEY_ENV, CHILD_COMMAND, AppInfo, decode_error
from launcher.requestlog import RequestSink
from launcher.servers import (
    DEFAULT_HOST,
    DEFAULT_HTTP_PORT,
    DEFAULT_HTTPS_PORT,
    DEFAULT_THREADS,
    ListenerState,
    cert_hosts_for,
    url_host,
)

log = logging.getLogger("launcher.remote")

#: Seconds to wait for the child to start and connect.
START_TIMEOUT = 30.0
#: Extra seconds a call may take beyond what it asks for itself (a slow import, a busy machine).
CALL_SLACK = 30.0
POLICY_FIELDS = tuple(f.name for f in fields(Policy))

StateCallback = Callable[["RemoteListener", ListenerState], None]


def child_command() -> list[str]:
    """How to start the server process: this interpreter, or the bundle's own executable."""
    if getattr(sys, "frozen", False):
        return [sys.executable, CHILD_COMMAND]
    return [sys.executable, "-m", "launcher", CHILD_COMMAND]


class RemotePolicy(Policy):
    """A ``Policy`` whose field changes are also sent to the server process."""

    def __init__(self, owner: RemoteServers, base: Policy | None = None) -> None:
        object.__setattr__(self, "_owner", None)
        base = base or Policy()
        super().__init__(**{name: getattr(base, name) for name in POLICY_FIELDS})
        object.__setattr__(self, "_owner", owner)

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        owner = self.__dict__.get("_owner")
        if owner is not None and name in POLICY_FIELDS:
            owner._notify("policy", **{name: value})

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in POLICY_FIELDS}

    def sync(self) -> None:
        """Return once the server process applies every change made so far."""
        self.__dict__["_owner"].call("sync")


class RemoteListener:
    """One listener of the child's ``Servers``, as the window sees it."""

    def __init__(self, owner: RemoteServers, scheme: str, host: str, port: int) -> None:
        self._owner = owner
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

    @property
    def port(self) -> int:
        return self._bound_port if self._bound_port is not None else self.configured_port

    @port.setter
    def port(self, value: int) -> None:
        self.configured_port = value
        self._owner._notify("configure", **{f"{self.scheme}_port": value})

    @property
    def url(self) -> str:
        return f"{self.scheme}://{url_host(self.host)}:{self.port}/"

    def add_state_callback(self, callback: StateCallback) -> None:
        self._callbacks.append(callback)

    def _apply(self, state: ListenerState, error: str | None, port: int | None) -> None:
        self._state = state
        self.error = error
        self._bound_port = port if state in (ListenerState.RUNNING, ListenerState.STOPPING) else None
        for callback in list(self._callbacks):
            try:
                callback(self, state)
            except Exception:
                log.exception("State callback failed")

    def start(self, port: int | None = None) -> None:
        """Start in the child; raises what ``Listener.start`` raises (``PortInUseError``...)."""
        self._owner.call("start", self.scheme, port)

    def stop(self, timeout: float = 1.0, grace: float = 0.0) -> None:
        if self._owner.alive or self._state is not ListenerState.STOPPED:
            try:
                self._owner.call("stop", self.scheme, timeout, grace, wait=timeout + grace, spawn=False)
            except ServerProcessError:
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
        roots = self._owner.call("watch", self.target, self.grace)
        self.watched_roots = tuple(Path(r) for r in roots)
        self.running = True
        self._owner._reloader = self

    def stop(self, timeout: float = 2.0) -> None:
        if self._owner._reloader is self:
            self._owner._reloader = None
        if self.running:
            self.running = False
            try:
                self._owner.call("unwatch", wait=timeout, spawn=False)
            except ServerProcessError:
                pass

    def reload_now(self) -> AppInfo | None:
        return self._owner.call("reload_now")

    def _event(self, event: str, payload: Any) -> None:
        if event == "reloaded":
            info, errors = payload
            self.reloads += 1
            self._owner.app = info
            self.on_reloaded(info, [decode_error(e) for e in errors])
        elif event == "failed":
            self.failures += 1
            self.on_error(decode_error(payload))
        elif event == "changed":
            self.on_change(frozenset(Path(p) for p in payload))


class RemoteServers:
    """``Servers`` in a child process; see the module docstring."""

    def __init__(
        self,
        *,
        cert_store: CertStore,
        sink: RequestSink | None = None,
        policy: Policy | None = None,
        host: str = DEFAULT_HOST,
        http_port: int = DEFAULT_HTTP_PORT,
        https_port: int = DEFAULT_HTTPS_PORT,
        threads: int = DEFAULT_THREADS,
        hosts: Iterable[str] | None = None,
        start: bool = True,
    ) -> None:
        self.cert_store = cert_store
        self.sink = sink if sink is not None else RequestSink()
        self.threads = threads
        self._extra_hosts = tuple(hosts or ())
        self.app: Any = AppInfo("flaskapp")
        self.target: AppTarget = AppTarget()  # what the child serves (served again after a crash)
        self.startup_error: Exception | None = None
        self.http = RemoteListener(self, "http", host, http_port)
        self.https = RemoteListener(self, "https", host, https_port)
        self.policy = RemotePolicy(self, policy)
        self._reloader: RemoteReloader | None = None
        self._lock = threading.Lock()  # the child's lifecycle
        self._send_lock = threading.Lock()
        self._conn: Connection | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._ready: threading.Event = threading.Event()
        self._receiver: threading.Thread | None = None
        self._spawn_error: BaseException | None = None
        self._pending: dict[int, Future[Any]] = {}
        self._ids = iter(range(1, 1 << 62))
        self._closed = False
        self.pid: int | None = None
        if start:
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
        self._notify("configure", host=value)

    @property
    def extra_hosts(self) -> tuple[str, ...]:
        return self._extra_hosts

    @extra_hosts.setter
    def extra_hosts(self, value: Iterable[str]) -> None:
        self._extra_hosts = tuple(value)
        self._notify("configure", extra_hosts=self._extra_hosts)

    def cert_hosts(self) -> tuple[str, ...]:
        return cert_hosts_for(self.host, self._extra_hosts)

    @property
    def alive(self) -> bool:
        proc = self._proc
        return proc is not None and proc.poll() is None and self._conn is not None

    # --- the child's lifecycle ----------------------------------------------------------------------

    def _begin_spawn(self) -> None:
        """Start the child in a background thread (the caller does not wait)."""
        self._ready.clear()
        self._spawn_error = None
        threading.Thread(target=self._spawn, name="launcher-remote-spawn", daemon=True).start()

    def _spawn(self) -> None:
        try:
            self._connect()
        except BaseException as exc:  # reported to whoever waits for the child
            self._spawn_error = exc
            self._ready.set()

    def _connect(self) -> None:
        key = secrets.token_bytes(32)
        server = socket.create_server(("127.0.0.1", 0))
        try:
            env = dict(os.environ)
            env[AUTHKEY_ENV] = key.hex()
            env.setdefault("PYTHONUNBUFFERED", "1")
            port = server.getsockname()[1]
            proc = subprocess.Popen(
                [*child_command(), f"127.0.0.1:{port}"], env=env, stdin=subprocess.DEVNULL
            )
            self._proc = proc
            server.settimeout(0.1)
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                try:
                    sock, _ = server.accept()
                    break
                except TimeoutError:
                    if proc.poll() is not None:
                        raise ServerProcessError(
                            f"The server process exited at start (exit code {proc.returncode}): "
                            "see the terminal for why."
                        ) from None
                    if time.monotonic() > deadline:
                        proc.kill()
                        raise ServerProcessError(
                            f"The server process did not start within {START_TIMEOUT:.0f} s."
                        ) from None
        finally:
            server.close()
        sock.setblocking(True)
        conn = Connection(sock.detach())
        deliver_challenge(conn, key)
        answer_challenge(conn, key)
        with self._send_lock:
            conn.send(
                (
                    "init",
                    {
                        "cert_dir": str(self.cert_store.directory),
                        "host": self.host,
                        "http_port": self.http.configured_port,
                        "https_port": self.https.configured_port,
                        "threads": self.threads,
                        "extra_hosts": self._extra_hosts,
                        "policy": self.policy.values(),
                        # The user's app imports as it would here (``flask launch`` and tests
                        # may have added folders).
                        "sys_path": [p for p in sys.path if isinstance(p, str)],
                    },
                )
            )
            self._conn = conn
        self.pid = proc.pid
        receiver = threading.Thread(
            target=self._receive, args=(conn, proc), name="launcher-remote-rx", daemon=True
        )
        self._receiver = receiver
        receiver.start()

    def _wait_ready(self, spawn: bool = True) -> Connection:
        with self._lock:
            if self._closed:
                raise ServerProcessError("The servers were closed.")
            if spawn and self._ready.is_set() and not self.alive:
                self._begin_spawn()  # the child died (or never started): a new one
                respawned = True
            else:
                respawned = False
        if not self._ready.wait(START_TIMEOUT + 5):
            raise ServerProcessError("The server process did not start in time.")
        if self._spawn_error is not None:
            error = self._spawn_error
            if isinstance(error, ServerProcessError):
                raise error
            raise ServerProcessError(f"The server process could not be started: {error}") from error
        conn = self._conn
        if conn is None:
            raise ServerProcessError("The server process is not running.")
        if respawned and (self.target.target is not None or self.target.chdir is not None):
            self._call(conn, "serve_target", (self.target, True, 0.0), {}, None)  # the user's app again
            reloader = self._reloader
            if reloader is not None and reloader.running:  # and reload on change, if it was on
                self._call(conn, "watch", (reloader.target, reloader.grace), {}, None)
        return conn

    def _receive(self, conn: Connection, proc: subprocess.Popen[bytes]) -> None:
        """The ``launcher-remote-rx`` thread: replies, states, records and reload events."""
        sink = self.sink
        try:
            while True:
                message = conn.recv()
                kind = message[0]
                if kind == "records":
                    add = sink.add
                    for record in message[1]:
                        add(record)
                elif kind == "reply":
                    future = self._pending.pop(message[1], None)
                    if future is not None:
                        if message[2]:
                            future.set_result(message[3])
                        else:
                            future.set_exception(decode_error(message[3]))
                elif kind == "state":
                    _, scheme, state, error, port = message
                    listener = self.https if scheme == "https" else self.http
                    listener._apply(ListenerState(state), error, port)
                elif kind == "reload":
                    reloader = self._reloader
                    if reloader is not None:
                        reloader._event(message[1], message[2])
                elif kind == "ready":
                    info = message[1]
                    self.app = info["app"]
                    if info.get("error") is not None:
                        self.startup_error = decode_error(info["error"])
                    self._ready.set()
        except (EOFError, OSError):
            pass
        finally:
            self._lost(conn, proc)

    def _lost(self, conn: Connection, proc: subprocess.Popen[bytes]) -> None:
        with self._send_lock:
            if self._conn is conn:
                self._conn = None
        try:
            code = proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        conn.close()
        expected = self._closed
        reason = (
            "The servers were closed."
            if expected
            else f"The server process exited unexpectedly (exit code {code}). Press Start to start it again."
        )
        for call_id in list(self._pending):
            future = self._pending.pop(call_id, None)
            if future is not None and not future.done():
                future.set_exception(ServerProcessError(reason))
        for listener in self.listeners:
            if listener.state is not ListenerState.STOPPED:
                if expected:
                    listener._apply(ListenerState.STOPPED, None, None)
                else:
                    listener._apply(ListenerState.ERROR, reason, None)
        self._ready.set()  # anyone waiting finds no connection and respawns
        if not expected:
            log.warning("%s", reason)

    # --- calls --------------------------------------------------------------------------------------

    def _notify(self, method: str, **kwargs: Any) -> None:
        """Send a quick change without waiting; dropped while no child runs (init carries it)."""
        with self._send_lock:
            conn = self._conn
            if conn is None:
                return
            try:
                conn.send((0, method, (), kwargs))
            except (OSError, ValueError):
                pass

    def call(
        self, method: str, *args: Any, wait: float | None = None, spawn: bool = True, **kwargs: Any
    ) -> Any:
        """Run *method* in the child and return its result (or raise its error).

        *wait*: seconds the call itself may take (plus ``CALL_SLACK``); None waits for good.
        *spawn*: start a new child if it is gone (False for stops: nothing runs then anyway).
        """
        if not spawn and not self.alive:
            raise ServerProcessError("The server process is not running.")
        conn = self._wait_ready(spawn=spawn)
        return self._call(conn, method, args, kwargs, wait)

    def _call(
        self, conn: Connection, method: str, args: Sequence[Any], kwargs: dict[str, Any], wait: float | None
    ) -> Any:
        call_id = next(self._ids)
        future: Future[Any] = Future()
        self._pending[call_id] = future
        try:
            with self._send_lock:
                conn.send((call_id, method, tuple(args), kwargs))
        except (OSError, ValueError) as exc:
            self._pending.pop(call_id, None)
            raise ServerProcessError(f"The server process is not reachable: {exc}.") from None
        try:
            return future.result(None if wait is None else wait + CALL_SLACK)
        except FutureTimeout:
            self._pending.pop(call_id, None)
            raise ServerProcessError(f"The server process did not answer ({method}).") from None

    # --- what Servers does --------------------------------------------------------------------------

    def start_all(self) -> list[Exception]:
        return [decode_error(e) for e in self.call("start_all")]

    def stop_all(self, timeout: float = 1.0, grace: float = 0.0) -> None:
        if not self.alive:  # nothing serves: listeners left in ERROR by a crash become STOPPED
            for listener in self.listeners:
                if listener.state is not ListenerState.STOPPED:
                    listener._apply(ListenerState.STOPPED, None, None)
            return
        try:
            self.call("stop_all", timeout, grace, wait=timeout + grace, spawn=False)
        except ServerProcessError:
            pass

    def restart(self, grace: float = 0.5) -> list[Exception]:
        return [decode_error(e) for e in self.call("restart", grace)]

    def reload_tls(self) -> None:
        self.call("reload_tls")

    def serve_target(
        self, target: AppTarget, *, fresh: bool = True, grace: float = 0.5
    ) -> tuple[Any, list[Exception]]:
        """Load *target* in the child and serve it (running listeners restart); (AppInfo, errors).

        Raises ``AppLoadError`` when it does not load: nothing changes then.
        """
        info, errors = self.call("serve_target", target, fresh, grace)
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
        """Stop both listeners and end the child (within about *timeout* + 2 s); idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        proc = self._proc
        if self._conn is not None:
            try:
                self._call(self._conn, "shutdown", (), {}, timeout + 1)
            except ServerProcessError:
                pass
        if proc is not None:
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        receiver = self._receiver
        if receiver is not None and receiver is not threading.current_thread():
            receiver.join(3)
