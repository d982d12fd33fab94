"""Wire events in the window, offscreen: real clients that go wrong on real listeners (a ClientHello
on the HTTP port, plain HTTP on the HTTPS port, curl without the CA) become rows of their own kind
in the request log, in the window's process and with the servers in a child process; the status
bar counts them; the detail pane shows the advice; the filter can hide or keep only them; HAR
skips them and JSON Lines has them as ``{"event": …}``; and after Trust CA… an ``unknown_ca``
says which browsers need a restart.
"""

from __future__ import annotations

import json

import pytest
from guihelpers import wait_state
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import QLabel, QPushButton
from wirehelpers import curl_without_ca, plain_http_on_https, tls_hello_on_http

from launcher.gui.logmodel import COL_METHOD, COL_PATH, COL_SCHEME, EVENT_BADGE, EventRole, SchemeRole
from launcher.trust import DebianSystemStore, chromium_store
from launcher.wireevents import WireEvent, WireEventKind

BOTH_MODES = pytest.mark.parametrize("process", [False, True], ids=["in-process", "server-process"])


def start_all(qtbot, window) -> tuple[int, int]:
    qtbot.mouseClick(window.findChild(QPushButton, "startAllButton"), Qt.MouseButton.LeftButton)
    wait_state(qtbot, window, "http", "running")
    wait_state(qtbot, window, "https", "running")
    return window.servers.http.port, window.servers.https.port


def event_rows(model) -> list[int]:
    return [row for row in range(model.rowCount()) if model.data(model.index(row, 0), EventRole)]


@BOTH_MODES
def test_wrong_protocol_and_untrusted_ca_are_rows_and_counted(qtbot, make_window, process):
    window = make_window(show=True, process=process)
    http_port, https_port = start_all(qtbot, window)
    model = window.log_panel.model
    qtbot.waitUntil(lambda: window.status_wire.text() == "Wire: 0", timeout=2000)

    tls_hello_on_http(http_port)
    assert plain_http_on_https(https_port, "/here").startswith(b"HTTP/1.1 400 ")
    assert curl_without_ca(https_port).returncode == 60
    qtbot.waitUntil(lambda: len(model.events()) == 3, timeout=5000)
    qtbot.waitUntil(lambda: window.status_wire.text() == "Wire: 3", timeout=2000)
    assert window.status_total.text() == "Requests: 0"  # none of them is a request
    assert model.records() == []

    kinds = {e.kind: e for e in model.events()}
    assert set(kinds) == {WireEventKind.TLS_ON_HTTP, WireEventKind.HTTP_ON_HTTPS, WireEventKind.UNTRUSTED_CA}
    assert kinds[WireEventKind.TLS_ON_HTTP].listener == "http"
    assert f"https://127.0.0.1:{https_port}/here" in kinds[WireEventKind.HTTP_ON_HTTPS].window_advice
    untrusted = kinds[WireEventKind.UNTRUSTED_CA]
    assert untrusted.reason == "TLSV1_ALERT_UNKNOWN_CA"

    # A row kind of its own: the badge, "—" for the method, the short advice as the path, amber.
    row = next(r for r in event_rows(model) if model.item(r) is untrusted)
    assert model.data(model.index(row, COL_SCHEME), SchemeRole) == EVENT_BADGE
    assert model.data(model.index(row, COL_METHOD)) == "—"
    assert model.data(model.index(row, COL_PATH)) == "the client does not trust this CA"
    assert "Trust CA…, then restart the browser" in model.data(
        model.index(row, COL_PATH), Qt.ItemDataRole.ToolTipRole
    )
    assert isinstance(model.data(model.index(row, COL_PATH), Qt.ItemDataRole.BackgroundRole), QBrush)
    assert model.record(row) is None

    # Selected: the detail pane shows the full advice.
    panel = window.log_panel
    panel.view.selectRow(panel.proxy.mapFromSource(model.index(row, 0)).row())
    text = panel.detail.toPlainText()
    assert "the browser does not trust this CA (unknown_ca): Trust CA…, then restart the browser" in text
    assert "TLSV1_ALERT_UNKNOWN_CA" in text and "localhost" in text
    assert not panel.inspect_button.isEnabled()


