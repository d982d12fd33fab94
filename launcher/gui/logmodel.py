"""The request-log table: a model over ``RequestRecord`` rows, its filter proxy, and the pump.

``RequestLogModel`` is a ``QAbstractTableModel`` over a Python list of records, in arrival order,
at most ``cap`` rows (10 000 by default).  ``append_records()`` inserts a batch with one
``beginInsertRows``/``endInsertRows``; when the cap is exceeded it first removes the oldest rows
(a few hundred at once, with one ``beginRemoveRows``) and counts them in ``dropped``.  Nothing is
computed per row until the view asks: ``data()`` makes a row's cell texts on its first request
and keeps them (``RowCells``), so the Python work per batch does not grow with the request rate,
and a repaint asks only for the rows on screen.

Why not a ``QStandardItemModel`` (what this first was): each cell is then a C++ item that
remembers its own row, and after rows are removed at the top every remembered row is stale, so
Qt searches for each item it touches; trimming the oldest rows got slower with every trim
(measured: removing 100 of 10 000 filled rows took 0.2 ms at first and 18 ms after 40 trims).  A
repaint of this model costs about 11 ms against 5 ms for the item model (offscreen, 1100×800);
the servers run in another process (``launcher.remote``), so that is all it costs.

Roles: the usual display, tool tip, alignment, colour and font roles; the scheme column draws a
pre-made badge icon (``DecorationRole``) and answers ``SchemeRole`` ("HTTP"/"HTTPS");
``FilterRole`` (column 0) is the row's search text for ``RequestFilterProxy``, which filters with
one regular expression that C++ evaluates (no Python ``filterAcceptsRow``).

The Worker column is the number of the server process that served the request (``--workers``:
1…N, ``RequestRecord.worker``), empty with one process; "worker N" is in the search text.

Wire events (``launcher.wireevents.WireEvent``: a TLS handshake on the HTTP port, plain HTTP on
the HTTPS port, a failed handshake) are rows of their own kind in the same list: a "⚠ TLS" badge
in the scheme column, "—" for the method, the short advice as the path, an amber background
(``BackgroundRole``) and foreground; ``EventRole`` is True for them.  ``record()``/``records()``
give only the requests (HAR export skips events); ``item()``/``items()`` both kinds.

``LogPump`` drains a ``Subscription`` (records and wire events) of the core's ``RequestSink`` on
a ``QTimer`` (100 ms by default), so the request threads never touch Qt.  Pause behaviour: while
paused the pump keeps draining the subscription (the status-bar figures stay live) into a pending
buffer bounded by the row cap; records beyond that are dropped (oldest first) and counted;
``resume`` hands the pending records to the model in one batch.

``RequestFilterProxy`` filters on free text (method, target, status, client, user agent, TLS
facts and header values, case-insensitive), on scheme ("http"/"https"), on status class and on
the row kind (requests only, wire events only).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from typing import Any, NamedTuple

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRectF,
    QRegularExpression,
    QSize,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QGuiApplication,
    QIcon,
    QPainter,
    QPixmap,
)

from launcher.recordformat import (
    escape_control,
    format_clock,
    format_ms,
    format_peer,
    format_size,
    format_timestamp,
    format_wsgi,
)
from launcher.requestlog import DEFAULT_CAPACITY, RequestRecord, RequestSink, Subscription
from launcher.wireevents import WireEvent

#: A row of the log: a served request, or a connection that failed before one.
LogItem = RequestRecord | WireEvent

COLUMNS: tuple[str, ...] = (
    "Time",
    "Scheme",
    "Method",
    "Path",
    "Status",
    "ms",
    "Bytes",
    "Client",
    "TLS",
    "Worker",
)
COL_TIME, COL_SCHEME, COL_METHOD, COL_PATH, COL_STATUS, COL_MS, COL_BYTES, COL_CLIENT, COL_TLS = range(9)
#: The worker process that served the request (``--workers``); empty with one process.
COL_WORKER = 9

#: Item data role (column 0) holding the row's search text for the filter.
FilterRole = Qt.ItemDataRole.UserRole + 2
#: Item data role (scheme column) holding "HTTP"/"HTTPS" (the cell shows a badge icon).
SchemeRole = Qt.ItemDataRole.UserRole + 3
#: Item data role (any column): True for a wire-event row.
EventRole = Qt.ItemDataRole.UserRole + 4
#: Separates fields in the search text; never typed by a user.
SEP = "\x1e"

STATUS_COLOURS = {
    1: QColor("#6b7280"),
    2: QColor("#15803d"),
    3: QColor("#1d4ed8"),
    4: QColor("#b45309"),
    5: QColor("#b91c1c"),
}
SCHEME_COLOURS = {"http": QColor("#64748b"), "https": QColor("#15803d")}
#: The wire-event rows: badge, text and background colours.
EVENT_BADGE = "⚠ TLS"
EVENT_BADGE_COLOUR = QColor("#b45309")
EVENT_FOREGROUND = QColor("#78350f")
#: The text of an inspector probe's row: muted, so visitors' requests stand out.
PROBE_FOREGROUND = "#64748b"
EVENT_BACKGROUND = QColor("#fef3c7")
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_RIGHT_INT = int(_RIGHT.value)


def short_tls(record: RequestRecord) -> str:
    if not record.tls_version:
        return ""
    return escape_control(record.tls_version.replace("TLSv", "TLS "))


def search_text(record: RequestRecord) -> str:
    """What the filter looks at: tagged scheme and status class, then the free-text fields.

    The fields are the text the table and detail pane show (control characters escaped), so a
    user finds a row by what they see, and no field can hold ``SEP`` and forge a tag such as
    ``scheme=https`` for a row that is not.
    """
    parts = [
        f"scheme={record.listener}",
        f"class={record.status // 100}",
        "probe=1" if record.probe else "",  # an inspector probe (launcher.appview)
        f"worker {record.worker}" if record.worker else "",  # as the detail pane says it
        format_wsgi(record.method),
        format_wsgi(record.target),
        str(record.status),
        format_peer(record.client_addr, record.client_port),
        format_wsgi(record.user_agent),
        escape_control(record.tls_version or ""),
        escape_control(record.tls_cipher or ""),
    ]
    parts.extend(format_wsgi(value) for _, value in record.request_headers)
    parts.extend(format_wsgi(value) for _, value in record.response_headers)
    return SEP + SEP.join(parts) + SEP


def event_search_text(event: WireEvent) -> str:
    """A wire event's search text: tagged scheme and row kind, then what its row and detail show."""
    parts = [
        f"scheme={event.listener}",
        "class=wire",
        "wire",
        event.kind.value,
        escape_control(event.short),
        escape_control(event.window_advice),
        event.peer,
        escape_control(event.reason),
        escape_control(event.sni or ""),
    ]
    return SEP + SEP.join(parts) + SEP


