"""The server process: runs ``launcher.servers.Servers`` for the window, driven over a connection.

Started by ``launcher.remote.client.RemoteServers`` as ``python -m launcher _server-process
HOST:PORT`` (or ``<bundle executable> _server-process HOST:PORT``); see ``launcher.remote.wire``
for the messages.  Why a separate process: the servers' threads and the window's event loop
would otherwise share one GIL, and under load the window's longest stall grew to 100–400 ms.

Threads here:

- the main thread reads calls from the connection, in order.  Quick calls (``configure``,
  ``policy``, ``sync``) run right there, so a policy change is in force before any later call
  is answered; the others (start, stop, loading an app...) run in a small pool, as they would in
  the window's worker threads, and their replies come back when they finish.
- ``launcher-records`` sends the request records in batches (every ``BATCH_SECONDS``).
- listener state changes and reload events are sent from whichever thread made them.

The process ends when the window says ``shutdown`` or when the connection closes (the window
exited or was killed): both listeners are stopped first, so no port stays bound.  Qt is never
imported here.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Client, Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any

from launcher.apptarget import AppTarget, demo_app_or_placeholder, load_app
from launcher.certs import CertStore
from launcher.errors import AppLoadError
from launcher.options import DEFAULTS
from launcher.policy import Policy
from launcher.reload import Reloader
from launcher.remote.wire import AUTHKEY_ENV, AppInfo, encode_error
from launcher.requestlog import RequestSink
from launcher.servers import Listener, ListenerState, Servers

log = logging.getLogger("launcher.remote")

#: How often request records are sent to the window (it shows them at most 10 times a second).
BATCH_SECONDS = 0.05
#: Records the process holds for the window before it drops the oldest (the window is stuck).
BACKLOG = 50_000
INLINE = frozenset({"configure", "policy", "sync"})


def app_info(app: Any) -> AppInfo:
    return AppInfo(str(getattr(app, "import_name", "") or type(app).__name__), str(getattr(app, "name", "")))


class ServerProcess:
    """One ``Servers`` and the connection to the window; see the module docstring."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._send_lock = threading.Lock()
        self._closed = threading.Event()
        self._stop_records = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="launcher-call")
        self._reloader: Reloader | None = None
        self._reloader_lock = threading.Lock()
        self._servers: Servers | None = None

    @property
    def servers(self) -> Servers:
        """The servers (made by ``build`` from the window's first message)."""
        if self._servers is None:
            raise RuntimeError("the servers are not built yet")
        return self._servers

    # --- sending ------------------------------------------------------------------------------------

    def send(self, message: tuple[Any, ...]) -> None:
        """Send *message*; a message that cannot be pickled raises (nothing is sent), a closed
        connection does not (the window is gone: nothing is left to tell)."""
        if self._closed.is_set():
            return
        data = ForkingPickler.dumps(message)  # before the lock: a pickling error sends nothing
        try:
            with self._send_lock:
                self.conn.send_bytes(data)
        except (OSError, ValueError):  # the window is gone
            self._closed.set()

    def _state_changed(self, listener: Listener, state: ListenerState) -> None:
        self.send(("state", listener.scheme, state.value, listener.error, listener.port))

    def _send_records(self, servers: Servers) -> None:
        subscription = servers.sink.subscribe(BACKLOG)
        try:
            while not self._stop_records.is_set():
                subscription.wait(0.5)
                self._stop_records.wait(BATCH_SECONDS)
                self._send_batch(subscription.drain())
            self._send_batch(subscription.drain())  # the last requests before the listeners stopped
        finally:
            subscription.close()

    def _send_batch(self, batch: list[Any]) -> None:
        if not batch:
            return
        try:
            self.send(("records", batch))
        except Exception:  # a record that cannot be pickled (a header object from the app?)
            log.exception("Could not send %d request records to the window", len(batch))

    # --- set-up -------------------------------------------------------------------------------------

    def build(self, config: dict[str, Any]) -> Servers:
        sys.path[:] = list(dict.fromkeys([*config.get("sys_path", ()), *sys.path]))
        app, startup_error = demo_app_or_placeholder()
        policy = Policy()
        servers = Servers(
            app,
            cert_store=CertStore(config.get("cert_dir")),
            sink=RequestSink(capacity=0),  # the window keeps the log; this one only fans out
            policy=policy,
            host=config["host"],
            http_port=config["http_port"],
            https_port=config["https_port"],
            threads=config.get("threads", DEFAULTS.threads),
            hosts=config.get("extra_hosts", ()),
        )
        for listener in servers.listeners:
            listener.add_state_callback(self._state_changed)
        self._servers = servers
        self.call_policy(**config.get("policy", {}))
        self.send(("ready", {"pid": os.getpid(), "app": app_info(app),
                             "error": encode_error(startup_error) if startup_error else None}))  # fmt: skip
        return servers

    # --- the calls the window makes -----------------------------------------------------------------

    def _listener(self, scheme: str) -> Listener:
        return self.servers.https if scheme == "https" else self.servers.http

    def call_configure(self, **changes: Any) -> None:
        servers = self.servers
        if "host" in changes:
            servers.host = changes["host"]
        if "http_port" in changes:
            servers.http.port = changes["http_port"]
        if "https_port" in changes:
            servers.https.port = changes["https_port"]
        if "extra_hosts" in changes:
            servers.extra_hosts = tuple(changes["extra_hosts"])

    def call_policy(self, **changes: Any) -> None:
        self.servers.policy.update(**changes)

    def call_sync(self) -> None:
        """Answered after every earlier quick call took effect (the calls are read in order)."""

    def call_start(self, scheme: str, port: int | None = None) -> int:
        listener = self._listener(scheme)
        listener.start(port=port)
        return listener.port

    def call_stop(self, scheme: str, timeout: float = 1.0, grace: float = 0.0) -> None:
        self._listener(scheme).stop(timeout, grace)

    def call_start_all(self) -> list[Any]:
        return [encode_error(e) for e in self.servers.start_all()]

    def call_stop_all(self, timeout: float = 1.0, grace: float = 0.0) -> None:
        self.servers.stop_all(timeout, grace)

    def call_restart(self, grace: float = 0.5) -> list[Any]:
        return [encode_error(e) for e in self.servers.restart(grace=grace)]

    def call_reload_tls(self) -> None:
        self.servers.reload_tls()

    def call_serve_target(self, target: AppTarget, fresh: bool = True, grace: float = 0.5) -> tuple[Any, ...]:
        """Load *target* (an ``AppLoadError`` changes nothing) and serve it; (AppInfo, errors)."""
        app = load_app(target, fresh=fresh)
        errors = self.servers.set_app(app, grace=grace)
        return app_info(app), [encode_error(e) for e in errors]

    def call_watch(self, target: AppTarget, grace: float = 0.5) -> list[str]:
        """Reload on change for *target* (replacing any earlier watcher); the watched folders."""
        servers = self.servers

        def swap(app: Any) -> list[Exception]:
            errors = servers.set_app(app, grace=grace)
            self.send(("reload", "reloaded", (app_info(app), [encode_error(e) for e in errors])))
            return errors

        def failed(error: Exception) -> None:
            self.send(("reload", "failed", encode_error(error)))

        def changed(paths: frozenset[Any]) -> None:
            self.send(("reload", "changed", sorted(str(p) for p in paths)))

        with self._reloader_lock:
            if self._reloader is not None:
                self._reloader.stop()
            reloader = Reloader(target, swap, on_error=failed, on_change=changed)
            reloader.start(servers.app)
            self._reloader = reloader
        return [str(root) for root in reloader.watched_roots]

    def call_unwatch(self) -> None:
        with self._reloader_lock:
            reloader, self._reloader = self._reloader, None
        if reloader is not None:
            reloader.stop()

    def call_reload_now(self) -> AppInfo | None:
        with self._reloader_lock:
            reloader = self._reloader
        if reloader is None:
            return None
        app = reloader.reload_now()
        return app_info(app) if app is not None else None

    # --- the loop -----------------------------------------------------------------------------------

    def _run_call(self, call_id: int, method: str, args: Sequence[Any], kwargs: dict[str, Any]) -> None:
        """Run one call; the window always gets a reply when it wants one (it waits for it)."""
        try:
            reply = ("reply", call_id, True, getattr(self, f"call_{method}")(*args, **kwargs))
        except Exception as exc:
            if not isinstance(exc, AppLoadError):
                log.debug("Call %s failed", method, exc_info=True)
            reply = ("reply", call_id, False, encode_error(exc))
        if not call_id:
            return
        try:
            self.send(reply)
        except Exception as exc:  # the value cannot be pickled: say so instead
            self.send(("reply", call_id, False, encode_error(exc)))

    def serve(self) -> None:
        """Read calls until ``shutdown`` or until the window goes away; then stop everything."""
        try:
            kind, config = self.conn.recv()
        except (EOFError, OSError):
            return
        if kind != "init":
            raise RuntimeError(f"expected init, got {kind!r}")
        servers = self.build(config)
        sender = threading.Thread(
            target=self._send_records, args=(servers,), name="launcher-records", daemon=True
        )
        sender.start()
        shutdown_id = 0
        try:
            while True:
                try:
                    call_id, method, args, kwargs = self.conn.recv()
                except (EOFError, OSError):
                    break
                if method == "shutdown":
                    shutdown_id = call_id
                    break
                if not hasattr(self, f"call_{method}"):
                    self.send(("reply", call_id, False, encode_error(ValueError(f"unknown call {method!r}"))))
                elif method in INLINE:
                    self._run_call(call_id, method, args, kwargs)
                else:
                    self._pool.submit(self._run_call, call_id, method, args, kwargs)
        finally:
            # Calls not started are dropped; running ones (a start, an app import) get a moment,
            # so none binds a port after the stop below.  main() then ends the process with
            # os._exit, so a call that never returns cannot keep it (or a port) alive.
            self._pool.shutdown(wait=False, cancel_futures=True)
            deadline = time.monotonic() + 2
            for thread in list(getattr(self._pool, "_threads", ())):
                thread.join(max(0.0, deadline - time.monotonic()))
            self.call_unwatch()
            servers.stop_all(timeout=1.0)
            # The records of the last requests, then the reply the window may be waiting for.
            self._stop_records.set()
            sender.join(2)
            if shutdown_id:
                self.send(("reply", shutdown_id, True, None))
            self._closed.set()
            self.conn.close()


