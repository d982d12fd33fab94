"""The app selector (issue 7 §1–3): the user's own app over both schemes, load errors with the
traceback, errors inside requests, Restart, and reload on change; real servers, real files."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from guihelpers import ca_context, fetch, wait_state
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QFileDialog, QLabel, QLineEdit, QPlainTextEdit, QPushButton

from launcher.gui.apppanel import RECENT_MAX, push_recent, read_recent, target_from_file

APPS = Path(__file__).resolve().parents[1] / "apps"


IMPORTED = ("modapp", "route_raises", "import_error_app", "syntaxpkg", "factory_raises", "live_app")


@pytest.fixture(autouse=True)
def _forget_app_modules():
    """The apps are imported into this process: drop them afterwards so other tests import anew."""
    yield
    for name in list(sys.modules):
        if name.split(".")[0] in IMPORTED:
            sys.modules.pop(name, None)


@pytest.fixture(params=[False, True], ids=["in-process", "server-process"])
def make_window(request, make_window):
    """Every test here runs twice: servers in the window's process, and in a child process (what
    users get; the app is imported there)."""

    def make(**kw):
        if request.param and "servers" not in kw and "app" not in kw:
            kw["process"] = True
        return make_window(**kw)

    return make


def answer(url: str, context=None) -> tuple[int, bytes] | None:
    """``fetch`` for polling: None while the listener restarts (connection refused)."""
    try:
        return fetch(url, context)
    except OSError:
        return None


def start_both(qtbot, window) -> tuple[str, str]:
    window.servers_panel.start_all()
    wait_state(qtbot, window, "http", "running")
    wait_state(qtbot, window, "https", "running")
    return (
        f"http://127.0.0.1:{window.servers.http.port}",
        f"https://localhost:{window.servers.https.port}",
    )


def choose(qtbot, window, target: str, folder: Path | str) -> None:
    """Click "My app…", type the target and folder, press Apply, wait for the load to finish."""
    panel = window.app_panel
    qtbot.mouseClick(panel.custom_radio, Qt.MouseButton.LeftButton)
    assert panel.custom_radio.isChecked()
    target_edit = window.findChild(QLineEdit, "appTargetEdit")
    folder_edit = window.findChild(QLineEdit, "appFolderEdit")
    target_edit.setText(target)
    folder_edit.setText(str(folder))
    apply = window.findChild(QPushButton, "appApplyButton")
    with qtbot.waitSignal(panel.busyChanged, timeout=10_000, check_params_cb=lambda busy: not busy):
        qtbot.mouseClick(apply, Qt.MouseButton.LeftButton)


def test_my_app_file_serves_over_both_schemes(qtbot, make_window, monkeypatch):
    window = make_window()
    http, https = start_both(qtbot, window)
    ports = (window.servers.http.port, window.servers.https.port)
    panel = window.app_panel
    assert not panel.reload_check.isEnabled()  # an app given as an object: nothing to watch

    # The file picker fills the target (relative to the folder) and the folder.
    qtbot.mouseClick(panel.custom_radio, Qt.MouseButton.LeftButton)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(APPS / "modapp.py"), ""))
    qtbot.mouseClick(window.findChild(QPushButton, "appFileButton"), Qt.MouseButton.LeftButton)
    assert panel.target_edit.text() == "modapp.py"
    assert panel.folder_edit.text() == str(APPS)
    with qtbot.waitSignal(panel.appChanged, timeout=10_000):
        qtbot.mouseClick(window.findChild(QPushButton, "appApplyButton"), Qt.MouseButton.LeftButton)

    assert window.findChild(QLabel, "appLabel").text() == "Flask app “modapp”"
    wait_state(qtbot, window, "http", "running")
    wait_state(qtbot, window, "https", "running")
    assert (window.servers.http.port, window.servers.https.port) == ports  # restarted in place
    assert fetch(f"{http}/") == (200, b"modapp says hello")
    assert fetch(f"{https}/", ca_context(window)) == (200, b"modapp says hello")
    assert fetch(f"{https}/scheme", ca_context(window)) == (200, b"https")
    assert not panel.error_label.isVisibleTo(window)
    assert panel.recent[0] == ("modapp.py", str(APPS))
    assert panel.reload_check.isEnabled()


def test_my_app_while_stopped_is_served_at_start(qtbot, make_window):
    window = make_window()
    choose(qtbot, window, "modapp:app", APPS)
    assert window.servers.http.state.value == "stopped"  # applying never starts anything
    _http, https = start_both(qtbot, window)
    assert fetch(f"{https}/", ca_context(window)) == (200, b"modapp says hello")


@pytest.mark.parametrize(
    ("target", "expected", "in_traceback"),
    [
        ("import_error_app", "launcher_no_such_module", "import_error_app.py"),
        ("syntaxpkg", "SyntaxError in syntaxpkg/views.py line 4", "views.py"),
    ],
)
def test_broken_app_shows_message_and_details_and_keeps_serving(
    qtbot, make_window, target, expected, in_traceback
):
    window = make_window(show=True)
    http, https = start_both(qtbot, window)
    panel = window.app_panel
    choose(qtbot, window, target, APPS)

    error = window.findChild(QLabel, "appErrorLabel")
    assert error.isVisible()
    assert expected in error.text()
    assert "\n" not in error.text() and "Traceback" not in error.text()
    details = window.findChild(QPlainTextEdit, "appDetailsView")
    assert not details.isVisible()  # expandable: closed until asked
    qtbot.mouseClick(panel.details_button, Qt.MouseButton.LeftButton)
    assert details.isVisible() and details.isReadOnly()
    assert details.font().fixedPitch() or details.font().styleHint() == details.font().StyleHint.Monospace
    assert "Traceback" in details.toPlainText() and in_traceback in details.toPlainText()
    assert "launcher/apptarget.py" not in details.toPlainText()  # the user's frames, not ours

    # Nothing changed: the old app still answers on both schemes, on the same listeners.
    assert window.app_label.text() == "Flask app “guitestapp”"
    assert json.loads(fetch(f"{http}/")[1])["scheme"] == "http"
    assert json.loads(fetch(f"{https}/", ca_context(window))[1])["scheme"] == "https"
    assert window.servers.http.running and window.servers.https.running

    # And the window is still usable: a good target clears the message.
    choose(qtbot, window, "modapp", APPS)
    assert not error.isVisible() and not details.isVisible()
    assert fetch(f"{http}/") == (200, b"modapp says hello")


def test_broken_app_while_stopped_stays_stopped(qtbot, make_window):
    window = make_window()
    before = window.servers.app
    choose(qtbot, window, "factory_raises", APPS)
    assert "RuntimeError" in window.app_panel.error_label.text()
    assert window.servers.app == before
    assert all(lst.state.value == "stopped" for lst in window.servers.listeners)


def test_missing_target_and_empty_form(qtbot, make_window, tmp_path):
    window = make_window()
    panel = window.app_panel
    qtbot.mouseClick(panel.custom_radio, Qt.MouseButton.LeftButton)
    panel.target_edit.clear()
    panel.folder_edit.clear()
    qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)
    assert "Enter your app" in panel.error_label.text() and not panel.busy
    choose(qtbot, window, "nowhere.py", tmp_path)
    assert "Could not find 'nowhere.py'" in panel.error_label.text()
    assert not panel.details_button.isVisibleTo(window)  # no traceback to show for that one


def test_request_exception_shows_traceback_in_detail_pane(qtbot, make_window):
    """route_raises.py served for real: a 500 for /boom, its traceback in the request's details."""
    window = make_window()
    choose(qtbot, window, "route_raises.py", APPS)
    http, https = start_both(qtbot, window)
    status, _ = fetch(f"{https}/boom", ca_context(window))
    assert status == 500
    assert fetch(f"{http}/") == (200, b"route_raises is fine here")  # still serving
    model = window.log_panel.model
    qtbot.waitUntil(lambda: model.rowCount() == 2, timeout=5000)
    row = next(i for i, r in enumerate(model.records()) if r.path == "/boom")
    window.log_panel.view.selectRow(row)
    text = window.log_panel.detail.toPlainText()
    assert "GET /boom → 500" in text
    assert "ZeroDivisionError: division by zero" in text
    assert "route_raises.py" in text and "return str(1 / 0)" in text


