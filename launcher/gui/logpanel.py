"""The live request log: filter bar, table, detail pane, export.

The table shows the rows of a ``RequestLogModel`` through a ``RequestFilterProxy``; a
``LogPump`` feeds the model from the core's sink.  Export writes the rows that pass the filter
(in view order) with ``launcher.harexport``.

The table's columns always fit its width: when their natural widths add up to more than the
view, they shrink (first towards what their values need, their titles eliding, then in proportion,
never below ``MIN_SECTION``) and their text is elided ("…"), so no column hides off to the right.
When the panel is narrower than ``STACK_WIDTH`` (a 1024 px window), the detail pane moves below
the table instead of beside it.  A right click on the header opens the **column chooser** (check
which columns show); ``hidden_columns()`` / ``set_hidden_columns()`` give it to the window, which
keeps it in the ``log/hidden_columns`` setting (``columnsChanged`` says when it changed).  The
Worker column (which server process served the request) is the window's to show: while more than
one serves (``show_worker_column``); the chooser offers it too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QFontMetrics, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSplitter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from launcher import harexport
from launcher.gui.detail import RequestDetailView
from launcher.gui.logdelegate import LogCellDelegate
from launcher.gui.logmodel import (
    COL_BYTES,
    COL_CLIENT,
    COL_METHOD,
    COL_MS,
    COL_PATH,
    COL_SCHEME,
    COL_STATUS,
    COL_TIME,
    COL_TLS,
    COL_WORKER,
    LogItem,
    LogPump,
    RequestFilterProxy,
    RequestLogModel,
)
from launcher.gui.panel import Panel
from launcher.messages import MessageLevel
from launcher.recordformat import to_json
from launcher.requestlog import RequestRecord, RequestSink
from launcher.wireevents import WireEvent, json_line

STATUS_FILTERS: tuple[tuple[str, int], ...] = (
    ("Any status", 0),
    ("2xx", 2),
    ("3xx", 3),
    ("4xx", 4),
    ("5xx", 5),
    ("4xx and 5xx", -1),
    ("1xx", 1),
)
SCHEME_FILTERS: tuple[tuple[str, str], ...] = (
    ("Both schemes", ""),
    ("HTTP", "http"),
    ("HTTPS", "https"),
    ("Requests only", "requests"),  # no wire events
    ("Wire events only", "wire"),
)


def write_jsonl_items(items: list[LogItem], path: str | Path) -> int:
    """JSON Lines of records and wire events (``{"event": …}``) in row order; lines written."""
    lines = [
        to_json(json_line(item)) if isinstance(item, WireEvent) else next(iter(harexport.jsonl_lines([item])))
        for item in items
    ]
    harexport._write_atomic(path, "".join(line + "\n" for line in lines))
    return len(lines)


#: The detail pane never gets narrower than this (px).
DETAIL_MIN_WIDTH = 260
#: A shown column never gets narrower than this (px) when the columns are squeezed to fit.
MIN_SECTION = 28
#: Below this panel width the detail pane goes under the table (the table keeps the full width).
STACK_WIDTH = 720
#: The detail pane's least height when it is below the table.
DETAIL_MIN_HEIGHT = 120
#: The filter box keeps room for a few words of its placeholder.
FILTER_MIN_WIDTH = 160


class LogPanel(Panel, QWidget):
    """Request log tab: controls on top, table with a detail pane on its right."""

    #: The user asked to inspect the selected request's path (the window opens the Inspector).
    inspectRequested = Signal(str)
    #: The shown columns changed (the column chooser): the hidden ones' names.
    columnsChanged = Signal(list)

    def __init__(self, sink: RequestSink, *, cap: int = 10_000, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("logPanel")
        self.setAccessibleName("Request log")
        self.model = RequestLogModel(cap, self)
        self.proxy = RequestFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.pump = LogPump(sink, self.model, parent=self)
        self._dropped_baseline = 0
        self._after_batch_pending = False

        # --- controls --------------------------------------------------------------------------
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setObjectName("logFilterEdit")
        self.filter_edit.setAccessibleName("Filter requests")
        self.filter_edit.setPlaceholderText("Filter: path, status, header… (Ctrl+F)")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setMinimumWidth(FILTER_MIN_WIDTH)
        self.filter_edit.textChanged.connect(lambda text: self._filter_changed(self.proxy.set_text, text))

        self.scheme_combo = QComboBox(self)
        self.scheme_combo.setObjectName("logSchemeCombo")
        self.scheme_combo.setAccessibleName("Scheme filter")
        for label, value in SCHEME_FILTERS:
            self.scheme_combo.addItem(label, value)
        self.scheme_combo.currentIndexChanged.connect(
            lambda _i: self._filter_changed(self._set_scheme_filter, self.scheme_combo.currentData())
        )

        self.status_combo = QComboBox(self)
        self.status_combo.setObjectName("logStatusCombo")
        self.status_combo.setAccessibleName("Status filter")
        for status_label, status_class in STATUS_FILTERS:
            self.status_combo.addItem(status_label, status_class)
        self.status_combo.currentIndexChanged.connect(
            lambda _i: self._filter_changed(self.proxy.set_status_class, self.status_combo.currentData())
        )

        self.probes_check = QCheckBox("Probes", self)
        self.probes_check.setObjectName("logProbesCheck")
        self.probes_check.setAccessibleName("Show the inspector's own requests")
        self.probes_check.setToolTip(
            "Show the requests the inspector makes (marked “(inspector probe)”); untick to hide them"
        )
        self.probes_check.setChecked(True)
        self.probes_check.toggled.connect(
            lambda shown: self._filter_changed(self.proxy.set_hide_probes, not shown)
        )

        self.pause_button = QPushButton("Pause", self)
        self.pause_button.setObjectName("logPauseButton")
        self.pause_button.setAccessibleName("Pause the log")
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip(
            "While paused, new requests are kept (up to the row cap) and added when you resume."
        )
        self.pause_button.toggled.connect(self.set_paused)

        self.clear_button = QPushButton("Clear", self)
        self.clear_button.setObjectName("logClearButton")
        self.clear_button.setAccessibleName("Clear the log")
        self.clear_button.setToolTip("Remove every row (Ctrl+L)")
        self.clear_button.clicked.connect(self.clear)

        self.autoscroll_check = QCheckBox("Auto-scroll", self)
        self.autoscroll_check.setObjectName("logAutoScrollCheck")
        self.autoscroll_check.setAccessibleName("Scroll to new requests")
        self.autoscroll_check.setChecked(True)

        self.export_button = QToolButton(self)
        self.export_button.setObjectName("logExportButton")
        self.export_button.setAccessibleName("Export visible rows")
        self.export_button.setText("Export")
        self.export_button.setToolTip("Export the visible rows as HAR 1.2 or JSON Lines")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        self.export_har_action = menu.addAction("Visible rows as HAR 1.2…")
        self.export_har_action.setObjectName("exportHarAction")
        self.export_har_action.triggered.connect(lambda: self.export_dialog("har"))
        self.export_jsonl_action = menu.addAction("Visible rows as JSON Lines…")
        self.export_jsonl_action.setObjectName("exportJsonlAction")
        self.export_jsonl_action.triggered.connect(lambda: self.export_dialog("jsonl"))
        self.export_button.setMenu(menu)

        self.inspect_button = QPushButton("Inspect", self)
        self.inspect_button.setObjectName("logInspectButton")
        self.inspect_button.setAccessibleName("Inspect the selected request's path")
        self.inspect_button.setToolTip("Fetch the selected request's path over HTTP and HTTPS and compare")
        self.inspect_button.setEnabled(False)
        self.inspect_button.clicked.connect(self.inspect_selected)

        self.count_label = QLabel(self)
        self.count_label.setObjectName("logCountLabel")
        self.count_label.setAccessibleName("Row count")
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        # Two rows, so that a 1024 px window keeps every control whole: what to show, then actions.
        bar = QHBoxLayout()
        bar.setSpacing(6)
        bar.addWidget(self.filter_edit, 1)
        bar.addWidget(self.scheme_combo)
        bar.addWidget(self.status_combo)
        bar.addWidget(self.probes_check)
        actions = QHBoxLayout()
        actions.setSpacing(6)
        actions.addWidget(self.pause_button)
        actions.addWidget(self.clear_button)
        actions.addWidget(self.autoscroll_check)
        actions.addWidget(self.export_button)
        actions.addStretch(1)
        actions.addWidget(self.inspect_button)

        # --- table + detail --------------------------------------------------------------------
        self.view = QTableView(self)
        self.view.setObjectName("requestLogView")
        self.view.setAccessibleName("Request log table")
        self.view.setModel(self.proxy)
        self.view.setItemDelegate(LogCellDelegate(self.model, self.proxy, self.view))
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        self.view.setShowGrid(False)
        self.view.setWordWrap(False)
        self.view.setSortingEnabled(False)
        self.view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        vheader = self.view.verticalHeader()
        vheader.hide()
        vheader.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vheader.setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.view.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        header.setMinimumSectionSize(MIN_SECTION)
        header.setTextElideMode(Qt.TextElideMode.ElideRight)
        header.setSectionsMovable(False)
        fm = self.fontMetrics()
        bold = self.font()
        bold.setBold(True)
        hm = QFontMetrics(bold)  # the header labels are bold (style sheet)

        def fit(sample: str, title: str) -> int:
            return max(fm.horizontalAdvance(sample), hm.horizontalAdvance(title)) + 18

        widths = {
            COL_TIME: fit("00:00:00", "Time"),
            COL_SCHEME: max(fit("", "Scheme"), self.model.badge_size.width() + 14),
            COL_METHOD: fit("DELETE", "Method"),
            COL_STATUS: fit("000", "Status"),
            COL_MS: fit("0000.0", "ms"),
            COL_BYTES: fit("00.0 KiB", "Bytes"),
            COL_CLIENT: fit("127.0.0.1:00000", "Client"),
            COL_TLS: fit("TLS 1.3", "TLS"),
            COL_WORKER: fit("00", "Worker"),
        }
        widths[COL_PATH] = fit("/a/typical/path?q=1", "Path")

        def need(sample: str) -> int:
            return fm.horizontalAdvance(sample) + 12

        #: What each column's values need (px): squeezing goes there first, then below it.
        values = {
            COL_TIME: need("00:00:00"),
            COL_SCHEME: self.model.badge_size.width() + 12,
            COL_METHOD: need("DELETE"),
            COL_PATH: need("/path…"),
            COL_STATUS: need("000"),
            COL_MS: need("000.0"),
            COL_BYTES: need("0.0 KiB"),
            COL_CLIENT: need("127.0.0.1…"),
            COL_TLS: need("TLS 1.3"),
            COL_WORKER: hm.horizontalAdvance("Worker") + 12,  # its values are short: keep its title
        }
        self.value_widths = [values[c] for c in range(self.model.columnCount())]
        #: What each column would like (px); ``fit_columns`` squeezes them into the view.
        self.natural_widths = [widths[c] for c in range(self.model.columnCount())]
        self._fitting = False
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self.show_column_menu)
        header.sectionResized.connect(self._section_resized)
        self.view.viewport().installEventFilter(self)
        self.view.setIconSize(self.model.badge_size)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.inspect_action = QAction("Inspect this path over HTTP and HTTPS", self.view)
        self.inspect_action.setObjectName("logInspectAction")
        self.inspect_action.triggered.connect(self.inspect_selected)
        self.view.addAction(self.inspect_action)
        self.view.selectionModel().currentRowChanged.connect(self._current_changed)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())

        self.detail = RequestDetailView(self)
        # Headers and values stay readable in a narrow (1240 px) window; the table scrolls instead.
        self.detail.setMinimumWidth(DETAIL_MIN_WIDTH)

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("logSplitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addLayout(bar)
        layout.addLayout(actions)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.count_label)

        # Few Python slots on purpose: one call per batch, never one per row (see logmodel).
        self.model.rowsAppended.connect(self._rows_appended)
        self.pump.droppedChanged.connect(lambda _n: self._update_count())
        self.pump.pausedChanged.connect(lambda _p: self._update_count())
        self.pump.recordsArrived.connect(self._records_arrived)
        self.pump.eventsArrived.connect(self._records_arrived)
        self._update_count()
        self.fit_columns()
        self.pump.start()

    # --- columns ------------------------------------------------------------------------------------

    def column_name(self, column: int) -> str:
        """The header's title of *column* ("Time", "Path"...)."""
        return str(self.model.headerData(column, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole))

    def hidden_columns(self) -> list[str]:
        """The names of the columns the user hid (lower case, for the settings)."""
        header = self.view.horizontalHeader()
        return [self.column_name(c).lower() for c in range(header.count()) if header.isSectionHidden(c)]

    def set_hidden_columns(self, names: list[str]) -> None:
        """Hide the columns named in *names* (case-insensitive), show the others; at least one
        column always stays shown (unknown names are ignored)."""
        wanted = {n.strip().lower() for n in names if n.strip()}
        header = self.view.horizontalHeader()
        count = header.count()
        hide = [self.column_name(c).lower() in wanted for c in range(count)]
        if all(hide):
            hide[COL_PATH] = False
        for column in range(count):
            self.view.setColumnHidden(column, hide[column])
        self.fit_columns()
        self.columnsChanged.emit(self.hidden_columns())

    def show_worker_column(self, shown: bool) -> None:
        """Show the Worker column (while several server processes serve) or hide it; the column
        chooser can change it meanwhile.  Not kept in ``hidden_columns`` by the window: it follows
        the number of workers."""
        header = self.view.horizontalHeader()
        if header.isSectionHidden(COL_WORKER) == shown:
            self.view.setColumnHidden(COL_WORKER, not shown)
            self.fit_columns()
            self.columnsChanged.emit(self.hidden_columns())

    def column_menu(self) -> QMenu:
        """The column chooser: one check box per column (the last shown one cannot be unchecked)."""
        menu = QMenu(self)
        menu.setObjectName("logColumnMenu")
        header = self.view.horizontalHeader()
        shown = [c for c in range(header.count()) if not header.isSectionHidden(c)]
        for column in range(header.count()):
            action = menu.addAction(self.column_name(column))
            action.setObjectName(f"logColumnAction{column}")
            action.setCheckable(True)
            action.setChecked(column in shown)
            action.setEnabled(shown != [column])
            action.toggled.connect(lambda on, c=column: self._toggle_column(c, on))
        menu.addSeparator()
        reset = menu.addAction("Show all columns")
        reset.setObjectName("logColumnShowAll")
        reset.triggered.connect(lambda: self.set_hidden_columns([]))
        return menu

    def show_column_menu(self, pos: QPoint) -> None:
        self.column_menu().popup(self.view.horizontalHeader().mapToGlobal(pos))

    def _toggle_column(self, column: int, shown: bool) -> None:
        hidden = set(self.hidden_columns())
        name = self.column_name(column).lower()
        if shown:
            hidden.discard(name)
        else:
            hidden.add(name)
        self.set_hidden_columns(sorted(hidden))

    def fit_columns(self) -> None:
        """Give the shown columns their natural widths, squeezed in proportion when the view is
        narrower than their sum (their text elides), and the rest of the room to Path."""
        header = self.view.horizontalHeader()
        shown = [c for c in range(header.count()) if not header.isSectionHidden(c)]
        available = self.view.viewport().width()
        if not shown or available <= 0:
            return
        natural = {c: self.natural_widths[c] for c in shown}
        floor = {c: min(natural[c], max(MIN_SECTION, self.value_widths[c])) for c in shown}
        total, floors = sum(natural.values()), sum(floor.values())
        if total <= available:
            widths = dict(natural)
        elif floors <= available:  # squeeze the room above each value's width, in proportion
            room = total - floors
            keep = (available - floors) / room if room else 0.0
            widths = {c: floor[c] + int((natural[c] - floor[c]) * keep) for c in shown}
        else:
            scale = available / floors
            widths = {c: max(MIN_SECTION, int(w * scale)) for c, w in floor.items()}
        spare = available - sum(widths.values())
        grow = COL_PATH if COL_PATH in widths else shown[-1]
        widths[grow] = max(MIN_SECTION, widths[grow] + spare)
        self._fitting = True
        try:
            for column, width in widths.items():
                header.resizeSection(column, width)
        finally:
            self._fitting = False

    def _section_resized(self, column: int, old: int, new: int) -> None:
        # The user dragged a border: that is now the column's width.  Hiding a column (to 0) and
        # showing it again (Qt gives back the size it had, maybe a squeezed one) is no drag.
        if not self._fitting and old and new:
            self.natural_widths[column] = max(MIN_SECTION, new)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.place_detail()

    def place_detail(self) -> None:
        """The detail pane beside the table, or below it when the panel is narrow."""
        stacked = self.width() < STACK_WIDTH
        wanted = Qt.Orientation.Vertical if stacked else Qt.Orientation.Horizontal
        if self.splitter.orientation() == wanted:
            return
        self.splitter.setOrientation(wanted)
        self.detail.setMinimumWidth(0 if stacked else DETAIL_MIN_WIDTH)
        self.detail.setMinimumHeight(DETAIL_MIN_HEIGHT if stacked else 0)
        total = max(self.splitter.height() if stacked else self.splitter.width(), 2)
        self.splitter.setSizes(
            [total * 3 // 5, total * 2 // 5] if stacked else [total * 7 // 10, total * 3 // 10]
        )

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.view.viewport() and event.type() == QEvent.Type.Resize:
            self.fit_columns()
        return super().eventFilter(watched, event)

    # --- behaviour ----------------------------------------------------------------------------------

    @property
    def dropped(self) -> int:
        """Rows dropped since the last Clear: evicted by the cap or lost while paused/behind."""
        return self.model.dropped + self.pump.dropped - self._dropped_baseline

    def set_paused(self, paused: bool) -> None:
        self.pump.set_paused(paused)
        if self.pause_button.isChecked() != paused:
            self.pause_button.setChecked(paused)
        self.pause_button.setText("Resume" if paused else "Pause")

    def clear(self) -> None:
        self.pump.reset_counts()
        self.model.clear()
        self.view.clearSelection()
        self.view.setCurrentIndex(QModelIndex())
        self._update_inspect_button()
        self._dropped_baseline = self.pump.dropped
        self.detail.show_record(None)
        self._update_count()

    def focus_filter(self) -> None:
        self.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_edit.selectAll()

    def visible_records(self) -> list[RequestRecord]:
        return self.proxy.visible_records()

    def selected_record(self) -> RequestRecord | None:
        index = self.view.currentIndex()
        if not index.isValid() or not self.view.selectionModel().isSelected(index):
            return None
        return self.proxy.record_at(index)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        item = self.proxy.item_at(current)
        if isinstance(item, WireEvent):
            self.detail.show_event(item)
        else:
            self.detail.show_record(item)
        self._update_inspect_button()

    def _update_inspect_button(self) -> None:
        """Inspect is enabled only while a request row is selected (not an event row, not after
        Clear or when a filter hid it)."""
        enabled = self.selected_record() is not None
        self.inspect_button.setEnabled(enabled)
        self.inspect_action.setEnabled(enabled)

    def _set_scheme_filter(self, value: str) -> None:
        """The scheme combo: a scheme ("", "http", "https") or a row kind ("requests", "wire")."""
        if value in ("requests", "wire"):
            self.proxy.set_scheme("")
            self.proxy.set_rows(value)
        else:
            self.proxy.set_rows("")
            self.proxy.set_scheme(value)

    def _selection_changed(self) -> None:
        if not self.view.selectionModel().hasSelection():
            self.detail.show_record(None)
        self._update_inspect_button()

    def inspect_selected(self) -> None:
        record = self.selected_record()
        if record is not None:
            self.inspectRequested.emit(record.target)

    def _filter_changed(self, setter: Callable[[Any], None], value: Any) -> None:
        setter(value)
        self._update_count()

    def _rows_appended(self, _count: int) -> None:
        # Scroll in the next event-loop slice, not in the pump's: two short slices keep input
        # and timers flowing better than one long one.
        if not self._after_batch_pending:
            self._after_batch_pending = True
            QTimer.singleShot(0, self, self._after_batch)

    def _after_batch(self) -> None:
        self._after_batch_pending = False
        if self.autoscroll_check.isChecked():
            self.view.scrollToBottom()
        self._update_count()

    def _records_arrived(self, _batch: object) -> None:
        if self.pump.paused:  # while running, rowsAppended updates the count
            self._update_count()

    def _update_count(self, *_args: object) -> None:
        total = self.model.rowCount()
        shown = self.proxy.rowCount()
        text = f"{shown:,} of {total:,} rows" if self.proxy.active else f"{total:,} rows"
        text += f" · {self.dropped:,} dropped (cap {self.model.cap:,})"
        if self.pump.paused:
            text += f" · paused, {self.pump.pending:,} waiting"
        self.count_label.setText(text)

    # --- export ---------------------------------------------------------------------------------------

    def export_to(self, kind: str, path: str | Path) -> int:
        """Write the visible rows to *path* as "har" or "jsonl"; returns the number written."""
        records = self.visible_records()
        if kind == "har":
            return harexport.write_har(records, path)
        if kind == "jsonl":
            return write_jsonl_items(self.proxy.visible_items(), path)
        raise ValueError(f"unknown export kind {kind!r}")

    def export_dialog(self, kind: str) -> None:
        if kind == "har":
            caption, name, pattern = "Export as HAR 1.2", "requests.har", "HAR files (*.har);;All files (*)"
        else:
            caption, name, pattern = (
                "Export as JSON Lines",
                "requests.jsonl",
                "JSON Lines (*.jsonl);;All files (*)",
            )
        path, _ = QFileDialog.getSaveFileName(self, caption, str(Path.home() / name), pattern)
        if not path:
            return
        try:
            count = self.export_to(kind, path)
        except OSError as exc:
            self.say(
                f"Could not write {path}: {exc.strerror or exc}. Choose another folder.", MessageLevel.ERROR
            )
            return
        self.say(f"Exported {count} request(s) to {path}.")
