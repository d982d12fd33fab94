"""The request-log model, filter proxy and pump, apart from the window (real RequestRecords)."""

from __future__ import annotations

import pytest
from guihelpers import records_via
from hostile import FORGED_TAG_REQUEST, HOSTILE_PATH, HOSTILE_REQUEST, RAW_CONTROL, ok_app, raw_request
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtTest import QAbstractItemModelTester

from launcher.gui.detail import record_html
from launcher.gui.logmodel import (
    COL_CLIENT,
    COL_PATH,
    COL_SCHEME,
    COL_STATUS,
    COL_TIME,
    COL_TLS,
    COL_WORKER,
    COLUMNS,
    SEP,
    FilterRole,
    LogPump,
    RequestFilterProxy,
    RequestLogModel,
    SchemeRole,
)
from launcher.requestlog import RequestSink


@pytest.fixture
def model(qapp):
    model = RequestLogModel(cap=5)
    QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Fatal)
    return model


def test_columns_and_display(qapp, make_records):
    records = make_records(1, path="/hello", listener="https")
    model = RequestLogModel()
    QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Fatal)
    model.append_records(records)
    assert model.rowCount() == 1
    assert model.columnCount() == len(COLUMNS) == 10
    assert [model.headerData(i, Qt.Orientation.Horizontal) for i in range(10)][:5] == [
        "Time",
        "Scheme",
        "Method",
        "Path",
        "Status",
    ]
    assert model.data(model.index(0, COL_SCHEME), SchemeRole) == "HTTPS"
    assert not model.data(model.index(0, COL_SCHEME), Qt.ItemDataRole.DecorationRole).isNull()  # the badge
    assert model.data(model.index(0, COL_SCHEME)) is None  # the badge, no text
    assert model.data(model.index(0, COL_PATH)) == "/hello"
    assert model.data(model.index(0, COL_STATUS)) == "200"
    assert model.data(model.index(0, COL_TLS)) == "TLS 1.3"
    assert model.data(model.index(0, COL_TLS), Qt.ItemDataRole.ToolTipRole).startswith("TLSv1.3 TLS_")
    assert model.record(0) is records[0]
    assert model.data(model.index(0, COL_STATUS), Qt.ItemDataRole.ForegroundRole).color().name() == "#15803d"
    assert model.data(model.index(0, COL_STATUS), Qt.ItemDataRole.FontRole).bold()
    assert model.data(model.index(0, COL_PATH), Qt.ItemDataRole.FontRole) is None
    assert model.data(model.index(0, COL_PATH), Qt.ItemDataRole.CheckStateRole) is None
    right = int((Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter).value)
    assert model.data(model.index(0, COL_STATUS), Qt.ItemDataRole.TextAlignmentRole) == right
    assert model.headerData(COL_STATUS, Qt.Orientation.Horizontal, Qt.ItemDataRole.TextAlignmentRole) == right


def test_worker_column_and_detail_name_the_worker_process(qapp, make_records):
    one, pooled = make_records(2, listener="https")
    pooled = pooled._replace(worker=2)  # served by worker 2 of a pool (``--workers``)
    model = RequestLogModel()
    model.append_records([one, pooled])
    assert model.headerData(COL_WORKER, Qt.Orientation.Horizontal) == "Worker"
    assert model.data(model.index(0, COL_WORKER)) == ""  # one process: no number
    assert model.data(model.index(1, COL_WORKER)) == "2"
    assert model.data(model.index(1, COL_WORKER), Qt.ItemDataRole.ToolTipRole) == "Served by worker process 2"
    assert "worker 2" in record_html(pooled) and "worker" not in record_html(one).lower()
    proxy = RequestFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_text("worker 2")  # what the detail pane says finds the row
    assert proxy.rowCount() == 1 and proxy.mapToSource(proxy.index(0, 0)).row() == 1


def test_one_insert_per_batch_and_no_other_notice(model, make_records, qtbot):
    inserts: list[tuple[int, int]] = []
    changes: list[tuple[int, int]] = []
    model.rowsInserted.connect(lambda _p, first, last: inserts.append((first, last)))
    model.dataChanged.connect(lambda tl, br, _roles: changes.append((tl.row(), br.row())))
    model.append_records(make_records(3))
    assert inserts == [(0, 2)]
    model.append_records(make_records(2))
    assert inserts == [(0, 2), (3, 4)]
    assert changes == []  # the cells are made when asked for, not announced
    assert model.rowCount() == 5
    assert [model.data(model.index(r, COL_PATH)) for r in range(3)] == ["/item0", "/item1", "/item2"]


