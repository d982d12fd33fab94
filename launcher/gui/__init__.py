"""The desktop window (PySide6).  ``MainWindow`` and ``run_gui`` are the public entry points.

Only QtCore, QtGui and QtWidgets are used (PySide6-Essentials).  The servers, certificates and
request log are the Qt-free core's; this package shows and drives them.
"""

from __future__ import annotations

from launcher.gui.app import run_gui
from launcher.gui.mainwindow import MainWindow

__all__ = ["MainWindow", "run_gui"]
