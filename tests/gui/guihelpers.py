"""Helpers for the GUI tests (imported by name: tests/gui is on sys.path under pytest)."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import traceback
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from flask import Flask, got_request_exception, jsonify, request
from nethelpers import refuses  # noqa: F401 - the GUI tests import it from here
from werkzeug.test import Client

from launcher.requestlog import ERROR_ENVIRON_KEY, RequestLogMiddleware, RequestRecord, RequestSink


def wait_state(qtbot, window: Any, scheme: str, state: str, timeout: int = 5000) -> None:
    listener = window.servers.http if scheme == "http" else window.servers.https
    label = window.servers_panel.rows[scheme].status

    def check() -> None:
        assert listener.state.value == state
        assert label.property("state") == state

    qtbot.waitUntil(check, timeout=timeout)


def ca_context(window: Any) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(window.cert_store.ca_cert_path))


def fetch(url: str, context: ssl.SSLContext | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, context=context, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def make_test_app() -> Flask:
    """A small Flask app: echo, a configurable status, a route that raises."""
    app = Flask("guitestapp")

    @app.route("/")
    def index():
        return jsonify(scheme=request.scheme, path=request.path)

    @app.route("/status/<int:code>")
    def status(code: int):
        return f"status {code}\n", code

    @app.route("/boom")
    def boom():
        raise RuntimeError("boom from the test app")

    def keep_traceback(sender: Flask, exception: BaseException, **extra: Any) -> None:
        # What the launcher's app integration does: leave the traceback for the request log.
        request.environ[ERROR_ENVIRON_KEY] = "".join(traceback.format_exception(exception))

    got_request_exception.connect(keep_traceback, app, weak=False)

    @app.route("/<path:path>", methods=["GET", "POST"])
    def echo(path: str):
        return jsonify(scheme=request.scheme, path=path)

    return app


def records_via(app: Any, requests: list[tuple[str, str]], listener: str = "http") -> list[RequestRecord]:
    """Real ``RequestRecord``s: run *requests* ((method, path) pairs) through the real middleware."""
    sink = RequestSink()
    client = Client(RequestLogMiddleware(app, sink, listener))
    for method, path in requests:
        environ: dict[str, Any] = {}
        if listener == "https":
            environ = {
                "wsgi.url_scheme": "https",
                "SSL_PROTOCOL": "TLSv1.3",
                "SSL_CIPHER": "TLS_AES_256_GCM_SHA384",
            }
        client.open(
            path,
            method=method,
            environ_overrides=environ,
            headers={"User-Agent": "gui-test/1"},
            buffered=True,
        )
    return sink.snapshot()


#: ``run_gui`` in a process of its own, HTTP started on a free port; prints
#: "ready <port> <server process pid>" once it serves.
_WINDOW_SCRIPT = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from launcher.gui import MainWindow, run_gui

def poke():
    windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
    if not windows:
        QTimer.singleShot(20, poke)
        return
    window = windows[0]
    if window.servers.http.state.value != "running":
        if window.servers.http.state.value == "stopped":
            window.servers_panel.rows["http"].port_spin.setValue(0)
            window.servers_panel.start("http")
        QTimer.singleShot(20, poke)
        return
    print("ready", window.servers.http.port, window.servers.pid, flush=True)

QTimer.singleShot(0, poke)
sys.exit(run_gui([], cert_dir=sys.argv[1]))
"""


def start_window_process(tmp_path: Path) -> tuple[subprocess.Popen[str], int, int]:
    """The window as a user runs it (offscreen, settings under *tmp_path*/config), serving HTTP:
    (the process, the HTTP port, the server process's pid).  Output goes to ``proc.stdout``."""
    root = Path(__file__).resolve().parents[2]
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", _WINDOW_SCRIPT, str(tmp_path / "certs")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert proc.stdout is not None
    seen = []
    line = ""
    for line in proc.stdout:  # until the window is up and HTTP runs (or the window ends)
        seen.append(line)
        if line.startswith("ready "):
            break
    if not line.startswith("ready "):
        proc.kill()
        proc.communicate()
        raise AssertionError("".join(seen))
    port, server_pid = (int(v) for v in line.split()[1:])
    return proc, port, server_pid
