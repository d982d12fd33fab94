"""``SwitchableServers``: the window's servers, one server process or a pool, switchable while serving.

The window runs its servers in one child process (``launcher.remote.RemoteServers``) or, with
Workers > 1, in N of them (``launcher.workers.WorkerPool``).  This is the one object the panels
hold (it satisfies ``launcher.control.ServersControl``): it hands every call to the current
servers object (``inner``), and ``switch(workers)`` replaces that object while the window runs:

1. ``make(workers)`` (the window's factory: the same certificate store and sink, so the same log)
   builds the new object; it gets the current one's host, ports, extra names, threads, sharing and
   policy (redirect, HSTS, trusted proxy).
2. The new object is readied before anything stops: one process starts and imports the user's app
   (an app that no longer imports changes nothing: the old servers keep serving, the error is
   raised); a pool only takes the target (its workers import it when they start).
3. A running reload-on-change watcher stops; the running listeners stop (requests in flight get
   *grace* seconds) and the old object is closed (its processes end, its ports are free).
4. The new object becomes ``inner`` and starts the listeners that ran, on the ports they had (the
   bound ones: "any free port" keeps the port it got); the watcher starts again on it.

A pool that has not started a worker yet only records an app it is asked to serve; here the app
is first imported in a throwaway server process (``serve_target``), so the window names the right
app and refuses one that does not import, as with one process.

Listener state callbacks registered here hear the current object's listeners only (the proxies
here are what they receive), so a panel sees Stopping… → Stopped → Starting… → Running across a
switch.  The calls that block (start, stop, loading an app, restart, a reloader's start and
``reload_now``) and ``switch`` take one lock, so a Start pressed during a switch acts on the new
object; quick setters (policy, host, ports) and ``close`` never wait for it.  ``close`` during a
switch closes the object in force, and the switch closes the new one instead of adopting it.

Qt-free; the window runs ``switch`` in a worker thread.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from launcher.control import ListenerControl, ReloaderControl
from launcher.errors import ServerProcessError
from launcher.policy import Policy
from launcher.remote import RemoteServers
from launcher.scheme import Scheme
from launcher.servers import ListenerState
from launcher.workers import WorkerPool

if TYPE_CHECKING:
    from launcher.apptarget import AppTarget
    from launcher.certs import CertStore
    from launcher.lan import LanScan
    from launcher.requestlog import RequestSink

log = logging.getLogger("launcher.serverswitch")

#: What the window drives: one server process, or a pool of them.
Inner = RemoteServers | WorkerPool
#: ``make(workers)``: a new servers object of that many workers, not started (see the docstring).
Factory = Callable[[int], Inner]
SwitchCallback = Callable[[ListenerControl, ListenerState], None]
#: Seconds requests in flight get when a switch stops the old servers.
GRACE = 0.5


def workers_of(servers: Inner) -> int:
    """How many server processes *servers* runs: a pool's size, 1 for one process."""
    return servers.workers if isinstance(servers, WorkerPool) else 1


class SwitchableListener:
    """One listener of the servers in force (``SwitchableServers.inner``)."""

    def __init__(self, owner: SwitchableServers, scheme: Scheme) -> None:
        self._owner = owner
        self.scheme = scheme
        self._callbacks: list[SwitchCallback] = []

    def _inner(self) -> ListenerControl:
        inner = self._owner.inner
        return inner.http if self.scheme == Scheme.HTTP else inner.https

    @property
    def state(self) -> ListenerState:
        return self._inner().state

    @property
    def running(self) -> bool:
        return self._inner().running

    @property
    def host(self) -> str:
        return self._inner().host

    @property
    def port(self) -> int:
        return self._inner().port

    @port.setter
    def port(self, value: int) -> None:
        with self._owner._state_lock:
            self._inner().port = value

    @property
    def configured_port(self) -> int:
        return self._inner().configured_port

    @property
    def url(self) -> str:
        return self._inner().url

    @property
    def error(self) -> str | None:
        return self._inner().error

    def start(self, port: int | None = None) -> None:
        with self._owner._lock:
            self._inner().start(port)

    def stop(self, timeout: float = 1.0, grace: float = 0.0) -> None:
        with self._owner._lock:
            self._inner().stop(timeout, grace)

    def add_state_callback(self, callback: SwitchCallback) -> None:
        self._callbacks.append(callback)

    def _tell(self, state: ListenerState) -> None:
        for callback in list(self._callbacks):
            try:
                callback(self, state)
            except Exception:
                log.exception("State callback failed")


