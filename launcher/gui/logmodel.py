"""The request-log table: a model over ``RequestRecord`` rows, its filter proxy, and the pump.

Why the model is a ``QStandardItemModel`` (a C++ model) and not a Python ``QAbstractTableModel``:
with servers in the window's process (``MainWindow(app=...)``, and how this was first built),
their threads keep the GIL busy under load.  A Python ``data()`` is called by the view for every
visible cell and every role on each repaint, and each call has to win the GIL back from the
server threads: measured here with busy threads, one repaint of a Python model took 0.5–5 s, the
same repaint of a C++ model 2 ms.  The window now runs its servers in a child process
(``launcher.remote``), and the model still keeps the GUI thread's Python work small: painting,
filtering and scrolling run in C++ without Python; the scheme badge is a pre-drawn icon, not a
Python delegate; the filter is one regular expression that C++ evaluates against a per-row search
text (``FilterRole``), not a Python ``filterAcceptsRow``; and the Python work per pump tick does
not grow with the request rate.

``RequestLogModel`` holds at most ``cap`` rows (10 000 by default).  ``append_records()``
inserts a batch with one ``insertRows`` (one ``rowsInserted``); while a filter is in use it also
sets each new row's search text (signals blocked, then one ``dataChanged``).  When the cap is
exceeded it first removes the oldest rows with one ``removeRows`` and counts them in
``dropped``.  The cells are made lazily, for the rows on screen (``fill_rows``).  Rows stay in
arrival order; the ``RequestRecord`` of a row is ``record(row)``.  Cells are set with
``setItemData`` on the model, never as Python ``QStandardItem`` objects (whose wrappers crash
shiboken when a Python-owned model is freed).

``LogPump`` drains a ``Subscription`` of the core's ``RequestSink`` on a ``QTimer`` (100 ms by
default), so the request threads never touch Qt.  Pause behaviour: while paused the pump keeps
draining the subscription (the status-bar figures stay live) into a pending buffer bounded by the
row cap; records beyond that are dropped (oldest first) and counted; ``resume`` hands the pending
records to the model in one batch.

``RequestFilterProxy`` filters on free text (method, target, status, client, user agent, TLS
facts and header values, case-insensitive), on scheme ("http"/"https") and on status class.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Sequence

from PySide6.QtCore import (
    QModelIndex,
    QObject,
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
    QStandardItemModel,
)

from launcher.requestlog import DEFAULT_CAPACITY, RequestRecord, RequestSink, Subscription

COLUMNS: tuple[str, ...] = ("Time", "Scheme", "Method", "Path", "Status", "ms", "Bytes", "Client", "TLS")
COL_TIME, COL_SCHEME, COL_METHOD, COL_PATH, COL_STATUS, COL_MS, COL_BYTES, COL_CLIENT, COL_TLS = range(9)

#: Item data role (column 0) holding the row's search text for the filter.
FilterRole = Qt.ItemDataRole.UserRole + 2
#: Item data role (scheme column) holding "HTTP"/"HTTPS" (the cell shows a badge icon).
SchemeRole = Qt.ItemDataRole.UserRole + 3
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
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_RIGHT_INT = int(_RIGHT.value)


def human_bytes(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"


def short_tls(record: RequestRecord) -> str:
    if not record.tls_version:
        return ""
    return record.tls_version.replace("TLSv", "TLS ")


def time_text(stamp: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(stamp))


def full_time_text(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)) + f".{int(stamp % 1 * 1000):03d}"


def search_text(record: RequestRecord) -> str:
    """What the filter looks at: tagged scheme and status class, then the free-text fields."""
    parts = [
        f"scheme={record.listener}",
        f"class={record.status // 100}",
        record.method,
        record.target,
        str(record.status),
        f"{record.client_addr}:{record.client_port}",
        record.user_agent,
        record.tls_version or "",
        record.tls_cipher or "",
    ]
    parts.extend(value for _, value in record.request_headers)
    parts.extend(value for _, value in record.response_headers)
    return SEP + SEP.join(parts) + SEP


def _badge_font(font: QFont) -> QFont:
    small = QFont(font)
    small.setBold(True)
    small.setPointSizeF(max(6.0, font.pointSizeF() * 0.82))
    return small


def badge_size(font: QFont) -> QSize:
    """The icon size that fits the widest badge ("HTTPS") for the item font *font*."""
    metrics = QFontMetrics(_badge_font(font))
    return QSize(metrics.horizontalAdvance("HTTPS") + 12, metrics.height() + 3)


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


class RequestLogModel(QStandardItemModel):
    """Arrival-ordered rows of ``RequestRecord``, capped; one insert per batch; cells filled lazily.

    A batch costs one ``insertRows`` (plus, while a filter is in use, each row's search text).  The
    cells a person sees are made on demand by ``fill_rows()`` (the log panel calls it for the
    rows on screen after each batch and on every scroll), so the Python work per pump tick is
    bounded by the height of the view, not by the request rate.  ``fill_all()`` makes every cell
    (tests, or a small log).
    """

    #: Emitted after a batch is inserted, with the number of rows added.
    rowsAppended = Signal(int)
    #: Emitted when ``dropped`` changes.
    droppedChanged = Signal(int)

    def __init__(self, cap: int = DEFAULT_CAPACITY, parent: QObject | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        if cap < 1:
            raise ValueError("cap must be at least 1")
        self._cap = cap
        self._records: list[RequestRecord] = []
        self._filled = bytearray()  # 1 where the row's cells have been made
        self._searchable = bytearray()  # 1 where the row's search text is set
        self._search_enabled = False
        self.dropped = 0
        self.setHorizontalHeaderLabels(list(COLUMNS))
        for column in (COL_STATUS, COL_MS, COL_BYTES):
            self.setHeaderData(
                column, Qt.Orientation.Horizontal, _RIGHT_INT, Qt.ItemDataRole.TextAlignmentRole
            )
        font = QGuiApplication.font()
        self._bold = QFont(font)
        self._bold.setBold(True)
        self._badges = {
            scheme: badge_icon(scheme.upper(), colour, font) for scheme, colour in SCHEME_COLOURS.items()
        }
        self.badge_size = badge_size(font)
        self._status_brushes = {k: QBrush(c) for k, c in STATUS_COLOURS.items()}

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

    def record(self, row: int) -> RequestRecord:
        return self._records[row]

    def records(self) -> list[RequestRecord]:
        return list(self._records)

    def is_filled(self, row: int) -> bool:
        return bool(self._filled[row])

    def append_records(self, records: Sequence[RequestRecord]) -> None:
        """Insert a batch at the end: at most one remove (oldest rows) and one insert."""
        if not records:
            return
        if len(records) > self._cap:
            self._count_dropped(len(records) - self._cap)
            records = records[-self._cap :]
        self._trim(len(records))
        first = len(self._records)
        count = len(records)
        self._records.extend(records)
        self._filled.extend(bytes(count))
        self._searchable.extend(bytes(count))
        self.insertRows(first, count)
        if self._search_enabled:
            self._set_search_texts(range(first, first + count))
        self.rowsAppended.emit(count)

    @property
    def search_enabled(self) -> bool:
        return self._search_enabled

    def set_search_enabled(self, enabled: bool) -> None:
        """Keep every row's search text (``FilterRole``) up to date while a filter is in use.

        Off by default: with no filter, a batch then costs no per-row Python work at all.
        Turning it on sets the text of every row that has none yet.
        """
        self._search_enabled = enabled
        if enabled:
            self._set_search_texts(range(len(self._records)))

    def _set_search_texts(self, rows: range) -> None:
        todo = [row for row in rows if not self._searchable[row]]
        if not todo:
            return
        blocked = self.blockSignals(True)
        try:
            set_data, index, records = self.setData, self.index, self._records
            for row in todo:
                set_data(index(row, COL_TIME), search_text(records[row]), FilterRole)
                self._searchable[row] = 1
        finally:
            self.blockSignals(blocked)
        # One notice for all of them: the filter proxy re-checks these rows.
        self.dataChanged.emit(self.index(todo[0], COL_TIME), self.index(todo[-1], COL_TIME))

    def fill_rows(self, rows: Iterable[int]) -> int:
        """Make the cells of *rows* (source rows) that are not made yet; returns how many rows."""
        count = len(self._records)
        filled = self._filled
        todo = sorted(row for row in rows if 0 <= row < count and not filled[row])
        if not todo:
            return 0
        blocked = self.blockSignals(True)
        try:
            for row in todo:
                self._fill(row, self._records[row])
                self._filled[row] = 1
        finally:
            self.blockSignals(blocked)
        self.dataChanged.emit(self.index(todo[0], 0), self.index(todo[-1], len(COLUMNS) - 1))
        return len(todo)

    def fill_all(self) -> int:
        return self.fill_rows(range(len(self._records)))

    def _fill(self, row: int, record: RequestRecord) -> None:
        # setItemData on the model, never Python QStandardItem objects: the model then owns plain
        # C++ items and no Python wrapper has to outlive (or die before) them.
        display, tooltip = Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole
        align, fg, font = (
            Qt.ItemDataRole.TextAlignmentRole,
            Qt.ItemDataRole.ForegroundRole,
            Qt.ItemDataRole.FontRole,
        )
        put, index = self.setItemData, self.index
        scheme = record.listener.upper()
        put(
            index(row, COL_TIME),
            {
                display: time_text(record.time),
                tooltip: full_time_text(record.time),
                FilterRole: search_text(record),
            },
        )
        self._searchable[row] = 1
        put(
            index(row, COL_SCHEME),
            {
                Qt.ItemDataRole.DecorationRole: self._badges.get(record.listener, QIcon()),
                SchemeRole: scheme,
                tooltip: scheme,
                Qt.ItemDataRole.AccessibleTextRole: scheme,
            },
        )
        put(index(row, COL_METHOD), {display: record.method})
        put(index(row, COL_PATH), {display: record.target, tooltip: record.target})
        status: dict[int, object] = {display: str(record.status), align: _RIGHT_INT, font: self._bold}
        brush = self._status_brushes.get(record.status // 100)
        if brush is not None:
            status[fg] = brush
        if record.error:
            status[tooltip] = "The app raised an exception: select the row to see the traceback."
        put(index(row, COL_STATUS), status)
        put(index(row, COL_MS), {display: f"{record.duration_ms:.1f}", align: _RIGHT_INT})
        put(index(row, COL_BYTES), {display: human_bytes(record.response_bytes), align: _RIGHT_INT})
        put(index(row, COL_CLIENT), {display: f"{record.client_addr}:{record.client_port}"})
        tls = {display: short_tls(record)}
        if record.tls_version:
            tls[tooltip] = f"{record.tls_version} {record.tls_cipher or ''}".strip()
        put(index(row, COL_TLS), tls)

    def _trim(self, incoming: int) -> None:
        excess = len(self._records) + incoming - self._cap
        if excess <= 0:
            return
        # Drop a little more than needed (5 % of the cap): one removeRows every few batches
        # instead of one per batch (its cost grows with the number of rows, not with the count).
        excess = min(excess + self._cap // 20, len(self._records))
        del self._records[:excess]
        del self._filled[:excess]
        del self._searchable[:excess]
        self.removeRows(0, excess)
        self._count_dropped(excess)

    def _count_dropped(self, count: int) -> None:
        self.dropped += count
        self.droppedChanged.emit(self.dropped)

    def clear(self) -> None:
        """Remove every row, keep the columns (the dropped count is reset too)."""
        self._records.clear()
        self._filled.clear()
        self._searchable.clear()
        self.removeRows(0, self.rowCount())
        self.dropped = 0
        self.droppedChanged.emit(0)


def filter_pattern(text: str, scheme: str, status_class: int) -> str:
    """The regular expression ``RequestFilterProxy`` applies to each row's search text."""
    parts = ["^"]
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
        self.setFilterKeyColumn(COL_TIME)
        self.setFilterRole(FilterRole)
        self.setDynamicSortFilter(True)

    def _apply(self) -> None:
        model = self.sourceModel()
        if isinstance(model, RequestLogModel) and model.search_enabled != self.active:
            model.set_search_enabled(self.active)
        if not self.active:
            self.setFilterRegularExpression(QRegularExpression())
            return
        expression = QRegularExpression(
            filter_pattern(self._text, self._scheme, self._status_class),
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

    @property
    def active(self) -> bool:
        return bool(self._text or self._scheme or self._status_class)

    def record_at(self, index: QModelIndex) -> RequestRecord | None:
        """The record of a proxy index (None for an invalid one)."""
        if not index.isValid():
            return None
        model = self.sourceModel()
        assert isinstance(model, RequestLogModel)
        row = self.mapToSource(index).row()
        return model.record(row) if 0 <= row < model.rowCount() else None

    def visible_records(self) -> list[RequestRecord]:
        """The records of the rows that pass the filter, in view order."""
        model = self.sourceModel()
        assert isinstance(model, RequestLogModel)
        if not self.active:
            return model.records()
        return [model.record(self.mapToSource(self.index(row, 0)).row()) for row in range(self.rowCount())]


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
        self._subscription: Subscription = sink.subscribe(model.cap)
        self._pending: deque[RequestRecord] = deque(maxlen=model.cap)
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
        self._subscription = sink.subscribe(self._model.cap)
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
        now = time.monotonic()
        self._samples.append((now, self._sink.total))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self._rate_window:
            self._samples.popleft()
        if batch:
            self.server_errors += sum(1 for r in batch if r.status >= 500)
            if self._paused:
                overflow = len(self._pending) + len(batch) - (self._pending.maxlen or 0)
                if overflow > 0:
                    self._pending_dropped += overflow
                self._pending.extend(batch)
            else:
                self._model.append_records(batch)
            self.recordsArrived.emit(batch)
        if self.dropped != before:
            self.droppedChanged.emit(self.dropped)
        return batch

    def rate(self) -> float:
        """Requests per second over the last ``rate_window`` seconds (0 before two samples)."""
        if len(self._samples) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self._samples[0], self._samples[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0
