"""``flask launch``: through the real ``flask`` executable (the ``flask.commands`` entry point).

The headless runs are real processes on free ports: they print their URLs, both are fetched
(HTTPS verified against the CA the process made), then SIGTERM must end them with exit code 0.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import queue
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from flask.cli import cli as flask_cli

import launcher.apptarget as apptarget
from launcher.apptarget import AppTarget
from launcher.errors import AppLoadError
from launcher.flask_command import app_target_from, serve_options

APPS = Path(__file__).parent / "apps"
FLASK = Path(sys.executable).with_name("flask")
FREE_PORTS = ("--http-port", "0", "--https-port", "0")

pytestmark = pytest.mark.skipif(
    not any(ep.name == "launch" for ep in entry_points(group="flask.commands")),
    reason="the flask.commands entry point is not installed: run `pip install -e .`",
)


@pytest.fixture(autouse=True)
def _restore_process_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    path, environ = list(sys.path), dict(os.environ)
    yield
    apptarget.apply_dotenv(tmp_path_factory.mktemp("no-dotenv"))
    sys.path[:] = path
    os.environ.clear()
    os.environ.update(environ)


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without any FLASK_* or display settings, plus *extra*."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FLASK_") and k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    env.update(extra)
    return env


class Launched:
    """A ``flask ... launch`` process whose output lines are read in a thread."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [str(FLASK), *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        for stream, sink in ((self.proc.stdout, self.stdout), (self.proc.stderr, self.stderr)):
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True).start()

    def _pump(self, stream, sink: list[str]) -> None:
        for line in stream:
            sink.append(line.rstrip("\n"))
            if stream is self.proc.stdout:
                self.lines.put(line.rstrip("\n"))

    def read_banner(self, timeout: float = 60.0) -> dict[str, str]:
        """The URLs and CA path the command printed once listening."""
        found: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        while "ca" not in found:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"no banner: rc={self.proc.poll()} stdout={self.stdout} stderr={self.stderr}"
                ) from None
            if line.startswith(("http://", "https://")):
                url = line.split()[0]
                found[url.split(":", 1)[0]] = url
            elif line.startswith("CA certificate: "):
                found["ca"] = line.removeprefix("CA certificate: ")
        return found

    def terminate(self, timeout: float = 10.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def launch() -> Iterator:
    started: list[Launched] = []

    def start(args: list[str], cwd: Path = APPS, env: dict[str, str] | None = None) -> Launched:
        proc = Launched(args, cwd, env if env is not None else clean_env())
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()


def get(url: str, ctx: ssl.SSLContext | None = None, path: str = "/") -> tuple[int, str, bytes | None]:
    """(status, body, DER certificate the server presented or None)."""
    scheme, rest = url.split("://")
    host, port = rest.rstrip("/").rsplit(":", 1)
    if scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, int(port), context=ctx, timeout=10
        )
    else:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        der = conn.sock.getpeercert(binary_form=True) if scheme == "https" else None
        return response.status, response.read().decode(), der
    finally:
        conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- discovery ---------------------------------------------------------------------------------------