class SwitchablePolicy:
    """The policy of the servers in force; a switch carries its values to the new ones."""

    def __init__(self, owner: SwitchableServers) -> None:
        self._owner = owner

    def _inner(self) -> Policy:
        return self._owner.inner.policy

    @property
    def redirect_https(self) -> int | None:
        return self._inner().redirect_https

    @redirect_https.setter
    def redirect_https(self, value: int | None) -> None:
        self.update(redirect_https=value)

    @property
    def hsts(self) -> int | None:
        return self._inner().hsts

    @hsts.setter
    def hsts(self, value: int | None) -> None:
        self.update(hsts=value)

    @property
    def trusted_proxy(self) -> bool:
        return self._inner().trusted_proxy

    @trusted_proxy.setter
    def trusted_proxy(self, value: bool) -> None:
        self.update(trusted_proxy=value)

    def update(self, **changes: Any) -> None:
        with self._owner._state_lock:  # never lost between a switch's copy and its swap
            self._inner().update(**changes)

    def values(self) -> dict[str, Any]:
        return self._inner().values()

    def sync(self) -> None:
        self._inner().sync()


class SwitchableReloader:
    """Reload on change for the servers in force: a switch moves a wanted one to the new ones."""

    def __init__(
        self,
        owner: SwitchableServers,
        target: AppTarget,
        *,
        on_reloaded: Callable[[Any, list[Exception]], None],
        on_error: Callable[[Exception], None],
        on_change: Callable[[frozenset[Path]], None],
        grace: float,
    ) -> None:
        self._owner = owner
        self.target = target
        self._args: dict[str, Any] = dict(
            on_reloaded=on_reloaded, on_error=on_error, on_change=on_change, grace=grace
        )
        #: Started and not stopped since: a switch starts it again on the new servers.
        self.wanted = False
        self._servers: Inner = owner.inner
        self._inner: ReloaderControl = self._servers.make_reloader(target, **self._args)
        self._earlier_reloads = 0  # counted by the watchers a switch replaced

    @property
    def running(self) -> bool:
        return self._inner.running

    @property
    def watched_roots(self) -> tuple[Path, ...]:
        return self._inner.watched_roots

    @property
    def reloads(self) -> int:
        """Successful reloads, on whichever servers were in force."""
        return self._earlier_reloads + self._inner.reloads

    def start(self, app: Any = None, /) -> None:
        with self._owner._lock:
            if self._servers is not self._owner.inner:  # made before a switch
                self._watch(self._owner.inner)
            self.wanted = True
            self._owner._reloaders.add(self)
            self._inner.start(app)

    def stop(self, timeout: float = 2.0) -> None:
        self.wanted = False
        self._owner._reloaders.discard(self)
        self._inner.stop(timeout)

    def reload_now(self) -> object:
        with self._owner._lock:
            return self._inner.reload_now()

    def _move(self, servers: Inner) -> None:
        """Watch *servers* (a switch adopted them; it stopped the old watcher)."""
        self._watch(servers)
        if self.wanted:
            self._inner.start(None)

    def _watch(self, servers: Inner) -> None:
        """A new reloader of *servers* in place of the one made for the servers before."""
        self._servers = servers
        self._earlier_reloads += self._inner.reloads
        self._inner = servers.make_reloader(self.target, **self._args)


