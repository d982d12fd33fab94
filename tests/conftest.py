"""Shared fixtures: a generated CA and leaf, real servers on free loopback ports, a temporary HOME,
and the Debian tools (certutil, chromium) the trust and browser tests need."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
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


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary HOME (``tmp_path / "home"``) set in the environment: the stores read HOME at call time."""
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("HOME", str(h))
    return h


#: Headless Debian chromium in a container: no sandbox (root), nothing fetched in the background.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def _find_tool(command: str) -> str | None:
    if command == "chromium":
        return shutil.which("chromium") or shutil.which("chromium-browser")
    return shutil.which(command)


def _apt_tools_or_skip(tools: dict[str, str]) -> dict[str, str]:
    """The paths of *tools* (command -> Debian package).

    Missing ones are installed with apt-get when running as root with apt-get at hand (as in CI);
    when one is still missing the test is skipped, with the apt-get command in the reason.
    """
    missing = [package for command, package in tools.items() if not _find_tool(command)]
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", *missing],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            capture_output=True,
            check=False,
            timeout=900,
        )
    found = {command: _find_tool(command) for command in tools}
    lacking = [tools[command] for command, path in found.items() if not path]
    if lacking:
        pytest.skip(
            f"needs {' and '.join(tools)} and cannot install them (not root or no apt-get):"
            f" apt-get install {' '.join(lacking)}"
        )
    return {command: path for command, path in found.items() if path}


@pytest.fixture(scope="session")
def certutil() -> str:
    """The path of certutil (libnss3-tools), installed when missing and root; else the test is skipped."""
    return _apt_tools_or_skip({"certutil": "libnss3-tools"})["certutil"]


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of Debian chromium, installed (with certutil for its NSS database) when missing and root;
    otherwise the test is skipped.  Use with ``chromium_flags``."""
    return _apt_tools_or_skip({"chromium": "chromium", "certutil": "libnss3-tools"})["chromium"]


@pytest.fixture(scope="session")
def chromium_flags() -> list[str]:
    """``CHROMIUM_FLAGS`` as a fresh list: headless, no sandbox, no background traffic."""
    return list(CHROMIUM_FLAGS)


@pytest.fixture(scope="session")
def firefox() -> str:
    """The path of Debian firefox-esr, installed (with certutil for its profile's NSS database) when
    missing and root; otherwise the test is skipped with the apt-get line."""
    return _apt_tools_or_skip({"firefox-esr": "firefox-esr", "certutil": "libnss3-tools"})["firefox-esr"]
