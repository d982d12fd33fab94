"""The server process: runs ``launcher.servers.Servers`` for the window, driven over a channel.

Started by ``launcher.remote.client.RemoteServers`` as ``python -m launcher _server-process --fd N``
(or ``<bundle executable> _server-process --fd N``), where N is the inherited descriptor of its
end of a socket pair the window made (on Windows: ``--share-stdin``, the socket arrives through
stdin).  It says ``Hello`` first, builds the servers from the window's ``Init`` and says
``Ready``; see ``launcher.remote.wire`` for the messages.  Why a separate process: the servers'
threads and the window's event loop would otherwise share one GIL, and under load the window's
longest stall grew to 100–400 ms.

Every operation has one handler here, bound to its ``Op`` with ``@remote_op`` (``HANDLERS``).

Threads here:

- the main thread reads calls from the channel, in order.  Inline operations (``Op.inline``:
  configure, policy, sync...) run right there, so a policy change is in force before any later
  call is answered; the others (start, stop, loading an app...) run in a small pool, as they
  would in the window's worker threads, and their replies come back when they finish.  An
  unknown operation gets an error reply; an unknown or unreadable message is logged and skipped.
- ``launcher-records`` sends the request records in batches (at most every ``BATCH_SECONDS``;
  the first after a quiet spell at once); with ``Init.access_lines``, the access lines of the
  access log (``launcher.accesslog``) instead, at most every ``LINES_BATCH_SECONDS``.
- listener state changes and reload events are sent from whichever thread made them.

The process ends when the window says ``Shutdown`` (everything is stopped within the time it
gives) or when the channel closes (the window exited or was killed): both listeners are stopped
first, so no port stays bound.  Qt is never imported here.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from launcher.acceptshare import AcceptShare
from launcher.accesslog import AccessLog
from launcher.apptarget import AppTarget, demo_app_or_placeholder, load_app
from launcher.certs import CertStore
from launcher.cpuaffinity import pin_worker
from launcher.errors import AppLoadError, ListenError
from launcher.fdlimits import raise_open_file_limit
from launcher.notices import install as install_notices
from launcher.reload import Reloader
from launcher.remote.wire import (
    FD_OPTION,
    LINES_BATCH_SECONDS,
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
    encode_error,
)
from launcher.requestlog import RequestSink
from launcher.scheme import Scheme
from launcher.servers import Listener, ListenerState, Servers

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger("launcher.remote")

#: How often request records are sent to the window (it shows them at most 10 times a second).
BATCH_SECONDS = 0.05
#: Records the process holds for the window before it drops the oldest (the window is stuck).
BACKLOG = 50_000
#: Seconds the process gives itself to stop when the window vanished without a ``Shutdown``.
ORPHAN_STOP_SECONDS = 4.0

Handler = Callable[..., Any]
F = TypeVar("F", bound=Handler)
_handlers: dict[Op, Handler] = {}
#: The handler of every operation (a ``ServerProcess`` method), filled by ``@remote_op``.
HANDLERS: Mapping[Op, Handler] = MappingProxyType(_handlers)


def remote_op(op: Op) -> Callable[[F], F]:
    """Make the decorated ``ServerProcess`` method the one handler of *op* (its flags are in ``Op``)."""

    def register(method: F) -> F:
        if op in _handlers:
            raise RuntimeError(f"two handlers for {op}")
        _handlers[op] = method
        return method

    return register


def app_info(app: Any) -> AppInfo:
    return AppInfo(str(getattr(app, "import_name", "") or type(app).__name__), str(getattr(app, "name", "")))


class ServerProcess:
    """One ``Servers`` and the channel to the window; see the module docstring."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self._closed = threading.Event()
        self._stop_records = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="launcher-call")
        self._reloader: Reloader | None = None
        self._reloader_lock = threading.Lock()
        self._servers: Servers | None = None
        self.worker = 0  # this process's number in a pool (``Init.worker``), stamped on records
        #: Set (``Init.access_lines``): the listeners note requests here, and their access lines
        #: are sent instead of records.
        self.access_log: AccessLog | None = None

    @property
    def servers(self) -> Servers:
        """The servers (made by ``build`` from the window's ``Init``)."""
        if self._servers is None:
            raise RuntimeError("the servers are not built yet")
        return self._servers

    # --- sending ------------------------------------------------------------------------------------

    def send(self, message: object) -> None:
        """Send *message*; a message that cannot be pickled raises (nothing is sent), a closed
        channel does not (the window is gone: nothing is left to tell)."""
        if self._closed.is_set():
            return
        try:
            self.channel.send(message)
        except (OSError, ValueError):  # the window is gone
            self._closed.set()

    def _state_changed(self, listener: Listener, state: ListenerState) -> None:
        self.send(StateChanged(listener.scheme, state.value, listener.error, listener.port))

    def _send_records(self, servers: Servers) -> None:
        subscription = servers.sink.subscribe(BACKLOG, events=True)
        # With an access log the sink gets the wire events only: the requests are in the log.
        backlog = self.access_log or subscription
        interval = BATCH_SECONDS if self.access_log is None else LINES_BATCH_SECONDS
        try:
            while not self._stop_records.is_set():
                # The first item after a quiet spell goes at once, then at most a batch every
                # *interval*: each batch wakes this thread and the receiver's, whatever its size.
                busy = backlog.wait(0.1)  # short: a stop (or a wire event) is noticed at once
                self._send_batch(backlog.drain(), subscription.drain_events())
                if busy:
                    self._stop_records.wait(interval)
            # The last requests (and wire events) before the listeners stopped.
            self._send_batch(backlog.drain(), subscription.drain_events())
        finally:
            subscription.close()

    def _send_batch(self, batch: list[Any], events: list[Any] | None = None) -> None:
        if not batch and not events:
            return
        try:
            if self.access_log is not None:  # the supervisor prints them: the lines are all it needs
                lines = [(entry.finished, entry.access_line()) for entry in batch]
                self.send(AccessLines(lines, events or []))
                return
            self.send(RecordBatch(batch, events or []))
        except Exception:  # a record that cannot be pickled (a header object from the app?)
            log.exception("Could not send %d request records to the window", len(batch))

    # --- set-up -------------------------------------------------------------------------------------

    def build(self, init: Init) -> Servers:
        """The servers *init* describes; says ``Ready`` once they exist."""
        sys.path[:] = list(dict.fromkeys([*init.sys_path, *sys.path]))
        app, startup_error = demo_app_or_placeholder()
        self.worker = init.worker
        servers = Servers.from_config(
            app,
            init.config,
            cert_store=CertStore(init.config.cert_dir),
            # The window keeps the log; this one only fans out (its budget bounds bodies in flight).
            sink=RequestSink(capacity=0, body_budget=init.config.body_budget_bytes),
            hosts=init.extra_hosts,
        )
        if init.worker:
            # One GIL: the worker's threads on one CPU of their own (``launcher.cpuaffinity``),
            # before its listeners start theirs (they inherit it).
            pin_worker(init.worker, init.workers)
            servers.sink.number_as_worker(init.worker, init.workers)
            # Stopping is the pool's to decide: a SIGTERM sent to the whole process group
            # (systemd, ``timeout``, ``kill -- -PGID``) reaches the pool too, which stops every
            # worker within its budget.  (Ctrl+C is ignored the same way, in ``main``.)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            # The pool made the leaf and said what it had to say about the folder: N copies of
            # the same warning would be noise.
            logging.getLogger("launcher.certs").setLevel(logging.ERROR)
        if init.access_lines:
            servers.access_log = self.access_log = AccessLog(init.worker, BACKLOG)
        if init.probe_token:
            servers.appview.token = init.probe_token  # a pool's workers answer the same probes
        share = AcceptShare.attach(init.share_fd, init.workers) if init.share_fd >= 0 else None
        for scheme, fd in init.listen_fds:  # a pool's worker: serve the sockets it bound
            os.set_inheritable(fd, False)  # processes the user's app starts must not get them
            listener = servers.https if scheme == Scheme.HTTPS else servers.http
            listener.inherited = socket.socket(fileno=fd)
            if share is not None:
                listener.seat = share.seat(scheme, init.worker - 1)
        for listener in servers.listeners:
            listener.add_state_callback(self._state_changed)
        self._servers = servers
        error = encode_error(startup_error) if startup_error else None
        self.send(Ready(app_info(app), error, probe_token=servers.probe_token))
        return servers

    # --- the operations the window asks for ---------------------------------------------------------

    def _listener(self, scheme: Scheme) -> Listener:
        return self.servers.https if scheme == Scheme.HTTPS else self.servers.http

    @remote_op(Op.CONFIGURE)
    def call_configure(self, **changes: Any) -> None:
        servers = self.servers
        if "host" in changes:
            servers.host = changes["host"]
        if "http_port" in changes:
            servers.http.port = changes["http_port"]
        if "https_port" in changes:
            servers.https.port = changes["https_port"]
        if "threads" in changes:
            servers.threads = changes["threads"]
        if "extra_hosts" in changes:
            servers.extra_hosts = tuple(changes["extra_hosts"])
        if "lan" in changes:
            servers.share(changes["lan"], changes.get("lan_bridges", False), changes.get("name"))

    @remote_op(Op.POLICY)
    def call_policy(self, **changes: Any) -> None:
        self.servers.policy.update(**changes)

    @remote_op(Op.SYNC)
    def call_sync(self) -> None:
        """Answered after every earlier inline call took effect (the calls are read in order)."""

    @remote_op(Op.DIAGNOSTICS)
    def call_diagnostics(self) -> dict[str, Any]:
        """Facts about this process for tests and bug reports: protocol, pid, worker threads."""
        servers = self.servers
        return {
            "protocol": PROTOCOL,
            "pid": os.getpid(),
            "threads": {lst.scheme: lst.threads for lst in servers.listeners},
            "thread_names": sorted(t.name for t in threading.enumerate()),
        }

    @remote_op(Op.START)
    def call_start(self, scheme: Scheme, port: int | None = None) -> int:
        listener = self._listener(scheme)
        if self.worker and listener.inherited is None:  # a pool's worker never binds a port itself
            raise ListenError(f"This worker has no {scheme.upper()} socket: the pool starts listeners.")
        listener.start(port=port)
        return listener.port

    @remote_op(Op.STOP)
    def call_stop(
        self, scheme: Scheme, timeout: float = 1.0, grace: float = 0.0, release: bool = False
    ) -> None:
        """Stop the listener; *release*: a pool's worker also closes the socket it inherited
        (the pool stopped that listener: the port must refuse connections, not queue them)."""
        listener = self._listener(scheme)
        listener.stop(timeout, grace)
        if release and listener.inherited is not None:
            listener.inherited.close()
            listener.inherited = None

    @remote_op(Op.START_ALL)
    def call_start_all(self) -> list[Any]:
        return [encode_error(e) for e in self.servers.start_all()]

    @remote_op(Op.STOP_ALL)
    def call_stop_all(self, timeout: float = 1.0, grace: float = 0.0) -> None:
        self.servers.stop_all(timeout, grace)

    @remote_op(Op.RESTART)
    def call_restart(self, grace: float = 0.5) -> list[Any]:
        return [encode_error(e) for e in self.servers.restart(grace=grace)]

    @remote_op(Op.RELOAD_TLS)
    def call_reload_tls(self) -> None:
        self.servers.reload_tls()

    @remote_op(Op.SERVE_TARGET)
    def call_serve_target(self, target: AppTarget, fresh: bool = True, grace: float = 0.5) -> tuple[Any, ...]:
        """Load *target* (an ``AppLoadError`` changes nothing) and serve it; (AppInfo, errors)."""
        app = load_app(target, fresh=fresh)
        errors = self.servers.set_app(app, grace=grace)
        return app_info(app), [encode_error(e) for e in errors]

    @remote_op(Op.WATCH)
    def call_watch(self, target: AppTarget, grace: float = 0.5) -> list[str]:
        """Reload on change for *target* (replacing any earlier watcher); the watched folders."""
        servers = self.servers

        def swap(app: Any) -> list[Exception]:
            errors = servers.set_app(app, grace=grace)
            self.send(ReloadEvent("reloaded", (app_info(app), [encode_error(e) for e in errors])))
            return errors

        def failed(error: Exception) -> None:
            self.send(ReloadEvent("failed", encode_error(error)))

        def changed(paths: frozenset[Any]) -> None:
            self.send(ReloadEvent("changed", sorted(str(p) for p in paths)))

        with self._reloader_lock:
            if self._reloader is not None:
                self._reloader.stop()
            reloader = Reloader(target, swap, on_error=failed, on_change=changed)
            reloader.start(cast("Flask | None", servers.app))  # a Flask app, or the demo's 503 stand-in
            self._reloader = reloader
        return [str(root) for root in reloader.watched_roots]

    @remote_op(Op.UNWATCH)
    def call_unwatch(self, timeout: float = 2.0) -> None:
        with self._reloader_lock:
            reloader, self._reloader = self._reloader, None
        if reloader is not None:
            reloader.stop(timeout)

    @remote_op(Op.RELOAD_NOW)
    def call_reload_now(self) -> AppInfo | None:
        with self._reloader_lock:
            reloader = self._reloader
        if reloader is None:
            return None
        app = reloader.reload_now()
        return app_info(app) if app is not None else None

    # --- the loop -----------------------------------------------------------------------------------

    def answer(self, call_id: int, run: Callable[[], Any], what: str = "call") -> None:
        """Run *run* and send its ``Reply`` (when *call_id* wants one): always one, even when the
        result cannot be pickled (the window waits for it)."""
        try:
            reply = Reply(call_id, True, run())
        except Exception as exc:
            if not isinstance(exc, AppLoadError):
                log.debug("%s failed", what, exc_info=True)
            reply = Reply(call_id, False, encode_error(exc))
        if not call_id:
            return
        try:
            self.send(reply)
        except Exception as exc:  # the value cannot be pickled: say so instead
            self.send(Reply(call_id, False, encode_error(exc)))

    def _dispatch(self, call: Call) -> None:
        op = call.op
        handler = HANDLERS.get(op) if isinstance(op, Op) else None
        if handler is None:
            log.error("The window asked for an unknown operation %r", op)
            unknown = ValueError(f"The server process has no operation {op!r} (protocol {PROTOCOL}).")
            self.answer(call.call_id, lambda: _raise(unknown))
            return
        assert isinstance(op, Op)

        def run() -> Any:
            return handler(self, *call.args, **call.kwargs)

        if op.inline:
            self.answer(call.call_id, run, op.value.name)
        else:
            self._pool.submit(self.answer, call.call_id, run, op.value.name)

    def serve(self) -> None:
        """Say hello, build from ``Init``, then run calls until ``Shutdown`` or until the window
        goes away; then stop everything."""
        self.send(Hello(PROTOCOL, os.getpid()))
        try:
            init = self.channel.recv()
        except (EOFError, OSError, MessageError):
            return
        if not isinstance(init, Init):
            log.error("Expected Init from the window, got %s: ending", type(init).__name__)
            return
        servers = self.build(init)
        sender = threading.Thread(
            target=self._send_records, args=(servers,), name="launcher-records", daemon=True
        )
        sender.start()
        shutdown: Shutdown | None = None
        try:
            while True:
                try:
                    message = self.channel.recv()
                except (EOFError, OSError):
                    break
                except MessageError as exc:  # skip it, keep serving
                    log.error("A message from the window could not be read: %s", exc)
                    continue
                if isinstance(message, Call):
                    self._dispatch(message)
                elif isinstance(message, Shutdown):
                    shutdown = message
                    break
                else:
                    log.error("Unknown message from the window: %s", type(message).__name__)
        finally:
            self._stop(servers, sender, shutdown)

    def _stop(self, servers: Servers, sender: threading.Thread, shutdown: Shutdown | None) -> None:
        """Stop everything within the time the window gave (or ``ORPHAN_STOP_SECONDS``)."""
        budget = shutdown.timeout if shutdown is not None else ORPHAN_STOP_SECONDS
        deadline = time.monotonic() + budget

        def left(share: float = 1.0) -> float:
            return max(0.05, (deadline - time.monotonic()) * share)

        # Calls not started are dropped; running ones (a start, an app import) get a moment, so
        # none binds a port after the stop below.  main() then ends the process with os._exit,
        # so a call that never returns cannot keep it (or a port) alive.
        self._pool.shutdown(wait=False, cancel_futures=True)
        join_until = time.monotonic() + left(0.4)
        for thread in list(getattr(self._pool, "_threads", ())):
            thread.join(max(0.0, join_until - time.monotonic()))
        self.call_unwatch(timeout=left(0.3))
        servers.stop_all(timeout=left(0.6))
        # The records of the last requests, then the reply the window may be waiting for.
        self._stop_records.set()
        sender.join(left())
        if shutdown is not None and shutdown.call_id:
            self.send(Reply(shutdown.call_id, True, None))
        self._closed.set()
        self.channel.close()