class SwitchableServers:
    """One server process or a pool, switched while serving; see the module docstring."""

    def __init__(self, inner: Inner, make: Factory) -> None:
        self._inner: Inner = inner
        self._make = make
        self._lock = threading.RLock()  # the calls that block, and switch: one at a time
        self._state_lock = threading.Lock()  # which object is in force; closing
        self._closed = False
        self._sharing: tuple[bool, bool, str | None] | None = None
        self._reloaders: set[SwitchableReloader] = set()  # started and not stopped
        self.http = SwitchableListener(self, Scheme.HTTP)
        self.https = SwitchableListener(self, Scheme.HTTPS)
        self.policy = SwitchablePolicy(self)
        self._adopt(inner)

    # --- the servers in force ------------------------------------------------------------------------

    @property
    def inner(self) -> Inner:
        """The servers object in force: a ``RemoteServers`` or a ``WorkerPool``."""
        return self._inner

    @property
    def workers(self) -> int:
        """How many server processes serve (1: one ``RemoteServers``)."""
        return workers_of(self._inner)

    def _adopt(self, servers: Inner) -> None:
        """Hear *servers*' listeners (only while they are the ones in force)."""
        for mine, theirs in ((self.http, servers.http), (self.https, servers.https)):
            theirs.add_state_callback(functools.partial(self._heard, servers, mine))

    def _heard(self, servers: Inner, mine: SwitchableListener, _theirs: object, state: ListenerState) -> None:
        if servers is self._inner:
            mine._tell(state)

    # --- switching -----------------------------------------------------------------------------------

    def switch(self, workers: int, grace: float = GRACE) -> list[Exception]:
        """Serve with *workers* processes from now on (see the module docstring); the listeners
        that ran run again.  Returns the errors starting them (a pool's app that no longer
        imports, a port taken meanwhile); raises, with nothing changed, when the new servers
        cannot be made ready (one process whose app does not import)."""
        with self._lock:
            old = self._inner
            if self._closed:
                raise ServerProcessError("The servers were closed.")
            if workers == workers_of(old):
                return []
            running = [lst for lst in (old.https, old.http) if lst.running]
            ports = {lst.scheme: lst.port for lst in running}
            new = self._make(workers)
            try:
                self._configure(new, old)
                target = old.target
                if target.target is not None or target.chdir is not None:
                    new.serve_target(target, fresh=True, grace=0.0)  # one process: imports it now
                else:
                    new.policy.sync()  # one process: started, serving the demo app
            except BaseException:
                new.close(1.0)
                raise
            moving = [r for r in list(self._reloaders) if r.wanted]
            for reloader in moving:
                reloader._inner.stop(1.0)
            if running:
                old.stop_all(timeout=1.0, grace=grace)
            old.close(1.0)
            with self._state_lock:
                closed = self._closed
                if not closed:
                    new.policy.update(**old.policy.values())  # a change made meanwhile
                    self._adopt(new)
                    self._inner = new
            if closed:
                new.close(1.0)
                raise ServerProcessError("The servers were closed.")
            for mine in self.listeners:
                mine._tell(mine.state)
            errors = self._start_again(new, running, ports)
            for reloader in moving:
                try:
                    reloader._move(new)
                except Exception as exc:
                    errors.append(exc)
            return errors

    def _configure(self, new: Inner, old: Inner) -> None:
        """Give *new* what *old* was told: host, ports, extra names, threads, sharing, policy."""
        new.host = old.host
        new.http.port = old.http.configured_port
        new.https.port = old.https.configured_port
        new.extra_hosts = old.extra_hosts
        new.threads = old.threads
        if self._sharing is not None:
            new.share(*self._sharing)
        new.policy.update(**old.policy.values())

    @staticmethod
    def _start_again(new: Inner, running: list[Any], ports: dict[Scheme, int]) -> list[Exception]:
        if len(running) == 2:  # both at once: a pool starts one set of workers for both
            new.http.port, new.https.port = ports[Scheme.HTTP], ports[Scheme.HTTPS]
            return new.start_all()
        errors: list[Exception] = []
        for listener in running:
            try:
                (new.http if listener.scheme == Scheme.HTTP else new.https).start(ports[listener.scheme])
            except Exception as exc:
                errors.append(exc)
        return errors

    # --- ServersControl ------------------------------------------------------------------------------

    @property
    def listeners(self) -> tuple[SwitchableListener, SwitchableListener]:
        return (self.http, self.https)

    @property
    def host(self) -> str:
        return self._inner.host

    @host.setter
    def host(self, value: str) -> None:
        with self._state_lock:
            self._inner.host = value

    @property
    def extra_hosts(self) -> tuple[str, ...]:
        return self._inner.extra_hosts

    @extra_hosts.setter
    def extra_hosts(self, value: Iterable[str]) -> None:
        with self._state_lock:
            self._inner.extra_hosts = tuple(value)

    @property
    def threads(self) -> int:
        return self._inner.threads

    @threads.setter
    def threads(self, value: int) -> None:
        with self._state_lock:
            self._inner.threads = value

    @property
    def sink(self) -> RequestSink:
        return self._inner.sink

    @property
    def cert_store(self) -> CertStore:
        return self._inner.cert_store

    @property
    def app(self) -> Any:
        return self._inner.app

    @property
    def probe_token(self) -> str | None:
        return self._inner.probe_token

    @property
    def lan_scan(self) -> LanScan | None:
        return self._inner.lan_scan

    @lan_scan.setter
    def lan_scan(self, value: LanScan | None) -> None:
        self._inner.lan_scan = value

    @property
    def lan_hosts(self) -> tuple[str, ...]:
        return self._inner.lan_hosts

    @lan_hosts.setter
    def lan_hosts(self, value: tuple[str, ...]) -> None:
        self._inner.lan_hosts = value

    def share(self, lan: bool, lan_bridges: bool = False, name: str | None = None) -> None:
        with self._state_lock:
            self._sharing = (lan, lan_bridges, name)
            self._inner.share(lan, lan_bridges, name)

    def cert_hosts(self) -> tuple[str, ...]:
        return self._inner.cert_hosts()

    def start_all(self) -> list[Exception]:
        with self._lock:
            return self._inner.start_all()

    def start_on(self, ports: Mapping[Scheme, int]) -> list[Exception]:
        with self._lock:
            return self._inner.start_on(ports)

    def stop_all(self, timeout: float = 1.0, grace: float = 0.0) -> None:
        with self._lock:
            self._inner.stop_all(timeout, grace)

    def restart(self, grace: float = 0.5) -> list[Exception]:
        with self._lock:
            return self._inner.restart(grace)

    def reload_tls(self) -> None:
        with self._lock:
            self._inner.reload_tls()

    def serve_target(
        self, target: AppTarget, *, fresh: bool = True, grace: float = 0.5
    ) -> tuple[Any, list[Exception]]:
        """Serve *target* (a pool not started yet checks it at once: ``WorkerPool.serve_target``)."""
        with self._lock:
            return self._inner.serve_target(target, fresh=fresh, grace=grace)

    def make_reloader(
        self,
        target: AppTarget,
        *,
        on_reloaded: Callable[[Any, list[Exception]], None],
        on_error: Callable[[Exception], None],
        on_change: Callable[[frozenset[Path]], None],
        grace: float = 0.5,
    ) -> SwitchableReloader:
        return SwitchableReloader(
            self, target, on_reloaded=on_reloaded, on_error=on_error, on_change=on_change, grace=grace
        )

    def close(self, timeout: float = 1.0) -> None:
        """Close the servers in force (within about *timeout* s; a switch under way closes its
        new ones itself); idempotent."""
        with self._state_lock:
            self._closed = True
            inner = self._inner
        inner.close(timeout)

    # --- the processes -------------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return self._inner.alive

    @property
    def pid(self) -> int | None:
        """The server process's pid (a pool's first worker's)."""
        return self._inner.pid

    @property
    def pids(self) -> list[int]:
        """Every server process's pid (those running)."""
        inner = self._inner
        if isinstance(inner, WorkerPool):
            return inner.pids
        pid = inner.pid
        return [pid] if pid is not None and inner.alive else []

    def diagnostics(self) -> dict[str, Any]:
        """What the server process says about itself; for a pool, each worker's, by number."""
        return self._inner.diagnostics()