def _badge_font(font: QFont) -> QFont:
    small = QFont(font)
    small.setBold(True)
    small.setPointSizeF(max(6.0, font.pointSizeF() * 0.82))
    return small


def badge_size(font: QFont) -> QSize:
    """The icon size that fits the widest badge ("HTTPS") for the item font *font*."""
    metrics = QFontMetrics(_badge_font(font))
    widest = max(metrics.horizontalAdvance("HTTPS"), metrics.horizontalAdvance(EVENT_BADGE))
    return QSize(widest + 12, metrics.height() + 3)


def badge_icon(text: str, colour: QColor, font: QFont) -> QIcon:
    """A rounded badge with *text* on *colour*, drawn once (the scheme column shows it)."""
    small = _badge_font(font)
    metrics = QFontMetrics(small)
    size = badge_size(font)
    screen = QGuiApplication.primaryScreen()
    ratio = screen.devicePixelRatio() if screen is not None else 1.0
    pixmap = QPixmap(round(size.width() * ratio), round(size.height() * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    rect = QRectF(0.5, 0.5, metrics.horizontalAdvance(text) + 11, size.height() - 1)
    painter.drawRoundedRect(rect, 3.5, 3.5)
    painter.setPen(QColor("white"))
    painter.setFont(small)
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    return QIcon(pixmap)


class RowCells(NamedTuple):
    """What a row shows: the display text and tool tip of each column (made once, on demand)."""

    display: tuple[str | None, ...]
    tooltip: tuple[str | None, ...]


#: Shown after the path of an inspector probe (``RequestRecord.probe``), and its tool tip.
PROBE_MARK = "(inspector probe)"
PROBE_TIP = "The inspector's own request (it asked what the app saw); hide these with “Probes”."


class CellLook(NamedTuple):
    """A cell's display text, foreground, font, background and alignment (None: the view's)."""

    text: str | None
    foreground: QBrush | None
    font: QFont | None
    background: QBrush | None
    align: int | None


def row_cells(record: RequestRecord) -> RowCells:
    """A row's texts; what the client sent is escaped (``format_wsgi``): no control character
    reaches a cell, so a request cannot break a row into lines or hide text with bidi marks."""
    scheme = record.listener.upper()
    tls_tip = (
        escape_control(f"{record.tls_version} {record.tls_cipher or ''}".strip())
        if record.tls_version
        else None
    )
    error_tip = "The app raised an exception: select the row to see the traceback." if record.error else None
    target = format_wsgi(record.target)
    if record.probe:  # the inspector's own request: marked, so nobody takes it for a visitor
        error_tip = error_tip or PROBE_TIP
    return RowCells(
        (
            format_clock(record.time),
            None,  # the badge
            format_wsgi(record.method),
            f"{target}  {PROBE_MARK}" if record.probe else target,
            str(record.status),
            format_ms(record.duration_ms),
            format_size(record.response_bytes),
            format_peer(record.client_addr, record.client_port),
            short_tls(record),
            str(record.worker) if record.worker else "",
        ),
        (
            format_timestamp(record.time),
            scheme,
            None,
            target,
            error_tip,
            None,
            None,
            None,
            tls_tip,
            f"Served by worker process {record.worker}" if record.worker else None,
        ),
    )


def event_cells(event: WireEvent) -> RowCells:
    """A wire-event row's texts: "—" for the method, the short advice as the path, the full advice
    as its tool tip; what the client sent (a Host, a server name) is escaped."""
    short = escape_control(event.short)
    return RowCells(
        (
            format_clock(event.time),
            None,
            "—",
            short,
            "",
            "",
            "",
            event.peer,
            escape_control(event.reason),
            "",
        ),
        (
            format_timestamp(event.time),
            f"Wire event on the {event.listener.upper()} port",
            None,
            escape_control(event.window_advice),
            None,
            None,
            None,
            None,
            escape_control(event.reason) or None,
            None,
        ),
    )


_DISPLAY = int(Qt.ItemDataRole.DisplayRole.value)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole.value)
_DECORATION = int(Qt.ItemDataRole.DecorationRole.value)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole.value)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole.value)
_FONT = int(Qt.ItemDataRole.FontRole.value)
_BACKGROUND = int(Qt.ItemDataRole.BackgroundRole.value)
_EVENT = int(EventRole)
_ACCESSIBLE = int(Qt.ItemDataRole.AccessibleTextRole.value)
_FILTER = int(FilterRole)
_SCHEME = int(SchemeRole)
_ROLES = frozenset(
    {
        _DISPLAY,
        _TOOLTIP,
        _DECORATION,
        _ALIGN,
        _FOREGROUND,
        _FONT,
        _ACCESSIBLE,
        _FILTER,
        _SCHEME,
        _BACKGROUND,
        _EVENT,
    }
)
_RIGHT_COLUMNS = frozenset({COL_STATUS, COL_MS, COL_BYTES, COL_WORKER})