def test_demo_radio_switches_back_to_the_demo_app(qtbot, make_window):
    window = make_window()
    choose(qtbot, window, "modapp", APPS)
    http, _https = start_both(qtbot, window)
    assert fetch(f"{http}/") == (200, b"modapp says hello")
    with qtbot.waitSignal(window.app_panel.appChanged, timeout=10_000):
        qtbot.mouseClick(window.app_panel.demo_radio, Qt.MouseButton.LeftButton)
    assert window.app_label.text() == "Bundled demo app"
    assert not window.app_panel.target_edit.isVisibleTo(window)  # the demo app needs no target
    assert not window.app_panel.reload_check.isEnabled()
    wait_state(qtbot, window, "http", "running")
    status, body = fetch(f"{http}/inspect")
    assert status == 200 and json.loads(body)["listener"] == "http"


def test_recent_targets_are_kept_and_reused(qtbot, make_window, gui_settings):
    window = make_window()
    choose(qtbot, window, "modapp", APPS)
    choose(qtbot, window, "route_raises", APPS)
    assert window.app_panel.recent[:2] == [("route_raises", str(APPS)), ("modapp", str(APPS))]
    actions = window.app_panel.recent_menu.actions()
    assert len(actions) == 2 and "route_raises" in actions[0].text()
    window.close()
    qtbot.waitUntil(lambda: window._close_done, timeout=3000)

    again = make_window()
    panel = again.app_panel
    assert panel.recent[:2] == [("route_raises", str(APPS)), ("modapp", str(APPS))]
    # Picking one fills the form and serves it (once the app from last time is restored).
    qtbot.waitUntil(lambda: not panel.busy, timeout=10_000)
    with qtbot.waitSignal(panel.appChanged, timeout=10_000):
        panel.recent_menu.actions()[1].trigger()
    assert panel.target_edit.text() == "modapp" and again.app_label.text() == "Flask app “modapp”"
    assert panel.recent[0] == ("modapp", str(APPS))


