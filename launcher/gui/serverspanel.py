"""The servers panel: one row per listener, Start all / Stop all / Restart, redirect and HSTS options.

Restart only asks (``restartRequested``): the app panel does it, because it re-imports the user's
app first (``launcher.gui.apppanel.AppPanel.restart``).

Start and stop run in worker threads (``TaskRunner``); a listener's state callback fires in
whichever thread changed the state, so it reaches the GUI thread through the window's
``GuiBridge`` (``tasks.bridge``).

The panel holds the serving options as a ``launcher.options.ServeConfig`` (``config``): every
control changes it, never the other way round, and the window saves it as it is.  The redirect and
HSTS controls also update the shared ``Policy`` (only the fields that changed, in one
``Policy.update``), so they take effect on the next request, running or not.  ``configChanged``
says when ``config`` changed (the Inspector marks its report out of date).

Open (``open_in_browser``) uses ``browser_url``: ``localhost`` instead of a loopback address when
the served certificate covers it (browsers ignore HSTS for IP hosts, and cookies set for an IP
are not sent to ``localhost``).  When the system's opener fails, the address goes to the
clipboard and a warning says why (``launcher.gui.opener``).  A listener that fails to start is
reported with ``listenerProblem(scheme, text)``, so the window can take that message down once
the listener runs.

**Workers** (``config.workers``, 1…``MAX_WORKERS``): how many server processes serve both
ports.  The panel only changes ``config``; the window applies it (``MainWindow.apply_workers``:
one ``RemoteServers`` or a ``WorkerPool``, switched while serving, see ``launcher.serverswitch``).

"Share on my network" (``config.lan``) and the name field (``config.name``, served as
``NAME.localhost``) reach the servers through ``ServersControl.share`` together with the bind
address (``config.bind_host``: 0.0.0.0 while sharing): at once while all listeners are stopped,
else by restarting the running ones on their ports (``apply_sharing``).  While sharing, a box shows
the LAN URLs, the phone set-up page's URL and QR code (``launcher.onboarding``), a warning that
others on the network can reach the app, and a Stop sharing button.
"""

from __future__ import annotations

import functools
import urllib.parse
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from launcher.control import ListenerControl, ServersControl
from launcher.errors import ConfigError, LauncherError
from launcher.gui.opener import Opener, open_external
from launcher.gui.panel import Panel
from launcher.gui.tasks import TaskRunner
from launcher.lan import LanScan
from launcher.lan import scan as lan_scan
from launcher.messages import MessageLevel
from launcher.options import (
    HSTS_MAX_AGE,
    HSTS_MAX_AGE_MAX,
    LIVE_FIELDS,
    MAX_WORKERS,
    PORT_MAX,
    PORT_MIN,
    REDIRECT_STATUS,
    REDIRECT_STATUSES,
    ServeConfig,
    usable_cores,
)
from launcher.scheme import Scheme
from launcher.servers import ListenerState

STATE_TEXT = {
    ListenerState.STOPPED: "Stopped",
    ListenerState.STARTING: "Starting…",
    ListenerState.RUNNING: "Running",
    ListenerState.STOPPING: "Stopping…",
    ListenerState.ERROR: "Error",
}
STATE_COLOUR = {
    ListenerState.STOPPED: "#64748b",
    ListenerState.STARTING: "#b45309",
    ListenerState.RUNNING: "#15803d",
    ListenerState.STOPPING: "#b45309",
    ListenerState.ERROR: "#b91c1c",
}
HOST_CHOICES = (
    ("127.0.0.1", "127.0.0.1 (this machine only)"),
    ("::1", "::1 (this machine, IPv6)"),
    ("0.0.0.0", "0.0.0.0 (all interfaces: your network can connect)"),
)


def config_of(servers: ServersControl) -> ServeConfig:
    """The serving options *servers* run with (for servers the window did not configure)."""
    return ServeConfig(
        host=servers.host,
        http_port=servers.http.configured_port,
        https_port=servers.https.configured_port,
        threads=servers.threads,
        **servers.policy.values(),
    )


#: How often (ms) the window looks for a new network while sharing.
LAN_CHECK_MS = 10_000


