"""The app icon and style sheet from ``resources/`` (repository root), with fallbacks.

When the folder is not there (an install that did not ship it), the icon is drawn in code and
the style sheet is empty, so the window still works and looks plain.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

# Installed, resources/ ships as the launcher.resources package; in a checkout it is at the top.
_PACKAGED = Path(__file__).resolve().parents[1] / "resources"
RESOURCES = _PACKAGED if _PACKAGED.is_dir() else Path(__file__).resolve().parents[2] / "resources"


def resource_path(name: str) -> Path:
    return RESOURCES / name


@cache
def app_icon() -> QIcon:
    path = resource_path("icon.svg")
    if path.is_file():
        icon = QIcon(str(path))
        if not icon.isNull():
            return icon
    return _drawn_icon()


def _drawn_icon() -> QIcon:
    pixmap = QPixmap(64, 64)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#15803d"))
    painter.drawRoundedRect(QRectF(2, 2, 60, 60), 13, 13)
    painter.setBrush(QColor("white"))
    painter.drawRoundedRect(QRectF(15, 28, 34, 25), 5, 5)
    painter.end()
    return QIcon(pixmap)


def style_sheet() -> str:
    path = resource_path("style.qss")
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""