def test_cells_and_search_text_are_made_when_asked_for(model, make_records):
    model.append_records(make_records(4))
    assert model._cells == [None] * 4 and model._search == [None] * 4
    assert model.data(model.index(2, COL_PATH)) == "/item2"
    assert [c is not None for c in model._cells] == [False, False, True, False]
    assert "/item2" in model.data(model.index(2, 0), FilterRole)
    assert model.data(model.index(2, COL_PATH), FilterRole) is None  # column 0 only
    assert model.data(model.index(99, COL_PATH)) is None


def test_cap_drops_oldest_with_one_remove(model, make_records):
    removes: list[tuple[int, int]] = []
    model.rowsRemoved.connect(lambda _p, first, last: removes.append((first, last)))
    first = make_records(4, path="/a")
    second = make_records(3, path="/b")
    model.append_records(first)
    model.append_records(second)
    assert model.rowCount() == 5
    assert removes == [(0, 1)]
    assert model.dropped == 2
    assert [r.path for r in model.records()] == ["/a2", "/a3", "/b0", "/b1", "/b2"]
    assert [model.data(model.index(r, COL_PATH)) for r in range(5)] == ["/a2", "/a3", "/b0", "/b1", "/b2"]


def test_batch_larger_than_cap(model, make_records):
    model.append_records(make_records(2, path="/old"))
    model.append_records(make_records(8, path="/new"))
    assert model.rowCount() == 5
    assert model.dropped == 2 + 3
    assert [r.path for r in model.records()] == [f"/new{i}" for i in range(3, 8)]


def test_clear(model, make_records):
    model.append_records(make_records(7))
    model.clear()
    assert model.rowCount() == 0
    assert model.dropped == 0
    assert model.columnCount() == 10
    assert model.headerData(COL_PATH, Qt.Orientation.Horizontal) == "Path"


def test_filter_text_scheme_status(qapp, flask_app):
    http = records_via(flask_app, [("GET", "/alpha"), ("POST", "/beta"), ("GET", "/status/404")], "http")
    https = records_via(flask_app, [("GET", "/alpha"), ("GET", "/boom")], "https")
    model = RequestLogModel()
    model.append_records(http + https)
    proxy = RequestFilterProxy()
    proxy.setSourceModel(model)
    QAbstractItemModelTester(proxy, QAbstractItemModelTester.FailureReportingMode.Fatal)
    assert proxy.rowCount() == 5

    proxy.set_text("ALPHA")
    assert [r.listener for r in proxy.visible_records()] == ["http", "https"]
    proxy.set_scheme("https")
    assert [(r.listener, r.path) for r in proxy.visible_records()] == [("https", "/alpha")]
    proxy.set_text("")
    assert [r.path for r in proxy.visible_records()] == ["/alpha", "/boom"]
    proxy.set_scheme("")
    proxy.set_status_class(4)
    assert [r.path for r in proxy.visible_records()] == ["/status/404"]
    proxy.set_status_class(5)
    assert [r.status for r in proxy.visible_records()] == [500]
    proxy.set_status_class(-1)
    assert sorted(r.status for r in proxy.visible_records()) == [404, 500]
    proxy.set_status_class(0)
    proxy.set_text("post")  # method
    assert [r.path for r in proxy.visible_records()] == ["/beta"]
    proxy.set_text("gui-test/1")  # a request header value (User-Agent)
    assert proxy.rowCount() == 5
    proxy.set_text("alph.")  # regex characters are taken literally (a regex "." would match "alpha")
    assert proxy.rowCount() == 0
    proxy.set_text("")
    assert proxy.record_at(proxy.index(4, 0)).path == "/boom"
    with pytest.raises(ValueError):
        proxy.set_scheme("ftp")


def test_filter_applies_to_new_rows(qapp, make_records):
    model = RequestLogModel()
    proxy = RequestFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_scheme("https")
    model.append_records(make_records(2, listener="http") + make_records(3, listener="https"))
    assert proxy.rowCount() == 3


