"""The request-log table: a model over ``RequestRecord`` rows, its filter proxy, and the pump.

``RequestLogModel`` holds at most ``cap`` rows (10 000 by default).  Rows arrive in batches:
``append_records()`` inserts a whole batch with one ``beginInsertRows`` and, when the cap is
exceeded, first removes the oldest rows with one ``beginRemoveRows`` and counts them in
``dropped``.  The model never sorts: rows stay in arrival order.

``LogPump`` drains a ``Subscription`` of the core's ``RequestSink`` on a ``QTimer`` (100 ms by
default), so the request threads never touch Qt.  Pause behaviour: while paused the pump keeps
draining the subscription (the status-bar figures stay live) into a pending buffer bounded by the
row cap; records beyond that are dropped (oldest first) and counted; ``resume`` hands the pending
records to the model in one batch.

``RequestFilterProxy`` filters on free text (method, target, client, status, user agent, TLS
facts and header values, case-insensitive), on scheme ("http"/"https") and on status class.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QFont

from launcher.requestlog import DEFAULT_CAPACITY, RequestRecord, RequestSink, Subscription

COLUMNS: tuple[str, ...] = ("Time", "Scheme", "Method", "Path", "Status", "ms", "Bytes", "Client", "TLS")
COL_TIME, COL_SCHEME, COL_METHOD, COL_PATH, COL_STATUS, COL_MS, COL_BYTES, COL_CLIENT, COL_TLS = range(9)

#: Item data role that returns the ``RequestRecord`` of a row.
RecordRole = Qt.ItemDataRole.UserRole + 1

STATUS_COLOURS = {
    1: QColor("#6b7280"),
    2: QColor("#15803d"),
    3: QColor("#1d4ed8"),
    4: QColor("#b45309"),
    5: QColor("#b91c1c"),
}
SCHEME_COLOURS = {"http": QColor("#64748b"), "https": QColor("#15803d")}

_ModelIndex = QModelIndex | QPersistentModelIndex


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


class RequestLogModel(QAbstractTableModel):
    """Arrival-ordered rows of ``RequestRecord``, capped; one insert per batch."""

    #: Emitted after a batch is inserted, with the number of rows added.
    rowsAppended = Signal(int)
    #: Emitted when ``dropped`` changes.
    droppedChanged = Signal(int)

    def __init__(self, cap: int = DEFAULT_CAPACITY, parent: QObject | None = None) -> None:
        super().__init__(parent)
        if cap < 1:
            raise ValueError("cap must be at least 1")
        self._cap = cap
        self._rows: list[RequestRecord] = []
        self.dropped = 0
        self._bold = QFont()
        self._bold.setBold(True)

    # --- Qt model API -----------------------------------------------------------------------------

    def rowCount(self, parent: _ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section]
            if role == Qt.ItemDataRole.TextAlignmentRole and section in (COL_STATUS, COL_MS, COL_BYTES):
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def data(self, index: _ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = index.row()
        if not index.isValid() or row >= len(self._rows):
            return None
        record = self._rows[row]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(record, column)
        if role == RecordRole:
            return record
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == COL_STATUS:
                return STATUS_COLOURS.get(record.status // 100)
            if column == COL_SCHEME:
                return SCHEME_COLOURS.get(record.listener)
            return None
        if role == Qt.ItemDataRole.FontRole and column in (COL_STATUS, COL_SCHEME):
            return self._bold
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (COL_STATUS, COL_MS, COL_BYTES):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == COL_PATH:
                return record.target
            if column == COL_TLS and record.tls_version:
                return f"{record.tls_version} {record.tls_cipher or ''}".strip()
            if column == COL_TIME:
                return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.time))
            if record.error:
                return "The app raised an exception: select the row to see the traceback."
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return self._display(record, column)
        return None

    @staticmethod
    def _display(record: RequestRecord, column: int) -> str:
        if column == COL_TIME:
            return (
                time.strftime("%H:%M:%S", time.localtime(record.time)) + f".{int(record.time % 1 * 1000):03d}"
            )
        if column == COL_SCHEME:
            return record.listener.upper()
        if column == COL_METHOD:
            return record.method
        if column == COL_PATH:
            return record.target
        if column == COL_STATUS:
            return str(record.status)
        if column == COL_MS:
            return f"{record.duration_ms:.1f}"
        if column == COL_BYTES:
            return human_bytes(record.response_bytes)
        if column == COL_CLIENT:
            return f"{record.client_addr}:{record.client_port}"
        if column == COL_TLS:
            return short_tls(record)
        return ""

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
        return self._rows[row]

    def records(self) -> list[RequestRecord]:
        return list(self._rows)

    def append_records(self, records: Sequence[RequestRecord]) -> None:
        """Insert a batch at the end: at most one remove (oldest rows) and one insert."""
        if not records:
            return
        if len(records) > self._cap:
            self._count_dropped(len(records) - self._cap)
            records = records[-self._cap :]
        self._trim(len(records))
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(records) - 1)
        self._rows.extend(records)
        self.endInsertRows()
        self.rowsAppended.emit(len(records))

    def _trim(self, incoming: int) -> None:
        excess = len(self._rows) + incoming - self._cap
        if excess <= 0:
            return
        excess = min(excess, len(self._rows))
        self.beginRemoveRows(QModelIndex(), 0, excess - 1)
        del self._rows[:excess]
        self.endRemoveRows()
        self._count_dropped(excess)

    def _count_dropped(self, count: int) -> None:
        self.dropped += count
        self.droppedChanged.emit(self.dropped)

    def clear(self) -> None:
        """Remove every row (the dropped count is reset too)."""
        self.beginResetModel()
        self._rows.clear()
        self.endResetModel()
        self.dropped = 0
        self.droppedChanged.emit(0)


def record_matches(record: RequestRecord, needle: str) -> bool:
    """Case-insensitive match of *needle* (already lower-case) against a record's visible facts."""
    if not needle:
        return True
    fields: Iterable[str] = (
        record.method,
        record.target,
        str(record.status),
        record.client_addr,
        record.listener,
        record.user_agent,
        record.tls_version or "",
        record.tls_cipher or "",
    )
    for value in fields:
        if needle in value.lower():
            return True
    for _, value in record.request_headers:
        if needle in value.lower():
            return True
    return any(needle in value.lower() for _, value in record.response_headers)


