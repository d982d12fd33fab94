"""The main window: servers and certificate on the left, the request log (and inspector) on the right.

``MainWindow(cert_dir=None, settings=None, app=None, servers=None)`` can be built in-process
without showing it; every argument is optional:

- ``servers``: what to drive (``launcher.control.ServersControl``: a ``launcher.servers.Servers``
  or a ``launcher.remote.RemoteServers``).
  When given, its own host, ports and policy are used as they are (the window still saves what
  the user changes).  When not, the window builds one from the settings with a ``CertStore`` in
  ``cert_dir`` (the per-user default folder by default): without ``app``, a
  ``launcher.serverswitch.SwitchableServers`` over a ``RemoteServers`` (the servers run in a
  child process, so their threads never compete with the event loop for the GIL), or over a
  ``launcher.workers.WorkerPool`` of N such processes when the Workers setting is N > 1
  (``server_process=False`` keeps them in this process); with ``app`` (an app object, which
  cannot cross to another process), a ``Servers`` in this process serving it.
- ``settings``: a ``QSettings``, a path to an ini file, or None for the per-user store.
- ``app_target``: the ``AppTarget`` that ``app`` was loaded from (the app selector shows it and
  reload on change watches it); with ``app_error`` (it failed to load), the selector shows the
  target and the error while the demo app is served.
- ``trust_stores``: what the trust section lists and acts on (``launcher.trust.default_stores``
  by default; tests pass stores in a temporary HOME).

With none of ``app``, ``servers`` and ``app_target``, the window serves what the app selector
served last time: the demo app, or the user's last target (loaded in a worker thread after the
window is built; a failure shows in the selector and the demo app keeps serving).

Workers (the servers panel's setting, ``config.workers``): a change is applied ``WORKERS_DELAY_MS``
after the last step of the spin box (``apply_workers``), in a worker thread: the servers object
is replaced by one with that many processes, the running listeners start again on their ports,
with the same app, policy and log (``SwitchableServers.switch``).  The request log's Worker
column shows while more than one process serves.  The pool's notices (a worker died and is
started again) come from its threads through the bridge to the banner (``worker_notice``).

The banner remembers what each message is about: a listener that did not start (its message goes
once that listener runs) or the app (its load error goes once an app is served).  The Inspector's
report is marked out of date when the serving options, the served certificate or the served app
change after it was made.

Shortcuts: Ctrl+R start all, Ctrl+. stop all, Ctrl+Shift+R restart, Ctrl+O open the HTTPS page,
Ctrl+Shift+O the HTTP page, Ctrl+1 the request log, Ctrl+I the Inspector, Ctrl+L clear the log,
Ctrl+F filter, Ctrl+Q quit (each is in a menu too).

Closing the window stops both listeners (in parallel, in a worker thread, within about 1 s; the
window stays responsive and a 2 s deadline closes it regardless), saves the settings and lets the
application quit.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QSystemTrayIcon,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from launcher import __version__
from launcher.apptarget import AppTarget, demo_app_or_placeholder
from launcher.certs import CertStore
from launcher.control import ServersControl
from launcher.errors import AppLoadError, LauncherError
from launcher.gui.apppanel import AppPanel
from launcher.gui.certpanel import CertificatePanel
from launcher.gui.errorui import (
    ExceptionDialog,
    ExceptionRouter,
    MessageBanner,
    format_exception,
    user_error_details,
)
from launcher.gui.inspector_panel import InspectorPanel
from launcher.gui.logpanel import LogPanel
from launcher.gui.productionpanel import ProductionPanel
from launcher.gui.resources import app_icon
from launcher.gui.serverspanel import ServersPanel
from launcher.gui.settings import Settings, open_settings
from launcher.gui.tasks import TaskRunner
from launcher.gui.trustpanel import StoresFactory
from launcher.messages import MessageLevel
from launcher.recordformat import escape_control
from launcher.remote import RemoteServers
from launcher.requestlog import RequestSink
from launcher.scheme import Scheme
from launcher.servers import ListenerState, Servers, serving_options
from launcher.serverswitch import SwitchableServers
from launcher.workers import WorkerPool

WINDOW_TITLE = "Flask HTTPS Launcher"
#: Closing waits at most this long for the listeners to stop before the window goes anyway.
CLOSE_DEADLINE_MS = 2000
STATUS_INTERVAL_MS = 500
#: The first window size (no saved geometry): fits a 1280×800 screen with room for a panel.
DEFAULT_SIZE = QSize(1240, 760)
#: On a smaller screen the first window takes at most this share of its available area.
SCREEN_SHARE = 0.9
#: The banner's source for the app's load errors (``MessageBanner.dismiss_source``).
APP_SOURCE = "app"
#: The banner's source for the worker pool's notices (a worker died, is serving again).
WORKERS_SOURCE = "workers"
#: A change of Workers waits this long for the spin box to settle (one switch for 1 → 4).
WORKERS_DELAY_MS = 400


def listener_source(scheme: str) -> str:
    """The banner's source for one listener's problems."""
    return f"listener:{scheme}"


class MainWindow(QMainWindow):
    """The launcher's window.  See the module docstring for the arguments."""

    #: Emitted once the window has really closed (servers stopped, settings saved).
    closed = Signal()

    def __init__(
        self,
        cert_dir: str | os.PathLike[str] | None = None,
        settings: QSettings | str | os.PathLike[str] | None = None,
        app: Any = None,
        servers: ServersControl | None = None,
        parent: QWidget | None = None,
        *,
        app_target: AppTarget | None = None,
        app_error: LauncherError | None = None,
        trust_stores: StoresFactory | None = None,
        server_process: bool | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle(WINDOW_TITLE)
        self.setAccessibleName(WINDOW_TITLE)
        self.setWindowIcon(app_icon())
        self.settings = Settings(open_settings(settings))
        self.tasks = TaskRunner(self)
        self.tasks.unhandled = self.report_exception
        self.exception_router = ExceptionRouter(self)
        self.exception_router.raised.connect(self.report_exception)
        self.unexpected_errors = 0
        self.listener_errors = 0
        self._closing = False
        self._close_done = False
        self._startup_error: LauncherError | None = None

        #: The serving options as saved (the servers panel keeps the current ones).
        self.config = self.settings.load_config()
        restore_app = app is None and servers is None and app_target is None
        load_given = app is None and servers is None and app_target is not None and app_error is None
        if server_process is None:
            server_process = app is None and servers is None
        #: Notices of the worker pool (a worker died, is serving again), oldest first.
        self.worker_notices: list[str] = []
        if servers is None:
            servers = self._build_servers(cert_dir, app, server_process)
            owns_config = True
        else:
            owns_config = False
        self.servers: ServersControl = servers
        #: The servers when their number of processes can change (``apply_workers``), else None.
        self.switchable = servers if isinstance(servers, SwitchableServers) else None
        self._switching = False
        self.cert_store: CertStore = servers.cert_store
        # What is served: the demo app when the window made it, the target when the app loaded.
        if app_target is not None and app is not None and app_error is None:
            served_target: AppTarget | None = app_target
        elif app is None and owns_config:
            served_target = AppTarget()  # the demo app (a given app_target is loaded below)
        else:
            served_target = None

        # --- widgets ----------------------------------------------------------------------------
        self.banner = MessageBanner(self)
        self.app_panel = AppPanel(
            servers, self.tasks, self.settings, self, target=served_target, form=app_target, error=app_error
        )
        self.app_label = self.app_panel.served_label
        self.servers_panel = ServersPanel(
            servers, self.tasks, self, config=self.config if owns_config else None
        )
        self.cert_panel = CertificatePanel(
            self.cert_store, servers, self.tasks, self, stores_factory=trust_stores
        )
        self.log_panel = LogPanel(servers.sink, cap=10_000, parent=self)
        self.inspector_panel = InspectorPanel(servers, self.cert_store, self, tasks=self.tasks)

        left = QWidget(self)
        left.setObjectName("leftColumn")
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(8, 4, 4, 8)
        left_layout.setSpacing(8)
        left_layout.addWidget(self.app_panel)
        left_layout.addWidget(self.servers_panel)
        left_layout.addWidget(self.cert_panel)
        left_layout.addStretch(1)
        self.left_scroll = QScrollArea(self)
        self.left_scroll.setObjectName("leftScroll")
        self.left_scroll.setWidget(left)
        self.left_scroll.setWidgetResizable(True)
        self.left_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.left_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        # The left column shrinks to what its controls need (labels wrap), never to its comfortable
        # width: a 1024 px window keeps every control whole and the log gets the rest.
        scrollbar = self.left_scroll.verticalScrollBar().sizeHint().width()
        self.left_scroll.setMinimumWidth(left.minimumSizeHint().width() + scrollbar + 4)
        self._left_width = max(self.left_scroll.minimumWidth(), min(left.sizeHint().width() + 16, 460))

        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("mainTabs")
        self.tabs.setAccessibleName("Views")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.log_panel, "Request log")
        self.tabs.addTab(self.inspector_panel, "Inspector")
        self.production_panel = ProductionPanel(self.servers_panel.config, self)
        self.tabs.addTab(self.production_panel, "Production")

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.left_scroll)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)

        central = QWidget(self)
        central_layout = QVBoxLayout(central)
        central_layout.setContentsMargins(6, 6, 6, 0)
        central_layout.setSpacing(6)
        central_layout.addWidget(self.banner)
        central_layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        self._make_status_bar()
        self._make_actions()
        self.tray: QSystemTrayIcon | None = self._make_tray()

        for source in (
            self.app_panel,
            self.servers_panel,
            self.cert_panel,
            self.cert_panel.trust,
            self.log_panel,
            self.inspector_panel,
            self.production_panel,
        ):
            source.message.connect(self.show_message)
        self.cert_panel.trust.report.connect(self.banner.show_message)
        self.app_panel.problem.connect(self.report_exception)
        self.app_panel.errorShown.connect(self._app_error_shown)
        self.app_panel.appChanged.connect(self._app_changed)
        self.servers_panel.listenerProblem.connect(self._listener_problem)
        self.servers_panel.configChanged.connect(
            lambda _config: self.inspector_panel.mark_stale("the serving options")
        )
        self._workers_timer = QTimer(self)
        self._workers_timer.setSingleShot(True)
        self._workers_timer.setInterval(WORKERS_DELAY_MS)
        self._workers_timer.timeout.connect(self.apply_workers)
        self.servers_panel.configChanged.connect(self._config_changed)
        if self.switchable is None:
            self.servers_panel.workers_spin.setEnabled(False)
            self.servers_panel.workers_spin.setToolTip(
                "These servers run inside the window's own process: Workers does not apply to them."
            )
        self.cert_panel.certificateChanged.connect(
            lambda _fingerprint: self.inspector_panel.mark_stale("the certificate")
        )
        self.app_panel.busyChanged.connect(self.servers_panel.block_restart)
        self.servers_panel.restartRequested.connect(self.app_panel.restart)
        self.app_panel.problemCleared.connect(self._problem_cleared)
        self.log_panel.inspectRequested.connect(self.inspect_path)
        self.log_panel.pump.eventsArrived.connect(self.cert_panel.trust.note_wire_events)
        self.servers_panel.listenerError.connect(self._count_listener_error)
        self.servers_panel.stateChanged.connect(self._state_changed)

        self._load_settings()
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(STATUS_INTERVAL_MS)
        self._status_timer.timeout.connect(self._update_status)
        self._status_timer.start()
        self._update_status()
        if self._startup_error is not None:
            self.report_exception(self._startup_error)
        if restore_app and self.settings.get("app/mode") == "custom" and self.app_panel.form_target():
            self.app_panel.apply()  # the user's app from last time, loaded in a worker thread
        elif load_given:
            # The target given on the command line, loaded by the server process.
            self.app_panel.apply(announce_failure=True)

    # --- construction helpers ------------------------------------------------------------------------

    def _build_servers(
        self, cert_dir: str | os.PathLike[str] | None, app: Any, server_process: bool
    ) -> Servers | SwitchableServers:
        config = self.config
        store = CertStore(None if cert_dir is None else Path(cert_dir))
        sink = RequestSink(body_budget=config.body_budget_bytes)  # the log (and its bodies) live here
        if server_process and app is None:
            first = self._new_servers(store, sink, config.workers, start=True)
            return SwitchableServers(first, lambda n: self._new_servers(store, sink, n, start=False))
        if app is None:  # the demo app; if it is broken, a 503 page and the reason in the banner
            app, self._startup_error = demo_app_or_placeholder()
        return Servers.from_config(app, config, cert_store=store, sink=sink)

    def _new_servers(
        self, store: CertStore, sink: RequestSink, workers: int, *, start: bool
    ) -> RemoteServers | WorkerPool:
        """Servers in *workers* child processes sharing *store* and *sink* (the log), configured
        as the window was opened (a switch then gives them the current options).  *start*: one
        process starts now (a pool starts with its listeners)."""
        # The window's sharing is set apart (``share``), so the servers bind the host as set.
        options: dict[str, Any] = {
            **serving_options(self.config),
            "host": self.config.host,
            "cert_store": store,
            "sink": sink,
        }
        servers: RemoteServers | WorkerPool
        if workers > 1:
            servers = WorkerPool(
                workers=workers, on_notice=self.tasks.bridge.callback(self.worker_notice), **options
            )
        else:
            servers = RemoteServers(start=start, **options)
        # The demo app failing in a new server process: the banner says so.
        servers.on_startup_error = self.exception_router.report
        return servers

    def _make_status_bar(self) -> None:
        bar = self.statusBar()
        bar.setObjectName("statusBar")
        bar.setSizeGripEnabled(False)
        self.status_total = QLabel(self)
        self.status_total.setObjectName("statusTotalLabel")
        self.status_total.setAccessibleName("Total requests")
        self.status_rate = QLabel(self)
        self.status_rate.setObjectName("statusRateLabel")
        self.status_rate.setAccessibleName("Requests per second")
        self.status_errors = QLabel(self)
        self.status_errors.setObjectName("statusErrorsLabel")
        self.status_errors.setAccessibleName("Errors")
        self.status_errors.setToolTip("Responses with status 500 or above, plus listener errors")
        self.status_wire = QLabel(self)
        self.status_wire.setObjectName("statusWireLabel")
        self.status_wire.setAccessibleName("Wire events")
        self.status_wire.setToolTip(
            "Connections that failed before a request: the wrong protocol on a port, a refused "
            "certificate, a failed TLS handshake (rows marked ⚠ TLS in the request log)"
        )
        for label in (self.status_total, self.status_rate, self.status_errors, self.status_wire):
            bar.addPermanentWidget(label)

    def _action(self, text: str, name: str, slot: Any, shortcut: str | None = None) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _make_actions(self) -> None:
        sp, lp = self.servers_panel, self.log_panel
        self.start_all_action = self._action("Start all", "startAllAction", sp.start_all, "Ctrl+R")
        self.stop_all_action = self._action("Stop all", "stopAllAction", sp.stop_all, "Ctrl+.")
        self.restart_action = self._action("Restart", "restartAction", self.app_panel.restart, "Ctrl+Shift+R")
        self.clear_log_action = self._action("Clear log", "clearLogAction", lp.clear, "Ctrl+L")
        self.focus_filter_action = self._action("Filter…", "focusFilterAction", lp.focus_filter, "Ctrl+F")
        self.pause_action = self._action("Pause log", "pauseLogAction", lambda: None)
        self.pause_action.setCheckable(True)
        self.pause_action.toggled.connect(lp.set_paused)
        lp.pump.pausedChanged.connect(self.pause_action.setChecked)
        self.open_https_action = self._action(
            "Open HTTPS page", "openHttpsAction", lambda: sp.open_in_browser(Scheme.HTTPS), "Ctrl+O"
        )
        self.open_http_action = self._action(
            "Open HTTP page", "openHttpAction", lambda: sp.open_in_browser(Scheme.HTTP), "Ctrl+Shift+O"
        )
        self.show_log_action = self._action("Request log", "showLogAction", self.show_log, "Ctrl+1")
        self.show_inspector_action = self._action(
            "Inspector", "showInspectorAction", self.show_inspector, "Ctrl+I"
        )
        self.quit_action = self._action("Quit", "quitAction", self.close, "Ctrl+Q")
        about = self._action("About", "aboutAction", self.show_about)

        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        file_menu.addAction(lp.export_har_action)
        file_menu.addAction(lp.export_jsonl_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        server_menu = menus.addMenu("&Servers")
        server_menu.addAction(self.start_all_action)
        server_menu.addAction(self.stop_all_action)
        server_menu.addAction(self.restart_action)
        server_menu.addSeparator()
        server_menu.addAction(self.open_https_action)
        server_menu.addAction(self.open_http_action)
        view_menu = menus.addMenu("&View")
        view_menu.addAction(self.show_log_action)
        view_menu.addAction(self.show_inspector_action)
        log_menu = menus.addMenu("&Log")
        log_menu.addAction(self.focus_filter_action)
        log_menu.addAction(self.pause_action)
        log_menu.addAction(self.clear_log_action)
        help_menu = menus.addMenu("&Help")
        help_menu.addAction(about)

    def _make_tray(self) -> QSystemTrayIcon | None:
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return None
        tray = QSystemTrayIcon(app_icon(), self)
        tray.setObjectName("trayIcon")
        tray.setToolTip(WINDOW_TITLE)
        menu = QMenu(self)
        menu.addAction("Start", self.servers_panel.start_all)
        menu.addAction("Stop", self.servers_panel.stop_all)
        menu.addSeparator()
        menu.addAction("Show window", self._show_from_tray)
        menu.addAction("Quit", self.close)
        tray.setContextMenu(menu)
        tray.activated.connect(
            lambda reason: (
                self._show_from_tray() if reason == QSystemTrayIcon.ActivationReason.Trigger else None
            )
        )
        tray.show()
        return tray

    def _show_from_tray(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    # --- settings ------------------------------------------------------------------------------------

    def _load_settings(self) -> None:
        s = self.settings
        self.cert_panel.set_hosts_text(s.get("certs/hosts"))
        self.cert_panel.ca_domains_edit.setText(s.get("certs/ca_domains"))
        self.cert_panel.set_key_type(s.get("certs/key_type"))
        self.log_panel.autoscroll_check.setChecked(s.get("log/autoscroll"))
        self.log_panel.probes_check.setChecked(s.get("log/show_probes"))
        self.log_panel.set_hidden_columns(s.get("log/hidden_columns").split(","))
        self.log_panel.show_worker_column(self.workers > 1)  # not a setting: it follows Workers
        geometry = s.get_bytes("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(default_size(self))
        for key, splitter in (
            ("window/splitter", self.splitter),
            ("window/log_splitter", self.log_panel.splitter),
        ):
            state = s.get_bytes(key)
            if state is not None:
                splitter.restoreState(state)
        if s.get_bytes("window/splitter") is None:
            self.splitter.setSizes([self._left_width, 1000])
        if s.get_bytes("window/log_splitter") is None:
            self.log_panel.splitter.setSizes([720, 300])
        tab = s.get("window/last_tab")
        if 0 <= tab < self.tabs.count():
            self.tabs.setCurrentIndex(tab)

    def save_settings(self) -> None:
        s = self.settings
        s.save_config(self.servers_panel.config)
        s.set("window/last_tab", self.tabs.currentIndex())
        s.set("log/autoscroll", self.log_panel.autoscroll_check.isChecked())
        s.set("log/show_probes", self.log_panel.probes_check.isChecked())
        hidden = [name for name in self.log_panel.hidden_columns() if name != "worker"]
        s.set("log/hidden_columns", ",".join(hidden))
        s.set("certs/hosts", self.cert_panel.hosts_edit.text())
        s.set("certs/ca_domains", self.cert_panel.ca_domains_edit.text())
        s.set("certs/key_type", self.cert_panel.key_type().value)
        self.app_panel.save_settings()
        s.set_bytes("window/geometry", self.saveGeometry())
        s.set_bytes("window/splitter", self.splitter.saveState())
        s.set_bytes("window/log_splitter", self.log_panel.splitter.saveState())
        s.sync()

    # --- workers -------------------------------------------------------------------------------------------

    @property
    def workers(self) -> int:
        """How many server processes serve now (1 for servers in this process)."""
        return self.switchable.workers if self.switchable is not None else 1

    @property
    def switching(self) -> bool:
        """A change of Workers is being applied."""
        return self._switching

    def _config_changed(self, config: Any) -> None:
        if self.switchable is not None and config.workers != self.switchable.workers:
            self._workers_timer.start()  # restarted by each step of the spin box

    def apply_workers(self) -> None:
        """Serve with as many processes as the Workers setting says, in a worker thread (one
        change at a time; a setting changed meanwhile is applied after it)."""
        self._workers_timer.stop()
        switchable = self.switchable
        if switchable is None or self._closing or self._switching:
            return
        wanted = self.servers_panel.config.workers
        if wanted == switchable.workers:
            return
        self._switching = True
        self.statusBar().showMessage(f"Switching to {processes(wanted)}…")

        def done(errors: list[Exception]) -> None:
            self._switching = False
            self._workers_applied()
            for error in errors:  # a listener that did not start again (a pool's app, a port)
                self.report_exception(error)
            if not errors:
                self.statusBar().showMessage(f"Serving with {processes(switchable.workers)}.", 5000)
            if self.servers_panel.config.workers != wanted:
                self.apply_workers()  # changed again meanwhile

        def failed(exc: BaseException) -> None:
            # Nothing changed (one process whose app no longer imports, say): the setting says so.
            self._switching = False
            self._workers_applied()
            config = self.servers_panel.config
            self.servers_panel.set_config(config.replace(workers=switchable.workers))
            self.report_exception(exc)

        self.tasks.submit(
            lambda: switchable.switch(wanted), on_done=done, on_error=failed, name="launcher-workers"
        )

    def _workers_applied(self) -> None:
        self.log_panel.show_worker_column(self.workers > 1)
        self.servers_panel.refresh()
        self.banner.dismiss_source(WORKERS_SOURCE)  # about processes that are gone now

    def worker_notice(self, text: str) -> None:
        """A notice of the worker pool (GUI thread; the pool's threads post it through the bridge)."""
        text = escape_control(text)
        self.worker_notices.append(text)
        self.banner.show_message(text[:1].upper() + text[1:], MessageLevel.WARNING, source=WORKERS_SOURCE)

    # --- messages and errors ---------------------------------------------------------------------------

    def show_message(self, text: str, level: MessageLevel = MessageLevel.ERROR) -> None:
        """Errors and warnings go to the banner; short notes (INFO) to the status bar."""
        if level == MessageLevel.INFO:
            self.statusBar().showMessage(text, 5000)
        else:
            self.banner.show_message(text, level)

    def report_exception(self, exc: BaseException) -> None:
        """User errors: the banner.  Anything else: a dialog with the traceback; the app goes on."""
        if isinstance(exc, LauncherError):
            source = APP_SOURCE if isinstance(exc, AppLoadError) else ""
            self.banner.show_message(str(exc), MessageLevel.ERROR, user_error_details(exc), source)
            return
        self.unexpected_errors += 1
        details = format_exception(exc)
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        dialog = ExceptionDialog(
            "Unexpected error",
            f"Something went wrong inside the launcher ({type(exc).__name__}: {exc}). "
            "The app keeps running. Please report this with the details below.",
            details,
            self,
        )
        self.last_exception_dialog = dialog
        dialog.open()

    def _app_error_shown(self, exc: BaseException) -> None:
        """An app that did not load: on the banner too (the app panel's line may be out of sight)."""
        if isinstance(exc, AppLoadError):
            self.banner.show_message(str(exc), MessageLevel.ERROR, user_error_details(exc), APP_SOURCE)

    def _app_changed(self, _app: object) -> None:
        """An app is served (Apply worked, a restart or reload): its old load error goes."""
        self.banner.dismiss_source(APP_SOURCE)
        self.inspector_panel.mark_stale("the app")

    def _listener_problem(self, scheme: str, text: str) -> None:
        self.banner.show_message(text, MessageLevel.ERROR, source=listener_source(scheme))

    def _problem_cleared(self, text: str) -> None:
        """A reload worked again: take its old error off the banner (not someone else's message)."""
        if self.banner.isVisibleTo(self) and self.banner.text == text:
            self.banner.dismiss()

    def _state_changed(self, scheme: str, state: ListenerState) -> None:
        self._update_status()
        if state is ListenerState.RUNNING:
            self.banner.dismiss_source(listener_source(scheme))  # e.g. a port conflict, solved
        if scheme == Scheme.HTTPS and state in (ListenerState.RUNNING, ListenerState.ERROR):
            # Starting HTTPS may have made the CA or a new leaf (``CertStore.ensure`` runs before
            # the bind, so also when the port then turned out taken).  Two small file reads.
            self.cert_panel.refresh()

    def show_inspector(self) -> None:
        """Show the Inspector tab, its path field focused."""
        self.tabs.setCurrentWidget(self.inspector_panel)
        self.inspector_panel.path_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.inspector_panel.path_edit.selectAll()

    def show_log(self) -> None:
        """Show the Request log tab."""
        self.tabs.setCurrentWidget(self.log_panel)

    def inspect_path(self, path: str) -> None:
        """Show the Inspector tab and probe *path* over both schemes (the log's "Inspect")."""
        self.tabs.setCurrentWidget(self.inspector_panel)
        self.inspector_panel.inspect_path(path)

    def _count_listener_error(self, _scheme: str) -> None:
        self.listener_errors += 1
        self._update_status()

    @property
    def error_count(self) -> int:
        return self.log_panel.pump.server_errors + self.listener_errors

    def _update_status(self) -> None:
        pump = self.log_panel.pump
        self.status_total.setText(f"Requests: {pump.sink.total:,}")
        self.status_rate.setText(f"{pump.rate():,.1f} req/s")
        errors = self.error_count
        self.status_errors.setText(f"Errors: {errors:,}")
        self.status_wire.setText(f"Wire: {pump.sink.events_total:,}")
        alarm = "true" if errors else "false"
        if self.status_errors.property("alarm") != alarm:  # re-polish only when it changes
            self.status_errors.setProperty("alarm", alarm)
            self.status_errors.style().unpolish(self.status_errors)
            self.status_errors.style().polish(self.status_errors)

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            f"About {WINDOW_TITLE}",
            f"<b>{WINDOW_TITLE}</b> {__version__}<br>Serve a Flask app on HTTP and HTTPS at once, "
            "with a local CA, and see which protocol each request used.",
        )

    # --- closing -------------------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        if getattr(self.servers, "alive", False):  # a server process to end
            return True
        return self.tasks.running > 0 or any(
            lst.state is not ListenerState.STOPPED and lst.state is not ListenerState.ERROR
            for lst in self.servers.listeners
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._close_done or not self.busy:
            self._finish_close()
            event.accept()
            return
        event.ignore()
        if self._closing:
            return
        self._closing = True
        self.statusBar().showMessage("Stopping the servers…")
        central = self.centralWidget()
        if central is not None:
            central.setEnabled(False)
        servers = self.servers
        reloader = self.app_panel.detach_reloader()

        def stop() -> None:
            if reloader is not None:
                reloader.stop(timeout=1.0)
            servers.close(timeout=1.0)  # RemoteServers: its process ends too

        self.tasks.submit(
            stop,
            on_done=lambda _r: self._close_now(),
            on_error=lambda _e: self._close_now(),
            name="launcher-close",
        )
        QTimer.singleShot(CLOSE_DEADLINE_MS, self._close_now)

    def _close_now(self) -> None:
        if self._close_done:
            return
        self._close_done = True
        self.close()

    def _finish_close(self) -> None:
        if getattr(self, "_finished", False):
            return
        self._finished = True
        self._close_done = True
        try:
            self.save_settings()
        except Exception:  # never block closing on a settings problem
            traceback.print_exc()
        self._status_timer.stop()
        reloader = self.app_panel.detach_reloader()  # one that started while closing
        if reloader is not None:
            reloader.stop(timeout=0.5)
        self.log_panel.pump.close()
        if self.tray is not None:
            self.tray.hide()
        self.closed.emit()

    def shutdown(self, timeout: float = 1.0) -> None:
        """Stop the servers synchronously (for the end of ``run_gui`` or a test teardown)."""
        reloader = self.app_panel.detach_reloader()
        if reloader is not None:
            reloader.stop(timeout=timeout)
        self.tasks.wait_idle(timeout)  # a load or reloader start may still be running
        reloader = self.app_panel.detach_reloader()  # ... and may have made one meanwhile
        if reloader is not None:
            reloader.stop(timeout=timeout)
        self.servers.close(timeout=timeout)
        self.tasks.wait_idle(timeout)


def processes(workers: int) -> str:
    """ "one server process" or "N worker processes"."""
    return "one server process" if workers == 1 else f"{workers} worker processes"


def default_size(window: QWidget) -> QSize:
    """``DEFAULT_SIZE``, or ``SCREEN_SHARE`` of the screen's available area when that is smaller.

    Never below the window's minimum size (Qt would not go below it anyway): on a screen smaller
    than that minimum (about 1160×260) the window is wider than the screen.
    """
    width, height = DEFAULT_SIZE.width(), DEFAULT_SIZE.height()
    screen = window.screen()
    if screen is not None:
        available = screen.availableGeometry()
        if available.width() > 0 and available.height() > 0:
            width = min(width, int(available.width() * SCREEN_SHARE))
            height = min(height, int(available.height() * SCREEN_SHARE))
    minimum = window.minimumSizeHint()
    return QSize(max(width, minimum.width()), max(height, minimum.height()))


def configure_application(app: QApplication) -> None:
    """Names, icon, Fusion style and the style sheet: what ``run_gui`` does to its QApplication."""
    from launcher.gui.resources import style_sheet

    app.setApplicationName(WINDOW_TITLE)
    app.setOrganizationName("flask-https-launcher")
    app.setApplicationVersion(__version__)
    app.setWindowIcon(app_icon())
    app.setStyle("Fusion")
    app.setStyleSheet(style_sheet())