def test_pump_moves_batches_and_counts(qapp, make_records):
    sink = RequestSink()
    model = RequestLogModel(cap=100)
    pump = LogPump(sink, model)
    records = make_records(3) + make_records(1, path="/status/503")
    # Records made elsewhere: hand them to this sink the way the middleware does.
    for record in records:
        sink.add(record)
    assert model.rowCount() == 0  # nothing moves until the pump ticks
    batch = pump.tick()
    assert len(batch) == 4
    assert model.rowCount() == 4
    assert pump.server_errors == 1
    assert pump.tick() == []
    pump.close()


def test_pump_pause_buffers_then_resumes(qapp, make_records):
    sink = RequestSink()
    model = RequestLogModel(cap=3)
    pump = LogPump(sink, model)
    pump.set_paused(True)
    for record in make_records(5):
        sink.add(record)
    pump.tick()
    assert model.rowCount() == 0
    assert pump.pending == 3  # bounded by the cap
    assert pump.dropped == 2
    pump.set_paused(False)
    assert model.rowCount() == 3
    assert [r.path for r in model.records()] == ["/item2", "/item3", "/item4"]
    pump.close()


def test_pump_rate(qapp, make_records, qtbot):
    sink = RequestSink()
    model = RequestLogModel()
    pump = LogPump(sink, model, rate_window=5.0)
    pump.tick()
    for record in make_records(10):
        sink.add(record)
    qtbot.wait(50)
    pump.tick()
    assert pump.rate() > 0
    pump.close()


def test_pump_timer_drains(qapp, qtbot, make_records):
    sink = RequestSink()
    model = RequestLogModel()
    pump = LogPump(sink, model, interval_ms=20)
    pump.start()
    for record in make_records(4):
        sink.add(record)
    qtbot.waitUntil(lambda: model.rowCount() == 4, timeout=2000)
    pump.close()
    assert model.index(0, 0).isValid()
    assert not model.index(0, 0, model.index(0, 0)).isValid()
    assert model.rowCount(model.index(0, 0)) == 0
    assert model.rowCount(QModelIndex()) == 4


@pytest.fixture
def hostile_model(qapp, make_servers, wait_records) -> RequestLogModel:
    """A model holding two requests sent over a real socket: ESC, LF and NEL in path, query and
    headers (``HOSTILE_REQUEST``), and the filter's separator in a path (``FORGED_TAG_REQUEST``)."""
    servers = make_servers(ok_app)
    raw_request(servers.http.port, HOSTILE_REQUEST)
    raw_request(servers.http.port, FORGED_TAG_REQUEST)
    records = wait_records(servers.sink, 2)
    assert len(records) == 2 and records[0].path == HOSTILE_PATH
    model = RequestLogModel()
    QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Fatal)
    model.append_records(records)
    return model


def test_hostile_requests_reach_no_cell_raw(hostile_model):
    model = hostile_model
    roles = (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.AccessibleTextRole)
    for row in range(2):
        for column in range(len(COLUMNS)):
            for role in roles:
                value = model.data(model.index(row, column), role)
                assert value is None or not RAW_CONTROL.search(value), (row, column, role, value)
        search = model.data(model.index(row, COL_TIME), FilterRole)
        assert not RAW_CONTROL.search(search.replace(SEP, "")), search
    shown = '/a\\x1b[2J\\n[00:00:00] 10.6.6.6:1 http "GET /forged HTTP/1.1" 200 0B 0.0ms?q=\\x1b[31mred'
    assert model.data(model.index(0, COL_PATH)) == shown
    assert model.data(model.index(0, COL_PATH), Qt.ItemDataRole.ToolTipRole) == shown
    assert model.data(model.index(0, COL_CLIENT)) == f"127.0.0.1:{model.record(0).client_port}"


def test_a_path_cannot_forge_a_filter_tag_and_rows_are_found_by_what_they_show(hostile_model):
    proxy = RequestFilterProxy()
    proxy.setSourceModel(hostile_model)
    proxy.set_scheme("https")
    assert proxy.rowCount() == 0  # both came over plain HTTP, whatever their paths say
    proxy.set_scheme("")
    proxy.set_text("\\x1b[2J")  # found by what the table shows
    assert [r.path for r in proxy.visible_records()] == [HOSTILE_PATH]
    proxy.set_text("probe\\x85/1")  # a header value, escaped the same way
    assert proxy.rowCount() == 1
