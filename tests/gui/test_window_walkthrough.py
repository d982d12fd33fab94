"""The window at 1024×640, the log's column chooser, and the defects of a walkthrough: banners that
go when their cause is solved, a failed system opener, localhost for Open, imported certificates'
words, shortcuts, and the Inspector's stale mark.  Real widgets, offscreen."""

from __future__ import annotations

import datetime as dt
import os
import socket
from pathlib import Path

import pytest
from guihelpers import make_test_app, records_via, wait_state
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import QAbstractButton, QApplication, QComboBox, QLineEdit, QMenu, QPushButton, QWidget

from launcher.certs import CertStore
from launcher.gui.logmodel import COL_WORKER
from launcher.trust import TrustState
from launcher.trustplan import StoreState

APPS = Path(__file__).resolve().parents[1] / "apps"
CONTROLS = (QAbstractButton, QComboBox)


def settle(qtbot, ms: int = 50) -> None:
    QApplication.processEvents()
    qtbot.wait(ms)


def clipped_controls(window: QWidget) -> list[str]:
    """Every shown button, check box and combo that its parent cuts off, or narrower than its size
    hint (its text would be cut); the left column's vertical scrolling is allowed (not clipped)."""
    problems = []
    for kind in CONTROLS:
        for widget in window.findChildren(kind):
            if not widget.isVisible() or widget.window() is not window:
                continue
            parent = widget.parentWidget()
            if parent is None or isinstance(parent, QLineEdit):  # a line edit's own clear button
                continue
            geometry = widget.geometry()
            text = widget.text() if isinstance(widget, QAbstractButton) else widget.currentText()
            name = f"{type(widget).__name__} {widget.objectName() or text!r} in {parent.objectName()}"
            if geometry.left() < 0 or geometry.right() > parent.rect().right():
                problems.append(f"{name}: {geometry} outside its parent's {parent.rect()}")
            if widget.width() < widget.sizeHint().width():
                problems.append(f"{name}: {widget.width()} px < size hint {widget.sizeHint().width()}")
            # Horizontally inside the window (nothing off to the right of the screen).
            right = widget.mapTo(window, QPoint(widget.width() - 1, 0)).x()
            if right >= window.width():
                problems.append(f"{name}: ends at x={right}, the window is {window.width()} wide")
    return problems


def test_the_window_is_usable_at_1024_by_640(qtbot, make_window) -> None:
    window = make_window(show=True)
    window.log_panel.show_worker_column(True)  # every column, as while several workers serve
    assert window.minimumSizeHint().width() <= 1000
    window.resize(1024, 640)
    settle(qtbot)
    assert window.width() == 1024 and window.height() == 640
    sink = window.servers.sink
    for record in records_via(make_test_app(), [("GET", "/a/long/path/for/the/log?x=1"), ("GET", "/")]):
        sink.add(record)
    qtbot.waitUntil(lambda: window.log_panel.model.rowCount() == 2, timeout=3000)
    settle(qtbot)

    assert clipped_controls(window) == []
    log = window.log_panel
    # The filter box shows its placeholder's first words, not "Fil…".
    assert log.filter_edit.width() >= 160
    view, header = log.view, log.view.horizontalHeader()
    shown = [c for c in range(header.count()) if not header.isSectionHidden(c)]
    assert len(shown) == header.count() == 10
    assert all(header.sectionSize(c) > 0 for c in shown)
    # Every column is inside the view (elided if need be), none scrolled off to the right.
    assert sum(header.sectionSize(c) for c in shown) <= view.viewport().width() + 1
    assert view.textElideMode() == Qt.TextElideMode.ElideRight
    assert header.textElideMode() == Qt.TextElideMode.ElideRight

    window.tabs.setCurrentWidget(window.inspector_panel)
    settle(qtbot)
    assert clipped_controls(window) == []


def test_log_columns_fit_and_follow_the_view_width(qtbot, make_window) -> None:
    window = make_window(show=True)
    log = window.log_panel
    for width in (1024, 1400):
        window.resize(width, 700)
        settle(qtbot)
        header = log.view.horizontalHeader()
        total = sum(header.sectionSize(c) for c in range(header.count()))
        assert abs(total - log.view.viewport().width()) <= 1, width