def test_filter_export_and_a_request_next_to_events(qtbot, make_window, tmp_path):
    from guihelpers import fetch

    window = make_window(show=True)
    http_port, _https_port = start_all(qtbot, window)
    panel, model = window.log_panel, window.log_panel.model
    tls_hello_on_http(http_port)
    assert fetch(f"http://127.0.0.1:{http_port}/hello")[0] == 200
    qtbot.waitUntil(lambda: model.rowCount() == 2, timeout=5000)

    combo = panel.scheme_combo
    combo.setCurrentIndex(combo.findData("wire"))
    assert panel.proxy.rowCount() == 1 and isinstance(panel.proxy.visible_items()[0], WireEvent)
    combo.setCurrentIndex(combo.findData("requests"))
    assert [r.path for r in panel.visible_records()] == ["/hello"] and panel.proxy.rowCount() == 1
    combo.setCurrentIndex(combo.findData("https"))
    assert panel.proxy.rowCount() == 0  # the event came on the HTTP port, the request too
    combo.setCurrentIndex(combo.findData("http"))
    assert panel.proxy.rowCount() == 2
    combo.setCurrentIndex(combo.findData(""))

    har = tmp_path / "out.har"
    assert panel.export_to("har", har) == 1  # the event is not a HAR entry
    assert [e["request"]["url"] for e in json.loads(har.read_text())["log"]["entries"]] == [
        f"http://127.0.0.1:{http_port}/hello"
    ]
    jsonl = tmp_path / "out.jsonl"
    assert panel.export_to("jsonl", jsonl) == 2
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    events = [line["event"] for line in lines if "event" in line]
    assert [e["kind"] for e in events] == ["tls-on-http"] and events[0]["listener"] == "http"
    assert [line["path"] for line in lines if "event" not in line] == ["/hello"]


def test_restart_hint_after_trust_and_unknown_ca(qtbot, make_window, home, certutil, tmp_path):
    system_store = DebianSystemStore(
        local_dir=tmp_path / "local-cas", etc_dir=tmp_path / "etc-ssl", as_root=False
    )
    window = make_window(show=True, trust_stores=lambda: [chromium_store(), system_store])
    section = window.cert_panel.trust
    _http_port, https_port = start_all(qtbot, window)
    hint = window.findChild(QLabel, "trustRestartHint")

    # Before any trust action an unknown_ca is a row, but no restart hint.
    assert curl_without_ca(https_port).returncode == 60
    qtbot.waitUntil(lambda: len(window.log_panel.model.events()) == 1, timeout=5000)
    assert not hint.isVisibleTo(window)

    qtbot.waitUntil(lambda: not section.busy and bool(section.states), timeout=10_000)
    qtbot.mouseClick(window.findChild(QPushButton, "trustCaButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: section.confirm_dialog is not None and section.confirm_dialog.isVisible(), timeout=10_000
    )
    qtbot.mouseClick(section.confirm_dialog.confirm_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: section.last_result is not None and not section.busy, timeout=15_000)
    assert section.state_of("Chromium").trusted
    assert not hint.isVisibleTo(window)

    # curl reads no browser store: it still refuses, and the window says who needs a restart.
    assert curl_without_ca(https_port).returncode == 60
    qtbot.waitUntil(lambda: hint.isVisibleTo(window), timeout=5000)
    text = hint.text()
    assert "still refused the certificate after Trust CA… (unknown_ca" in text
    assert "Restart Chromium and Chrome" in text and "Firefox needs no restart" in text
    assert "curl" in text and "--cacert" in text
    assert window.banner.isVisibleTo(window) and "Restart Chromium and Chrome" in window.banner.text
