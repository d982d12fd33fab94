"""What the window (and the inspector) drive: the servers, their listeners, a reloader, the policy.

Two classes implement these protocols: ``launcher.servers.Servers`` (the listeners run in this
process) and ``launcher.remote.RemoteServers`` (they run in a child process; the window gets
copies of their state).  The panels are typed against these protocols, not against either class,
so both can be handed to them and mypy checks that both keep offering what the panels use
(``tests/test_control.py`` assigns each to ``ServersControl``).

Only structural: nothing here runs, and this module imports neither Qt nor waitress.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from launcher.apptarget import AppTarget
    from launcher.certs import CertStore
    from launcher.lan import LanScan
    from launcher.requestlog import RequestSink
    from launcher.scheme import Scheme
    from launcher.servers import ListenerState


@runtime_checkable
class ListenerControl(Protocol):
    """One listener (``scheme`` "http" or "https"): start, stop and what it is doing."""

    @property
    def scheme(self) -> Scheme: ...

    @property
    def host(self) -> str: ...

    @property
    def state(self) -> ListenerState: ...

    @property
    def running(self) -> bool: ...

    #: The bound port while running, else the configured one (0 = any free port); settable.
    port: int

    @property
    def configured_port(self) -> int: ...

    @property
    def url(self) -> str: ...

    @property
    def error(self) -> str | None: ...

    def start(self, port: int | None = None) -> None: ...

    def stop(self, timeout: float = 1.0, grace: float = 0.0) -> None: ...

    def add_state_callback(self, callback: Callable[[ListenerControl, ListenerState], None]) -> None:
        """``callback(listener, state)`` is told of each change, in whichever thread made it."""
        ...


@runtime_checkable
class ReloaderControl(Protocol):
    """Reload on change for one target (``launcher.reload.Reloader`` or the server process's)."""

    @property
    def running(self) -> bool: ...

    @property
    def watched_roots(self) -> tuple[Path, ...]: ...

    @property
    def reloads(self) -> int:
        """Successful reloads so far."""
        ...

    def start(self, app: Any = None, /) -> None: ...

    def stop(self, timeout: float = 2.0) -> None: ...

    def reload_now(self) -> object: ...


@runtime_checkable
class PolicyControl(Protocol):
    """``launcher.policy.Policy``'s fields (the ``live`` options of ``launcher.options``), settable
    while serving, and ``sync`` to wait until a change is in force."""

    redirect_https: int | None
    hsts: int | None
    trusted_proxy: bool

    def update(self, **changes: Any) -> None: ...

    def values(self) -> dict[str, Any]: ...

    def sync(self) -> None: ...


#: ``on_reloaded(app, restart_errors)`` after each good reload (the watcher's thread).
ReloadedCallback = Callable[[Any, list[Exception]], None]


@runtime_checkable
class ServersControl(Protocol):
    """An HTTP and an HTTPS listener serving one app: what the window and the inspector use."""

    @property
    def http(self) -> ListenerControl: ...

    @property
    def https(self) -> ListenerControl: ...

    @property
    def listeners(self) -> tuple[ListenerControl, ListenerControl]: ...

    #: The bind address of both listeners; settable while they are stopped.
    host: str
    #: Names the generated certificate covers besides the defaults; settable.
    extra_hosts: tuple[str, ...]
    #: Worker threads per listener; a change applies at the next start.
    threads: int

    @property
    def policy(self) -> PolicyControl: ...

    @property
    def sink(self) -> RequestSink: ...

    @property
    def cert_store(self) -> CertStore: ...

    @property
    def app(self) -> Any:
        """The app served: the Flask object here, a ``launcher.remote.AppInfo`` for a child's."""
        ...

    @property
    def probe_token(self) -> str | None:
        """The secret that marks the inspector's probes (``launcher.appview``); None when unknown."""
        ...

    #: LAN sharing (``share``): the scan while on, else None; the names it adds to the leaf.
    lan_scan: LanScan | None
    lan_hosts: tuple[str, ...]

    def share(self, lan: bool, lan_bridges: bool = False, name: str | None = None) -> None:
        """Share on the local network or stop, and serve under ``<name>.localhost`` (next start)."""
        ...

    def cert_hosts(self) -> tuple[str, ...]: ...

    def start_all(self) -> list[Exception]: ...

    def start_on(self, ports: Mapping[Scheme, int]) -> list[Exception]:
        """Start the listeners of *ports* on those ports (HTTPS first; a pool starts one set of
        workers for them); return the errors."""
        ...

    def stop_all(self, timeout: float = 1.0, grace: float = 0.0) -> None: ...

    def restart(self, grace: float = 0.5) -> list[Exception]: ...

    def reload_tls(self) -> None: ...

    def serve_target(
        self, target: AppTarget, *, fresh: bool = True, grace: float = 0.5
    ) -> tuple[Any, list[Exception]]: ...

    def make_reloader(
        self,
        target: AppTarget,
        *,
        on_reloaded: ReloadedCallback,
        on_error: Callable[[Exception], None],
        on_change: Callable[[frozenset[Path]], None],
        grace: float = 0.5,
    ) -> ReloaderControl: ...

    def close(self, timeout: float = 1.0) -> None: ...