class ListenerRow(QObject):
    """The widgets of one listener inside the servers grid."""

    def __init__(self, scheme: str, parent: QWidget) -> None:
        super().__init__(parent)
        name = scheme.upper()
        self.scheme = scheme
        self.title = QLabel(name, parent)
        self.title.setObjectName(f"{scheme}TitleLabel")
        self.title.setProperty("role", "listenerTitle")
        self.status = QLabel(parent)
        self.status.setObjectName(f"{scheme}StatusLabel")
        self.status.setAccessibleName(f"{name} status")
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.port_spin = QSpinBox(parent)
        self.port_spin.setObjectName(f"{scheme}PortSpin")
        self.port_spin.setAccessibleName(f"{name} port")
        self.port_spin.setRange(PORT_MIN, PORT_MAX)
        self.port_spin.setSpecialValueText("any free")
        self.port_spin.setToolTip(f"The {name} port (0 = any free port). Change it while stopped.")
        self.port_spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.start_button = QPushButton("Start", parent)
        self.start_button.setObjectName(f"{scheme}StartButton")
        self.start_button.setAccessibleName(f"Start or stop {name}")
        self.url_label = QLabel(parent)
        self.url_label.setObjectName(f"{scheme}UrlLabel")
        self.url_label.setAccessibleName(f"{name} address")
        self.url_label.setTextFormat(Qt.TextFormat.RichText)
        self.url_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.LinksAccessibleByMouse | Qt.TextInteractionFlag.LinksAccessibleByKeyboard
        )
        self.url_label.setOpenExternalLinks(False)
        self.open_button = QPushButton("Open", parent)
        self.open_button.setObjectName(f"{scheme}OpenButton")
        self.open_button.setAccessibleName(f"Open the {name} page in the browser")
        self.open_button.setToolTip("Open in the default browser")
        self.copy_button = QPushButton("Copy URL", parent)
        self.copy_button.setObjectName(f"{scheme}CopyButton")
        self.copy_button.setAccessibleName(f"Copy the {name} address")
        self.port_spin.setMinimumWidth(self.port_spin.fontMetrics().horizontalAdvance("any free") + 40)
        self.status.setMinimumWidth(self.status.fontMetrics().horizontalAdvance("●  Stopping…") + 8)