def main(argv: Sequence[str]) -> int:
    """``_server-process HOST:PORT``: connect back to the window and serve until it says stop."""
    if len(argv) != 1 or ":" not in argv[0]:
        print("usage: flask-launcher _server-process HOST:PORT (started by the window)", file=sys.stderr)
        return 2
    key_hex = os.environ.pop(AUTHKEY_ENV, "")
    if not key_hex:
        print("flask-launcher _server-process: no key in the environment (started by the window only)",
              file=sys.stderr)  # fmt: skip
        return 2
    # Ctrl+C in the terminal reaches the whole process group: the window closes on it and then
    # ends this process itself (stopping the listeners first), so this process ignores it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    host, port = argv[0].rsplit(":", 1)
    logging.basicConfig(level=logging.WARNING, format="flask-launcher (servers): %(levelname)s %(message)s")
    # waitress's notes ("Task queue depth" under load, "Canceling pending task(s)" at a restart)
    # are not the user's problem; the listeners' own errors reach the window as messages.
    logging.getLogger("waitress").setLevel(logging.ERROR)
    conn = Client((host, int(port)), authkey=bytes.fromhex(key_hex))
    ServerProcess(conn).serve()
    # Everything is stopped; threads of the user's app (or a call stuck in its import) must not
    # keep this process alive now that the window is done with it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
