"""``run_gui``: the event loop with the real window, reset of the settings, app targets."""

from __future__ import annotations

import signal
import sys
import textwrap

import pytest
from guihelpers import fetch, refuses, start_window_process, wait_state
from PySide6.QtCore import QSettings, QStandardPaths, QTimer
from PySide6.QtWidgets import QApplication

from launcher.gui import MainWindow, run_gui
from launcher.gui.settings import APPLICATION, ORGANISATION


@pytest.fixture
def user_settings(tmp_path):
    """Point the per-user QSettings store at a temporary folder for the test."""
    default = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericConfigLocation)
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "config"))
    yield QSettings(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION)
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, default)


def _run_with(qtbot, check, **kwargs) -> tuple[int, list]:
    """Run ``run_gui`` and call ``check(window)`` once the window is shown; then close it."""
    seen: list = []

    def poke() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if not windows:
            QTimer.singleShot(20, poke)
            return
        window = windows[0]
        try:
            check(window)
            seen.append(window)
        finally:
            window.close()

    QTimer.singleShot(0, poke)
    code = run_gui([], **kwargs)
    return code, seen


def test_run_gui_opens_serves_and_closes(qtbot, user_settings, tmp_path):
    user_settings.setValue("servers/http_port", 0)
    user_settings.setValue("servers/https_port", 0)
    user_settings.sync()
    results: dict = {}

    def check(window: MainWindow) -> None:
        assert window.windowTitle() == "Flask HTTPS Launcher"
        window.servers_panel.start("http")
        wait_state(qtbot, window, "http", "running")
        results["port"] = window.servers.http.port
        results["status"] = fetch(f"http://127.0.0.1:{results['port']}/")[0]

    code, seen = _run_with(qtbot, check, cert_dir=tmp_path / "certs")
    assert code == 0
    assert len(seen) == 1
    assert results["status"] == 200
    assert seen[0].servers.http.state.value == "stopped"


def test_reset_settings(qtbot, user_settings, tmp_path):
    user_settings.setValue("servers/http_port", 12345)
    user_settings.setValue("policy/hsts", True)
    user_settings.sync()
    values: dict = {}

    def check(window: MainWindow) -> None:
        values["port"] = window.servers_panel.rows["http"].port_spin.value()
        values["hsts"] = window.servers_panel.hsts_check.isChecked()

    _run_with(qtbot, check, cert_dir=tmp_path / "certs", reset_settings=True)
    assert values == {"port": 8080, "hsts": False}


def test_app_target_and_a_broken_one(qtbot, user_settings, tmp_path, monkeypatch):
    (tmp_path / "myguiapp.py").write_text(
        textwrap.dedent(
            """
            from flask import Flask
            app = Flask("myguiapp")

            @app.route("/")
            def index():
                return "mine"
            """
        )
    )
    (tmp_path / "brokenguiapp.py").write_text("import does_not_exist_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    labels: list[str] = []

    def check(window: MainWindow) -> None:
        # The server process loads the target after the window opens: wait for the outcome.
        qtbot.waitUntil(lambda: not window.app_panel.busy, timeout=20_000)
        labels.append(window.app_label.text())
        labels.append(window.banner.text if window.banner.isVisibleTo(window) else "")

    _run_with(qtbot, check, cert_dir=tmp_path / "certs", app_target="myguiapp:app")
    _run_with(qtbot, check, cert_dir=tmp_path / "certs", app_target="brokenguiapp")
    assert labels[0] == "Flask app “myguiapp”"
    assert labels[1] == ""
    assert labels[2] == "Bundled demo app"
    assert "brokenguiapp" in labels[3] and "does_not_exist_anywhere" in labels[3]
    sys.modules.pop("myguiapp", None)
    sys.modules.pop("brokenguiapp", None)


def test_app_target_object_and_chdir(qtbot, user_settings, tmp_path):
    """What ``flask-launcher gui --app/--chdir`` and ``flask launch`` pass: an AppTarget."""
    from launcher.apptarget import AppTarget

    project = tmp_path / "proj"
    project.mkdir()
    (project / "app.py").write_text('from flask import Flask\napp = Flask("chdirguiapp")\n')
    labels: list[str] = []

    def check(window: MainWindow) -> None:
        qtbot.waitUntil(lambda: not window.app_panel.busy, timeout=20_000)
        labels.append(window.app_label.text())

    _run_with(qtbot, check, cert_dir=tmp_path / "certs", app_target=AppTarget(None, project))
    _run_with(qtbot, check, cert_dir=tmp_path / "certs", app_target=AppTarget("app:app", project))
    assert labels == ["Flask app “chdirguiapp”", "Flask app “chdirguiapp”"]
    sys.modules.pop("app", None)


def test_sigterm_closes_the_window_cleanly(tmp_path):
    """``kill`` / ``podman stop``: servers stopped, settings saved, exit code 0 (not 143 / -15)."""
    proc, port, _ = start_window_process(tmp_path)
    try:
        assert not refuses(port)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out
    assert "Traceback" not in out, out
    settings = tmp_path / "config" / "flask-https-launcher" / "Flask HTTPS Launcher.conf"
    assert settings.is_file(), out
    assert "geometry" in settings.read_text(encoding="utf-8", errors="replace")