class ServersPanel(Panel, QGroupBox):
    """Controls both listeners of the servers (``launcher.control.ServersControl``)."""

    #: A listener error happened (counted by the status bar).
    listenerError = Signal(str)
    #: Any listener changed state: (scheme, state).
    stateChanged = Signal(str, object)
    #: The Restart button was pressed (the window hands it to the app panel).
    restartRequested = Signal()
    #: The serving options changed (``config``): the new ``ServeConfig``.
    configChanged = Signal(object)
    #: A listener did not start or stop: (scheme, the message).  The window shows it until that
    #: listener runs.
    listenerProblem = Signal(str, str)

    def __init__(
        self,
        servers: ServersControl,
        tasks: TaskRunner,
        parent: QWidget | None = None,
        *,
        config: ServeConfig | None = None,
    ) -> None:
        super().__init__("Servers", parent)
        self.setObjectName("serversPanel")
        self.setAccessibleName("Servers")
        self.servers = servers
        self.tasks = tasks
        #: The serving options as the controls show them (see the module docstring).
        self.config = config if config is not None else config_of(servers)
        #: How URLs are opened; a hook so embedding code may route it elsewhere.
        self.open_url: Opener = QDesktopServices.openUrl

        self.host_combo = QComboBox(self)
        self.host_combo.setObjectName("hostCombo")
        self.host_combo.setAccessibleName("Bind address")
        self.host_combo.setEditable(True)
        self.host_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        for value, label in HOST_CHOICES:
            self.host_combo.addItem(label, value)
        self.host_combo.setToolTip(
            "The address both servers listen on. 127.0.0.1 keeps them private to this machine."
        )
        self.host_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.host_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.host_combo.setMinimumContentsLength(16)

        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(6)
        host_label = QLabel("Address", self)
        host_label.setBuddy(self.host_combo)
        grid.addWidget(host_label, 0, 0)
        grid.addWidget(self.host_combo, 0, 1, 1, 4)

        self.rows: dict[str, ListenerRow] = {}
        line = 1
        for scheme in (Scheme.HTTP, Scheme.HTTPS):
            listener = self._listener(scheme)
            row = ListenerRow(scheme, self)
            row.start_button.clicked.connect(lambda _c=False, s=scheme: self.toggle(s))
            row.open_button.clicked.connect(lambda _c=False, s=scheme: self.open_in_browser(s))
            row.copy_button.clicked.connect(lambda _c=False, s=scheme: self.copy_url(s))
            row.url_label.linkActivated.connect(lambda _url, s=scheme: self.open_in_browser(s))
            self.rows[scheme] = row
            separator = QFrame(self)
            separator.setFrameShape(QFrame.Shape.HLine)
            separator.setFrameShadow(QFrame.Shadow.Sunken)
            grid.addWidget(separator, line, 0, 1, 5)
            grid.addWidget(row.title, line + 1, 0)
            grid.addWidget(row.status, line + 1, 1)
            grid.addWidget(row.port_spin, line + 1, 2, 1, 2)
            grid.addWidget(row.start_button, line + 1, 4)
            grid.addWidget(row.url_label, line + 2, 0, 1, 3)
            grid.addWidget(row.open_button, line + 2, 3)
            grid.addWidget(row.copy_button, line + 2, 4)
            line += 3
        grid.setColumnStretch(1, 1)

        self.start_all_button = QPushButton("Start all", self)
        self.start_all_button.setObjectName("startAllButton")
        self.start_all_button.setAccessibleName("Start both servers")
        self.start_all_button.setToolTip("Start HTTP and HTTPS (Ctrl+R)")
        self.start_all_button.setProperty("role", "primary")
        self.start_all_button.clicked.connect(self.start_all)
        self.stop_all_button = QPushButton("Stop all", self)
        self.stop_all_button.setObjectName("stopAllButton")
        self.stop_all_button.setAccessibleName("Stop both servers")
        self.stop_all_button.setToolTip("Stop HTTP and HTTPS (Ctrl+.)")
        self.stop_all_button.clicked.connect(self.stop_all)
        self.restart_button = QPushButton("Restart", self)
        self.restart_button.setObjectName("restartButton")
        self.restart_button.setAccessibleName("Restart both servers with a fresh import of the app")
        self.restart_button.setToolTip(
            "Restart the running servers; your own app is imported afresh first (Ctrl+Shift+R)"
        )
        self.restart_button.clicked.connect(self.restartRequested)
        self._restart_blocked = False
        all_row = QHBoxLayout()
        all_row.addWidget(self.start_all_button, 1)
        all_row.addWidget(self.stop_all_button, 1)
        all_row.addWidget(self.restart_button, 1)

        # --- policy options ------------------------------------------------------------------------
        self.redirect_check = QCheckBox("Redirect HTTP to HTTPS with", self)
        self.redirect_check.setObjectName("redirectCheck")
        self.redirect_check.setAccessibleName("Redirect HTTP to HTTPS")
        self.redirect_check.setToolTip("While HTTPS runs, every HTTP request is answered with a redirect.")
        self.redirect_status_combo = QComboBox(self)
        self.redirect_status_combo.setObjectName("redirectStatusCombo")
        self.redirect_status_combo.setAccessibleName("Redirect status code")
        for code in sorted(REDIRECT_STATUSES):
            self.redirect_status_combo.addItem(f"{code} {REDIRECT_STATUSES[code]}", code)
            self.redirect_status_combo.setItemData(
                self.redirect_status_combo.count() - 1,
                f"{code} {REDIRECT_STATUSES[code]}",
                Qt.ItemDataRole.ToolTipRole,
            )
        # Narrow windows: the combo may elide its text ("308 Permanent R…"); the list shows it whole.
        self.redirect_status_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.redirect_status_combo.setMinimumContentsLength(12)
        self.redirect_status_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.hsts_check = QCheckBox("Send HSTS, max-age", self)
        self.hsts_check.setObjectName("hstsCheck")
        self.hsts_check.setAccessibleName("Send Strict-Transport-Security")
        self.hsts_check.setToolTip(
            "Adds Strict-Transport-Security to HTTPS responses: browsers then use HTTPS only for this host."
        )
        self.hsts_age_spin = QSpinBox(self)
        self.hsts_age_spin.setObjectName("hstsMaxAgeSpin")
        self.hsts_age_spin.setAccessibleName("HSTS max-age in seconds")
        self.hsts_age_spin.setRange(0, HSTS_MAX_AGE_MAX)
        self.hsts_age_spin.setSuffix(" s")
        self.hsts_age_spin.setGroupSeparatorShown(True)
        self.hsts_age_spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        self._make_workers()
        self.set_config(self.config)
        self.host_combo.currentTextChanged.connect(self._host_edited)
        for name, row in self.rows.items():
            row.port_spin.valueChanged.connect(lambda value, s=name: self._change(**{f"{s}_port": value}))
        self.redirect_check.toggled.connect(self._apply_policy)
        self.redirect_status_combo.currentIndexChanged.connect(self._apply_policy)
        self.hsts_check.toggled.connect(self._apply_policy)
        self.hsts_age_spin.valueChanged.connect(self._apply_policy)
        self.workers_spin.valueChanged.connect(self._workers_edited)

        options = QGridLayout()
        options.setHorizontalSpacing(8)
        options.addWidget(self.redirect_check, 0, 0)
        options.addWidget(self.redirect_status_combo, 0, 1)
        options.addWidget(self.hsts_check, 1, 0)
        options.addWidget(self.hsts_age_spin, 1, 1)
        options.setColumnStretch(1, 1)
        self._make_sharing(options)
        workers_row = QHBoxLayout()
        workers_row.addWidget(self.workers_spin)
        workers_row.addWidget(self.workers_hint, 1)
        options.addWidget(self.workers_label, 3, 0)
        options.addLayout(workers_row, 3, 1)

        layout = QVBoxLayout(self)
        layout.setSpacing(8)
        layout.addLayout(grid)
        layout.addLayout(all_row)
        layout.addLayout(options)
        layout.addWidget(self.lan_box)

        for listener in servers.listeners:
            listener.add_state_callback(tasks.bridge.callback(self._listener_changed))
            self._show_state(listener.scheme, listener.state)

    def _make_workers(self) -> None:
        """The Workers spin box: how many server processes serve both ports (``config.workers``)."""
        cores = usable_cores()
        self.workers_label = QLabel("Workers", self)
        self.workers_label.setObjectName("workersLabel")
        self.workers_spin = QSpinBox(self)
        self.workers_spin.setObjectName("workersSpin")
        self.workers_spin.setAccessibleName("Worker processes")
        self.workers_spin.setRange(1, MAX_WORKERS)
        self.workers_spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.workers_spin.setKeyboardTracking(False)  # typing "12" is one change, not two
        self.workers_spin.setToolTip(
            "N server processes serve both ports; they use up to N cores. 1 = one process, "
            f"as before. auto (serve --workers auto) = the usable cores: {cores}. "
            "Running servers restart to apply it."
        )
        self.workers_label.setBuddy(self.workers_spin)
        self.workers_label.setToolTip(self.workers_spin.toolTip())
        self.workers_hint = QLabel(f"({cores} cores here)", self)
        self.workers_hint.setObjectName("workersHintLabel")
        self.workers_hint.setProperty("role", "hint")
        self.workers_hint.setStyleSheet("color:#64748b")
        self.workers_hint.setToolTip(self.workers_spin.toolTip())

    def _workers_edited(self, value: int) -> None:
        self._change(workers=value)

    def _make_sharing(self, options: QGridLayout) -> None:
        """The "Share on my network" switch, the name field and the sharing box (hidden until on)."""
        self.lan_check = QCheckBox("Share on my network", self)
        self.lan_check.setObjectName("lanShareCheck")
        self.lan_check.setAccessibleName("Share on my network")
        self.lan_check.setToolTip(
            "Listen on all interfaces (0.0.0.0), add this machine's LAN addresses and "
            "<hostname>.local to the certificate, and serve a phone set-up page over HTTP. "
            "Running servers restart to apply it."
        )
        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("nameEdit")
        self.name_edit.setAccessibleName("Name, served as NAME.localhost")
        self.name_edit.setPlaceholderText("name → name.localhost")
        self.name_edit.setToolTip(
            "Serve under NAME.localhost too (added to the certificate). Running servers restart to apply it."
        )
        self.name_edit.setText(self.config.name or "")
        self.lan_check.setChecked(self.config.lan)
        self.lan_check.toggled.connect(self.set_sharing)
        self.name_edit.editingFinished.connect(self._name_edited)
        options.addWidget(self.lan_check, 2, 0)
        options.addWidget(self.name_edit, 2, 1)

        self.lan_box = QFrame(self)
        self.lan_box.setObjectName("lanShareBox")
        self.lan_box.setAccessibleName("Sharing on the network")
        self.lan_box.setFrameShape(QFrame.Shape.StyledPanel)
        self.lan_warning = QLabel(self.lan_box)
        self.lan_warning.setObjectName("lanWarningLabel")
        self.lan_warning.setAccessibleName("Warning: others on the network can reach the app")
        self.lan_warning.setWordWrap(True)
        self.lan_warning.setStyleSheet("color:#b91c1c;font-weight:bold")
        self.lan_warning.setText(
            "⚠ Sharing on your network: anyone on it can reach this app while it runs "
            "(the servers listen on all interfaces)."
        )
        self.stop_sharing_button = QPushButton("Stop sharing", self.lan_box)
        self.stop_sharing_button.setObjectName("stopSharingButton")
        self.stop_sharing_button.setAccessibleName("Stop sharing on the network")
        self.stop_sharing_button.clicked.connect(lambda: self.set_sharing(False))
        self.lan_urls = QLabel(self.lan_box)
        self.lan_urls.setObjectName("lanUrlsLabel")
        self.lan_urls.setAccessibleName("Addresses on your network")
        self.lan_urls.setWordWrap(True)
        self.lan_urls.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.lan_onboarding = QLabel(self.lan_box)
        self.lan_onboarding.setObjectName("lanOnboardingLabel")
        self.lan_onboarding.setAccessibleName("Phone set-up page")
        self.lan_onboarding.setWordWrap(True)
        self.lan_onboarding.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.lan_changed = QLabel(self.lan_box)
        self.lan_changed.setObjectName("lanChangedLabel")
        self.lan_changed.setWordWrap(True)
        self.lan_changed.setVisible(False)
        self.resign_button = QPushButton("Re-sign for the new addresses", self.lan_box)
        self.resign_button.setObjectName("lanResignButton")
        self.resign_button.setAccessibleName("Re-sign the certificate for this network's addresses")
        self.resign_button.setVisible(False)
        self.resign_button.clicked.connect(self._resign)
        #: How the panel looks for a new network (a worker thread calls it); see ``check_lan``.
        self.scan_lan: Callable[[], LanScan] = lambda: lan_scan(
            include_bridges=self.config.lan_bridges, ipv6=self.config.bind_host == "::"
        )
        self._lan_checking = False
        self._lan_timer = QTimer(self)
        self._lan_timer.setInterval(LAN_CHECK_MS)
        self._lan_timer.timeout.connect(self.check_lan)
        self._lan_timer.start()
        self.lan_qr = QLabel(self.lan_box)
        self.lan_qr.setObjectName("lanQrLabel")
        self.lan_qr.setAccessibleName("QR code of the phone set-up page")
        self._qr_url: str | None = None
        top = QHBoxLayout()
        top.addWidget(self.lan_warning, 1)
        top.addWidget(self.stop_sharing_button, 0, Qt.AlignmentFlag.AlignTop)
        texts = QVBoxLayout()
        texts.addWidget(self.lan_urls)
        texts.addWidget(self.lan_onboarding)
        texts.addWidget(self.lan_changed)
        texts.addWidget(self.resign_button, 0, Qt.AlignmentFlag.AlignLeft)
        texts.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addLayout(texts, 1)
        bottom.addWidget(self.lan_qr, 0, Qt.AlignmentFlag.AlignTop)
        box = QVBoxLayout(self.lan_box)
        box.addLayout(top)
        box.addLayout(bottom)
        self.lan_box.setVisible(False)

    # --- helpers ---------------------------------------------------------------------------------------

    def _listener_changed(self, listener: ListenerControl, state: ListenerState) -> None:
        """A listener's state callback, brought to the GUI thread by the bridge."""
        self._on_state(listener.scheme, state)

    def _listener(self, scheme: str) -> ListenerControl:
        return self.servers.http if scheme == Scheme.HTTP else self.servers.https

    def host(self) -> str:
        text = self.host_combo.currentText().strip()
        for value, label in HOST_CHOICES:
            if text == label:
                return value
        return text.split(" ", 1)[0] if text else "127.0.0.1"

    def set_host(self, host: str) -> None:
        for i, (value, _label) in enumerate(HOST_CHOICES):
            if value == host:
                self.host_combo.setCurrentIndex(i)
                return
        self.host_combo.setEditText(host)

    def set_config(self, config: ServeConfig) -> None:
        """Show *config* in the controls and make it the panel's (the live options apply at once)."""
        self._updating = True
        try:
            self.set_host(config.host)
            for scheme, row in self.rows.items():
                row.port_spin.setValue(getattr(config, f"{scheme}_port"))
            self.redirect_check.setChecked(config.redirect_https is not None)
            index = self.redirect_status_combo.findData(config.redirect_https or REDIRECT_STATUS)
            self.redirect_status_combo.setCurrentIndex(index)
            self.hsts_check.setChecked(config.hsts is not None)
            self.hsts_age_spin.setValue(HSTS_MAX_AGE if config.hsts is None else config.hsts)
            self.workers_spin.setValue(config.workers)
            if hasattr(self, "lan_check"):
                self.lan_check.setChecked(config.lan)
                self.name_edit.setText(config.name or "")
        finally:
            self._updating = False
        changed = config != getattr(self, "config", None)
        self.config = config
        self.servers.policy.update(**config.live_values())
        self._update_policy_controls()
        if changed:
            self.configChanged.emit(config)

    def _change(self, **changes: object) -> None:
        """Make *changes* to ``config``; the live ones go to the policy in one update."""
        if getattr(self, "_updating", True):
            return
        try:
            new = self.config.replace(**changes)
        except ConfigError as exc:
            self.say(str(exc), MessageLevel.ERROR)
            return
        changed = self.config.changes(new)
        self.config = new
        live = {name: value for name, value in changed.items() if name in LIVE_FIELDS}
        if live:
            self.servers.policy.update(**live)
        if changed:
            self.configChanged.emit(new)

    def _host_edited(self, _text: str) -> None:
        host = self.host()
        if host and not any(c.isspace() for c in host):  # a half-typed address waits
            self._change(host=host)

    def _apply_policy(self, *_args: object) -> None:
        self._change(
            redirect_https=int(self.redirect_status_combo.currentData())
            if self.redirect_check.isChecked()
            else None,
            hsts=self.hsts_age_spin.value() if self.hsts_check.isChecked() else None,
        )
        self._update_policy_controls()

    def _update_policy_controls(self) -> None:
        self.redirect_status_combo.setEnabled(self.redirect_check.isChecked())
        self.hsts_age_spin.setEnabled(self.hsts_check.isChecked())

    # --- sharing on the network ----------------------------------------------------------------------

    def set_sharing(self, on: bool) -> None:
        """Turn "Share on my network" on or off (the switch and Stop sharing); see ``apply_sharing``."""
        if getattr(self, "_updating", True):
            return
        if on == self.config.lan == (self.servers.lan_scan is not None):
            self.refresh()  # already so (Stop sharing pressed twice)
            return
        self._change(lan=on)
        if self.lan_check.isChecked() != self.config.lan:  # refused (a ConfigError was said) or Stop
            self.lan_check.blockSignals(True)
            self.lan_check.setChecked(self.config.lan)
            self.lan_check.blockSignals(False)
        if self.config.lan == on:
            self.apply_sharing()

    def _name_edited(self) -> None:
        if getattr(self, "_updating", True):
            return
        text = self.name_edit.text().strip()
        if (text or None) == self.config.name:
            return
        self._change(name=text or None)
        if (text or None) != self.config.name:  # refused: a ConfigError was said
            self.name_edit.setText(self.config.name or "")
            return
        self.apply_sharing()

    def _share_now(self) -> None:
        """Hand the bind address, LAN sharing and the name to the servers (all listeners stopped)."""
        self.servers.host = self.config.bind_host
        self.servers.share(self.config.lan, self.config.lan_bridges, self.config.name)

    def apply_sharing(self) -> None:
        """Make the servers share as ``config`` says: at once while all are stopped, else by
        restarting the running listeners on the ports they have (in a worker thread)."""
        if self._all_stopped():
            self._share_now()
            self.refresh()
            return
        running = [s for s in (Scheme.HTTPS, Scheme.HTTP) if self._listener(s).state is ListenerState.RUNNING]
        ports = {scheme: self._listener(scheme).port for scheme in running}
        self.say(
            "Restarting the servers to share them on your network…"
            if self.config.lan
            else "Restarting the servers to apply the change…"
        )

        def work() -> None:
            for scheme in running:
                self._listener(scheme).stop(grace=0.5)
            self._share_now()
            # Together: a pool starts one set of workers for both, not a set per listener.
            errors = self.servers.start_on(ports)
            if errors:
                raise errors[0]

        self.tasks.submit(
            work,
            on_done=lambda _r: self.refresh(),
            on_error=functools.partial(self._failed, "http", "restart"),
            name="launcher-share",
        )

    def check_lan(self) -> None:
        """While sharing, look (in a worker thread) whether this machine's LAN addresses changed
        (a new Wi-Fi network): then offer to re-sign the certificate for the new ones."""
        shared = self.servers.lan_scan
        if shared is None or not self.config.lan or self._lan_checking:
            return
        self._lan_checking = True

        def done(scan: LanScan) -> None:
            self._lan_checking = False
            current = self.servers.lan_scan
            if current is None:
                return
            old = {a.address for a in current.addresses}
            new = {a.address for a in scan.addresses}
            changed = old != new
            if changed:
                added = ", ".join(str(a) for a in sorted(new - old, key=str)) or "none"
                gone = ", ".join(str(a) for a in sorted(old - new, key=str)) or "none"
                self.lan_changed.setText(
                    f"Your network changed (new addresses: {added}; gone: {gone}). The certificate "
                    "and the set-up page still name the old ones."
                )
            self.lan_changed.setVisible(changed)
            self.resign_button.setVisible(changed)

        def failed(_exc: BaseException) -> None:
            self._lan_checking = False

        self.tasks.submit(self.scan_lan, on_done=done, on_error=failed, name="launcher-lan-check")

    def _resign(self) -> None:
        """The offer taken: share again, so the leaf and the set-up page name the new addresses."""
        self.lan_changed.setVisible(False)
        self.resign_button.setVisible(False)
        self.apply_sharing()

    def _show_sharing(self) -> None:
        """The sharing box: visible while sharing is on (or still in force), with the URLs,
        the set-up page's URL and its QR code."""
        from launcher.onboarding import lan_url_hosts, onboarding_url

        servers = self.servers
        scan = servers.lan_scan
        self.lan_box.setVisible(self.config.lan or scan is not None)
        self.host_combo.setEnabled(self._all_stopped() and not self.config.lan)
        running = [lst for lst in (servers.http, servers.https) if lst.state is ListenerState.RUNNING]
        url: str | None = None
        if scan is None or not running:
            self.lan_urls.setText("Sharing starts when the servers run: press Start all.")
        else:
            hosts = lan_url_hosts(scan, servers.lan_hosts)
            lines = [f"{lst.scheme}://{host}:{lst.port}/" for host in hosts for lst in running]
            skipped = [f"{item.address} ({item.interface}) left out: {why}" for item, why in scan.skipped]
            self.lan_urls.setText(
                "\n".join(["On your network:", *lines])
                if lines
                else "No LAN address found: connect to a network."
            )
            self.lan_urls.setToolTip("\n".join(skipped))
            if servers.http.running and not servers.cert_store.is_imported:
                url = onboarding_url(servers, scan, servers.lan_hosts)
        if url is None:
            self.lan_onboarding.setText("")
            self.lan_qr.clear()
            self.lan_qr.setVisible(False)
        else:
            self.lan_onboarding.setText(f"Set up a phone: scan the code or open {url}")
            if url != self._qr_url:
                from launcher.onboarding import qr_png

                pixmap = QPixmap()
                pixmap.loadFromData(qr_png(url, scale=3), "PNG")
                self.lan_qr.setPixmap(pixmap)
                self.lan_qr.setToolTip(url)
            self.lan_qr.setVisible(True)
        self._qr_url = url

    def _all_stopped(self) -> bool:
        return all(
            lst.state in (ListenerState.STOPPED, ListenerState.ERROR) for lst in self.servers.listeners
        )

    # --- state display ----------------------------------------------------------------------------------

    def _on_state(self, scheme: str, state: ListenerState) -> None:
        self._show_state(scheme, state)
        if state is ListenerState.ERROR:
            self.listenerError.emit(scheme)
        self.stateChanged.emit(scheme, state)

    def _show_state(self, scheme: str, state: ListenerState) -> None:
        row = self.rows[scheme]
        listener = self._listener(scheme)
        colour = STATE_COLOUR[state]
        row.status.setText(f"<span style='color:{colour}'>●</span>&nbsp;{STATE_TEXT[state]}")
        row.status.setProperty("state", state.value)
        row.status.setToolTip(listener.error or STATE_TEXT[state])
        running = state is ListenerState.RUNNING
        busy = state in (ListenerState.STARTING, ListenerState.STOPPING)
        row.start_button.setText("Stop" if running or state is ListenerState.STOPPING else "Start")
        row.start_button.setEnabled(not busy)
        row.port_spin.setEnabled(state in (ListenerState.STOPPED, ListenerState.ERROR))
        row.open_button.setEnabled(running)
        row.copy_button.setEnabled(running)
        url = self.browser_url(scheme)
        if running:
            row.url_label.setText(f"<a href='{url}'>{url}</a>")
            row.url_label.setToolTip(f"Open {url} in the browser")
        else:
            row.url_label.setText(f"<span style='color:#94a3b8'>{url}</span>")
            row.url_label.setToolTip("Not running")
        self._show_sharing()
        self.start_all_button.setEnabled(
            any(lst.state in (ListenerState.STOPPED, ListenerState.ERROR) for lst in self.servers.listeners)
        )
        self.stop_all_button.setEnabled(
            any(lst.state is ListenerState.RUNNING for lst in self.servers.listeners)
        )
        self._update_restart()

    def block_restart(self, blocked: bool) -> None:
        """Disable Restart while the app panel is busy (loading, restarting)."""
        self._restart_blocked = blocked
        self._update_restart()

    def _update_restart(self) -> None:
        running = any(lst.state is ListenerState.RUNNING for lst in self.servers.listeners)
        self.restart_button.setEnabled(running and not self._restart_blocked)

    def refresh(self) -> None:
        for listener in self.servers.listeners:
            self._show_state(listener.scheme, listener.state)

    # --- actions ------------------------------------------------------------------------------------------

    def toggle(self, scheme: str) -> None:
        if self._listener(scheme).state is ListenerState.RUNNING:
            self.stop(scheme)
        else:
            self.start(scheme)

    def start(self, scheme: str) -> None:
        """Start one listener with the port in its spin box, in a worker thread."""
        listener = self._listener(scheme)
        if listener.state not in (ListenerState.STOPPED, ListenerState.ERROR):
            return
        if self._all_stopped():
            self._share_now()
        listener.port = getattr(self.config, f"{scheme}_port")
        self.rows[scheme].start_button.setEnabled(False)
        self.tasks.submit(
            listener.start,
            on_done=lambda _r: self.refresh(),
            on_error=functools.partial(self._failed, scheme, "start"),
            name=f"launcher-start-{scheme}",
        )

    def stop(self, scheme: str) -> None:
        listener = self._listener(scheme)
        if listener.state is ListenerState.STOPPED:
            return
        self.rows[scheme].start_button.setEnabled(False)
        self.tasks.submit(
            listener.stop,
            on_done=lambda _r: self.refresh(),
            on_error=functools.partial(self._failed, scheme, "stop"),
            name=f"launcher-stop-{scheme}",
        )

    def start_all(self) -> None:
        if self._all_stopped() and getattr(self.servers, "workers", 1) > 1:
            self._start_both()
            return
        for scheme in ("https", "http"):
            self.start(scheme)

    def _start_both(self) -> None:
        """Start both listeners in one call, in a worker thread: a pool of worker processes then
        starts one set of processes for both (one listener after the other would start a set,
        then replace it with a set serving both)."""
        self._share_now()
        for scheme, row in self.rows.items():
            self._listener(scheme).port = getattr(self.config, f"{scheme}_port")
            row.start_button.setEnabled(False)

        def done(errors: list[Exception]) -> None:
            self.refresh()
            for listener in (self.servers.https, self.servers.http):
                if listener.state is ListenerState.ERROR:
                    name = listener.scheme.upper()
                    self.listenerProblem.emit(listener.scheme, f"{name} did not start: {listener.error}")
            for error in errors:
                if not isinstance(error, LauncherError):
                    self.route_error(error)

        self.tasks.submit(
            self.servers.start_all,
            on_done=done,
            on_error=functools.partial(self._failed, "https", "start"),
            name="launcher-start-all",
        )

    def stop_all(self) -> None:
        for scheme in ("https", "http"):
            self.stop(scheme)

    def _failed(self, scheme: str, what: str, exc: BaseException) -> None:
        self.refresh()

        def show(error: LauncherError) -> None:
            self.listenerProblem.emit(scheme, f"{scheme.upper()} did not {what}: {error}")

        self.route_error(exc, show)

    def browser_url(self, scheme: str) -> str:
        """The listener's URL as a browser should open it: with ``localhost`` for a loopback
        address when the served certificate names localhost (see the module docstring)."""
        url = self._listener(scheme).url
        parts = urllib.parse.urlsplit(url)
        if parts.hostname not in ("127.0.0.1", "::1") or not self._certificate_covers("localhost"):
            return url
        return parts._replace(netloc=f"localhost:{parts.port}").geturl()

    def _certificate_covers(self, name: str) -> bool:
        try:
            info = self.servers.cert_store.leaf_info()
        except LauncherError:
            return False
        return info is not None and any(san.split(":", 1)[-1] == name for san in info.sans)

    def open_in_browser(self, scheme: str) -> None:
        """Open the listener's page (``browser_url``); a failed opener is reported, the URL copied."""
        listener = self._listener(scheme)
        if not listener.running:
            return
        problem = open_external(QUrl(self.browser_url(scheme)), self.open_url)
        if problem is not None:
            self.say(problem, MessageLevel.WARNING)

    def copy_url(self, scheme: str) -> None:
        listener = self._listener(scheme)
        QGuiApplication.clipboard().setText(listener.url)
        self.say(f"Copied {listener.url}")