def test_flask_help_lists_launch() -> None:
    result = subprocess.run(
        [str(FLASK), "--help"], cwd=APPS, env=clean_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "launch  Serve the app on HTTP and HTTPS at once" in result.stdout
    result = subprocess.run(
        [str(FLASK), "launch", "--help"],
        cwd=APPS,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for option in ("--headless", "--http-port", "--https-port", "--cert-dir", "--cert", "--reload"):
        assert option in result.stdout


# --- headless, for real -------------------------------------------------------------------------------


def test_headless_serves_the_app_on_both_schemes_and_stops_on_sigterm(launch, tmp_path: Path) -> None:
    proc = launch(
        ["--app", "modapp", "launch", "--headless", *FREE_PORTS, "--cert-dir", str(tmp_path / "certs")]
    )
    banner = proc.read_banner()
    assert banner["http"].startswith("http://127.0.0.1:") and banner["https"].startswith("https://127.0.0.1:")
    assert Path(banner["ca"]) == (tmp_path / "certs" / "ca.pem").resolve()
    ctx = ssl.create_default_context(cafile=banner["ca"])
    assert get(banner["http"])[:2] == (200, "modapp says hello")
    assert get(banner["https"], ctx)[:2] == (200, "modapp says hello")
    assert get(banner["https"], ctx, "/scheme")[:2] == (200, "https")
    assert proc.terminate() == 0
    access = [line for line in proc.stdout if '"GET / HTTP/1.1" 200' in line]
    assert {line.split()[2] for line in access} == {"http", "https"}
    assert not [line for line in proc.stderr if "Traceback" in line], "\n".join(proc.stderr)


def test_flaskenv_and_flask_run_settings_are_honoured_without_a_display(launch, tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(FLASK_RUN_PORT=str(port), FLASK_RUN_HOST="127.0.0.1", FLASK_LAUNCH_HTTPS_PORT="0")
    proc = launch(["launch", "--cert-dir", str(tmp_path)], cwd=APPS / "envproj", env=env)  # no --headless
    banner = proc.read_banner()
    assert banner["http"] == f"http://127.0.0.1:{port}/"
    assert get(banner["http"])[:2] == (200, "envapp says from .flaskenv; env yes")
    ctx = ssl.create_default_context(cafile=banner["ca"])
    assert get(banner["https"], ctx)[:2] == (200, "envapp says from .flaskenv; env yes")
    assert proc.terminate() == 0
    assert any("no display found" in line for line in proc.stderr)


def test_flask_run_cert_and_key_serve_the_users_certificate(launch, tmp_path: Path) -> None:
    from launcher.certs import CertStore

    own = CertStore(tmp_path / "own")
    own.ensure()
    env = clean_env(FLASK_RUN_CERT=str(own.cert_path), FLASK_RUN_KEY=str(own.key_path))
    proc = launch(
        ["--app", "modapp", "launch", "--headless", "--http-port", "0", "--https-port", "0"], env=env
    )
    banner = proc.read_banner()
    temporary = Path(banner["ca"]).parent
    assert temporary != own.directory and temporary.name.startswith("flask-launch-cert-")
    status, text, der = get(banner["https"], ssl.create_default_context(cafile=str(own.ca_cert_path)))
    assert (status, text) == (200, "modapp says hello")
    served = hashlib.sha256(der).hexdigest()
    expected = hashlib.sha256(ssl.PEM_cert_to_DER_cert(own.cert_path.read_text())).hexdigest()
    assert served == expected
    assert proc.terminate() == 0
    assert not temporary.exists()  # the private copy of the key is gone


def test_reload_through_the_flask_command(launch, tmp_path: Path) -> None:
    shutil.copy(APPS / "modapp.py", tmp_path / "modapp.py")
    proc = launch(
        [
            "--app",
            "modapp",
            "launch",
            "--headless",
            "--reload",
            *FREE_PORTS,
            "--cert-dir",
            str(tmp_path / "certs"),
        ],
        cwd=tmp_path,
    )
    banner = proc.read_banner()
    ctx = ssl.create_default_context(cafile=banner["ca"])
    assert get(banner["http"])[:2] == (200, "modapp says hello")
    source = tmp_path / "modapp.py"
    source.write_text(source.read_text().replace("modapp says hello", "modapp was edited"))

    def edited() -> bool:
        try:
            return get(banner["http"])[:2] == get(banner["https"], ctx)[:2] == (200, "modapp was edited")
        except OSError:  # restarting
            return False

    deadline = time.monotonic() + 20
    while not edited():
        assert time.monotonic() < deadline, (proc.stdout, proc.stderr)
        time.sleep(0.05)
    assert proc.terminate() == 0


# --- errors -----------------------------------------------------------------------------------------


def test_an_app_that_does_not_import_is_one_line_after_the_users_traceback() -> None:
    result = subprocess.run(
        [str(FLASK), "--app", "syntaxpkg", "launch", "--headless"],
        cwd=APPS,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert (
        lines[-1]
        == "Error: Could not import 'syntaxpkg': SyntaxError in syntaxpkg/views.py line 4: invalid syntax"
    )
    assert 'syntaxpkg/views.py", line 4' in result.stderr
    assert "launcher/" not in result.stderr  # the user's traceback only
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--app", "modapp", "launch", "--http-port", "70000"], "invalid port 70000"),
        (["--app", "modapp", "launch", "--headless", "--cert", "x.pem"], "--cert and --key go together"),
        (["--app", "modapp", "launch", "--headless", "--no-http", "--no-https"], "Nothing to serve"),
        (["--app", "factory_raises", "launch", "--headless"], "RuntimeError in factory_raises.py line 9"),
        (
            ["launch", "--headless"],
            "No Flask app given: use --app, set FLASK_APP, or add a wsgi.py or app.py",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(monkeypatch, args: list[str], message: str) -> None:
    monkeypatch.chdir(APPS)
    for key in [k for k in os.environ if k.startswith("FLASK_")]:
        monkeypatch.delenv(key)
    result = CliRunner().invoke(flask_cli, args, catch_exceptions=False)
    assert result.exit_code == 2, result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(error_lines) == 1 and message in error_lines[0]


# --- pieces ---------------------------------------------------------------------------------------------


def test_app_target_from_script_info(tmp_path: Path, monkeypatch) -> None:
    assert app_target_from(ScriptInfo(app_import_path="modapp"), tmp_path) == AppTarget("modapp", tmp_path)
    monkeypatch.delenv("FLASK_APP", raising=False)
    (tmp_path / "wsgi.py").write_text("")
    assert app_target_from(ScriptInfo(), tmp_path) == AppTarget("wsgi.py", tmp_path)
    with pytest.raises(AppLoadError, match="give the app with --app"):
        app_target_from(ScriptInfo(create_app=lambda: None), tmp_path)


def test_serve_options_mapping(tmp_path: Path) -> None:
    params = {
        "host": "127.0.0.2",
        "http_port": 5000,
        "https_port": 0,
        "http": True,
        "https": False,
        "cert_dir": tmp_path,
        "redirect_https": 307,
        "hsts": 60,
        "trusted_proxy": True,
        "threads": 3,
        "reload": True,
    }
    options = serve_options(AppTarget("modapp", tmp_path), params)
    assert (options.host, options.http_port, options.https_port) == ("127.0.0.2", 5000, 0)
    assert (options.http, options.https, options.cert_dir) == (True, False, tmp_path)
    assert (options.redirect_https, options.hsts, options.trusted_proxy) == (307, 60, True)
    assert (options.threads, options.reload, options.app_target, options.chdir) == (
        3,
        True,
        "modapp",
        tmp_path,
    )
    params.update(redirect_https=None, hsts=None)
    options = serve_options(AppTarget("modapp", tmp_path), params)
    assert options.redirect_https is None and options.hsts is None


def test_headless_with_two_workers_serves_the_app_from_both(launch, tmp_path: Path) -> None:
    proc = launch(
        ["--app", "modapp", "launch", "--headless", "--workers", "2", *FREE_PORTS,
         "--cert-dir", str(tmp_path / "certs")]
    )  # fmt: skip
    banner = proc.read_banner()
    ctx = ssl.create_default_context(cafile=banner["ca"])
    for _ in range(30):  # new connections: the kernel spreads them over both workers
        assert get(banner["https"], ctx)[:2] == (200, "modapp says hello")
    time.sleep(0.5)  # the merged log is a quarter of a second behind
    assert proc.terminate() == 0
    access = [line for line in proc.stdout if '"GET / HTTP/1.1" 200' in line]
    assert len(access) == 30
    assert {line.split()[-1] for line in access} == {"w1", "w2"}