class RequestFilterProxy(QSortFilterProxyModel):
    """Filters rows by text, scheme and status class; keeps the source order (no sorting)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._text = ""
        self._scheme = ""  # "" = any, "http", "https"
        self._status_class = 0  # 0 = any, 1..5 = 1xx..5xx, -1 = errors (>= 400)
        self.setDynamicSortFilter(False)

    def _refilter(self, name: str, value: object) -> None:
        """Set attribute *name* and re-run the filter (begin/endFilterChange on Qt >= 6.10)."""
        if hasattr(QSortFilterProxyModel, "endFilterChange"):
            self.beginFilterChange()
            setattr(self, name, value)
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:  # Qt < 6.10
            setattr(self, name, value)
            self.invalidateFilter()

    def set_text(self, text: str) -> None:
        text = text.strip().lower()
        if text != self._text:
            self._refilter("_text", text)

    def set_scheme(self, scheme: str) -> None:
        scheme = scheme.lower()
        if scheme not in ("", "http", "https"):
            raise ValueError(f"unknown scheme {scheme!r}")
        if scheme != self._scheme:
            self._refilter("_scheme", scheme)

    def set_status_class(self, status_class: int) -> None:
        """0 for any status, 1..5 for 1xx..5xx, -1 for any error (4xx and 5xx)."""
        if status_class not in (-1, 0, 1, 2, 3, 4, 5):
            raise ValueError(f"unknown status class {status_class!r}")
        if status_class != self._status_class:
            self._refilter("_status_class", status_class)

    @property
    def active(self) -> bool:
        return bool(self._text or self._scheme or self._status_class)

    def accepts(self, record: RequestRecord) -> bool:
        if self._scheme and record.listener != self._scheme:
            return False
        if self._status_class == -1:
            if record.status < 400:
                return False
        elif self._status_class and record.status // 100 != self._status_class:
            return False
        return record_matches(record, self._text)

    def filterAcceptsRow(self, source_row: int, source_parent: _ModelIndex) -> bool:
        if not self.active:
            return True
        model = self.sourceModel()
        if not isinstance(model, RequestLogModel) or source_row >= model.rowCount():
            return True
        return self.accepts(model.record(source_row))

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