def test_recent_list_helpers():
    recent: list[tuple[str, str]] = []
    for i in range(RECENT_MAX + 3):
        recent = push_recent(recent, f"app{i}", "/p")
    recent = push_recent(recent, "app5", "/p")
    assert len(recent) == RECENT_MAX
    assert recent[0] == ("app5", "/p") and recent.count(("app5", "/p")) == 1
    assert ("app0", "/p") not in recent

    class FakeSettings:
        def __init__(self, value: str) -> None:
            self.value = value

        def get(self, _key: str) -> str:
            return self.value

    assert read_recent(FakeSettings("not json")) == []
    assert read_recent(FakeSettings('[["a", "/x"], 3, ["b"], ["a", "/x"]]')) == [("a", "/x")]


def test_target_from_file(tmp_path):
    (tmp_path / "sub").mkdir()
    file = tmp_path / "sub" / "app.py"
    file.write_text("")
    assert target_from_file(file, str(tmp_path)) == ("sub/app.py", str(tmp_path))
    assert target_from_file(file, "") == ("app.py", str(tmp_path / "sub"))
    assert target_from_file(file, str(tmp_path / "elsewhere")) == ("app.py", str(tmp_path / "sub"))


LIVE_APP = """\
from flask import Flask

app = Flask(__name__)


@app.get("/")
def index() -> str:
    return {text!r}
"""


def write_live(path: Path, text: str) -> None:
    path.write_text(LIVE_APP.format(text=text))