def test_column_chooser_hides_columns_and_the_choice_is_kept(qtbot, make_window, gui_settings) -> None:
    window = make_window(show=True)
    log = window.log_panel
    header = log.view.horizontalHeader()
    assert header.contextMenuPolicy() == Qt.ContextMenuPolicy.CustomContextMenu

    # A right click on the header opens the chooser.
    header.customContextMenuRequested.emit(QPoint(10, 5))
    menus = [m for m in QApplication.topLevelWidgets() if isinstance(m, QMenu) and m.isVisible()]
    assert [m.objectName() for m in menus] == ["logColumnMenu"]
    titles = [a.text() for a in menus[0].actions() if a.isCheckable()]
    assert titles == ["Time", "Scheme", "Method", "Path", "Status", "ms", "Bytes", "Client", "TLS", "Worker"]
    client = next(a for a in menus[0].actions() if a.text() == "Client")
    with qtbot.waitSignal(log.columnsChanged) as blocker:
        client.trigger()
    menus[0].close()
    assert blocker.args == [["client", "worker"]]  # Worker: hidden while one process serves
    assert header.isSectionHidden(7)
    assert header.sectionSize(3) > 0
    settle(qtbot)
    shown = [c for c in range(header.count()) if not header.isSectionHidden(c)]
    assert sum(header.sectionSize(c) for c in shown) <= log.view.viewport().width() + 1

    # The last shown column cannot be hidden.
    everything = ["time", "scheme", "method", "path", "status", "ms", "bytes", "client", "tls", "worker"]
    log.set_hidden_columns(everything)
    assert log.hidden_columns() == [name for name in everything if name != "path"]
    menu = log.column_menu()
    path = next(a for a in menu.actions() if a.text() == "Path")
    assert path.isChecked() and not path.isEnabled()

    log.set_hidden_columns(["client", "tls"])
    window.save_settings()
    again = make_window(settings=gui_settings)
    assert again.log_panel.hidden_columns() == ["client", "tls", "worker"]
    assert again.settings.get("log/hidden_columns") == "client,tls"  # Worker follows the workers


def test_a_column_shown_later_gets_its_own_width_back(qtbot, make_window) -> None:
    """The Worker column is hidden while one process serves, before the window has its size;
    shown later (more workers) it takes its natural width, not the squeezed one it was hidden at."""
    window = make_window()  # built, not shown: the log's columns are squeezed into a small view
    log = window.log_panel
    header = log.view.horizontalHeader()
    assert header.isSectionHidden(COL_WORKER)
    window.resize(1600, 800)
    window.show()
    settle(qtbot)
    log.show_worker_column(True)
    settle(qtbot)
    title = header.fontMetrics().horizontalAdvance("Worker")
    assert header.sectionSize(COL_WORKER) >= title, (header.sectionSize(COL_WORKER), title)


def test_inspect_button_is_disabled_after_clear(qtbot, make_window) -> None:
    window = make_window(show=True)
    log = window.log_panel
    for record in records_via(make_test_app(), [("GET", "/one")]):
        window.servers.sink.add(record)
    qtbot.waitUntil(lambda: log.model.rowCount() == 1, timeout=3000)
    assert not log.inspect_button.isEnabled()
    log.view.selectRow(0)
    assert log.inspect_button.isEnabled() and log.inspect_action.isEnabled()
    qtbot.mouseClick(log.clear_button, Qt.MouseButton.LeftButton)
    assert log.model.rowCount() == 0
    assert not log.inspect_button.isEnabled() and not log.inspect_action.isEnabled()
    with qtbot.assertNotEmitted(log.inspectRequested):
        log.inspect_selected()


def test_port_conflict_banner_goes_when_that_listener_runs(qtbot, make_window) -> None:
    window = make_window(show=True)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        window.servers_panel.rows["https"].port_spin.setValue(port)
        window.servers_panel.start("https")
        qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=10_000)
    assert "HTTPS did not start" in window.banner.text
    assert window.banner.source == "listener:https"

    # HTTP running says nothing about the HTTPS problem: the banner stays.
    window.servers_panel.start("http")
    wait_state(qtbot, window, "http", "running")
    assert window.banner.isVisible()

    window.servers_panel.rows["https"].port_spin.setValue(0)
    window.servers_panel.start("https")
    wait_state(qtbot, window, "https", "running")
    qtbot.waitUntil(lambda: not window.banner.isVisible(), timeout=3000)


