"""The main window with real servers on free ports, real HTTP/HTTPS requests, offscreen Qt."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading

import pytest
from guihelpers import ca_context, fetch, refuses, wait_state
from PySide6.QtCore import QSettings, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableView,
    QToolButton,
    QWidget,
)

from launcher.errors import PortInUseError
from launcher.gui import MainWindow

#: The key flows run twice: servers in the window's process, and in a child process (what users get).
BOTH_MODES = pytest.mark.parametrize("process", [False, True], ids=["in-process", "server-process"])

REQUIRED_NAMES = {
    "httpStartButton": QPushButton,
    "httpsStartButton": QPushButton,
    "startAllButton": QPushButton,
    "stopAllButton": QPushButton,
    "httpPortSpin": QSpinBox,
    "httpsPortSpin": QSpinBox,
    "httpOpenButton": QPushButton,
    "httpsOpenButton": QPushButton,
    "requestLogView": QTableView,
    "logFilterEdit": QLineEdit,
    "certGenerateButton": QPushButton,
    "inspectorPanel": QWidget,
}


def start_all(qtbot, window) -> tuple[int, int]:
    qtbot.mouseClick(window.findChild(QPushButton, "startAllButton"), Qt.MouseButton.LeftButton)
    wait_state(qtbot, window, "http", "running")
    wait_state(qtbot, window, "https", "running")
    return window.servers.http.port, window.servers.https.port


def test_builds_without_showing(make_window):
    window = make_window()
    assert window.windowTitle() == "Flask HTTPS Launcher"
    assert not window.isVisible()
    for name, cls in REQUIRED_NAMES.items():
        widget = window.findChild(cls, name)
        assert widget is not None, name
        assert widget.accessibleName(), f"{name} has no accessibleName"


def test_every_control_is_named(make_window):
    """Every control of the window's own panels has an objectName and an accessibleName."""
    window = make_window()
    panels = (
        window.servers_panel,
        window.cert_panel,
        window.log_panel,
        window.banner,
        window.app_panel,
        window.inspector_panel,
    )
    controls = (
        QPushButton,
        QSpinBox,
        QLineEdit,
        QTableView,
        QComboBox,
        QCheckBox,
        QToolButton,
        QRadioButton,
        QPlainTextEdit,
    )
    checked = 0
    for panel in panels:
        for cls in controls:
            for widget in panel.findChildren(cls):
                parent = widget.parent()
                if isinstance(parent, QSpinBox | QComboBox | QLineEdit) or widget.objectName().startswith(
                    "qt_"
                ):
                    continue  # Qt's own parts: a spin box's line edit, a line edit's clear button
                assert widget.objectName(), f"unnamed {cls.__name__} in {panel.objectName()}"
                assert widget.accessibleName(), widget.objectName()
                checked += 1
    assert checked >= 50
    for name in ("inspectButton", "copyReportButton", "trustCaButton", "untrustCaButton", "restartButton"):
        assert window.findChild(QWidget, name).accessibleName(), name