def test_reload_on_change(qtbot, make_window, tmp_path):
    """Edit → new response on both schemes; break it → message stays, old version served; fix → back."""
    source = tmp_path / "live_app.py"
    shutil.copy(APPS / "modapp.py", source)
    window = make_window()
    choose(qtbot, window, "live_app.py", tmp_path)
    http, https = start_both(qtbot, window)
    assert fetch(f"{http}/") == (200, b"modapp says hello")

    check = window.findChild(QCheckBox, "reloadCheck")
    assert check.isEnabled()
    check.setChecked(True)
    qtbot.waitUntil(lambda: window.app_panel.reloader is not None and window.app_panel.reloader.running)

    write_live(source, "version two")
    qtbot.waitUntil(lambda: answer(f"{http}/") == (200, b"version two"), timeout=10_000)
    assert fetch(f"{https}/", ca_context(window)) == (200, b"version two")

    source.write_text(LIVE_APP.format(text="broken") + "\ndef oops(:\n")
    panel = window.app_panel
    qtbot.waitUntil(lambda: panel.error_label.isVisibleTo(window), timeout=10_000)
    assert "SyntaxError in live_app.py line" in panel.error_label.text()
    assert window.banner.isVisibleTo(window) and "SyntaxError" in window.banner.text
    assert "def oops(:" in panel.details_view.toPlainText()
    assert fetch(f"{http}/") == (200, b"version two")  # the last good version keeps serving
    assert fetch(f"{https}/", ca_context(window)) == (200, b"version two")
    assert window.servers.http.running and window.servers.https.running

    write_live(source, "version three, fixed")
    qtbot.waitUntil(lambda: answer(f"{http}/") == (200, b"version three, fixed"), timeout=10_000)
    qtbot.waitUntil(lambda: not panel.error_label.isVisibleTo(window), timeout=5000)
    assert not window.banner.isVisibleTo(window)
    assert fetch(f"{https}/", ca_context(window)) == (200, b"version three, fixed")

    # Off: saves are no longer picked up.
    check.setChecked(False)
    qtbot.waitUntil(lambda: window.app_panel.reloader is None and not window.app_panel.busy)
    write_live(source, "version four")
    qtbot.wait(1200)
    assert fetch(f"{http}/") == (200, b"version three, fixed")


def test_restart_button_imports_afresh(qtbot, make_window, tmp_path):
    source = tmp_path / "live_app.py"
    write_live(source, "first")
    window = make_window()
    restart = window.findChild(QPushButton, "restartButton")
    assert not restart.isEnabled()  # nothing runs yet
    choose(qtbot, window, "live_app", tmp_path)
    http, _https = start_both(qtbot, window)
    assert restart.isEnabled()
    write_live(source, "second")
    assert fetch(f"{http}/") == (200, b"first")  # no reload on change: nothing happens yet
    qtbot.mouseClick(restart, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: answer(f"{http}/") == (200, b"second"), timeout=10_000)

    # A broken file: Restart keeps the old app serving and says why.
    source.write_text("import launcher_no_such_module_either\n")
    wait_state(qtbot, window, "http", "running")
    qtbot.waitUntil(restart.isEnabled)
    qtbot.mouseClick(restart, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.app_panel.error_label.isVisibleTo(window), timeout=10_000)
    assert "launcher_no_such_module_either" in window.app_panel.error_label.text()
    assert fetch(f"{http}/") == (200, b"second")


def test_restart_with_the_demo_app(qtbot, make_window):
    window = make_window()
    http, _https = start_both(qtbot, window)
    port = window.servers.http.port
    window.app_panel.restart()
    qtbot.waitUntil(lambda: not window.app_panel.busy, timeout=5000)
    wait_state(qtbot, window, "http", "running")
    assert window.servers.http.port == port
    assert fetch(f"{http}/x")[0] == 200


def test_settings_restore_the_users_app(qtbot, make_window, gui_settings, tmp_path, monkeypatch):
    """A window that is given no app serves the target the selector served last time."""
    from launcher.gui import MainWindow

    window = make_window()
    choose(qtbot, window, "modapp", APPS)
    window.close()
    qtbot.waitUntil(lambda: window._close_done, timeout=3000)

    again = MainWindow(cert_dir=tmp_path / "c2", settings=gui_settings)
    qtbot.addWidget(again)
    try:
        qtbot.waitUntil(lambda: again.app_label.text() == "Flask app “modapp”", timeout=10_000)
        assert again.app_panel.custom_radio.isChecked()
        assert again.app_panel.target_edit.text() == "modapp"
    finally:
        again.shutdown()
        again.log_panel.pump.close()


def test_run_gui_target_shows_in_selector(qtbot, make_window, gui_settings):
    """What run_gui passes for --app: the target shows in the form, and reload on change (left on
    last time) watches it at once."""
    from PySide6.QtCore import QSettings

    from launcher.apptarget import AppTarget, load_app

    saved = QSettings(str(gui_settings), QSettings.Format.IniFormat)
    saved.setValue("app/reload", True)
    saved.sync()
    target = AppTarget("modapp:app", APPS)
    window = make_window(app=load_app(target), app_target=target)
    panel = window.app_panel
    assert panel.custom_radio.isChecked()
    assert panel.target_edit.text() == "modapp:app" and panel.folder_edit.text() == str(APPS)
    assert panel.reload_check.isChecked()
    assert panel.recent[0] == ("modapp:app", str(APPS))
    qtbot.waitUntil(lambda: panel.reloader is not None and not panel.busy, timeout=5000)
    assert panel.reloader.running and panel.reload_check.isEnabled()
    assert panel.reloader.target == target
    assert APPS.resolve() in panel.reloader.watched_roots