class RequestLogModel(QAbstractTableModel):
    """Arrival-ordered rows of ``RequestRecord`` and ``WireEvent``, capped; one insert per batch;
    cells made on demand."""

    #: Emitted after a batch is inserted, with the number of rows added.
    rowsAppended = Signal(int)
    #: Emitted when ``dropped`` changes.
    droppedChanged = Signal(int)

    def __init__(self, cap: int = DEFAULT_CAPACITY, parent: QObject | None = None) -> None:
        super().__init__(parent)
        if cap < 1:
            raise ValueError("cap must be at least 1")
        self._cap = cap
        self._records: list[LogItem] = []
        self._cells: list[RowCells | None] = []
        self._search: list[str | None] = []
        self.dropped = 0
        font = QGuiApplication.font()
        self._bold = QFont(font)
        self._bold.setBold(True)
        self._italic = QFont(font)
        self._italic.setItalic(True)
        self._probe_foreground = QBrush(QColor(PROBE_FOREGROUND))
        self._badges = {
            scheme: badge_icon(scheme.upper(), colour, font) for scheme, colour in SCHEME_COLOURS.items()
        }
        self._event_badge = badge_icon(EVENT_BADGE, EVENT_BADGE_COLOUR, font)
        self._event_foreground = QBrush(EVENT_FOREGROUND)
        self._event_background = QBrush(EVENT_BACKGROUND)
        self.badge_size = badge_size(font)
        self._status_brushes = {k: QBrush(c) for k, c in STATUS_COLOURS.items()}

    # --- the model interface ------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._records)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            if role == _DISPLAY:
                return COLUMNS[section]
            if role == _ALIGN and section in _RIGHT_COLUMNS:
                return _RIGHT_INT
            return None
        return super().headerData(section, orientation, role)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = _DISPLAY) -> Any:
        # Called for every visible cell and role on each repaint: the common cases first, and no
        # work at all for the roles this model does not serve.
        if role not in _ROLES:
            return None
        row, column = index.row(), index.column()
        if not 0 <= row < len(self._records):
            return None
        item = self._records[row]
        if role in (_DISPLAY, _TOOLTIP):
            cells = self._cells[row]
            if cells is None:
                cells = self._cells[row] = (
                    event_cells(item) if isinstance(item, WireEvent) else row_cells(item)
                )
            return cells.display[column] if role == _DISPLAY else cells.tooltip[column]
        if isinstance(item, WireEvent):
            return self._event_data(row, item, column, role)
        if role in (_BACKGROUND, _EVENT):
            return None if role == _BACKGROUND else False
        if item.probe and role in (_FOREGROUND, _FONT) and column != COL_STATUS:
            return self._probe_foreground if role == _FOREGROUND else self._italic
        if column == COL_STATUS:
            if role == _FOREGROUND:
                return self._status_brushes.get(item.status // 100)
            if role == _FONT:
                return self._bold
        if role == _ALIGN:
            return _RIGHT_INT if column in _RIGHT_COLUMNS else None
        if column == COL_SCHEME:
            if role == _DECORATION:
                return self._badges.get(item.listener)
            if role in (_SCHEME, _ACCESSIBLE):
                return item.listener.upper()
        if role == _FILTER and column == COL_TIME:
            text = self._search[row]
            if text is None:
                text = self._search[row] = search_text(item)
            return text
        return None

    def look(self, row: int, column: int) -> CellLook:
        """What ``data()`` answers for a cell's text, foreground, font, background and alignment
        roles, in one call (``LogCellDelegate`` paints from it)."""
        item = self._records[row]
        cells = self._cells[row]
        if cells is None:
            cells = self._cells[row] = event_cells(item) if isinstance(item, WireEvent) else row_cells(item)
        text = cells.display[column]
        if isinstance(item, WireEvent):
            return CellLook(text, self._event_foreground, None, self._event_background, None)
        if column == COL_STATUS:
            return CellLook(text, self._status_brushes.get(item.status // 100), self._bold, None, _RIGHT_INT)
        align = _RIGHT_INT if column in _RIGHT_COLUMNS else None
        if item.probe:
            return CellLook(text, self._probe_foreground, self._italic, None, align)
        return CellLook(text, None, None, None, align)

    def badge(self, row: int) -> QIcon | None:
        """The scheme column's badge of *row* (what ``data()`` answers for its decoration)."""
        item = self._records[row]
        return self._event_badge if isinstance(item, WireEvent) else self._badges.get(item.listener)

    def _event_data(self, row: int, event: WireEvent, column: int, role: int) -> Any:
        """The roles of a wire-event row other than display and tool tip."""
        if role == _EVENT:
            return True
        if role == _BACKGROUND:
            return self._event_background
        if role == _FOREGROUND:
            return self._event_foreground
        if column == COL_SCHEME:
            if role == _DECORATION:
                return self._event_badge
            if role == _SCHEME:
                return EVENT_BADGE
            if role == _ACCESSIBLE:
                return f"Wire event on the {event.listener.upper()} port"
        if role == _FILTER and column == COL_TIME:
            text = self._search[row]
            if text is None:
                text = self._search[row] = event_search_text(event)
            return text
        return None

    # --- rows ---------------------------------------------------------------------------------------

    @property
    def cap(self) -> int:
        return self._cap

    def set_cap(self, cap: int) -> None:
        """Change the row cap; drops the oldest rows at once if there are more than *cap*."""
        if cap < 1:
            raise ValueError("cap must be at least 1")
        self._cap = cap
        self._trim(0)

    def item(self, row: int) -> LogItem:
        """The request record or wire event of *row*."""
        return self._records[row]

    def items(self) -> list[LogItem]:
        """Every row's record or event, in arrival order."""
        return list(self._records)

    def record(self, row: int) -> RequestRecord | None:
        """The request record of *row*; None for a wire-event row."""
        item = self._records[row]
        return item if isinstance(item, RequestRecord) else None

    def records(self) -> list[RequestRecord]:
        """The request records (wire events left out), in arrival order."""
        return [item for item in self._records if isinstance(item, RequestRecord)]

    def events(self) -> list[WireEvent]:
        """The wire events, in arrival order."""
        return [item for item in self._records if isinstance(item, WireEvent)]

    def append_records(self, records: Sequence[LogItem]) -> None:
        """Insert a batch at the end: at most one remove (oldest rows) and one insert."""
        if not records:
            return
        if len(records) > self._cap:
            self._count_dropped(len(records) - self._cap)
            records = records[-self._cap :]
        self._trim(len(records))
        first = len(self._records)
        count = len(records)
        self.beginInsertRows(QModelIndex(), first, first + count - 1)
        self._records.extend(records)
        self._cells.extend([None] * count)
        self._search.extend([None] * count)
        self.endInsertRows()
        self.rowsAppended.emit(count)

    def _trim(self, incoming: int) -> None:
        excess = len(self._records) + incoming - self._cap
        if excess <= 0:
            return
        # A little more than needed (2 % of the cap): one remove every few batches, not one each.
        excess = min(excess + self._cap // 50, len(self._records))
        self.beginRemoveRows(QModelIndex(), 0, excess - 1)
        del self._records[:excess]
        del self._cells[:excess]
        del self._search[:excess]
        self.endRemoveRows()
        self._count_dropped(excess)

    def _count_dropped(self, count: int) -> None:
        self.dropped += count
        self.droppedChanged.emit(self.dropped)

    def clear(self) -> None:
        """Remove every row (the dropped count is reset too)."""
        self.beginResetModel()
        self._records.clear()
        self._cells.clear()
        self._search.clear()
        self.endResetModel()
        self.dropped = 0
        self.droppedChanged.emit(0)


#: Row kinds the filter can keep: "" both, "requests" (no wire events), "wire" (only wire events).
ROW_KINDS = ("", "requests", "wire")


def filter_pattern(
    text: str, scheme: str, status_class: int, rows: str = "", *, hide_probes: bool = False
) -> str:
    """The regular expression ``RequestFilterProxy`` applies to each row's search text."""
    parts = ["^"]
    if hide_probes:
        parts.append(f"(?![\\s\\S]*{SEP}probe=1{SEP})")
    if rows == "wire":
        parts.append(f"(?=[\\s\\S]*{SEP}class=wire{SEP})")
    elif rows == "requests":
        parts.append(f"(?![\\s\\S]*{SEP}class=wire{SEP})")
    if scheme:
        parts.append(f"(?=[\\s\\S]*{SEP}scheme={scheme}{SEP})")
    if status_class == -1:
        parts.append(f"(?=[\\s\\S]*{SEP}class=[45]{SEP})")
    elif status_class:
        parts.append(f"(?=[\\s\\S]*{SEP}class={status_class}{SEP})")
    if text:
        parts.append(f"(?=[\\s\\S]*{QRegularExpression.escape(text)})")
    return "".join(parts)


class RequestFilterProxy(QSortFilterProxyModel):
    """Filters rows by text, scheme and status class in C++ (one regex); keeps the source order."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._text = ""
        self._scheme = ""  # "" = any, "http", "https"
        self._status_class = 0  # 0 = any, 1..5 = 1xx..5xx, -1 = errors (>= 400)
        self._rows = ""  # see ROW_KINDS
        self._hide_probes = False  # the inspector's own requests (``RequestRecord.probe``)
        self.setFilterKeyColumn(COL_TIME)
        self.setFilterRole(FilterRole)
        self.setDynamicSortFilter(True)

    def _apply(self) -> None:
        if not self.active:
            self.setFilterRegularExpression(QRegularExpression())
            return
        expression = QRegularExpression(
            filter_pattern(
                self._text, self._scheme, self._status_class, self._rows, hide_probes=self._hide_probes
            ),
            QRegularExpression.PatternOption.CaseInsensitiveOption,
        )
        self.setFilterRegularExpression(expression)

    def set_text(self, text: str) -> None:
        text = text.strip()
        if text != self._text:
            self._text = text
            self._apply()

    def set_scheme(self, scheme: str) -> None:
        scheme = scheme.lower()
        if scheme not in ("", "http", "https"):
            raise ValueError(f"unknown scheme {scheme!r}")
        if scheme != self._scheme:
            self._scheme = scheme
            self._apply()

    def set_status_class(self, status_class: int) -> None:
        """0 for any status, 1..5 for 1xx..5xx, -1 for any error (4xx and 5xx)."""
        if status_class not in (-1, 0, 1, 2, 3, 4, 5):
            raise ValueError(f"unknown status class {status_class!r}")
        if status_class != self._status_class:
            self._status_class = status_class
            self._apply()

    def set_rows(self, rows: str) -> None:
        """Which row kinds pass: "" both, "requests" (no wire events), "wire" (only wire events)."""
        if rows not in ROW_KINDS:
            raise ValueError(f"unknown row kind {rows!r}")
        if rows != self._rows:
            self._rows = rows
            self._apply()

    def set_hide_probes(self, hide: bool) -> None:
        """Hide (or show again) the rows of the inspector's own requests."""
        if hide != self._hide_probes:
            self._hide_probes = hide
            self._apply()

    @property
    def active(self) -> bool:
        return bool(self._text or self._scheme or self._status_class or self._rows or self._hide_probes)

    def item_at(self, index: QModelIndex) -> LogItem | None:
        """The record or wire event of a proxy index (None for an invalid one)."""
        if not index.isValid():
            return None
        model = self.sourceModel()
        assert isinstance(model, RequestLogModel)
        row = self.mapToSource(index).row()
        return model.item(row) if 0 <= row < model.rowCount() else None

    def record_at(self, index: QModelIndex) -> RequestRecord | None:
        """The request record of a proxy index (None for an invalid one or a wire event)."""
        item = self.item_at(index)
        return item if isinstance(item, RequestRecord) else None

    def visible_items(self) -> list[LogItem]:
        """The records and wire events of the rows that pass the filter, in view order."""
        model = self.sourceModel()
        assert isinstance(model, RequestLogModel)
        if not self.active:
            return model.items()
        return [model.item(self.mapToSource(self.index(row, 0)).row()) for row in range(self.rowCount())]

    def visible_records(self) -> list[RequestRecord]:
        """The request records of the rows that pass the filter, in view order (no wire events)."""
        return [item for item in self.visible_items() if isinstance(item, RequestRecord)]


class LogPump(QObject):
    """Moves records from a sink subscription into a ``RequestLogModel`` on a timer.

    Also keeps the figures for the status bar: the sink's total, the request rate over the last
    ``rate_window`` seconds, and the count of 5xx responses seen since the pump started.
    """

    #: Emitted after each tick that saw records: (batch, i.e. the new records in arrival order).
    recordsArrived = Signal(list)
    #: Emitted when the paused state changes.
    pausedChanged = Signal(bool)
    #: Emitted when the count of records dropped before reaching the model changes.
    droppedChanged = Signal(int)
    #: Emitted after each tick that saw wire events: (the new ``WireEvent``s, in arrival order).
    eventsArrived = Signal(list)

    def __init__(
        self,
        sink: RequestSink,
        model: RequestLogModel,
        *,
        interval_ms: int = 100,
        rate_window: float = 5.0,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._sink = sink
        self._model = model
        self._subscription: Subscription = sink.subscribe(model.cap, events=True)
        self._pending: deque[LogItem] = deque(maxlen=model.cap)
        self._paused = False
        self._pending_dropped = 0
        self.server_errors = 0
        self._rate_window = rate_window
        self._samples: deque[tuple[float, int]] = deque()
        self._timer = QTimer(self)
        self._timer.setObjectName("logPumpTimer")
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.tick)

    @property
    def subscription(self) -> Subscription:
        return self._subscription

    @property
    def sink(self) -> RequestSink:
        return self._sink

    @property
    def interval_ms(self) -> int:
        return self._timer.interval()

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def close(self) -> None:
        """Stop the timer and unsubscribe from the sink (idempotent)."""
        self._timer.stop()
        self._subscription.close()

    def set_sink(self, sink: RequestSink) -> None:
        """Follow another sink (e.g. after the servers were rebuilt)."""
        if sink is self._sink:
            return
        self._subscription.close()
        self._sink = sink
        self._subscription = sink.subscribe(self._model.cap, events=True)
        self._samples.clear()

    # --- pause --------------------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def pending(self) -> int:
        return len(self._pending)

    def set_paused(self, paused: bool) -> None:
        if paused == self._paused:
            return
        self._paused = paused
        if not paused and self._pending:
            batch = list(self._pending)
            self._pending.clear()
            self._model.append_records(batch)
        self.pausedChanged.emit(paused)

    @property
    def dropped(self) -> int:
        """Records that never reached the model: subscription overflow plus pause-buffer overflow."""
        return self._subscription.dropped + self._pending_dropped

    def reset_counts(self) -> None:
        """Forget pending records (used by Clear)."""
        self._pending.clear()

    # --- the tick -------------------------------------------------------------------------------------

    def tick(self) -> list[RequestRecord]:
        """Drain the subscription once; returns the batch (also used by tests to pump by hand)."""
        before = self.dropped
        batch = self._subscription.drain()
        events = self._subscription.drain_events()
        now = time.monotonic()
        self._samples.append((now, self._sink.total))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self._rate_window:
            self._samples.popleft()
        if batch or events:
            self.server_errors += sum(1 for r in batch if r.status >= 500)
            rows: list[LogItem] = [*batch, *events]
            if self._paused:
                overflow = len(self._pending) + len(rows) - (self._pending.maxlen or 0)
                if overflow > 0:
                    self._pending_dropped += overflow
                self._pending.extend(rows)
            else:
                self._model.append_records(rows)
            if batch:
                self.recordsArrived.emit(batch)
            if events:
                self.eventsArrived.emit(events)
        if self.dropped != before:
            self.droppedChanged.emit(self.dropped)
        return batch

    def rate(self) -> float:
        """Requests per second over the last ``rate_window`` seconds (0 before two samples)."""
        if len(self._samples) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self._samples[0], self._samples[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0
