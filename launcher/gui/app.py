"""``run_gui``: make the QApplication and the window, run the event loop, stop everything after."""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from launcher.apptarget import AppTarget
from launcher.errors import AppLoadError
from launcher.gui.errorui import install_exception_hooks
from launcher.gui.mainwindow import MainWindow, configure_application
from launcher.gui.settings import open_settings

#: Signals that close the window cleanly (as its close button does) while ``run_gui`` runs.
CLOSE_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def as_target(target: str | AppTarget) -> AppTarget:
    """*target* as an ``AppTarget`` (a string is ``flask --app`` syntax), not yet resolved."""
    return target if isinstance(target, AppTarget) else AppTarget(target.strip() or None)


def settle_heap() -> None:
    """Move everything allocated so far (Qt, Flask, the window) out of the garbage collector's way.

    A full collection walks every module object: ~40 ms with servers in this process under load
    (they share the GIL), a visible stall.  After ``gc.freeze()`` full collections only walk what
    was made since (request records, mostly): ~4 ms.
    """
    gc.collect()
    gc.freeze()


def run_gui(
    argv: Sequence[str] | None = None,
    *,
    cert_dir: str | os.PathLike[str] | None = None,
    app_target: str | AppTarget | None = None,
    reset_settings: bool = False,
) -> int:
    """Open the window and run until it is closed; returns the exit code (0 on a normal close).

    ``reset_settings`` clears the saved settings (ports, host, options, geometry, last tab) first.
    ``app_target`` (``flask --app`` syntax or a ``launcher.apptarget.AppTarget``) serves the user's
    app instead of the demo app; if it fails to load, the window still opens, shows why (the
    traceback behind a Details button), and serves the demo app.
    SIGINT and SIGTERM (in the main thread) close the window as its close button does: exit code 0.
    """
    qt_argv = list(argv) if argv is not None else sys.argv[:1]
    app = QApplication.instance() or QApplication(qt_argv)
    assert isinstance(app, QApplication)
    configure_application(app)
    settings = open_settings(None)
    if reset_settings:
        settings.clear()
        settings.sync()

    target: AppTarget | None = None
    load_error: AppLoadError | None = None
    if app_target:  # a non-empty string, or an AppTarget
        # Resolved here (a missing FLASK_APP shows at once); loaded by the server process, which
        # the window starts: an import error shows in the app selector, the demo app serves.
        target = as_target(app_target)
        try:
            from launcher.apptarget import resolve_target

            target = resolve_target(target)
        except AppLoadError as exc:
            load_error = exc

    window = MainWindow(cert_dir=cert_dir, settings=settings, app_target=target, app_error=load_error)
    restore_hooks = install_exception_hooks(window.exception_router)
    if load_error is not None:
        window.report_exception(load_error)

    # Ctrl+C in the terminal, and SIGTERM (``kill``, ``podman stop``), close the window the normal
    # way: servers stopped, settings saved, exit code 0.  Python can only set handlers in the main
    # thread; elsewhere (a test running the loop in a thread) the defaults stay.
    in_main = threading.current_thread() is threading.main_thread()
    previous: dict[int, Any] = {}
    if in_main:
        for signum in CLOSE_SIGNALS:
            previous[signum] = signal.signal(signum, lambda *_: QTimer.singleShot(0, window.close))
    wakeup = QTimer()
    wakeup.timeout.connect(lambda: None)  # lets Python run its signal handlers during the Qt loop
    wakeup.start(200)
    window.show()
    settle_heap()
    try:
        code = app.exec()
    finally:
        wakeup.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)
        window.shutdown(timeout=1.0)
        restore_hooks()
    return int(code)
