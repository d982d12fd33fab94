"""Small widgets shared by the panels: a monospace font and an expandable details pane."""

from __future__ import annotations

from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QPlainTextEdit, QWidget


def monospace_font(scale: float = 0.92) -> QFont:
    """The system's fixed-width font, a little smaller than the UI font (long lines fit better)."""
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setStyleHint(QFont.StyleHint.Monospace)
    size = font.pointSizeF()
    if size > 0:
        font.setPointSizeF(max(7.0, size * scale))
    return font


class DetailsView(QPlainTextEdit):
    """Read-only, selectable, monospace text that keeps its lines (a traceback, commands).

    ``lines_shown`` sets the height to that many lines (plus the frame); longer text scrolls.
    """

    def __init__(self, parent: QWidget | None = None, *, lines_shown: int = 10) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setFont(monospace_font())
        self.setTabChangesFocus(True)
        self.set_lines_shown(lines_shown)

    def set_lines_shown(self, lines: int) -> None:
        line = self.fontMetrics().lineSpacing()
        margins = self.contentsMargins()
        frame = 2 * self.frameWidth() + margins.top() + margins.bottom()
        scrollbar = self.horizontalScrollBar().sizeHint().height()
        self.setFixedHeight(lines * line + frame + 2 * int(self.document().documentMargin()) + scrollbar)
