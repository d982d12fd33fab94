"""The request detail pane with hostile requests served for real: nothing from the client is shown raw."""

from __future__ import annotations

from typing import Any

import pytest
from hostile import HOSTILE_PATH, HOSTILE_REQUEST, RAW_CONTROL, raw_request

from launcher.gui.detail import RequestDetailView, record_html
from launcher.requestlog import ERROR_ENVIRON_KEY


def failing_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Answers 500 and leaves a traceback whose last line quotes the path, as an app's error would."""
    environ[ERROR_ENVIRON_KEY] = (
        "Traceback (most recent call last):\n"
        '  File "app.py", line 3, in view\n'
        f"ValueError: no page {environ['PATH_INFO']}\n"
    )
    start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
    return [b"oops"]


@pytest.fixture
def hostile_record(make_servers, wait_records):
    servers = make_servers(failing_app)
    raw_request(servers.http.port, HOSTILE_REQUEST)
    [record] = wait_records(servers.sink, 1)
    assert record.path == HOSTILE_PATH and record.status == 500
    return record


def test_detail_pane_shows_a_hostile_request_escaped(qtbot, hostile_record):
    view = RequestDetailView()
    qtbot.addWidget(view)
    view.show_record(hostile_record)
    text = view.toPlainText()
    # Line breaks come only from the pane's own layout (rows, headings, the traceback's lines).
    assert not RAW_CONTROL.search(text.replace("\n", "")), repr(text)
    assert "GET /a\\x1b[2J\\n[00:00:00] 10.6.6.6:1 http" in text
    assert "http://loc\\x85al/a\\x1b[2J\\n[00:00:00]" in text  # the URL, with the Host as sent
    assert "probe\\x85/1" in text  # the User-Agent header
    assert "Traceback (most recent call last):" in text.splitlines()  # the traceback keeps its lines
    assert "ValueError: no page /a\\x1b[2J" in text
    assert f"127.0.0.1:{hostile_record.client_port}" in text


def test_record_html_holds_no_control_character_but_a_tracebacks_line_breaks(hostile_record):
    page = record_html(hostile_record)
    before, _, error = page.partition("<pre>")
    assert not RAW_CONTROL.search(before)
    # A traceback is shown as the block of lines it is (an LF in it cannot be told from its own).
    assert error.count("\n") == hostile_record.error.count("\n")
    assert not RAW_CONTROL.search(error.replace("\n", ""))
    assert "/a\\x1b[2J" in error
