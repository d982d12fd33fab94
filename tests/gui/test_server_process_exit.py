"""The window exits promptly on SIGTERM whatever its server process (``launcher.remote``) is doing.

A real window (``run_gui`` offscreen, in its own process) with HTTP running in its server
process; the server process is then frozen with SIGSTOP (as a hung or debugged process would
be) and the window gets SIGTERM, as from ``kill`` or ``podman stop``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from nethelpers import refuses, wait_for

#: ``run_gui`` with HTTP started on a free port; prints "ready <port> <server process pid>".
_WINDOW = """
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


def _gone(pid: int) -> bool:
    """No such process, or only its zombie (its parent, the window, has exited)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_sigterm_ends_the_window_within_2_s_with_a_hung_server_process(tmp_path):
    root = Path(__file__).resolve().parents[2]
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", _WINDOW, str(tmp_path / "certs")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    server_pid = 0
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:  # until the window is up and HTTP runs (or the window ends)
            seen.append(line)
            if line.startswith("ready "):
                break
        assert line.startswith("ready "), "".join(seen)
        port, server_pid = (int(v) for v in line.split()[1:])
        assert not refuses(port)
        os.kill(server_pid, signal.SIGSTOP)  # hung: it reads nothing and answers nothing
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
        elapsed = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if server_pid and not _gone(server_pid):
            os.kill(server_pid, signal.SIGKILL)
    assert proc.returncode == 0, out
    assert elapsed < 2.0, f"the window took {elapsed:.1f} s to exit\n{out}"
    assert _gone(server_pid), "the hung server process was left behind"
    wait_for(lambda: refuses(port), timeout=5)
