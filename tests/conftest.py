"""Shared fixtures: a generated CA and leaf, and real servers on free loopback ports."""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Qt must never look for a display in tests; set before anything imports Qt.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def cert_store(tmp_path_factory: pytest.TempPathFactory):
    """A CertStore with a CA and a leaf for localhost, 127.0.0.1 and ::1 (made once per run)."""
    from launcher.certs import CertStore

    store = CertStore(tmp_path_factory.mktemp("certs"))
    store.ensure()
    return store


@pytest.fixture(scope="session")
def ca_file(cert_store) -> Path:
    return Path(cert_store.ca_cert_path)


@pytest.fixture(scope="session")
def client_context(ca_file: Path) -> ssl.SSLContext:
    """A client context that verifies against the generated CA (hostname checks on)."""
    return ssl.create_default_context(cafile=str(ca_file))


@pytest.fixture
def make_servers(cert_store) -> Iterator[Callable[..., object]]:
    """Factory: ``make_servers(app, start=True, **kw)`` -> a running ``Servers`` on free ports."""
    from launcher.servers import Servers

    made: list[Servers] = []

    def make(app, *, start: bool = True, **kw):
        kw.setdefault("http_port", 0)
        kw.setdefault("https_port", 0)
        servers = Servers(app, cert_store=kw.pop("cert_store", cert_store), **kw)
        made.append(servers)
        if start:
            errors = servers.start_all()
            assert not errors, errors
        return servers

    yield make
    for servers in made:
        servers.stop_all()


@pytest.fixture
def wait_records():
    """``wait_records(sink, count)``: see ``_wait_records``."""
    return _wait_records


def _wait_records(sink, count: int, timeout: float = 5.0) -> list:
    """The sink's records once it holds *count* of them.

    A record is made when waitress closes the response body, just after the last byte went out,
    so a client can read its response a moment before the record exists.
    """
    import time

    deadline = time.monotonic() + timeout
    while len(records := sink.snapshot()) < count and time.monotonic() < deadline:
        time.sleep(0.005)
    return records