def test_banner_without_a_source_is_not_taken_down_by_a_listener(qtbot, make_window) -> None:
    window = make_window(show=True)
    window.banner.show_message("Something else", source="")
    assert not window.banner.dismiss_source("listener:http")
    assert not window.banner.dismiss_source("")
    assert window.banner.isVisible() and window.banner.text == "Something else"


def test_import_error_goes_to_the_banner_and_away_after_a_good_apply(qtbot, make_window) -> None:
    window = make_window(show=True)
    panel = window.app_panel
    qtbot.mouseClick(panel.custom_radio, Qt.MouseButton.LeftButton)
    panel.target_edit.setText("import_error_app")
    panel.folder_edit.setText(str(APPS))
    with qtbot.waitSignal(panel.busyChanged, timeout=10_000, check_params_cb=lambda busy: not busy):
        panel.apply()
    assert panel.error_label.text()
    assert window.banner.isVisible() and window.banner.source == "app"
    assert window.banner.text == panel.error_label.text()

    panel.target_edit.setText("modapp")
    with qtbot.waitSignal(panel.appChanged, timeout=10_000):
        panel.apply()
    qtbot.waitUntil(lambda: not window.banner.isVisible(), timeout=3000)


def test_open_reports_a_failed_opener_and_copies_the_url(qtbot, make_window) -> None:
    window = make_window(show=True)
    asked: list[str] = []

    def failing_opener(url) -> bool:
        asked.append(url.toString())
        return False

    window.servers_panel.open_url = failing_opener
    window.servers_panel.start("https")
    wait_state(qtbot, window, "https", "running")
    QGuiApplication.clipboard().clear()
    qtbot.mouseClick(window.findChild(QPushButton, "httpsOpenButton"), Qt.MouseButton.LeftButton)
    url = window.servers_panel.browser_url("https")
    assert asked == [url]
    assert QGuiApplication.clipboard().text() == url
    assert window.banner.isVisible() and window.banner.level == "warning"
    assert f"Could not open {url}" in window.banner.text and "clipboard" in window.banner.text
    if os.geteuid() == 0:
        assert "root" in window.banner.text and "--no-sandbox" in window.banner.text
    else:
        assert "--no-sandbox" not in window.banner.text


def test_open_folder_reports_a_failed_opener_and_copies_the_path(qtbot, make_window) -> None:
    window = make_window(show=True)
    window.cert_store.ensure()
    window.cert_panel.open_url = lambda _url: False
    window.cert_panel.open_folder()
    folder = str(Path(window.cert_store.directory))
    assert QGuiApplication.clipboard().text() == folder
    assert "Could not open the certificate folder" in window.banner.text

    opened: list[str] = []
    window.banner.dismiss()
    window.cert_panel.open_url = lambda url: opened.append(url.toLocalFile()) or True
    window.cert_panel.open_folder()
    assert opened == [folder] and not window.banner.isVisible()


def test_open_uses_localhost_only_when_the_certificate_names_it(make_window, gui_cert_dir) -> None:
    store = CertStore(gui_cert_dir)
    store.create_leaf(("127.0.0.1",))
    window = make_window()
    panel = window.servers_panel
    assert panel.browser_url("https").startswith("https://127.0.0.1:")
    store.create_leaf(("localhost", "127.0.0.1"))
    assert panel.browser_url("https").startswith("https://localhost:")
    assert panel.browser_url("http").startswith("http://localhost:")  # the same host: same cookies


