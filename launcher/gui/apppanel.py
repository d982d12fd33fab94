"""The app selector: serve the bundled demo app or the user's own Flask app, restart, reload on change.

"Demo app" / "My app…" with a target (``flask --app`` syntax: ``module:app``, ``module:create_app()``,
``package``, ``path/to/app.py``; empty with a folder: ``FLASK_APP``, ``.flaskenv``, ``wsgi.py`` or
``app.py`` there, as ``flask`` does), a working folder and the last ten targets (settings).

Loading runs in a worker thread (``servers.serve_target``: ``launcher.apptarget.load_app`` in this
process, or in the server process for ``launcher.remote.RemoteServers``).  When it fails the servers are
left exactly as they were (stopped stays stopped, running ones keep the old app) and the panel shows
the one-line message with the user's traceback behind "Details".  When it works the servers get the
new app (``Servers.set_app``: running listeners restart; requests in flight get ``GRACE`` seconds).

Reload on change: a ``launcher.reload.Reloader`` for the served target.  It runs only for the
user's app, never for the demo app (the bundled package is not re-imported, so watching it would
restart the servers for nothing).  Its callbacks run in its watcher thread and reach the GUI thread
through ``_ReloadBridge``'s queued signals.  A reload that fails to import keeps the old app serving,
shows the message (panel and banner, with details) and is retried on the next save; a good one
clears the message.

Limits: the user's module-level code runs in a worker thread (code that insists on the main thread,
such as ``signal.signal``, fails to load with that error).  One load at a time: the controls are
disabled while one runs.
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QStringListModel, Qt, Signal
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

from launcher.apptarget import AppTarget, resolve_target
from launcher.errors import AppLoadError, LauncherError
from launcher.gui.settings import Settings
from launcher.gui.tasks import TaskRunner
from launcher.gui.widgets import DetailsView
from launcher.reload import Reloader
from launcher.servers import Servers

#: Seconds requests in flight get to finish when the listeners restart with a new app.
GRACE = 0.5
RECENT_MAX = 10
TARGET_HINT = "module:app or path/to/app.py"


def is_demo(target: AppTarget | None) -> bool:
    """The bundled demo app: ``AppTarget()``.  (``AppTarget(None, folder)`` is the user's app,
    found in the folder the way ``flask`` finds one; ``AppTarget.is_demo`` says True for it.)"""
    return target is not None and target.target is None and target.chdir is None


def app_label(app: Any) -> str:
    """ "Bundled demo app" or "Flask app “name”" for the app being served."""
    name = getattr(app, "import_name", None) or type(app).__name__
    return "Bundled demo app" if name == "flaskapp" else f"Flask app “{name}”"


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


def push_recent(recent: list[tuple[str, str]], target: str, folder: str) -> list[tuple[str, str]]:
    """*recent* with ``(target, folder)`` first, no duplicates, at most ``RECENT_MAX``."""
    pair = (target, folder)
    return [pair, *(p for p in recent if p != pair)][:RECENT_MAX]


def target_from_file(file: str | Path, folder: str) -> tuple[str, str]:
    """``(target, folder)`` for a chosen .py file: relative to *folder* when inside it, else the
    file's name in its own folder."""
    path = Path(file).resolve()
    if folder:
        base = Path(folder).expanduser().resolve()
        if base in path.parents:
            return path.relative_to(base).as_posix(), folder
    return path.name, str(path.parent)


@dataclass(frozen=True)
class Switched:
    """What a successful load did (handed from the worker to the GUI thread)."""

    target: AppTarget
    app: Any
    errors: list[Exception]


class _ReloadBridge(QObject):
    """Receives the reloader's callbacks in its watcher thread; re-emits them in the GUI thread."""

    changed = Signal(object)  # frozenset of paths
    reloaded = Signal(object, object)  # the new app, the listeners' restart errors
    failed = Signal(object)  # LauncherError


def _emitter(bridge: _ReloadBridge, name: str) -> Callable[..., None]:
    ref = weakref.ref(bridge)

    def emit(*args: object) -> None:
        target = ref()
        if target is None:
            return
        try:
            getattr(target, name).emit(*args)
        except RuntimeError:  # the window is gone
            pass

    return emit


