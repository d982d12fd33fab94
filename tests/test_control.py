"""``launcher.control``: both servers classes satisfy the protocols the window is typed against.

The static half is mypy's (``test_mypy_accepts_both_servers_classes`` runs it on this file): the
``TYPE_CHECKING`` block assigns ``Servers``, ``RemoteServers``, ``WorkerPool`` and the window's
``SwitchableServers`` (and their listeners, reloaders and policies) to the protocols, so a change
to any of them that the panels would trip over fails here.  The runtime half checks the members
are there on real objects.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from launcher.apptarget import AppTarget
from launcher.certs import CertStore
from launcher.control import ListenerControl, PolicyControl, ReloaderControl, ServersControl
from launcher.remote import RemoteServers
from launcher.servers import Servers

if TYPE_CHECKING:
    from launcher.reload import Reloader
    from launcher.remote.client import RemoteListener, RemotePolicy, RemoteReloader
    from launcher.servers import Listener
    from launcher.serverswitch import (
        SwitchableListener,
        SwitchablePolicy,
        SwitchableReloader,
        SwitchableServers,
    )
    from launcher.workers import PoolListener, PoolPolicy, PoolReloader, WorkerPool

    def _local(servers: Servers, listener: Listener, reloader: Reloader) -> None:
        as_servers: ServersControl = servers
        as_listener: ListenerControl = listener
        as_reloader: ReloaderControl = reloader
        as_policy: PolicyControl = servers.policy
        del as_servers, as_listener, as_reloader, as_policy

    def _remote(
        servers: RemoteServers, listener: RemoteListener, reloader: RemoteReloader, policy: RemotePolicy
    ) -> None:
        as_servers: ServersControl = servers
        as_listener: ListenerControl = listener
        as_reloader: ReloaderControl = reloader
        as_policy: PolicyControl = policy
        del as_servers, as_listener, as_reloader, as_policy

    def _pool(
        servers: WorkerPool, listener: PoolListener, reloader: PoolReloader, policy: PoolPolicy
    ) -> None:
        as_servers: ServersControl = servers
        as_listener: ListenerControl = listener
        as_reloader: ReloaderControl = reloader
        as_policy: PolicyControl = policy
        del as_servers, as_listener, as_reloader, as_policy

    def _switchable(
        servers: SwitchableServers,
        listener: SwitchableListener,
        reloader: SwitchableReloader,
        policy: SwitchablePolicy,
    ) -> None:
        as_servers: ServersControl = servers
        as_listener: ListenerControl = listener
        as_reloader: ReloaderControl = reloader
        as_policy: PolicyControl = policy
        del as_servers, as_listener, as_reloader, as_policy


ROOT = Path(__file__).resolve().parents[1]
#: The Qt-free modules the window is built on: they pass ``mypy --strict``.
STRICT = (
    "launcher/control.py",
    "launcher/appcontrol.py",
    "launcher/trustplan.py",
    "launcher/messages.py",
    "launcher/serverswitch.py",
)


def test_servers_has_every_member(tmp_path: Path) -> None:
    servers = Servers(lambda environ, start_response: [], cert_store=CertStore(tmp_path), http_port=0)
    assert isinstance(servers, ServersControl)
    assert all(isinstance(lst, ListenerControl) for lst in servers.listeners)
    assert isinstance(servers.policy, PolicyControl)
    assert not isinstance(object(), ServersControl)  # the check can fail


def test_remote_servers_has_every_member(tmp_path: Path) -> None:
    servers = RemoteServers(cert_store=CertStore(tmp_path), start=False)  # no process needed
    assert isinstance(servers, ServersControl)
    assert all(isinstance(lst, ListenerControl) for lst in servers.listeners)
    assert isinstance(servers.policy, PolicyControl)


def test_worker_pool_has_every_member(tmp_path: Path) -> None:
    from launcher.workers import WorkerPool

    pool = WorkerPool(cert_store=CertStore(tmp_path), workers=2)  # no process until a start
    try:
        assert isinstance(pool, ServersControl)
        assert all(isinstance(lst, ListenerControl) for lst in pool.listeners)
        assert isinstance(pool.policy, PolicyControl)
    finally:
        pool.close()


def test_switchable_servers_have_every_member(tmp_path: Path) -> None:
    from launcher.serverswitch import SwitchableServers

    store = CertStore(tmp_path)
    servers = SwitchableServers(
        RemoteServers(cert_store=store, start=False), lambda n: RemoteServers(cert_store=store, start=False)
    )
    assert isinstance(servers, ServersControl)
    assert all(isinstance(lst, ListenerControl) for lst in servers.listeners)
    assert isinstance(servers.policy, PolicyControl)
    reloader = servers.make_reloader(AppTarget("x:app"), on_reloaded=print, on_error=print, on_change=print)
    assert isinstance(reloader, ReloaderControl)
    servers.close()


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_mypy_accepts_both_servers_classes_and_the_core_is_strict() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", *STRICT, "tests/test_control.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    own = [line for line in proc.stdout.splitlines() if line.startswith((*STRICT, "tests/"))]
    assert own == [], proc.stdout