def test_imported_certificate_words_and_trust(qtbot, make_window, gui_cert_dir, tmp_path) -> None:
    other = CertStore(tmp_path / "elsewhere")  # another CA: the imported leaf is not ours
    other.create_leaf(("localhost", "127.0.0.1", "::1"), now=dt.datetime.now(dt.UTC) - dt.timedelta(days=380))
    mine = CertStore(gui_cert_dir)
    mine.ensure()
    window = make_window(show=True)
    panel, trust = window.cert_panel, window.cert_panel.trust
    assert panel.served_by_local_ca and not trust.foreign_label.isVisible()
    trusted = StoreState("Chromium", TrustState.TRUSTED)
    assert trust.state_words(trusted)[2] == "trusted"

    with qtbot.waitSignal(panel.certificateChanged, timeout=10_000):
        panel.import_pair(other.cert_path, other.key_path)
    qtbot.waitUntil(lambda: not panel._busy, timeout=5000)
    warning = panel.warning_label.text()
    assert "imported certificate expires in" in warning
    assert "renewed when HTTPS starts" not in warning and "import a renewed one" in warning
    assert not panel.served_by_local_ca
    assert trust.foreign_label.isVisible() and "not issued by this CA" in trust.foreign_label.text()
    words = trust.state_words(trusted)[2]
    assert words != "trusted" and "not the served certificate" in words
    trust.show_states([trusted, StoreState("Firefox", TrustState.NOT_TRUSTED)])
    assert "not the served certificate" in trust.status_labels["Chromium"].text()
    assert "Replace the imported certificate" in panel.generate_button.toolTip()

    # Back to a certificate of the local CA: the trust is the served certificate's again.
    with qtbot.waitSignal(panel.certificateChanged, timeout=10_000):
        panel.generate()
    qtbot.waitUntil(lambda: not panel._busy, timeout=5000)
    assert panel.served_by_local_ca and not trust.foreign_label.isVisible()
    assert trust.state_words(trusted)[2] == "trusted"


def test_shortcuts_open_https_and_show_the_inspector(qtbot, make_window) -> None:
    window = make_window(show=True)
    assert window.open_https_action.shortcut() == QKeySequence("Ctrl+O")
    assert window.show_inspector_action.shortcut() == QKeySequence("Ctrl+I")
    in_menus = {a for menu in window.menuBar().findChildren(QMenu) for a in menu.actions()}
    assert window.open_https_action in in_menus and window.show_inspector_action in in_menus

    window.activateWindow()
    qtbot.waitUntil(lambda: QGuiApplication.focusWindow() is not None, timeout=2000)
    qtbot.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.inspector_panel
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.log_panel

    opened: list[str] = []
    window.servers_panel.open_url = lambda url: opened.append(url.toString()) or True
    window.servers_panel.start("https")
    wait_state(qtbot, window, "https", "running")
    qtbot.keyClick(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    assert opened == [window.servers_panel.browser_url("https")]


@pytest.mark.parametrize("change", ["options", "certificate"])
def test_the_inspector_report_goes_stale_and_the_next_run_clears_it(qtbot, make_window, change) -> None:
    window = make_window(show=True)
    window.servers_panel.start_all()
    wait_state(qtbot, window, "http", "running")
    wait_state(qtbot, window, "https", "running")
    inspector = window.inspector_panel
    inspector.lens_check.setChecked(False)
    assert not inspector.stale  # nothing to be stale before a report
    window.servers_panel.hsts_check.setChecked(True)
    assert not inspector.stale_label.isVisibleTo(window)

    with qtbot.waitSignal(inspector.inspected, timeout=10_000):
        window.inspect_path("/")
    assert not inspector.stale_label.isVisibleTo(window)
    if change == "options":
        window.servers_panel.redirect_check.setChecked(True)
        reason = "the serving options"
    else:
        with qtbot.waitSignal(window.cert_panel.certificateChanged, timeout=10_000):
            window.cert_panel.generate()
        reason = "the certificate"
    assert inspector.stale_label.isVisibleTo(window)
    assert reason in inspector.stale_label.text() and "run it again" in inspector.stale_label.text()

    with qtbot.waitSignal(inspector.inspected, timeout=10_000):
        inspector.inspect()
    assert not inspector.stale and not inspector.stale_label.isVisibleTo(window)


def test_serving_another_app_makes_the_report_stale(qtbot, make_window) -> None:
    window = make_window(show=True)
    window.servers_panel.start("http")
    wait_state(qtbot, window, "http", "running")
    inspector = window.inspector_panel
    inspector.lens_check.setChecked(False)
    with qtbot.waitSignal(inspector.inspected, timeout=10_000):
        window.inspect_path("/")
    panel = window.app_panel
    qtbot.mouseClick(panel.custom_radio, Qt.MouseButton.LeftButton)
    panel.target_edit.setText("modapp")
    panel.folder_edit.setText(str(APPS))
    with qtbot.waitSignal(panel.appChanged, timeout=10_000):
        panel.apply()
    assert inspector.stale and "the app" in inspector.stale_label.text()