def test_run_gui_broken_target_shows_error_inline(qtbot, make_window):
    from launcher.apptarget import AppTarget, load_app
    from launcher.errors import AppLoadError

    target = AppTarget("import_error_app", APPS)
    with pytest.raises(AppLoadError) as info:
        load_app(target)
    window = make_window(app=None, app_target=target, app_error=info.value)
    panel = window.app_panel
    assert window.app_label.text() == "Bundled demo app"
    assert panel.custom_radio.isChecked() and panel.target_edit.text() == "import_error_app"
    assert "launcher_no_such_module" in panel.error_label.text()
    assert "Traceback" in panel.details_view.toPlainText()
    assert not panel.reload_check.isEnabled()  # the demo app is served


SLOW_APP = """\
import pathlib
import time

from flask import Flask

app = Flask(__name__)


@app.get("/slow")
def slow() -> str:
    pathlib.Path(__file__).with_name("started").touch()
    time.sleep(0.4)
    return {text!r}
"""


def test_request_in_flight_finishes_across_a_restart(qtbot, make_window, tmp_path):
    """Restart gives requests in flight the grace period: the slow one still gets its answer."""
    import threading

    source = tmp_path / "live_app.py"
    source.write_text(SLOW_APP.format(text="old answer"))
    window = make_window()
    choose(qtbot, window, "live_app", tmp_path)
    http, _https = start_both(qtbot, window)
    source.write_text(SLOW_APP.format(text="new answer"))
    results: list[tuple[int, bytes]] = []
    client = threading.Thread(target=lambda: results.append(fetch(f"{http}/slow")))
    client.start()
    qtbot.waitUntil((tmp_path / "started").exists, timeout=5000)  # the request is in flight
    qtbot.mouseClick(window.findChild(QPushButton, "restartButton"), Qt.MouseButton.LeftButton)
    client.join(10)
    assert results == [(200, b"old answer")]
    qtbot.waitUntil(lambda: answer(f"{http}/slow") == (200, b"new answer"), timeout=10_000)


def test_closing_with_reload_on_stops_the_watcher(qtbot, make_window, tmp_path):
    import threading

    write_live(tmp_path / "live_app.py", "watched")
    window = make_window()
    choose(qtbot, window, "live_app", tmp_path)
    http, _https = start_both(qtbot, window)
    window.app_panel.reload_check.setChecked(True)
    qtbot.waitUntil(lambda: window.app_panel.reloader is not None and not window.app_panel.busy)
    with qtbot.waitSignal(window.closed, timeout=5000):
        window.close()
    watchers = [t for t in threading.enumerate() if t.name == "launcher-reload-watcher"]
    assert not watchers
    # A save after closing restarts nothing.
    write_live(tmp_path / "live_app.py", "after close")
    qtbot.wait(800)
    assert answer(f"{http}/") is None
    assert window.servers.http.state.value == "stopped"


def test_folder_picker_and_flask_app_discovery(qtbot, make_window, tmp_path, monkeypatch):
    """An empty target with a chosen folder finds the app the way flask does (here: app.py)."""
    project = tmp_path / "proj"
    project.mkdir()
    (project / "app.py").write_text('from flask import Flask\napp = Flask("live_app_discovered")\n')
    window = make_window()
    panel = window.app_panel
    qtbot.mouseClick(panel.custom_radio, Qt.MouseButton.LeftButton)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(project))
    qtbot.mouseClick(window.findChild(QPushButton, "appFolderButton"), Qt.MouseButton.LeftButton)
    assert panel.folder_edit.text() == str(project)
    panel.target_edit.clear()
    with qtbot.waitSignal(panel.appChanged, timeout=10_000):
        qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)
    assert window.app_label.text() == "Flask app “live_app_discovered”"
    assert panel.target.target == "app.py"
    assert panel.recent_button.isEnabled() and panel.recent[0] == ("", str(project))
    sys.modules.pop("app", None)