def test_default_arguments_are_optional(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    window = MainWindow(settings=tmp_path / "s.ini")
    qtbot.addWidget(window)
    assert window.cert_store.directory.is_relative_to(tmp_path / "data")
    assert window.app_label.text() == "Bundled demo app"
    window.shutdown()  # the server process ends
    assert not window.servers.alive
    window.log_panel.pump.close()


@BOTH_MODES
def test_start_requests_rows_and_stop(qtbot, make_window, process):
    window = make_window(show=True, process=process)
    http_port, https_port = start_all(qtbot, window)
    assert window.servers_panel.rows["http"].url_label.text().count(f":{http_port}/") == 2

    status, body = fetch(f"http://127.0.0.1:{http_port}/hello")
    assert status == 200 and json.loads(body)["scheme"] == "http"
    status, body = fetch(f"https://localhost:{https_port}/secure", ca_context(window))
    assert status == 200 and json.loads(body)["scheme"] == "https"

    model = window.log_panel.model
    qtbot.waitUntil(lambda: model.rowCount() == 2, timeout=3000)
    by_path = {r.path: r for r in model.records()}
    assert by_path["/hello"].listener == "http" and by_path["/hello"].tls_version is None
    assert by_path["/secure"].listener == "https" and by_path["/secure"].tls_version in ("TLSv1.2", "TLSv1.3")
    assert window.log_panel.view.model().rowCount() == 2
    qtbot.waitUntil(lambda: window.status_total.text() == "Requests: 2", timeout=2000)

    qtbot.mouseClick(window.findChild(QPushButton, "stopAllButton"), Qt.MouseButton.LeftButton)
    wait_state(qtbot, window, "http", "stopped")
    wait_state(qtbot, window, "https", "stopped")
    assert refuses(http_port)
    assert refuses(https_port)
    assert not window.servers_panel.rows["http"].open_button.isEnabled()


def test_single_listener_toggle(qtbot, make_window):
    window = make_window()
    button = window.findChild(QPushButton, "httpStartButton")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    wait_state(qtbot, window, "http", "running")
    assert button.text() == "Stop"
    assert window.servers.https.state.value == "stopped"
    assert not window.findChild(QSpinBox, "httpPortSpin").isEnabled()
    port = window.servers.http.port
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    wait_state(qtbot, window, "http", "stopped")
    assert button.text() == "Start"
    assert refuses(port)


@BOTH_MODES
def test_port_in_use_shows_banner_and_recovers(qtbot, make_window, process):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    busy_port = blocker.getsockname()[1]
    try:
        window = make_window(show=True, process=process)
        spin = window.findChild(QSpinBox, "httpPortSpin")
        spin.setValue(busy_port)
        qtbot.mouseClick(window.findChild(QPushButton, "httpStartButton"), Qt.MouseButton.LeftButton)
        wait_state(qtbot, window, "http", "error")
        banner = window.banner
        qtbot.waitUntil(banner.isVisible, timeout=2000)
        assert f"Port {busy_port}" in banner.text and "already in use" in banner.text
        assert "choose another port" in banner.text
        assert "Traceback" not in banner.text
        assert window.findChild(QLabel, "statusErrorsLabel").text() == "Errors: 1"
        # Still usable: choose a free port and start again.
        assert spin.isEnabled()
        spin.setValue(0)
        qtbot.mouseClick(window.findChild(QPushButton, "httpStartButton"), Qt.MouseButton.LeftButton)
        wait_state(qtbot, window, "http", "running")
        status, _ = fetch(f"http://127.0.0.1:{window.servers.http.port}/")
        assert status == 200
    finally:
        blocker.close()


def test_port_in_use_error_is_typed(qtbot, make_window):
    """The banner text is the core's PortInUseError message, not a GUI rewording."""
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    try:
        window = make_window()
        window.servers_panel.rows["https"].port_spin.setValue(port)
        window.servers_panel.start("https")
        qtbot.waitUntil(lambda: window.banner.isVisibleTo(window), timeout=5000)
        assert str(PortInUseError("127.0.0.1", port)).split(" already")[0] in window.banner.text
    finally:
        blocker.close()


@BOTH_MODES
def test_regenerate_updates_panel_and_served_cert(qtbot, make_window, process):
    window = make_window(process=process)
    window.servers_panel.start("https")
    wait_state(qtbot, window, "https", "running")
    panel = window.cert_panel
    qtbot.waitUntil(lambda: panel.leaf_info is not None or panel.refresh() or panel.leaf_info is not None)
    before = panel.leaf_info.fingerprint_sha256
    label = window.findChild(QLabel, "certLeafFingerprintLabel")
    assert label.toolTip() == before
    port = window.servers.https.port

    panel.set_hosts_text("localhost, myapp.test, 10.1.2.3")
    qtbot.mouseClick(window.findChild(QPushButton, "certGenerateButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: panel.leaf_info is not None and panel.leaf_info.fingerprint_sha256 != before, timeout=5000
    )
    after = panel.leaf_info.fingerprint_sha256
    assert label.toolTip() == after
    assert "myapp.test" in window.findChild(QLabel, "certLeafSansLabel").text()
    assert "IP:10.1.2.3" in panel.leaf_info.sans
    # HTTPS was restarted on the same port and now serves the new certificate.
    wait_state(qtbot, window, "https", "running")
    assert window.servers.https.port == port
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ca_context(window).wrap_socket(raw, server_hostname="myapp.test") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    served = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
    assert served == after


def test_san_editor_marks_invalid_names(qtbot, make_window):
    window = make_window()
    edit = window.findChild(QLineEdit, "certHostsEdit")
    status = window.findChild(QLabel, "certHostsStatus")
    button = window.findChild(QPushButton, "certGenerateButton")
    edit.clear()
    qtbot.keyClicks(edit, "localhost, bad_name!, 300.1.1.1")
    assert edit.property("state") == "invalid"
    assert "bad_name!" in status.text() and "#b91c1c" in status.text()
    assert not button.isEnabled()
    edit.clear()
    qtbot.keyClicks(edit, "localhost, example.test")
    assert edit.property("state") == "valid"
    assert "2 valid names" in status.text()
    assert button.isEnabled()


def test_import_shows_validation_error_inline(qtbot, make_window, tmp_path):
    from launcher.certs import CertStore

    window = make_window()
    one, two = CertStore(tmp_path / "one"), CertStore(tmp_path / "two")
    one.ensure()
    two.ensure()
    window.cert_panel.import_pair(one.cert_path, two.key_path)  # key of another certificate
    error = window.findChild(QLabel, "certImportError")
    qtbot.waitUntil(lambda: error.isVisibleTo(window), timeout=5000)
    assert error.text().startswith("Not imported:")
    assert "does not belong" in error.text() or "match" in error.text()
    assert not window.cert_store.cert_path.exists()

    window.cert_panel.import_pair(one.cert_path, one.key_path)
    qtbot.waitUntil(lambda: not error.isVisibleTo(window), timeout=5000)
    assert window.cert_panel.leaf_info.fingerprint_sha256 == one.leaf_info().fingerprint_sha256
    assert "(imported)" in window.findChild(QLabel, "certLeafSubjectLabel").text()


def test_filter_in_window(qtbot, make_window):
    window = make_window()
    window.servers_panel.start("http")
    wait_state(qtbot, window, "http", "running")
    port = window.servers.http.port
    for path in ("/apple", "/banana", "/status/404"):
        fetch(f"http://127.0.0.1:{port}{path}")
    view = window.findChild(QTableView, "requestLogView")
    qtbot.waitUntil(lambda: view.model().rowCount() == 3, timeout=3000)
    qtbot.keyClicks(window.findChild(QLineEdit, "logFilterEdit"), "banana")
    assert view.model().rowCount() == 1
    assert [r.path for r in window.log_panel.visible_records()] == ["/banana"]
    window.findChild(QLineEdit, "logFilterEdit").clear()
    window.log_panel.status_combo.setCurrentIndex(window.log_panel.status_combo.findData(4))
    assert [r.status for r in window.log_panel.visible_records()] == [404]
    assert "1 of 3 rows" in window.log_panel.count_label.text()


def test_har_and_jsonl_export_of_visible_rows(qtbot, make_window, tmp_path):
    window = make_window()
    window.servers_panel.start_all()
    wait_state(qtbot, window, "http", "running")
    wait_state(qtbot, window, "https", "running")
    fetch(f"http://127.0.0.1:{window.servers.http.port}/one?x=1&y=2")
    fetch(f"https://localhost:{window.servers.https.port}/two", ca_context(window))
    qtbot.waitUntil(lambda: window.log_panel.model.rowCount() == 2, timeout=3000)
    window.log_panel.scheme_combo.setCurrentIndex(window.log_panel.scheme_combo.findData("https"))

    har_path = tmp_path / "out.har"
    assert window.log_panel.export_to("har", har_path) == 1
    har = json.loads(har_path.read_text())
    assert har["log"]["version"] == "1.2"
    assert {"creator", "entries"} <= har["log"].keys()
    (entry,) = har["log"]["entries"]
    assert {"startedDateTime", "time", "request", "response", "cache", "timings"} <= entry.keys()
    assert entry["request"]["url"] == f"https://localhost:{window.servers.https.port}/two"
    assert {
        "method",
        "url",
        "httpVersion",
        "cookies",
        "headers",
        "queryString",
        "headersSize",
        "bodySize",
    } <= entry["request"].keys()
    assert {"status", "statusText", "httpVersion", "cookies", "headers", "content", "redirectURL"} <= entry[
        "response"
    ].keys()
    assert entry["_tls"]["version"].startswith("TLSv1.")

    window.log_panel.scheme_combo.setCurrentIndex(0)
    jsonl = tmp_path / "out.jsonl"
    assert window.log_panel.export_to("jsonl", jsonl) == 2
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [line["listener"] for line in lines] == ["http", "https"]
    assert lines[0]["query"] == "x=1&y=2"


@BOTH_MODES
def test_detail_pane_shows_headers_tls_and_traceback(qtbot, make_window, process):
    window = make_window(process=process)
    window.servers_panel.start_all()
    wait_state(qtbot, window, "https", "running")
    wait_state(qtbot, window, "http", "running")
    fetch(f"https://localhost:{window.servers.https.port}/boom", ca_context(window))
    qtbot.waitUntil(lambda: window.log_panel.model.rowCount() == 1, timeout=3000)
    view = window.log_panel.view
    view.selectRow(0)
    text = window.log_panel.detail.toPlainText()
    assert "GET /boom → 500" in text
    assert "Request headers" in text and "Host" in text
    assert "TLSv1." in text
    record = window.log_panel.selected_record()
    assert record is not None and record.status == 500
    assert "RuntimeError: boom from the test app" in record.error
    assert "Error" in text and "RuntimeError: boom from the test app" in text
    view.clearSelection()
    assert "Select a request" in window.log_panel.detail.toPlainText()
    window._update_status()
    assert window.findChild(QLabel, "statusErrorsLabel").text() == "Errors: 1"  # the 500


@BOTH_MODES
def test_redirect_and_hsts_options_apply_at_once(qtbot, make_window, process):
    window = make_window(process=process)
    window.servers_panel.start_all()
    wait_state(qtbot, window, "https", "running")
    wait_state(qtbot, window, "http", "running")
    panel = window.servers_panel
    panel.redirect_check.setChecked(True)
    panel.redirect_status_combo.setCurrentIndex(panel.redirect_status_combo.findData(307))
    panel.hsts_check.setChecked(True)
    panel.hsts_age_spin.setValue(600)
    policy = window.servers.policy
    assert (policy.redirect_https, policy.hsts) == (307, 600)

    import http.client

    if process:  # the changes travel to the server process; wait until it has them
        policy.sync()
    conn = http.client.HTTPConnection("127.0.0.1", window.servers.http.port, timeout=5)
    conn.request("GET", "/x")
    resp = conn.getresponse()
    assert resp.status == 307
    assert resp.getheader("Location", "").startswith("https://127.0.0.1:")
    conn.close()
    with_hsts = http.client.HTTPSConnection(
        "localhost", window.servers.https.port, context=ca_context(window), timeout=5
    )
    with_hsts.request("GET", "/")
    assert with_hsts.getresponse().getheader("Strict-Transport-Security") == "max-age=600"
    with_hsts.close()
    panel.redirect_check.setChecked(False)
    assert policy.redirect_https is None


def test_settings_round_trip(qtbot, make_window, gui_settings):
    window = make_window(free_ports=False)
    panel = window.servers_panel
    panel.rows["http"].port_spin.setValue(18080)
    panel.rows["https"].port_spin.setValue(18443)
    panel.set_host("::1")
    panel.redirect_check.setChecked(True)
    panel.redirect_status_combo.setCurrentIndex(panel.redirect_status_combo.findData(301))
    panel.hsts_check.setChecked(True)
    panel.hsts_age_spin.setValue(1234)
    window.tabs.setCurrentIndex(1)
    window.cert_panel.set_hosts_text("localhost, dev.test")
    window.log_panel.autoscroll_check.setChecked(False)
    window.resize(700, 500)
    window.close()
    qtbot.waitUntil(lambda: window._close_done, timeout=3000)

    again = make_window(free_ports=False)
    p = again.servers_panel
    assert p.rows["http"].port_spin.value() == 18080
    assert p.rows["https"].port_spin.value() == 18443
    assert again.servers.http.configured_port == 18080
    assert p.host() == "::1" and again.servers.host == "::1"
    assert p.redirect_check.isChecked() and p.redirect_status_combo.currentData() == 301
    assert p.hsts_check.isChecked() and p.hsts_age_spin.value() == 1234
    assert again.servers.policy.redirect_https == 301 and again.servers.policy.hsts == 1234
    assert again.tabs.currentIndex() == 1
    assert again.cert_panel.hosts_edit.text() == "localhost, dev.test"
    assert not again.log_panel.autoscroll_check.isChecked()
    assert (again.width(), again.height()) == (700, 500)

    # --reset-settings clears them all.
    QSettings(str(gui_settings), QSettings.Format.IniFormat).clear()
    fresh = make_window(free_ports=False)
    assert fresh.servers_panel.rows["http"].port_spin.value() == 8080
    assert not fresh.servers_panel.redirect_check.isChecked()


@BOTH_MODES
def test_closing_stops_the_servers(qtbot, make_window, process):
    window = make_window(show=True, process=process)
    http_port, https_port = start_all(qtbot, window)
    with qtbot.waitSignal(window.closed, timeout=3000):
        window.close()
    assert not window.isVisible()
    assert refuses(http_port) and refuses(https_port)
    if process:  # ... and the server process ended
        pid = window.servers.pid
        assert not window.servers.alive
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert window.servers.http.state.value == "stopped"
    assert window.servers.https.state.value == "stopped"


def test_shortcuts(qtbot, make_window, make_records):
    window = make_window(show=True)
    window.activateWindow()
    qtbot.waitUntil(lambda: QGuiApplication.focusWindow() is not None, timeout=2000)
    qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    wait_state(qtbot, window, "http", "running")
    wait_state(qtbot, window, "https", "running")
    qtbot.keyClick(window, Qt.Key.Key_Period, Qt.KeyboardModifier.ControlModifier)
    wait_state(qtbot, window, "http", "stopped")
    wait_state(qtbot, window, "https", "stopped")

    window.log_panel.model.append_records(make_records(3))
    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert window.log_panel.model.rowCount() == 0
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.findChild(QLineEdit, "logFilterEdit").hasFocus(), timeout=2000)


def test_pause_keeps_counting_and_resume_adds_rows(qtbot, make_window):
    window = make_window()
    window.servers_panel.start("http")
    wait_state(qtbot, window, "http", "running")
    port = window.servers.http.port
    window.log_panel.pause_button.click()
    assert window.log_panel.pump.paused and window.pause_action.isChecked()
    for i in range(3):
        fetch(f"http://127.0.0.1:{port}/p{i}")
    qtbot.waitUntil(lambda: window.log_panel.pump.pending == 3, timeout=3000)
    assert window.log_panel.model.rowCount() == 0
    assert "paused, 3 waiting" in window.log_panel.count_label.text()
    window.log_panel.pause_button.click()
    assert window.log_panel.model.rowCount() == 3


def test_open_and_copy_url(qtbot, make_window):
    opened: list[str] = []

    from PySide6.QtCore import QObject, Slot

    class UrlCatcher(QObject):
        @Slot(QUrl)
        def open(self, url: QUrl) -> None:
            opened.append(url.toString())

    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("http", catcher, "open")
    try:
        window = make_window()
        window.servers_panel.start("http")
        wait_state(qtbot, window, "http", "running")
        qtbot.mouseClick(window.findChild(QPushButton, "httpOpenButton"), Qt.MouseButton.LeftButton)
        assert opened == [window.servers.http.url]
        qtbot.mouseClick(window.findChild(QPushButton, "httpCopyButton"), Qt.MouseButton.LeftButton)
        assert QGuiApplication.clipboard().text() == window.servers.http.url
    finally:
        QDesktopServices.unsetUrlHandler("http")


def test_unexpected_exception_opens_dialog_and_app_keeps_running(qtbot, make_window):
    from launcher.gui.errorui import install_exception_hooks

    window = make_window()
    restore = install_exception_hooks(window.exception_router)
    try:

        def fail() -> None:
            raise ValueError("a bug in a worker thread")

        thread = threading.Thread(target=fail)
        thread.start()
        thread.join()
        qtbot.waitUntil(lambda: window.unexpected_errors == 1, timeout=3000)
    finally:
        restore()
    dialog = window.last_exception_dialog
    assert dialog.isVisible()
    assert "ValueError: a bug in a worker thread" in dialog.details.toPlainText()
    assert "Traceback" in dialog.details.toPlainText()
    dialog.copy_details()
    assert "a bug in a worker thread" in QGuiApplication.clipboard().text()
    dialog.close()
    # A user error goes to the banner, never to a dialog.
    window.report_exception(PortInUseError("127.0.0.1", 1))
    assert window.banner.isVisibleTo(window) and window.unexpected_errors == 1
    # And the window still works.
    window.servers_panel.start("http")
    wait_state(qtbot, window, "http", "running")


@pytest.mark.parametrize("kind", ["har", "jsonl"])
def test_export_to_unwritable_folder_shows_banner(qtbot, make_window, tmp_path, monkeypatch, kind):
    from PySide6.QtWidgets import QFileDialog

    window = make_window()
    target = tmp_path / "missing-dir" / f"x.{kind}"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    window.log_panel.export_dialog(kind)
    assert window.banner.isVisibleTo(window)
    assert "Could not write" in window.banner.text


@BOTH_MODES
def test_inspect_a_logged_request(qtbot, make_window, process):
    window = make_window(process=process, show=True)  # a click needs the button laid out
    window.servers_panel.start_all()
    wait_state(qtbot, window, "https", "running")
    wait_state(qtbot, window, "http", "running")
    fetch(f"http://127.0.0.1:{window.servers.http.port}/look/here?x=1")
    qtbot.waitUntil(lambda: window.log_panel.model.rowCount() == 1, timeout=3000)
    button = window.findChild(QPushButton, "logInspectButton")
    assert not button.isEnabled()
    window.log_panel.view.selectRow(0)
    assert button.isEnabled()
    with qtbot.waitSignal(window.inspector_panel.inspected, timeout=10_000):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert window.tabs.currentWidget() is window.inspector_panel
    assert window.inspector_panel.path_edit.text() == "/look/here?x=1"


@pytest.mark.parametrize(("age_days", "expected"), [(380, "expires in"), (400, "has expired")])
def test_certificate_warning_when_expiring_or_expired(make_window, gui_cert_dir, age_days, expected):
    import datetime as dt

    from launcher.certs import CertStore

    store = CertStore(gui_cert_dir)
    store.create_leaf(("localhost",), now=dt.datetime.now(dt.UTC) - dt.timedelta(days=age_days))
    window = make_window()
    warning = window.findChild(QLabel, "certWarningLabel")
    assert warning.isVisibleTo(window)
    assert expected in warning.text() and "Regenerate" in warning.text()
    window.cert_panel.generate()
    window.tasks.wait_idle(5)
    assert not warning.isVisibleTo(window)
    assert window.cert_panel.leaf_info.days_left > 300


def test_fresh_certificate_has_no_warning(make_window, gui_cert_dir):
    from launcher.certs import CertStore

    CertStore(gui_cert_dir).ensure()
    window = make_window()
    assert not window.findChild(QLabel, "certWarningLabel").isVisibleTo(window)
    assert "days left" in window.findChild(QLabel, "certLeafValidityLabel").text()


def test_certificate_panel_shows_the_ca_that_starting_https_made(qtbot, make_window, gui_cert_dir):
    from launcher.certs import CertStore

    window = make_window(show=True)
    subject = window.findChild(QLabel, "certCaSubjectLabel")
    fingerprint = window.findChild(QLabel, "certCaFingerprintLabel")
    assert "No CA yet" in subject.text()
    window.servers_panel.start("https")
    wait_state(qtbot, window, "https", "running")
    ca = CertStore(gui_cert_dir).ca_info()
    assert ca is not None
    qtbot.waitUntil(lambda: fingerprint.toolTip() == ca.fingerprint_sha256, timeout=5000)
    assert "No CA yet" not in subject.text()
    assert window.cert_panel.leaf_info is not None
    assert "No certificate yet" not in window.findChild(QLabel, "certLeafSubjectLabel").text()


def test_certificate_panel_shows_the_ca_when_https_then_failed_to_bind(qtbot, make_window, gui_cert_dir):
    from launcher.certs import CertStore

    window = make_window(show=True)
    fingerprint = window.findChild(QLabel, "certCaFingerprintLabel")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        window.servers_panel.rows["https"].port_spin.setValue(taken.getsockname()[1])
        window.servers_panel.start("https")
        wait_state(qtbot, window, "https", "error")
    ca = CertStore(gui_cert_dir).ca_info()
    assert ca is not None  # the CA is made before the bind
    qtbot.waitUntil(lambda: fingerprint.toolTip() == ca.fingerprint_sha256, timeout=5000)


def test_first_window_fits_a_1280x800_screen(qtbot, make_window):
    window = make_window(show=True)  # empty settings: no saved geometry
    assert window.width() <= 1280 and window.height() <= 800, window.size()
    # Nothing squeezed below what its panels need.
    assert window.left_scroll.width() >= window.left_scroll.minimumWidth()
    assert window.tabs.width() >= window.tabs.minimumSizeHint().width()
    assert window.log_panel.detail.width() >= 300  # headers and values readable beside the table


def test_a_broken_demo_app_in_the_server_process_shows_in_the_banner(qtbot, tmp_path, monkeypatch):
    """The server process cannot import the bundled demo app: the banner says why, the window
    stays usable and the listeners answer 503 with a pointer to it."""
    broken = tmp_path / "shadow"
    (broken / "flaskapp").mkdir(parents=True)
    (broken / "flaskapp" / "__init__.py").write_text("raise ImportError('demo app files are damaged')\n")
    monkeypatch.syspath_prepend(str(broken))  # the server process puts this process's path first
    window = MainWindow(cert_dir=tmp_path / "certs", settings=tmp_path / "s.ini")
    qtbot.addWidget(window)
    try:
        qtbot.waitUntil(lambda: window.banner.isVisibleTo(window), timeout=20_000)
        assert "demo app" in window.banner.text and "damaged" in window.banner.text
        assert window.unexpected_errors == 0  # a user-facing error, not a crash dialog
        window.servers_panel.rows["http"].port_spin.setValue(0)
        window.servers_panel.start("http")
        wait_state(qtbot, window, "http", "running")
        status, body = fetch(window.servers.http.url)
        assert status == 503 and b"demo app could not be loaded" in body
    finally:
        window.shutdown()
        window.log_panel.pump.close()
