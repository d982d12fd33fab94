"""The PyInstaller bundle (build.spec), run from dist/flask-launcher/ itself.

Builds the bundle with scripts/build-bundle.sh when it is missing or older than the sources
(about 20–30 s), then runs the bundled executable: --version, ``serve`` on free ports with real
HTTP and HTTPS fetches verified against the CA it made, SIGTERM, and the window offscreen.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from launcher import __version__

# The first test may build the bundle (PyInstaller, ~20–60 s): more than the default timeout.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist" / "flask-launcher"
EXE = DIST / "flask-launcher"
INTERNAL = DIST / "_internal"
SOURCES = ("launcher", "flaskapp", "resources", "build.spec")


def _newest_source_mtime() -> float:
    newest = 0.0
    for name in SOURCES:
        path = ROOT / name
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in files:
            if "__pycache__" not in file.parts:
                newest = max(newest, file.stat().st_mtime)
    return newest


@pytest.fixture(scope="module")
def bundle() -> Path:
    """The bundled executable, rebuilt first when missing or older than any source file."""
    if not EXE.is_file() or EXE.stat().st_mtime < _newest_source_mtime():
        done = subprocess.run(
            [str(ROOT / "scripts" / "build-bundle.sh")], cwd=ROOT, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, f"bundle build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert EXE.is_file()
    return EXE


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    """The environment for the bundle: a private HOME, no venv on PATH, no inherited Qt platform."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "QT_"))}
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        PATH="/usr/bin:/bin",
    )
    return env


