"""The log's own cell painter (``LogCellDelegate``) draws what Qt's item delegate draws.

Each test renders the same rows twice, offscreen, with the window's style sheet: once with the
view's delegate and once with a plain ``QStyledItemDelegate`` reading the same model through
``data()``; the two images must match pixel for pixel (every kind of row: each scheme badge, status
colours, an inspector probe in italics, a wire event in amber, an elided long path, alternate rows;
a selected row; a filter on, where the view's rows are not the model's).
"""

from __future__ import annotations

import time

import pytest
from guihelpers import records_via
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QStyledItemDelegate

from launcher.gui.logdelegate import LogCellDelegate
from launcher.gui.logmodel import COLUMNS, RequestLogModel
from launcher.gui.logpanel import LogPanel
from launcher.requestlog import RequestSink
from launcher.scheme import Scheme
from launcher.wireevents import WireEvent, WireEventKind

_ROLES = ("DisplayRole", "ForegroundRole", "FontRole", "BackgroundRole", "TextAlignmentRole")


def sample_rows(flask_app) -> list:
    long_path = "/very/long/" + "segment/" * 30 + "end"
    requests = [("GET", "/"), ("GET", "/status/404"), ("POST", "/status/500"), ("GET", "/status/301")]
    rows: list = records_via(flask_app, requests, "http") + records_via(
        flask_app, [("GET", long_path)], "https"
    )
    probe = records_via(flask_app, [("GET", "/probed")], "https")[0]._replace(probe=True)
    worker = records_via(flask_app, [("GET", "/from-two")], "https")[0]._replace(worker=2)
    event = WireEvent(
        time=time.time(),
        listener=Scheme.HTTPS,
        client_addr="127.0.0.1",
        client_port=50123,
        kind=WireEventKind.HTTP_ON_HTTPS,
        short="Plain HTTP on the HTTPS port",
        advice="use https://",
        window_advice="use https://",
    )
    return [*rows, probe, worker, event, *records_via(flask_app, [("GET", "/last")], "http")]


@pytest.fixture
def panel(qtbot, flask_app):
    panel = LogPanel(RequestSink())
    qtbot.addWidget(panel)
    panel.resize(1300, 500)
    panel.show()
    qtbot.waitExposed(panel)
    panel.model.append_records(sample_rows(flask_app))
    panel.view.setColumnHidden(COLUMNS.index("Worker"), False)
    return panel


def render(panel: LogPanel, delegate) -> QImage:
    panel.view.setItemDelegate(delegate)
    return panel.view.viewport().grab().toImage()


def differing_pixels(a: QImage, b: QImage) -> int:
    assert a.size() == b.size()
    width, height = a.width(), a.height()
    return sum(1 for y in range(height) for x in range(width) if a.pixel(x, y) != b.pixel(x, y))


def assert_same_as_qt(panel: LogPanel) -> None:
    ours = panel.view.itemDelegate()
    assert isinstance(ours, LogCellDelegate)
    fast = render(panel, ours)
    styled = render(panel, QStyledItemDelegate(panel.view))
    panel.view.setItemDelegate(ours)
    assert differing_pixels(fast, styled) == 0


def test_the_log_view_paints_with_its_own_delegate_and_reads_the_model_directly(panel, monkeypatch):
    asked: list[tuple[int, int]] = []
    look = panel.model.look
    monkeypatch.setattr(
        panel.model, "look", lambda row, column: asked.append((row, column)) or look(row, column)
    )
    panel.view.viewport().grab()
    rows = {row for row, _ in asked}
    assert rows == set(range(panel.model.rowCount()))  # every row on screen, by the fast path


def test_plain_rows_look_as_qt_paints_them(panel):
    assert_same_as_qt(panel)


def test_a_selected_row_looks_as_qt_paints_it(panel):
    panel.view.selectRow(2)
    assert_same_as_qt(panel)


def test_filtered_rows_are_the_right_rows(panel):
    panel.filter_edit.setText("status")
    assert 0 < panel.proxy.rowCount() < panel.model.rowCount()
    assert_same_as_qt(panel)


def test_a_disabled_view_looks_as_qt_paints_it(panel):
    panel.view.setEnabled(False)
    assert_same_as_qt(panel)


def test_look_answers_what_data_answers_for_every_cell(flask_app, qapp):
    model = RequestLogModel()
    model.append_records(sample_rows(flask_app))
    from PySide6.QtCore import Qt

    for row in range(model.rowCount()):
        for column in range(model.columnCount()):
            index = model.index(row, column)
            expected = tuple(model.data(index, getattr(Qt.ItemDataRole, role)) for role in _ROLES)
            assert tuple(model.look(row, column)) == expected, (row, COLUMNS[column])
