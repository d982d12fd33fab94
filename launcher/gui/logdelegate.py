"""Paints the request log's cells: the same pixels as Qt's item delegate, at about half the cost.

Under load the log scrolls every pump tick, so each tick repaints every visible cell (about 300
at 1440×880).  ``QStyledItemDelegate`` lays out each cell's text with a ``QTextLayout`` (twice:
once to size it, once to draw it) and asks the model for seven roles through the filter proxy,
three Python calls each; that was 15 ms of the window's thread per repaint, the longest stalls
of its event loop.  ``LogCellDelegate`` paints a plain cell itself (the view has already drawn
the row's alternate colour): a wire event's amber, then the text in the cell's colour, font and
alignment, elided as the view's elide mode asks, or the scheme badge where the style would put
it.  It reads the model in one call per cell (``RequestLogModel.look``, which answers what
``data()`` does), not role by role through the proxy.  Measured offscreen at 1440×880 with
10 000 rows, a repaint after a batch of 120 rows took 8–9 ms against 14–17 ms with Qt's delegate.

It paints only with QPainter's integer overloads (``drawText(x, y, text)``,
``fillRect(x, y, w, h, brush)``, ``drawPixmap(x, y, pixmap)``) and asks a brush for its colour
once: PySide releases the GIL around the others (``drawText(QRect, ...)``, ``fillRect(QRect,
...)``, ``QIcon.paint``, ``QBrush.color``, ``setPen(QColor(...))``), and each release lets a
waiting thread of this process (a worker pool's receivers and merger) take the GIL for up to
the interpreter's 5 ms switch interval: measured with one busy thread, 3–5% of such calls
waited over 1 ms, none of the integer ones did.

What it leaves to ``QStyledItemDelegate``, whose pixels it matches (tested): the selected or
focused row, and a disabled view.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QFontMetricsF,
    QIcon,
    QPainter,
    QPalette,
    QPixmap,
)
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from launcher.gui.logmodel import COL_SCHEME, RequestFilterProxy, RequestLogModel

#: Exact text widths remembered (right-aligned cells: statuses, times, sizes, worker numbers).
WIDTHS_KEPT = 4096
# What the style draws itself: a selected or focused cell.
_STYLED = (QStyle.StateFlag.State_Selected | QStyle.StateFlag.State_HasFocus).value
_ACTIVE = QStyle.StateFlag.State_Active.value
_ENABLED = QStyle.StateFlag.State_Enabled.value
# Events after which the cached palette, font and margin are made again.
_REFRESH = frozenset(
    {
        QEvent.Type.PaletteChange,
        QEvent.Type.StyleChange,
        QEvent.Type.FontChange,
        QEvent.Type.EnabledChange,
    }
)


class _Look:
    """What every plain cell shares: the style's text margin, the view's font and its metrics,
    and the text colour (for an active and an inactive window)."""

    def __init__(self, view: QWidget) -> None:
        style = view.style()
        self.margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view) + 1
        self.font = QFont(view.font())
        self.metrics = QFontMetrics(self.font)
        palette = view.palette()
        self.text = (
            palette.color(QPalette.ColorGroup.Normal, QPalette.ColorRole.Text),
            palette.color(QPalette.ColorGroup.Inactive, QPalette.ColorRole.Text),
        )


class LogCellDelegate(QStyledItemDelegate):
    """The log view's delegate: plain cells painted directly, the rest by the style."""

    def __init__(self, model: RequestLogModel, proxy: RequestFilterProxy, view: QWidget) -> None:
        super().__init__(view)
        self._model = model
        self._proxy = proxy
        self._view = view
        self._look: _Look | None = None
        self._metrics: dict[int, QFontMetrics] = {}  # the model's bold and italic fonts
        self._widths: dict[tuple[int, str], float] = {}  # (font, text) -> exact width
        self._colours: dict[int, tuple[QBrush, QColor]] = {}  # brush -> (brush, its colour)
        # The badge's pixmap for a cell of a given size, and where in the cell it goes.
        self._badge_places: dict[tuple[int, int, int, int, int], tuple[QPixmap, int, int]] = {}
        view.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _REFRESH:
            self._look = None
            self._metrics.clear()
            self._widths.clear()
            self._colours.clear()
            self._badge_places.clear()
        return False

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        state = option.state.value
        if state & _STYLED or not state & _ENABLED:
            super().paint(painter, option, index)
            return
        look = self._look
        if look is None:
            look = self._look = _Look(self._view)
        proxy = self._proxy
        column = index.column()
        row = proxy.mapToSource(index).row() if proxy.active else index.row()
        text, foreground, font, background, align = self._model.look(row, column)
        rect = option.rect
        x, y, w, h = rect.x(), rect.y(), rect.width(), rect.height()
        # Only QPainter's integer overloads from here: PySide lets other threads take the GIL
        # during the others (drawText(QRect, ...), fillRect(QRect, ...), QIcon.paint), and with
        # a worker pool's threads in this process a repaint waited for them hundreds of times.
        if background is not None:  # the view has drawn the row's own (alternate) colour
            painter.fillRect(x, y, w, h, background)
        if column == COL_SCHEME:
            self._paint_badge(painter, option, index, row, x, y, w, h)
            return
        if not text:
            return
        margin = look.margin
        metrics = look.metrics if font is None else self._metrics_for(font)
        room = w - 2 * margin
        advance = metrics.horizontalAdvance(text)
        if advance > room:
            text = metrics.elidedText(text, option.textElideMode, room)
            advance = metrics.horizontalAdvance(text)
        painter.setPen(look.text[not state & _ACTIVE] if foreground is None else self._colour(foreground))
        if font is not None:
            painter.setFont(font)
        # Where drawText(rect, AlignVCenter | AlignLeft or AlignRight) puts the baseline and the
        # first glyph: the line's height centred in the cell; a right-aligned text ends at the
        # margin, at a fractional x (its exact width), which a translation supplies.
        baseline = y + (h - metrics.height()) // 2 + metrics.ascent()
        if align is None:
            painter.drawText(x + margin, baseline, text)
        else:
            left = x + w - margin - self._exact_width(font or look.font, text)
            whole = math.floor(left)
            painter.translate(left - whole, 0.0)
            painter.drawText(whole, baseline, text)
            painter.translate(whole - left, 0.0)
        if font is not None:
            painter.setFont(look.font)

    def _paint_badge(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
        row: int,
        x: int,
        y: int,
        w: int,
        h: int,
    ) -> None:
        """The scheme badge, where the style puts a decoration in a cell of this size."""
        icon = self._model.badge(row)
        if icon is None:
            return
        size = option.decorationSize
        key = (w, h, size.width(), size.height(), icon.cacheKey())
        place = self._badge_places.get(key)
        if place is None:
            styled = QStyleOptionViewItem(option)
            self.initStyleOption(styled, index)
            where = self._view.style().subElementRect(
                QStyle.SubElement.SE_ItemViewItemDecoration, styled, self._view
            )
            # What QIcon.paint draws there: the pixmap for that size, aligned in the rectangle.
            ratio = painter.device().devicePixelRatioF()
            pixmap = icon.pixmap(where.size(), ratio, QIcon.Mode.Normal, QIcon.State.Off)
            shown = icon.actualSize(where.size(), QIcon.Mode.Normal, QIcon.State.Off)
            aligned = QStyle.alignedRect(
                Qt.LayoutDirection.LeftToRight, styled.decorationAlignment, shown, where
            )
            if pixmap.deviceIndependentSize().toSize() != aligned.size():
                pixmap = pixmap.scaled(aligned.size() * ratio)
                pixmap.setDevicePixelRatio(ratio)
            place = self._badge_places[key] = (pixmap, aligned.x() - option.rect.x(), aligned.y() - y)
        pixmap, dx, dy = place
        painter.drawPixmap(x + dx, y + dy, pixmap)

    def _exact_width(self, font: QFont, text: str) -> float:
        """*text*'s width in *font*, in fractions of a pixel (as Qt aligns it), remembered:
        right-aligned cells repeat ("200", "0.4").  *font* is the view's or the model's (they
        live as long as the caches, which a font or style change clears)."""
        key = (id(font), text)
        width = self._widths.get(key)
        if width is None:
            if len(self._widths) >= WIDTHS_KEPT:
                self._widths.clear()
            width = self._widths[key] = QFontMetricsF(font).horizontalAdvance(text)
        return width

    def _colour(self, brush: QBrush) -> QColor:
        """The colour of one of the model's brushes (``QBrush.color`` lets other threads take the
        GIL: asked once per brush)."""
        known = self._colours.get(id(brush))
        if known is None or known[0] is not brush:
            known = self._colours[id(brush)] = (brush, brush.color())
        return known[1]

    def _metrics_for(self, font: QFont) -> QFontMetrics:
        metrics = self._metrics.get(id(font))
        if metrics is None:
            metrics = self._metrics[id(font)] = QFontMetrics(font)
        return metrics