def _raise(exc: Exception) -> Any:
    raise exc


def _channel_from(argv: Sequence[str]) -> Channel | None:
    """The child's end of the channel named by *argv* (``--fd N`` or ``--share-stdin``)."""
    if len(argv) == 2 and argv[0] == FD_OPTION and argv[1].isdigit():
        fd = int(argv[1])
        sock = socket.socket(fileno=fd)
        os.set_inheritable(fd, False)  # processes the user's app starts must not get it
        return Channel(sock)
    if list(argv) == [SHARE_OPTION]:  # Windows: the window wrote socket.share() data to stdin
        (size,) = struct.unpack("!I", sys.stdin.buffer.read(4))
        data = sys.stdin.buffer.read(size)
        return Channel(socket.fromshare(data))  # type: ignore[attr-defined,unused-ignore]
    return None


def main(argv: Sequence[str]) -> int:
    """``_server-process --fd N``: serve the window on the inherited channel until it says stop."""
    try:
        channel = _channel_from(argv)
    except (OSError, ValueError, struct.error) as exc:
        print(f"flask-launcher _server-process: no channel to the window ({exc})", file=sys.stderr)
        return 2
    if channel is None:
        print(f"usage: flask-launcher _server-process {FD_OPTION} N (started by the window only)",
              file=sys.stderr)  # fmt: skip
        return 2
    # Ctrl+C in the terminal reaches the whole process group: the window closes on it and then
    # ends this process itself (stopping the listeners first), so this process ignores it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise_open_file_limit()  # see launcher.fdlimits: connections are sized from the soft limit
    log_format = "flask-launcher (servers): %(levelname)s %(message)s"
    logging.basicConfig(level=logging.WARNING, format=log_format)
    # waitress's notes ("Task queue depth" under load, "Canceling pending task(s)" at a restart)
    # are not the user's problem; the listeners' own errors reach the window as messages.
    logging.getLogger("waitress").setLevel(logging.ERROR)
    # Client-caused notices (wrong protocol, failed handshakes, refused connections): one line per
    # reason per interval, then the count of what was held back.
    stderr_handler = logging.StreamHandler(sys.stderr)
    stderr_handler.setFormatter(logging.Formatter(log_format))
    install_notices("launcher.wire", stderr_handler)
    ServerProcess(channel).serve()
    # Everything is stopped; threads of the user's app (or a call stuck in its import) must not
    # keep this process alive now that the window is done with it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
