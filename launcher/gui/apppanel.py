"""The app selector: serve the bundled demo app or the user's own Flask app, restart, reload on change.

"Demo app" / "My app…" with a target (``flask --app`` syntax: ``module:app``, ``module:create_app()``,
``package``, ``path/to/app.py``; empty with a folder: ``FLASK_APP``, ``.flaskenv``, ``wsgi.py`` or
``app.py`` there, as ``flask`` does), a working folder and the last ten targets (settings).

What is served, loading, restarting and reload on change are decided by ``launcher.appcontrol``'s
``AppController`` (Qt-free); this panel shows its state and hands it the form.

Loading runs in a worker thread (``servers.serve_target``: ``launcher.apptarget.load_app`` in this
process, or in the server process for ``launcher.remote.RemoteServers``).  When it fails the servers are
left exactly as they were (stopped stays stopped, running ones keep the old app) and the panel shows
the one-line message with the user's traceback behind "Details".  When it works the servers get the
new app (``Servers.set_app``: running listeners restart; requests in flight get ``GRACE`` seconds).

Reload on change: a ``launcher.reload.Reloader`` for the served target.  It runs only for the
user's app, never for the demo app (the bundled package is not re-imported, so watching it would
restart the servers for nothing).  Its callbacks run in its watcher thread and reach the GUI thread
through the window's ``GuiBridge`` (``tasks.bridge``).  A reload that fails to import keeps the old
app serving, shows the message (panel and banner, with details) and is retried on the next save; a good one
clears the message.

Limits: the user's module-level code runs in a worker thread (code that insists on the main thread,
such as ``signal.signal``, fails to load with that error).  One load at a time: the controls are
disabled while one runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QCompleter,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from launcher.appcontrol import (
    GRACE,
    RECENT_MAX,
    AppController,
    AppState,
    Served,
    Switched,
    app_label,
    push_recent,
    served_kind,
    target_from_file,
)
from launcher.apptarget import AppTarget
from launcher.control import ReloaderControl, ServersControl
from launcher.errors import AppLoadError, LauncherError
from launcher.gui.panel import Panel
from launcher.gui.settings import Settings
from launcher.gui.tasks import TaskRunner
from launcher.gui.widgets import DetailsView
from launcher.messages import MessageLevel

__all__ = ["GRACE", "RECENT_MAX", "AppPanel", "app_label", "push_recent", "read_recent", "target_from_file"]

TARGET_HINT = "module:app or path/to/app.py"


def read_recent(settings: Settings) -> list[tuple[str, str]]:
    """The recent ``(target, folder)`` pairs from the settings, newest first (bad entries dropped)."""
    try:
        raw = json.loads(settings.get("app/recent"))
    except (TypeError, ValueError):
        return []
    out: list[tuple[str, str]] = []
    if isinstance(raw, list):
        for item in raw:
            if isinstance(item, list | tuple) and len(item) == 2 and all(isinstance(v, str) for v in item):
                pair = (item[0], item[1])
                if pair not in out and (pair[0] or pair[1]):
                    out.append(pair)
    return out[:RECENT_MAX]


class AppPanel(Panel, QGroupBox):
    """The view of an ``AppController``: the form, the served app, its errors (``AppEvents``)."""

    #: A reload (or restart) failed: the ``LauncherError``, for the banner (with details).
    problem = Signal(object)
    #: The problem reported before is gone (a later reload worked): its message text.
    problemCleared = Signal(str)
    #: An error is shown inline (a load that failed): the exception (the window also puts an
    #: ``AppLoadError`` on its banner, where it is seen without scrolling).
    errorShown = Signal(object)
    #: A new app is served (after Apply, a restart or a reload): the app.
    appChanged = Signal(object)
    #: True while a load, restart or reloader start/stop runs.
    busyChanged = Signal(bool)

    def __init__(
        self,
        servers: ServersControl,
        tasks: TaskRunner,
        settings: Settings,
        parent: QWidget | None = None,
        *,
        target: AppTarget | None = None,
        form: AppTarget | None = None,
        error: LauncherError | None = None,
    ) -> None:
        super().__init__("App", parent)
        self.setObjectName("appPanel")
        self.setAccessibleName("App")
        self.servers = servers
        self.tasks = tasks
        self.settings = settings
        self.control = AppController(servers, tasks, self, target=target, post=tasks.bridge.callback)
        self._recent = read_recent(settings)

        # --- widgets -----------------------------------------------------------------------------------
        self.demo_radio = QRadioButton("Demo app", self)
        self.demo_radio.setObjectName("appDemoRadio")
        self.demo_radio.setAccessibleName("Serve the bundled demo app")
        self.demo_radio.setToolTip("The bundled pages that explain HTTP and HTTPS")
        self.custom_radio = QRadioButton("My app…", self)
        self.custom_radio.setObjectName("appCustomRadio")
        self.custom_radio.setAccessibleName("Serve my own Flask app")
        self.custom_radio.setToolTip("Your Flask app, named the way flask --app names it")
        self.mode_group = QButtonGroup(self)
        self.mode_group.addButton(self.demo_radio)
        self.mode_group.addButton(self.custom_radio)
        self.recent_button = QToolButton(self)
        self.recent_button.setObjectName("appRecentButton")
        self.recent_button.setAccessibleName("Recently used apps")
        self.recent_button.setText("Recent")
        self.recent_button.setToolTip("The last ten apps you served")
        self.recent_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.recent_menu = QMenu(self.recent_button)
        self.recent_menu.setObjectName("appRecentMenu")
        self.recent_button.setMenu(self.recent_menu)

        self.target_edit = QLineEdit(self)
        self.target_edit.setObjectName("appTargetEdit")
        self.target_edit.setAccessibleName("App target")
        self.target_edit.setPlaceholderText(TARGET_HINT)
        self.target_edit.setClearButtonEnabled(True)
        self.target_edit.setToolTip(
            "As with flask --app: module:app, module:create_app(), a package, or path/to/app.py. "
            "Empty: FLASK_APP, .flaskenv, wsgi.py or app.py in the folder."
        )
        self._completions = QStringListModel(self)
        completer = QCompleter(self._completions, self.target_edit)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.target_edit.setCompleter(completer)
        self.target_edit.returnPressed.connect(self.apply)
        self.file_button = QPushButton("File…", self)
        self.file_button.setObjectName("appFileButton")
        self.file_button.setAccessibleName("Choose the app's .py file")
        self.file_button.clicked.connect(self.choose_file)

        self.folder_edit = QLineEdit(self)
        self.folder_edit.setObjectName("appFolderEdit")
        self.folder_edit.setAccessibleName("Working folder")
        self.folder_edit.setPlaceholderText(os.getcwd())
        self.folder_edit.setClearButtonEnabled(True)
        self.folder_edit.setToolTip(
            "Where the target, .flaskenv and .env are looked up; put first on sys.path. "
            "Empty: the launcher's current folder."
        )
        self.folder_edit.returnPressed.connect(self.apply)
        self.folder_button = QPushButton("Folder…", self)
        self.folder_button.setObjectName("appFolderButton")
        self.folder_button.setAccessibleName("Choose the working folder")
        self.folder_button.clicked.connect(self.choose_folder)

        self.served_label = QLabel(app_label(self.control.app), self)
        self.served_label.setObjectName("appLabel")
        self.served_label.setAccessibleName("Served app")
        self.served_label.setWordWrap(True)
        self.served_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.apply_button = QPushButton("Apply", self)
        self.apply_button.setObjectName("appApplyButton")
        self.apply_button.setAccessibleName("Load and serve this app")
        self.apply_button.setToolTip("Load the app (running servers restart with it)")
        self.apply_button.setProperty("role", "primary")
        self.apply_button.clicked.connect(self.apply)
        self.reload_check = QCheckBox("Reload on change", self)
        self.reload_check.setObjectName("reloadCheck")
        self.reload_check.setAccessibleName("Reload on change")
        self.reload_check.setToolTip(
            "Watch your app's files (.py, templates, .flaskenv, .env); on a save, import it afresh and "
            "restart both servers. Not for the demo app."
        )

        self.error_label = QLabel(self)
        self.error_label.setObjectName("appErrorLabel")
        self.error_label.setAccessibleName("App error")
        self.error_label.setProperty("state", "invalid")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_button = QToolButton(self)
        self.details_button.setObjectName("appDetailsButton")
        self.details_button.setAccessibleName("Show the traceback")
        self.details_button.setText("Details")
        self.details_button.setCheckable(True)
        self.details_button.setAutoRaise(True)
        self.details_button.setArrowType(Qt.ArrowType.RightArrow)
        self.details_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.details_button.toggled.connect(self._toggle_details)
        self.details_view = DetailsView(self, lines_shown=9)
        self.details_view.setObjectName("appDetailsView")
        self.details_view.setAccessibleName("Traceback of your app")
        for widget in (self.error_label, self.details_button, self.details_view):
            widget.hide()

        # --- layout ------------------------------------------------------------------------------------
        mode_row = QHBoxLayout()
        mode_row.addWidget(self.demo_radio)
        mode_row.addWidget(self.custom_radio)
        mode_row.addStretch(1)
        mode_row.addWidget(self.recent_button)
        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(6)
        self._field_labels: list[QLabel] = []
        for row, (text, buddy, button) in enumerate(
            (("Target", self.target_edit, self.file_button), ("Folder", self.folder_edit, self.folder_button))
        ):
            label = QLabel(text, self)
            label.setProperty("role", "fieldName")
            label.setBuddy(buddy)
            self._field_labels.append(label)
            grid.addWidget(label, row, 0)
            grid.addWidget(buddy, row, 1)
            grid.addWidget(button, row, 2)
        serving = QLabel("Serving", self)
        serving.setProperty("role", "fieldName")
        grid.addWidget(serving, 2, 0, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.served_label, 2, 1, 1, 2)
        grid.setColumnStretch(1, 1)
        self.target_edit.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.folder_edit.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        width = max(self.file_button.sizeHint().width(), self.folder_button.sizeHint().width())
        self.file_button.setMinimumWidth(width)
        self.folder_button.setMinimumWidth(width)
        actions = QHBoxLayout()
        actions.addWidget(self.apply_button)
        actions.addSpacing(6)
        actions.addWidget(self.reload_check)
        actions.addStretch(1)
        #: Shown only for "My app…" (the demo app needs none of it).
        self.custom_widgets: tuple[QWidget, ...] = (
            self.target_edit,
            self.file_button,
            self.folder_edit,
            self.folder_button,
            self.apply_button,
            self.reload_check,
            *self._field_labels,
        )
        error_row = QHBoxLayout()
        error_row.addWidget(self.error_label, 1)
        error_row.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignTop)

        layout = QVBoxLayout(self)
        layout.setSpacing(6)
        layout.addLayout(mode_row)
        layout.addLayout(grid)
        layout.addLayout(actions)
        layout.addLayout(error_row)
        layout.addWidget(self.details_view)

        # --- state from the arguments and the settings -------------------------------------------------
        # The form shows *form* (what the user asked for, even if it failed to load), else the served
        # user's target, else what the settings remember.
        custom = settings.get("app/mode") == "custom"
        self.target_edit.setText(settings.get("app/target"))
        self.folder_edit.setText(settings.get("app/chdir"))
        shown = form if form is not None else target
        if shown is not None and shown.is_demo and form is None:
            shown = None  # the demo app runs until the window applies what the settings remember
        if shown is not None:
            custom = not shown.is_demo
            if custom:
                self.target_edit.setText(shown.target or "")
                self.folder_edit.setText(str(shown.chdir) if shown.chdir is not None else "")
        elif self.control.served is Served.GIVEN_APP:
            custom = True  # an app handed over as an object: there is no target to show
        (self.custom_radio if custom else self.demo_radio).setChecked(True)
        if shown is not None and not shown.is_demo and error is None:  # given on the command line
            folder = str(shown.chdir) if shown.chdir is not None else ""
            self._recent = push_recent(self._recent, shown.target or "", folder)
        self.reload_check.setChecked(settings.get("app/reload"))
        self._rebuild_recent()
        self._update_controls()
        if error is not None:
            self.show_error(error)
        self.demo_radio.toggled.connect(self._mode_changed)
        self.reload_check.toggled.connect(self._reload_toggled)
        # Reload on change was left on, and the user's app is served: start it.
        self.control.set_reload(self.reload_check.isChecked())

    # --- state (the controller's) ----------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.control.busy

    @property
    def serving_user_app(self) -> bool:
        return self.control.serving_user_app

    @property
    def target(self) -> AppTarget | None:
        """The served target: ``AppTarget()`` for the demo app, None for an app given as an object."""
        return self.control.target

    @property
    def app(self) -> Any:
        return self.control.app

    @property
    def reloader(self) -> ReloaderControl | None:
        return self.control.reloader

    @property
    def last_error(self) -> Exception | None:
        return self.control.last_error

    def _update_controls(self) -> None:
        custom = self.custom_radio.isChecked()
        idle = not self.control.busy
        for widget in self.custom_widgets:
            widget.setVisible(custom)
        for widget in (self.target_edit, self.folder_edit, self.file_button, self.folder_button):
            widget.setEnabled(idle)
        self.apply_button.setEnabled(idle)
        self.demo_radio.setEnabled(idle)
        self.custom_radio.setEnabled(idle)
        self.recent_button.setEnabled(idle and bool(self._recent))
        self.reload_check.setEnabled(idle and self.serving_user_app)
        if self.serving_user_app:
            self.reload_check.setToolTip(
                "Watch your app's files (.py, templates, .flaskenv, .env); on a save, import it afresh "
                "and restart both servers."
            )
        else:
            self.reload_check.setToolTip(
                "Reload on change starts once your app is served (Apply); never for the demo app."
            )

    def form_target(self) -> AppTarget | None:
        """The target the form names (``AppTarget()`` for Demo app); None when "My app…" is empty."""
        if self.demo_radio.isChecked():
            return AppTarget()
        text = self.target_edit.text().strip()
        folder = self.folder_edit.text().strip()
        if not text and not folder:
            return None
        return AppTarget(text or None, Path(folder).expanduser() if folder else None)

    # --- errors ----------------------------------------------------------------------------------------

    def show_error(self, exc: Exception) -> None:
        """The one-line message inline; an ``AppLoadError``'s traceback behind Details."""
        self.control.show_error(exc)

    def clear_error(self) -> None:
        self.control.clear_error()

    # --- AppEvents: what the controller tells this view ------------------------------------------------

    def error_shown(self, exc: Exception) -> None:
        details = exc.details if isinstance(exc, AppLoadError) else ""
        self.error_label.setText(str(exc))
        self.error_label.show()
        self.details_view.setPlainText(details)
        self.details_button.setVisible(bool(details))
        self.details_view.setVisible(bool(details) and self.details_button.isChecked())
        self.errorShown.emit(exc)

    def error_cleared(self, previous: Exception) -> None:
        for widget in (self.error_label, self.details_button, self.details_view):
            widget.hide()
        self.error_label.clear()
        self.details_view.clear()
        self.problemCleared.emit(str(previous))

    def announce(self, error: Exception) -> None:
        self.problem.emit(error)

    def unexpected(self, exc: BaseException) -> None:
        self.route_error(exc)

    def note(self, text: str, level: MessageLevel) -> None:
        self.say(text, level)

    def state_changed(self, state: AppState) -> None:
        self._update_controls()
        self.busyChanged.emit(state is AppState.LOADING)

    def app_served(self, app: Any) -> None:
        target = self.control.target
        self.served_label.setText(app_label(app))
        self.served_label.setToolTip(target.label() if target is not None else "")
        self.appChanged.emit(app)

    def loaded(self, asked: AppTarget, result: Switched) -> None:
        if served_kind(result.target, result.app) is Served.USER_APP:
            folder = str(asked.chdir) if asked.chdir is not None else ""
            self._recent = push_recent(self._recent, asked.target or "", folder)
            self._rebuild_recent()
        self.save_settings()
        self.settings.sync()  # the recent list survives even if the launcher is killed later

    def _toggle_details(self, shown: bool) -> None:
        self.details_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.details_button.setAccessibleName("Hide the traceback" if shown else "Show the traceback")
        self.details_view.setVisible(shown and self.details_button.isVisible())

    # --- choosing --------------------------------------------------------------------------------------

    def _mode_changed(self, demo: bool) -> None:
        self._update_controls()
        if demo:
            if not self.control.demo_served:
                self.apply()
        else:
            self.target_edit.setFocus(Qt.FocusReason.OtherFocusReason)

    def choose_file(self) -> None:
        start = self.folder_edit.text().strip() or os.getcwd()
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose your Flask app's .py file", start, "Python files (*.py);;All files (*)"
        )
        if path:
            self.set_file(path)

    def set_file(self, path: str | Path) -> None:
        """Fill the form from a chosen .py file (see ``target_from_file``)."""
        target, folder = target_from_file(path, self.folder_edit.text().strip())
        self.target_edit.setText(target)
        self.folder_edit.setText(folder)

    def choose_folder(self) -> None:
        start = self.folder_edit.text().strip() or os.getcwd()
        folder = QFileDialog.getExistingDirectory(self, "Choose the working folder", start)
        if folder:
            self.folder_edit.setText(folder)

    def _rebuild_recent(self) -> None:
        self.recent_menu.clear()
        for target, folder in self._recent:
            text = f"{target or '(FLASK_APP / app.py)'}   —   {folder or 'current folder'}"
            action = self.recent_menu.addAction(text)
            action.setToolTip(f"{target} in {folder}" if folder else target)
            action.triggered.connect(lambda _c=False, t=target, f=folder: self.use_recent(t, f))
        self._completions.setStringList(list(dict.fromkeys(t for t, _f in self._recent if t)))
        self.recent_button.setEnabled(bool(self._recent) and not self.control.busy)

    @property
    def recent(self) -> list[tuple[str, str]]:
        return list(self._recent)

    def use_recent(self, target: str, folder: str) -> None:
        """Serve a recent entry: fill the form and apply it."""
        self.target_edit.setText(target)
        self.folder_edit.setText(folder)
        self.custom_radio.setChecked(True)
        self.apply()

    def save_settings(self) -> None:
        s = self.settings
        s.set("app/mode", "custom" if self.custom_radio.isChecked() else "demo")
        s.set("app/target", self.target_edit.text().strip())
        s.set("app/chdir", self.folder_edit.text().strip())
        s.set("app/recent", json.dumps([list(p) for p in self._recent]))
        s.set("app/reload", self.reload_check.isChecked())

    # --- loading ---------------------------------------------------------------------------------------

    def apply(self, *, announce_failure: bool = False) -> None:
        """Load what the form names in a worker thread; serve it if it loads (see the module doc).

        *announce_failure*: a load error also goes to the window's banner (``problem``), as for
        the app named on the command line.
        """
        if self.control.state in (AppState.LOADING, AppState.CLOSED):
            return
        target = self.form_target()
        if target is None:
            self.show_error(
                LauncherError(f"Enter your app ({TARGET_HINT}) or choose its folder, then press Apply.")
            )
            self.target_edit.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        self.control.load(target, announce_failure=announce_failure)

    def _served(self, app: Any) -> None:
        """Show *app* as the one served (the controller's record of it too)."""
        self.control._served(app)

    def restart(self) -> None:
        """Restart the running servers; the user's app is imported afresh first (a failure keeps
        the old app serving and shows why)."""
        self.control.restart()

    def _reload_toggled(self, _on: bool) -> None:
        self.settings.set("app/reload", self.reload_check.isChecked())
        self.control.set_reload(self.reload_check.isChecked())

    # --- closing ---------------------------------------------------------------------------------------

    def detach_reloader(self) -> ReloaderControl | None:
        """For closing: no new loads or reloaders; returns the reloader for the caller to stop."""
        return self.control.detach_reloader()