class LineReader(threading.Thread):
    """Collects a process's output lines in a thread (select() on a buffered pipe can miss lines)."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__(daemon=True, name="bundle-output")
        self.stream = stream
        self.lines: list[str] = []
        self.changed = threading.Condition()

    def run(self) -> None:
        for line in self.stream:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()

    def wait_for(self, prefix: str, timeout: float) -> list[str]:
        """The lines up to and including the first that starts with *prefix*."""
        with self.changed:
            done = self.changed.wait_for(
                lambda: any(line.startswith(prefix) for line in self.lines) or not self.is_alive(), timeout
            )
            lines = list(self.lines)
        for i, line in enumerate(lines):
            if line.startswith(prefix):
                return lines[: i + 1]
        raise AssertionError(f"no line starting with {prefix!r} (waited: {done}); got {lines!r}")

    def text(self, timeout: float = 10) -> str:
        self.join(timeout)
        return "\n".join(self.lines)


@pytest.fixture
def serving(
    bundle: Path, tmp_path: Path, clean_env: dict[str, str]
) -> Iterator[tuple[subprocess.Popen, dict]]:
    cert_dir = tmp_path / "certs"
    proc = subprocess.Popen(
        [str(bundle), "serve", "--http-port", "0", "--https-port", "0", "--cert-dir", str(cert_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=clean_env,
    )
    assert proc.stdout is not None
    reader = LineReader(proc.stdout)
    reader.start()
    try:
        lines = reader.wait_for("CA certificate:", timeout=60)
        urls = {m.group(1): m.group(0) for line in lines if (m := re.match(r"(https?)://\S+", line))}
        ca = Path(lines[-1].split(":", 1)[1].strip())
        yield proc, {"urls": urls, "ca": ca, "cert_dir": cert_dir, "lines": lines, "reader": reader}
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_version(bundle: Path, clean_env: dict[str, str]) -> None:
    done = subprocess.run(
        [str(bundle), "--version"], capture_output=True, text=True, env=clean_env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"flask-launcher {__version__}"


def test_serve_both_schemes_verified_against_the_ca_then_sigterm(serving) -> None:
    proc, facts = serving
    urls, ca = facts["urls"], facts["ca"]
    assert set(urls) == {"http", "https"}, facts["lines"]
    assert ca == facts["cert_dir"].resolve() / "ca.pem"
    assert ca.is_file()

    with urllib.request.urlopen(urls["http"], timeout=10) as resp:
        assert resp.status == 200
        assert b"<html" in resp.read().lower()  # the demo app's templates are in the bundle

    context = ssl.create_default_context(cafile=str(ca))  # verifies the chain and the host name
    with urllib.request.urlopen(urls["https"] + "inspect", timeout=10, context=context) as resp:
        facts_https = json.load(resp)
    assert facts_https["scheme"] == "https"
    assert facts_https["tls"]["version"] in ("TLSv1.2", "TLSv1.3")
    with urllib.request.urlopen(urls["http"] + "inspect", timeout=10) as resp:
        assert json.load(resp)["scheme"] == "http"

    # A client that does not know the CA is refused: the verification above was real.
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(urls["https"], timeout=10, context=ssl.create_default_context())

    proc.send_signal(signal.SIGTERM)
    proc.wait(20)
    out = facts["reader"].text()
    assert proc.returncode == 0, out
    assert "Traceback" not in out
    # The access log printed the requests.
    assert re.search(r'https "GET /inspect HTTP/1.1" 200', out), out
    assert re.search(r'http "GET / HTTP/1.1" 200', out), out


def _children(pid: int) -> dict[int, list[str]]:
    """The live child processes of *pid* and their command lines (from /proc)."""
    found: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            state = stat.rsplit(")", 1)[1].split()[0]
            if ppid == pid and state != "Z":
                found[int(entry.name)] = (entry / "cmdline").read_bytes().decode().split("\0")[:-1]
        except (OSError, ValueError, IndexError):
            continue
    return found


def _open_window_then_close(bundle: Path, tmp_path: Path, env: dict[str, str]) -> tuple[int, str]:
    """Open the bundle's window, let it run 3 s, close it with Ctrl+C; (exit code, output).

    Meanwhile the window's server process must be running: the bundle's own executable started
    with ``_server-process`` (launcher.remote), still connected after 3 s; it must be gone after.
    """
    proc = subprocess.Popen(
        [str(bundle), "gui", "--cert-dir", str(tmp_path / "certs")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        time.sleep(3)
        assert proc.poll() is None, proc.communicate()[0]
        servers = {pid: cmd for pid, cmd in _children(proc.pid).items() if "_server-process" in cmd}
        assert len(servers) == 1, _children(proc.pid)
        ((server_pid, command),) = servers.items()
        assert command[:2] == [str(bundle), "_server-process"], command
        proc.send_signal(signal.SIGINT)  # the window's own Ctrl+C handling: a normal close
        out, _ = proc.communicate(timeout=20)
        assert not Path(f"/proc/{server_pid}").exists() or "Z" in Path(f"/proc/{server_pid}/stat").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, out


def test_gui_opens_offscreen_and_quits(bundle: Path, tmp_path: Path, clean_env: dict[str, str]) -> None:
    code, out = _open_window_then_close(bundle, tmp_path, dict(clean_env, QT_QPA_PLATFORM="offscreen"))
    assert code == 0, out
    assert "Traceback" not in out and "Could not load the Qt platform plugin" not in out, out
    # Closing the window saved its settings (geometry, last tab): the window existed.
    settings = tmp_path / "config" / "flask-https-launcher" / "Flask HTTPS Launcher.conf"
    assert settings.is_file(), out
    assert "geometry" in settings.read_text(encoding="utf-8", errors="replace")


def test_gui_opens_on_a_real_x_server(bundle: Path, tmp_path: Path, clean_env: dict[str, str]) -> None:
    """The xcb platform from the bundle's own libraries (build.spec trims system libraries)."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("needs Debian's xvfb for a real X server")
    display = next(n for n in range(90, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    server = subprocess.Popen(
        [xvfb, f":{display}", "-screen", "0", "1440x900x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{display}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        code, out = _open_window_then_close(bundle, tmp_path, dict(clean_env, DISPLAY=f":{display}"))
    finally:
        server.terminate()
        server.wait(10)
    assert code == 0, out
    assert "Traceback" not in out and "platform plugin" not in out, out
    assert (tmp_path / "config" / "flask-https-launcher" / "Flask HTTPS Launcher.conf").is_file()


def test_bundle_contents(bundle: Path) -> None:
    """What the spec promises: resources and metadata in, unused Qt parts and tkinter out."""
    names = {p.relative_to(INTERNAL).as_posix() for p in INTERNAL.rglob("*")}
    assert {"launcher/resources/icon.svg", "launcher/resources/style.qss"} <= names
    assert "flaskapp/templates/index.html" in names
    for dist in ("flask", "werkzeug", "waitress", "click"):
        assert any(re.fullmatch(rf"{dist}-[^/]+\.dist-info/METADATA", n, re.IGNORECASE) for n in names), dist
    assert "PySide6/Qt/plugins/platforms/libqoffscreen.so" in names
    assert "PySide6/Qt/plugins/platforms/libqvnc.so" in names
    assert "PySide6/Qt/plugins/platforms/libqxcb.so" in names
    unwanted = [
        n
        for n in names
        if re.search(r"WebEngine|Qt6Qml|Qt6Quick|tkinter|_tkinter|libgtk-3|/qml/", n)
        or (n.endswith(".qm") and not re.search(r"_(en|de)\.qm$", n))
    ]
    assert not unwanted, unwanted[:20]