class AppPanel(QGroupBox):
    """Chooses, loads, restarts and reloads what the servers serve."""

    #: ``(text, level)`` for the window: "info" to the status bar, else the banner.
    message = Signal(str, str)
    #: A reload (or restart) failed: the ``LauncherError``, for the banner (with details).
    problem = Signal(object)
    #: The problem reported before is gone (a later reload worked): its message text.
    problemCleared = Signal(str)
    #: A new app is served (after Apply, a restart or a reload): the app.
    appChanged = Signal(object)
    #: True while a load, restart or reloader start/stop runs.
    busyChanged = Signal(bool)

    def __init__(
        self,
        servers: Servers,
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
        #: The served target: ``AppTarget()`` for the demo app, None for an app given as an object.
        self.target: AppTarget | None = target
        self.app: Any = servers.app
        self.reloader: Reloader | None = None
        self.last_error: LauncherError | None = None
        self._closing = False
        self._busy = False
        self._recent = read_recent(settings)
        self._bridge = _ReloadBridge(self)
        self._bridge.changed.connect(self._reload_seen)
        self._bridge.reloaded.connect(self._reloaded)
        self._bridge.failed.connect(self._reload_failed)

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

        self.served_label = QLabel(app_label(self.app), self)
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
        if is_demo(shown) and form is None:
            shown = None  # the demo app runs until the window applies what the settings remember
        if shown is not None:
            custom = not is_demo(shown)
            if custom:
                self.target_edit.setText(shown.target or "")
                self.folder_edit.setText(str(shown.chdir) if shown.chdir is not None else "")
        elif app_label(self.app) != "Bundled demo app":
            custom = True  # an app handed over as an object: there is no target to show
        (self.custom_radio if custom else self.demo_radio).setChecked(True)
        if shown is not None and not is_demo(shown) and error is None:  # given on the command line
            folder = str(shown.chdir) if shown.chdir is not None else ""
            self._recent = push_recent(self._recent, shown.target or "", folder)
        self.reload_check.setChecked(settings.get("app/reload"))
        self._rebuild_recent()
        self._update_controls()
        if error is not None:
            self.show_error(error)
        self.demo_radio.toggled.connect(self._mode_changed)
        self.reload_check.toggled.connect(self._reload_toggled)
        self._sync_reloader()  # reload on change was left on, and the user's app is served

    # --- state -----------------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def serving_user_app(self) -> bool:
        return self.target is not None and not is_demo(self.target)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._update_controls()
        self.busyChanged.emit(busy)

    def _update_controls(self) -> None:
        custom = self.custom_radio.isChecked()
        idle = not self._busy
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

    def show_error(self, exc: LauncherError) -> None:
        """The one-line message inline; an ``AppLoadError``'s traceback behind Details."""
        self.last_error = exc
        details = exc.details if isinstance(exc, AppLoadError) else ""
        self.error_label.setText(str(exc))
        self.error_label.show()
        self.details_view.setPlainText(details)
        self.details_button.setVisible(bool(details))
        self.details_view.setVisible(bool(details) and self.details_button.isChecked())

    def clear_error(self) -> None:
        previous, self.last_error = self.last_error, None
        for widget in (self.error_label, self.details_button, self.details_view):
            widget.hide()
        self.error_label.clear()
        self.details_view.clear()
        if previous is not None:
            self.problemCleared.emit(str(previous))

    def _toggle_details(self, shown: bool) -> None:
        self.details_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.details_button.setAccessibleName("Hide the traceback" if shown else "Show the traceback")
        self.details_view.setVisible(shown and self.details_button.isVisible())

    # --- choosing --------------------------------------------------------------------------------------

    def _mode_changed(self, demo: bool) -> None:
        self._update_controls()
        if demo:
            if not is_demo(self.target):
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
        self.recent_button.setEnabled(bool(self._recent) and not self._busy)

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
        if self._busy or self._closing:
            return
        target = self.form_target()
        if target is None:
            self.show_error(
                LauncherError(f"Enter your app ({TARGET_HINT}) or choose its folder, then press Apply.")
            )
            self.target_edit.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        servers, old = self.servers, self.reloader

        def work() -> Switched:
            resolved = target if is_demo(target) else resolve_target(target)
            if old is not None:
                old.stop()  # joins its watcher: no swap of the old target after this
            # AppLoadError: nothing changed (the old app keeps serving; failed() below starts
            # reload on change again for it).
            app, errors = servers.serve_target(resolved, fresh=True, grace=GRACE)
            return Switched(resolved, app, errors)

        def failed(exc: BaseException) -> None:
            if old is not None and self.reloader is old:
                self.reloader = None  # the worker stopped it; _sync_reloader starts a new one
            self._load_failed(exc)
            if announce_failure and isinstance(exc, LauncherError):
                self.problem.emit(exc)
            self._sync_reloader()

        self._set_busy(True)
        self.tasks.submit(work, on_done=self._switched, on_error=failed, name="launcher-app-load")

    def _switched(self, result: Switched) -> None:
        self.reloader = None  # the worker stopped it (the controls were disabled meanwhile)
        self.target = result.target
        self._served(result.app)
        self.clear_error()
        if not is_demo(result.target):
            given = self.form_target() or result.target
            folder = str(given.chdir) if given.chdir is not None else ""
            self._recent = push_recent(self._recent, given.target or "", folder)
            self._rebuild_recent()
        self.save_settings()
        self.settings.sync()  # the recent list survives even if the launcher is killed later
        self._set_busy(False)
        if result.errors:
            self.message.emit(self._restart_errors(result.errors), "error")
        else:
            running = [lst.scheme.upper() for lst in self.servers.listeners if lst.running]
            note = f" ({' and '.join(running)} restarted)" if running else ""
            self.message.emit(f"Now serving {result.target.label()}{note}.", "info")
        self._sync_reloader()

    def _served(self, app: Any) -> None:
        self.app = app
        self.served_label.setText(app_label(app))
        self.served_label.setToolTip(self.target.label() if self.target is not None else "")
        self.appChanged.emit(app)

    @staticmethod
    def _restart_errors(errors: list[Exception]) -> str:
        parts = "; ".join(str(e) for e in errors)
        return f"The app is loaded but a server did not restart: {parts}"

    def _load_failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        if isinstance(exc, LauncherError):
            self.show_error(exc)
        elif self.tasks.unhandled is not None:
            self.tasks.unhandled(exc)
        else:
            raise exc

    def restart(self) -> None:
        """Restart the running servers; the user's app is imported afresh first (a failure keeps
        the old app serving and shows why)."""
        if self._busy or self._closing:
            return
        servers, target, reloader = self.servers, self.target, self.reloader
        if reloader is not None:
            # Through the reloader: one lock for its watcher and this button; outcome via its callbacks.
            self._set_busy(True)
            self.tasks.submit(
                reloader.reload_now,
                on_done=lambda _app: self._set_busy(False),
                on_error=self._load_failed,
                name="launcher-app-restart",
            )
            return
        if target is not None and not is_demo(target):

            def work() -> Switched:
                app, errors = servers.serve_target(target, fresh=True, grace=GRACE)
                return Switched(target, app, errors)

            self._set_busy(True)
            self.tasks.submit(
                work, on_done=self._restarted, on_error=self._load_failed, name="launcher-app-restart"
            )
            return
        if not any(lst.running for lst in servers.listeners):
            self.message.emit("Nothing to restart: the servers are stopped.", "info")
            return
        self._set_busy(True)
        self.tasks.submit(
            lambda: Switched(target or AppTarget(), self.app, servers.restart(grace=GRACE)),
            on_done=self._restarted,
            on_error=self._load_failed,
            name="launcher-app-restart",
        )

    def _restarted(self, result: Switched) -> None:
        self._set_busy(False)
        if result.app is not self.app:
            self._served(result.app)
        self.clear_error()
        if result.errors:
            self.message.emit(self._restart_errors(result.errors), "error")
        else:
            self.message.emit("Restarted.", "info")

    # --- reload on change ------------------------------------------------------------------------------

    def _reload_toggled(self, _on: bool) -> None:
        self.settings.set("app/reload", self.reload_check.isChecked())
        self._sync_reloader()

    def _make_reloader(self, target: AppTarget) -> Reloader:
        # The servers make it: in this process a ``launcher.reload.Reloader``, for servers in a
        # child process one that runs there.  Callbacks come from another thread: via the bridge.
        return self.servers.make_reloader(
            target,
            on_reloaded=_emitter(self._bridge, "reloaded"),
            on_error=_emitter(self._bridge, "failed"),
            on_change=_emitter(self._bridge, "changed"),
            grace=GRACE,
        )

    def _sync_reloader(self) -> None:
        """Start or stop the reloader to match the check box and the served target (worker thread)."""
        if self._busy or self._closing:
            return
        want = self.reload_check.isChecked() and self.serving_user_app
        if want and self.reloader is None:
            assert self.target is not None
            reloader = self._make_reloader(self.target)
            app = self.app

            def start() -> Reloader:
                reloader.start(app)
                return reloader

            self._set_busy(True)
            self.tasks.submit(start, on_done=self._reloader_started, on_error=self._reloader_failed,
                              name="launcher-reload-start")  # fmt: skip
        elif not want and self.reloader is not None:
            reloader, self.reloader = self.reloader, None
            self._set_busy(True)
            self.tasks.submit(
                reloader.stop,
                on_done=lambda _r: self._reloader_changed(),
                on_error=self._reloader_failed,
                name="launcher-reload-stop",
            )

    def _reloader_started(self, reloader: Reloader) -> None:
        self.reloader = reloader
        roots = ", ".join(str(r) for r in reloader.watched_roots)
        self.message.emit(f"Reload on change: watching {roots}", "info")
        self._reloader_changed()

    def _reloader_failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        if isinstance(exc, LauncherError):
            self.show_error(exc)
        elif self.tasks.unhandled is not None:
            self.tasks.unhandled(exc)

    def _reloader_changed(self) -> None:
        self._set_busy(False)
        self._sync_reloader()  # the check box may have changed meanwhile

    def _reload_seen(self, paths: frozenset[Path]) -> None:
        names = ", ".join(sorted(p.name for p in paths)[:3])
        self.message.emit(f"Changed: {names}: reloading…", "info")

    def _reloaded(self, app: Any, errors: list[Exception]) -> None:
        self._served(app)
        if not errors:
            self.clear_error()
            self.message.emit(f"Reloaded {self.target.label() if self.target else 'the app'}.", "info")

    def _reload_failed(self, exc: LauncherError) -> None:
        self.show_error(exc)
        self.problem.emit(exc)

    # --- closing ---------------------------------------------------------------------------------------

    def detach_reloader(self) -> Reloader | None:
        """For closing: no new loads or reloaders; returns the reloader for the caller to stop."""
        self._closing = True
        reloader, self.reloader = self.reloader, None
        return reloader
